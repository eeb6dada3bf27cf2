//! Turns on the advisory lock, `status --check`, one-line failures.
use std::io::{BufRead, BufReader};
use std::process::Stdio;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::{self, Connection, PgConnection};
use tests::{exec, scalar, stderr, stdout, TestDb};

fn migrations() -> i64 {
    Migrator::migrations().len() as i64
}

async fn applied(t: &TestDb) -> i64 {
    scalar(&t.db, "SELECT count(*) FROM seaql_migrations").await
}

async fn table_exists(t: &TestDb, table: &str) -> bool {
    scalar(
        &t.db,
        &format!("SELECT (to_regclass('{table}') IS NOT NULL)::int::bigint"),
    )
    .await
        == 1
}

#[tokio::test]
async fn three_simultaneous_migrate_up_apply_each_migration_once_and_all_exit_0() {
    let t = TestDb::empty().await;
    let children: Vec<_> = (0..3)
        .map(|_| {
            t.command(None, &["migrate", "up"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn sitejobs migrate up")
        })
        .collect();
    let outs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().expect("wait for migrate up"))
        .collect();
    for out in &outs {
        assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
        assert!(!stderr(out).contains("error"), "{}", stderr(out));
    }
    // seaql_migrations' primary key is the version: a count equal to the list
    // means each migration was recorded once, and every table exists once.
    assert_eq!(applied(&t).await, migrations());
    assert!(table_exists(&t, "my_numbers").await);
    let check = t.cli(None, &["migrate", "status", "--check"]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
}

#[tokio::test]
async fn a_migrate_up_that_waits_for_the_lock_says_so_then_finds_nothing_pending() {
    let t = TestDb::new().await;
    // Hold the migration lock as another `sitejobs migrate` would.
    let mut holder = PgConnection::connect(&t.url).await.expect("connect");
    sqlx::query("SELECT pg_advisory_lock(hashtextextended($1, 0))")
        .bind(service::deploy::LOCK_KEY)
        .execute(&mut holder)
        .await
        .expect("take the migration lock");
    let mut child = t
        .command(None, &["migrate", "up"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sitejobs migrate up");
    let mut err = BufReader::new(child.stderr.take().expect("piped stderr"));
    let mut first = String::new();
    err.read_line(&mut first).expect("read stderr");
    assert!(
        first.starts_with("waiting for another sitejobs migrate to finish"),
        "{first}"
    );
    assert!(first.contains("backend pid"), "{first}");
    holder.close().await.expect("release the lock");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(applied(&t).await, migrations());
}

#[tokio::test]
async fn migrate_up_n_stopping_before_the_environment_table_exits_0_and_records_it_later() {
    let t = TestDb::empty().await;
    let out = t.cli(None, &["migrate", "up", "-n", "3"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(applied(&t).await, 3);
    assert!(!table_exists(&t, "sitejobs_environment").await);
    // A database error reaches the user once, on one line, without sqlx's
    // " at line N" of PostgreSQL's C source.
    let run = t.cli(None, &["run", "noop"]);
    let all = stderr(&run);
    assert_eq!(run.status.code(), Some(1), "{all}");
    let errors: Vec<&str> = all.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{all}");
    assert_eq!(errors[0].matches("does not exist").count(), 1, "{all}");
    assert!(!errors[0].contains(" at line "), "{all}");
    let out = t.cli(None, &["migrate", "up"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        tests::scalar(
            &t.db,
            "SELECT count(*) FROM sitejobs_environment WHERE environment = 'development'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn status_check_names_the_pending_migrations_changes_nothing_and_passes_after_up() {
    let t = TestDb::empty().await;
    let out = t.cli(None, &["migrate", "status", "--check"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!("{} migrations pending: ", migrations())),
        "{err}"
    );
    assert!(err.contains("m20261121_000001_create_communities"), "{err}");
    assert_eq!(
        stdout(&out)
            .lines()
            .filter(|l| l.starts_with("Pending"))
            .count() as i64,
        migrations()
    );
    // It changed nothing: not even sea-orm-migration's own table.
    assert!(!table_exists(&t, "seaql_migrations").await);

    let up = t.cli(None, &["migrate", "up"]);
    assert_eq!(up.status.code(), Some(0), "{}", stderr(&up));
    let out = t.cli(None, &["migrate", "status", "--check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");

    let down = t.cli(None, &["migrate", "down"]);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    let out = t.cli(None, &["migrate", "status", "--check"]);
    assert_eq!(out.status.code(), Some(1));
    let last = Migrator::migrations()
        .last()
        .map(|m| m.name().to_owned())
        .unwrap_or_default();
    assert_eq!(
        stderr(&out).trim(),
        format!("1 migration pending: {last} (run sitejobs migrate up)")
    );
}

#[tokio::test]
async fn a_failed_migration_is_one_line_naming_it_and_leaves_the_last_good_schema() {
    let t = TestDb::empty().await;
    // Sabotage: a table in the way of a later migration's CREATE TABLE.
    exec(&t.db, "CREATE TABLE purge_watermarks (sabotage integer)").await;
    let out = t.cli(None, &["migrate", "up"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert_eq!(
        err.trim(),
        "error: migration m20261121_500001_create_purge_watermarks failed: \
         relation \"purge_watermarks\" already exists"
    );
    // Every migration before it is applied, it and those after are not.
    let names: Vec<String> = Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    let failed = names
        .iter()
        .position(|n| n == "m20261121_500001_create_purge_watermarks")
        .expect("the sabotaged migration is listed") as i64;
    assert_eq!(applied(&t).await, failed);
    assert_eq!(
        scalar(
            &t.db,
            "SELECT count(*) FROM seaql_migrations WHERE version >= 'm20261121_500001'"
        )
        .await,
        0
    );
    // The sabotaged table is as it was; the previous migration's index is valid.
    assert_eq!(
        scalar(
            &t.db,
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'purge_watermarks'"
        )
        .await,
        1
    );
    assert_eq!(
        scalar(
            &t.db,
            "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
             WHERE c.relname = 'idx_my_numbers_number_range' AND i.indisvalid"
        )
        .await,
        1
    );
    // Fix the cause and migrate again: the pipeline's retry works.
    exec(&t.db, "DROP TABLE purge_watermarks").await;
    let out = t.cli(None, &["migrate", "up"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(applied(&t).await, migrations());
}
