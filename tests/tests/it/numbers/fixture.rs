//! `numbers load`: Django-style fixtures, all or nothing.
use std::path::PathBuf;

use entity::my_number;
use sea_orm::{ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, EntityTrait, QueryOrder};
use service::numbers::fixture;
use tests::{stderr, stdout, TestDb};

use super::{exec, scalar, wrong_ranges};

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn temp_fixture(t: &TestDb, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("{}.json", t.name));
    std::fs::write(&path, text).expect("write fixture");
    path
}

fn entry(model: &str, pk: &str, start: &str, end: &str) -> String {
    format!(
        r#"{{"model": "{model}", "pk": {pk}, "fields": {{"number_start": {start}, "number_end": {end}}}}}"#
    )
}

#[tokio::test]
async fn the_write_ups_fixture_fails_naming_the_duplicate_pk_and_writes_nothing() {
    let t = TestDb::new().await;
    let path = fixture_path("writeup_002_numbers.json");
    let out = t.cli(
        None,
        &["numbers", "load", path.to_str().expect("utf-8 path")],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(stderr(&out).trim().lines().count(), 1);
    assert!(
        stderr(&out).contains("entry 2: duplicate pk 1"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty());
    assert_eq!(scalar(&t.db, "SELECT count(*) FROM my_numbers").await, 0);
}

#[tokio::test]
async fn a_valid_fixture_loads_overwrites_existing_pks_and_moves_the_sequence() {
    let t = TestDb::new().await;
    let existing = my_number::ActiveModel {
        id: NotSet,
        number_start: Set(1),
        number_end: Set(2),
        number_range: NotSet,
    };
    assert_eq!(existing.insert(&t.db).await.expect("insert").id, 1);
    let text = format!(
        "[{}, {}, {}]",
        entry("my_app.my_number", "1", "\"10\"", "\"20\""),
        entry("Other_App.MyNumber", "\"7\"", "-5", "\"+5\""),
        entry("X.MY_NUMBER", "40", "\"-2147483648\"", "2147483646"),
    );
    let path = temp_fixture(&t, &text);
    let out = t.cli(None, &["numbers", "load", path.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows: Vec<_> = my_number::Entity::find()
        .order_by_asc(my_number::Column::Id)
        .all(&t.db)
        .await
        .expect("all")
        .into_iter()
        .map(|m| (m.id, m.number_start, m.number_end))
        .collect();
    assert_eq!(
        rows,
        vec![(1, 10, 20), (7, -5, 5), (40, i32::MIN, i32::MAX - 1)]
    );
    assert_eq!(wrong_ranges(&t.db).await, 0);
    // The next generated id is past the largest loaded one.
    exec(
        &t.db,
        "INSERT INTO my_numbers (number_start, number_end) VALUES (0, 0)",
    )
    .await;
    assert_eq!(scalar(&t.db, "SELECT max(id) FROM my_numbers").await, 41);
    let _ = std::fs::remove_file(path);
}

#[tokio::test]
async fn every_bad_entry_is_bad_input_naming_it() {
    let ok = entry("a.my_number", "1", "1", "2");
    let cases = [
        (entry("a.my_number", "2", "10.5", "20"), "number_start 10.5 is not an integer"),
        (entry("a.my_number", "2", "true", "20"), "number_start true is not an integer"),
        (entry("a.my_number", "2", "\" 12 \"", "20"), "is not an integer"),
        (entry("a.my_number", "2", "\"1e3\"", "2000"), "is not an integer"),
        (entry("a.my_number", "2", "\"\"", "20"), "is not an integer"),
        (entry("a.my_number", "2", "null", "20"), "is not an integer"),
        (entry("a.my_number", "2", "1", "2147483648"), "outside integer"),
        (entry("a.my_number", "2", "\"-2147483649\"", "0"), "outside integer"),
        (entry("a.my_number", "2", "1", "18446744073709551615"), "outside integer"),
        (entry("a.my_number", "2", "5", "4"), "number_start 5 is greater than number_end 4"),
        (entry("a.my_number", "2", "5", "2147483647"), "must be below 2147483647"),
        (entry("a.video", "2", "1", "2"), "model 'a.video'"),
        (entry("my_number", "2", "1", "2"), "model 'my_number'"),
        (entry("a.my_number", "1", "1", "2"), "duplicate pk 1"),
        (entry("a.my_number", "10.0", "1", "2"), "pk 10.0 is not an integer"),
        (entry("a.my_number", "0", "1", "2"), "positive"),
        (r#"{"model": "a.my_number", "pk": 2, "fields": {"number_start": 1}}"#.into(), "missing field number_end"),
        (r#"{"model": "a.my_number", "fields": {"number_start": 1, "number_end": 2}}"#.into(), "missing field pk"),
        (r#"{"model": "a.my_number", "pk": 2}"#.into(), "missing field fields"),
        (r#"{"pk": 2, "fields": {}}"#.into(), "missing field model"),
        (r#"{"model": "a.my_number", "pk": 2, "fields": {"number_start": 1, "number_end": 2, "x": 1}}"#.into(), "unknown field 'x'"),
    ];
    for (bad, want) in cases {
        let err = fixture::parse(&format!("[{ok}, {bad}]")).expect_err(&bad);
        assert!(err.is_bad_input(), "{bad}");
        let msg = err.to_string();
        assert!(msg.starts_with("fixture entry 2"), "{bad}: {msg}");
        assert!(msg.contains(want), "{bad}: {msg} (wanted {want})");
    }
    for text in ["{}", "not json", "[1]"] {
        assert!(fixture::parse(text).expect_err(text).is_bad_input());
    }
    assert_eq!(fixture::parse("[]").expect("empty list"), vec![]);
}

#[tokio::test]
async fn a_bad_entry_at_the_end_of_a_file_leaves_the_table_untouched() {
    let t = TestDb::new().await;
    let mut entries: Vec<String> = (1..=500)
        .map(|i| entry("a.my_number", &i.to_string(), "1", "2"))
        .collect();
    entries.push(entry("a.my_number", "501", "3", "\"x\""));
    let path = temp_fixture(&t, &format!("[{}]", entries.join(",")));
    let out = t.cli(None, &["numbers", "load", path.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("fixture entry 501 (pk 501): number_end \"x\" is not an integer"),
        "{}",
        stderr(&out)
    );
    assert_eq!(scalar(&t.db, "SELECT count(*) FROM my_numbers").await, 0);
    let missing = t.cli(None, &["numbers", "load", "/nonexistent/fixture.json"]);
    assert_eq!(missing.status.code(), Some(2));
    let _ = std::fs::remove_file(path);
}

#[tokio::test]
async fn a_database_failure_midway_rolls_the_whole_load_back() {
    let t = TestDb::new().await;
    // Sabotage: the database refuses one row that the file's own checks accept.
    exec(
        &t.db,
        "ALTER TABLE my_numbers ADD CONSTRAINT test_no_666 CHECK (number_start <> 666)",
    )
    .await;
    let rows: Vec<_> = (1..=30_000)
        .map(|i| fixture::FixtureRow {
            pk: i,
            number_start: if i == 25_000 { 666 } else { 1 },
            number_end: 700,
        })
        .collect();
    let err = fixture::load(&t.db, &rows)
        .await
        .expect_err("rejected by the database");
    assert!(!err.is_bad_input(), "{err}");
    assert_eq!(scalar(&t.db, "SELECT count(*) FROM my_numbers").await, 0);
}
