//! The binary's surface: one-line errors and the contract's exit codes.
use tests::{stderr, TestDb};

#[tokio::test]
async fn unreachable_database_is_one_line_exit_1() {
    let t = TestDb::new().await;
    let out = t.cli(
        None,
        &[
            "--database-url",
            "postgres://nobody@127.0.0.1:1/none",
            "runs",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("PostgreSQL") && err.contains("refused"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[tokio::test]
async fn missing_database_url_says_how_to_fix_it() {
    let out = std::process::Command::new(tests::sitejobs_bin())
        .args(["runs"])
        .env_remove("DATABASE_URL")
        .current_dir(std::env::temp_dir())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("DATABASE_URL"), "{}", stderr(&out));
}

#[tokio::test]
async fn unreachable_redis_is_one_line_exit_1() {
    let t = TestDb::new().await;
    let out = t.cli(
        None,
        &[
            "--redis-url",
            "redis://127.0.0.1:1/",
            "autocomplete",
            "suggest",
            "a",
        ],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("Redis") && !err.contains("panicked"), "{err}");
}

#[tokio::test]
async fn unknown_flag_is_one_line_exit_2() {
    let t = TestDb::new().await;
    let out = t.cli(None, &["runs", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("--no-such-flag"), "{err}");
}

#[tokio::test]
async fn migrate_status_lists_every_migration() {
    let t = TestDb::new().await;
    let out = t.cli(None, &["migrate", "status"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = tests::stdout(&out);
    assert_eq!(
        text.lines().filter(|l| l.starts_with("Applied")).count(),
        <migration::Migrator as migration::MigratorTrait>::migrations().len()
    );
}

#[tokio::test]
async fn a_dotenv_file_in_the_working_directory_supplies_the_database_url() {
    let t = TestDb::new().await;
    let dir = std::env::temp_dir().join(format!("sitejobs-dotenv-{}", t.name));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join(".env"), format!("DATABASE_URL={}\n", t.url)).expect("write .env");
    let out = std::process::Command::new(tests::sitejobs_bin())
        .args(["run", "noop"])
        .env_remove("DATABASE_URL")
        .current_dir(&dir)
        .output()
        .expect("run");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(tests::json_line(&out)["status"], "ok");
}
