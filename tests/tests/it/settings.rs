//! Job settings (CONTRACT §5): flag, then the settings file, then the
//! default; the file is `./sitejobs.toml` or the one `--config` /
//! `SITEJOBS_CONFIG` names; an unknown key is bad input naming it.
use std::path::PathBuf;
use std::process::{Command, Output};

use tests::{json_line, scalar, stderr, TestDb};

/// A directory of this test's own, with a `sitejobs.toml` holding `text`, removed at the end.
struct Dir(PathBuf);

impl Dir {
    fn new(t: &TestDb, text: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("{}_settings", t.name));
        std::fs::create_dir_all(&dir).expect("create the test dir");
        std::fs::write(dir.join("sitejobs.toml"), text).expect("write sitejobs.toml");
        Self(dir)
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write a settings file");
        path
    }

    /// `sitejobs <args>` run in this directory against `t`'s database.
    fn run(&self, t: &TestDb, args: &[&str], env: &[(&str, &str)]) -> Output {
        Command::new(tests::sitejobs_bin())
            .args(args)
            .current_dir(&self.0)
            .env("DATABASE_URL", &t.url)
            .env("SITEJOBS_LOG", "warn")
            .env_remove("REDIS_URL")
            .env_remove("SITEJOBS_CONFIG")
            .envs(env.iter().copied())
            .output()
            .expect("run sitejobs")
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const NOW: &str = "2026-11-21T03:00:00Z";

fn purge_params(out: &Output) -> serde_json::Value {
    assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
    json_line(out)["params"].clone()
}

#[tokio::test]
async fn a_flag_wins_over_the_file_which_wins_over_the_default() {
    let t = TestDb::new().await;
    let dir = Dir::new(&t, "[purge-emails]\nretention_days = 30\nbatch_size = 77\n");
    let from_file = purge_params(&dir.run(&t, &["run", "purge-emails", "--now", NOW], &[]));
    assert_eq!(from_file["retention_days"], 30);
    assert_eq!(from_file["batch_size"], 77);
    let flag = purge_params(&dir.run(
        &t,
        &["run", "purge-emails", "--now", NOW, "--retention-days", "3"],
        &[],
    ));
    assert_eq!(flag["retention_days"], 3);
    assert_eq!(
        flag["batch_size"], 77,
        "the file still fills what no flag gives"
    );
    let empty = Dir::new(&t, "");
    std::fs::remove_file(empty.0.join("sitejobs.toml")).expect("remove");
    let default = purge_params(&empty.run(&t, &["run", "purge-emails", "--now", NOW], &[]));
    assert_eq!(default["retention_days"], 14);
    assert_eq!(default["batch_size"], 10_000);
}

#[tokio::test]
async fn an_unknown_key_in_a_job_table_is_bad_input_naming_the_key() {
    let t = TestDb::new().await;
    let dir = Dir::new(&t, "[purge-emails]\nretention = 30\n");
    let out = dir.run(&t, &["run", "purge-emails", "--now", NOW], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("[purge-emails]") && err.contains("retention"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "no JSON line for bad input");
    assert_eq!(scalar(&t.db, "SELECT count(*) FROM job_runs").await, 0);
}

#[tokio::test]
async fn a_mistyped_value_in_the_file_is_bad_input() {
    let t = TestDb::new().await;
    let dir = Dir::new(&t, "[denormalize-profiles]\nprecedence = \"staff\"\n");
    let out = dir.run(&t, &["run", "denormalize-profiles", "--all"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("precedence"), "{}", stderr(&out));
}

#[tokio::test]
async fn config_flag_and_environment_name_the_file_instead_of_the_working_directorys() {
    let t = TestDb::new().await;
    let dir = Dir::new(&t, "[purge-emails]\nretention_days = 30\n");
    let other = dir.file("other.toml", "[purge-emails]\nretention_days = 5\n");
    let other = other.to_str().expect("UTF-8 path");
    let by_flag = purge_params(&dir.run(
        &t,
        &["--config", other, "run", "purge-emails", "--now", NOW],
        &[],
    ));
    assert_eq!(by_flag["retention_days"], 5);
    let after = purge_params(&dir.run(
        &t,
        &["run", "purge-emails", "--now", NOW, "--config", other],
        &[],
    ));
    assert_eq!(
        after["retention_days"], 5,
        "--config is global: accepted after the subcommand"
    );
    let by_env = purge_params(&dir.run(
        &t,
        &["run", "purge-emails", "--now", NOW],
        &[("SITEJOBS_CONFIG", other)],
    ));
    assert_eq!(by_env["retention_days"], 5);
}

#[tokio::test]
async fn a_named_settings_file_that_does_not_exist_is_bad_input() {
    let t = TestDb::new().await;
    let dir = Dir::new(&t, "");
    let out = dir.run(
        &t,
        &[
            "--config",
            "missing.toml",
            "run",
            "purge-emails",
            "--now",
            NOW,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("missing.toml"), "{}", stderr(&out));
}

#[tokio::test]
async fn a_usage_error_names_the_missing_arguments() {
    let t = TestDb::new().await;
    let out = t.cli(None, &["run", "denormalize-profiles"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("--community") && err.contains("--all"),
        "{err}"
    );
}

#[test]
fn every_registered_job_has_a_valid_command_and_settings_that_round_trip() {
    use service::registry::JOBS;
    for job in JOBS {
        job.command().debug_assert();
        let matches = job.parse(&[]).or_else(|_| job.parse(&["--all".into()]));
        // Jobs with a required target parse with --all; the others with nothing.
        let matches = matches.unwrap_or_else(|e| panic!("{}: {e}", job.name));
        if let Some(units) = job.units(&matches).expect("units") {
            let args = job.unit_args(&matches, 42).expect("unit args");
            assert!(
                job.parse(&args).is_ok(),
                "{}: the unit's args {args:?} must parse ({units:?})",
                job.name
            );
        }
    }
}
