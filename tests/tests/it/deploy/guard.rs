//! The production guard: `migrate up` records SITEJOBS_ENV; on a production
//! database `seed`, `migrate fresh` and `migrate reset` exit 2 and change
//! nothing unless SITEJOBS_ALLOW_DESTRUCTIVE=1.
use std::process::Output;

use migration::{Migrator, MigratorTrait};
use tests::{exec, scalar, stderr, TestDb};

const DESTRUCTIVE: [&[&str]; 3] = [
    &["seed", "--scale", "tiny"],
    &["migrate", "fresh"],
    &["migrate", "reset"],
];

fn with_env(t: &TestDb, vars: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = t.command(None, args);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.output().expect("run sitejobs")
}

async fn production_db_with_a_marker() -> TestDb {
    let t = TestDb::new().await;
    let out = with_env(&t, &[("SITEJOBS_ENV", "production")], &["migrate", "up"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    exec(&t.db, "INSERT INTO communities (name) VALUES ('marker')").await;
    t
}

async fn recorded(t: &TestDb) -> Option<String> {
    migration::environment::recorded(&t.db)
        .await
        .expect("read the recorded environment")
}

#[tokio::test]
async fn migrate_up_records_the_environment_development_by_default() {
    let t = TestDb::new().await;
    assert_eq!(t.cli(None, &["migrate", "up"]).status.code(), Some(0));
    assert_eq!(recorded(&t).await.as_deref(), Some("development"));
    let out = with_env(&t, &[("SITEJOBS_ENV", "staging")], &["migrate", "up"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(recorded(&t).await.as_deref(), Some("staging"));
    let out = t.cli(None, &["--env", "production", "migrate", "up"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(recorded(&t).await.as_deref(), Some("production"));
}

#[tokio::test]
async fn each_destructive_command_is_refused_on_a_production_database_and_changes_nothing() {
    let t = production_db_with_a_marker().await;
    for args in DESTRUCTIVE {
        // A developer's shell (SITEJOBS_ENV unset) pointed at production.
        let out = t.cli(None, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains("production guard"), "{err}");
        assert!(err.contains("SITEJOBS_ALLOW_DESTRUCTIVE=1"), "{err}");
        assert_eq!(
            scalar(
                &t.db,
                "SELECT count(*) FROM communities WHERE name = 'marker'"
            )
            .await,
            1,
            "{args:?} changed data"
        );
        assert_eq!(
            scalar(&t.db, "SELECT count(*) FROM seaql_migrations").await,
            Migrator::migrations().len() as i64,
            "{args:?} changed the schema"
        );
    }
}

#[tokio::test]
async fn a_migrate_up_from_another_environment_does_not_lift_the_guard() {
    let t = production_db_with_a_marker().await;
    assert_eq!(t.cli(None, &["migrate", "up"]).status.code(), Some(0));
    assert_eq!(recorded(&t).await.as_deref(), Some("production"));
    // Reverting the table's own migration keeps the record too.
    let n = Migrator::migrations().len().to_string();
    let down = t.cli(None, &["migrate", "down", "-n", &n]);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    assert_eq!(t.cli(None, &["migrate", "up"]).status.code(), Some(0));
    assert_eq!(recorded(&t).await.as_deref(), Some("production"));
    assert_eq!(
        t.cli(None, &["seed", "--scale", "tiny"]).status.code(),
        Some(2)
    );
}

#[tokio::test]
async fn migrate_status_down_and_runs_work_on_a_production_database() {
    let t = production_db_with_a_marker().await;
    for args in [
        &["migrate", "status", "--check"][..],
        &["run", "noop"],
        &["migrate", "down"],
        &["migrate", "up"],
    ] {
        let out = t.cli(None, args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    }
}

#[tokio::test]
async fn each_destructive_command_runs_past_the_guard_with_allow_destructive() {
    let allow = [("SITEJOBS_ALLOW_DESTRUCTIVE", "1")];
    for args in DESTRUCTIVE {
        let t = production_db_with_a_marker().await;
        let out = with_env(&t, &allow, args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        let marker = if args[0] == "migrate" && args[1] == "reset" {
            // reset leaves no tables at all.
            scalar(
                &t.db,
                "SELECT (to_regclass('communities') IS NULL)::int::bigint",
            )
            .await
        } else {
            scalar(
                &t.db,
                "SELECT count(*) FROM communities WHERE name = 'marker'",
            )
            .await
        };
        let expected = i64::from(args[1] == "reset");
        assert_eq!(marker, expected, "{args:?} did not wipe");
    }
}

#[tokio::test]
async fn a_production_process_is_refused_even_on_a_database_not_recorded_yet() {
    let t = TestDb::empty().await;
    let out = with_env(&t, &[("SITEJOBS_ENV", "production")], &["migrate", "fresh"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("SITEJOBS_ENV is production"));
    assert_eq!(
        scalar(
            &t.db,
            "SELECT (to_regclass('seaql_migrations') IS NULL)::int::bigint"
        )
        .await,
        1
    );
}
