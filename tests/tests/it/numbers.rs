//! my_numbers (issue 8): overlap queries, the trigger on every write path,
//! the backfill, the online migrations and the fixture loader.
mod backfill;
mod fixture;
mod migrations;

use entity::my_number;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, DatabaseConnection,
    EntityTrait, QueryFilter, QueryOrder,
};
use service::numbers;
pub use tests::{exec, scalar};
use tests::{stderr, stdout, TestDb};

/// Rows whose range is missing or differs from `int4range(start, end, '[]')`.
pub async fn wrong_ranges(db: &DatabaseConnection) -> i64 {
    scalar(
        db,
        "SELECT count(*) FROM my_numbers
         WHERE number_range IS DISTINCT FROM int4range(number_start, number_end, '[]')",
    )
    .await
}

/// `n` rows inserted by plain SQL with the trigger off: every range null, as
/// if written before the migrations.
pub async fn insert_unranged(db: &DatabaseConnection, n: u64) {
    exec(
        db,
        "ALTER TABLE my_numbers DISABLE TRIGGER my_numbers_sync_number_range",
    )
    .await;
    exec(
        db,
        &format!(
            "INSERT INTO my_numbers (number_start, number_end)
             SELECT g * 10, g * 10 + g % 7 FROM generate_series(1, {n}) g"
        ),
    )
    .await;
    exec(
        db,
        "ALTER TABLE my_numbers ENABLE TRIGGER my_numbers_sync_number_range",
    )
    .await;
}

fn row(start: i32, end: i32) -> my_number::ActiveModel {
    my_number::ActiveModel {
        id: NotSet,
        number_start: Set(start),
        number_end: Set(end),
        number_range: NotSet,
    }
}

/// A small deterministic generator (no rand dependency in the tests crate).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, modulo: u64) -> i64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % modulo) as i64
    }
}

#[tokio::test]
async fn both_strategies_equal_a_brute_force_answer_on_random_data() {
    let t = TestDb::new().await;
    let mut rng = Lcg(42);
    let mut rows = Vec::new();
    for i in 0..3000 {
        let start = rng.next(20_000) as i32 - 10_000;
        // A fifth of the ranges are single points.
        let len = if i % 5 == 0 { 0 } else { rng.next(300) as i32 };
        rows.push((start, start + len));
    }
    rows.extend([(i32::MIN, i32::MIN + 5), (2_147_483_000, 2_147_483_646)]);
    my_number::Entity::insert_many(rows.iter().map(|&(s, e)| row(s, e)))
        .exec(&t.db)
        .await
        .expect("insert");
    let all = my_number::Entity::find()
        .order_by_asc(my_number::Column::Id)
        .all(&t.db)
        .await
        .expect("all");
    let mut windows = vec![
        (i32::MIN, i32::MAX),
        (i32::MIN, i32::MIN),
        (i32::MAX, i32::MAX),
    ];
    for m in all.iter().step_by(37) {
        let (s, e) = (m.number_start, m.number_end);
        windows.extend([
            (s, s),         // touches the start exactly
            (e, e),         // touches the end exactly
            (e + 1, e + 9), // just after: must not meet (unless another range does)
            (s - 9, s - 1), // just before
            (s - 5, e + 5), // contains the range
            (s, e),         // equals it
        ]);
        if e - s >= 2 {
            windows.push((s + 1, e - 1)); // contained in it
        }
    }
    for _ in 0..100 {
        let a = rng.next(22_000) as i32 - 11_000;
        windows.push((a, a + rng.next(50) as i32));
    }
    for (a, b) in windows {
        let expected: Vec<i64> = all
            .iter()
            .filter(|m| m.number_start <= b && m.number_end >= a)
            .map(|m| m.id)
            .collect();
        let ids = |v: Vec<my_number::Model>| v.into_iter().map(|m| m.id).collect::<Vec<_>>();
        let columns = ids(numbers::overlap_columns(&t.db, a, b)
            .await
            .expect("columns"));
        let range = ids(numbers::overlap_range(&t.db, a, b).await.expect("range"));
        assert_eq!(columns, expected, "columns strategy, window [{a}, {b}]");
        assert_eq!(range, expected, "range strategy, window [{a}, {b}]");
    }
}

#[tokio::test]
async fn a_window_with_start_after_end_is_bad_input() {
    let t = TestDb::new().await;
    let err = numbers::overlap_range(&t.db, 5, 4)
        .await
        .expect_err("rejected");
    assert!(err.is_bad_input(), "{err}");
    let out = t.cli(None, &["numbers", "overlap", "--start", "5", "--end", "4"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).is_empty());
    assert_eq!(stderr(&out).trim().lines().count(), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("start 5 is greater than end 4"));
}

#[tokio::test]
async fn overlap_command_prints_one_json_object_per_row_ordered_by_id() {
    let t = TestDb::new().await;
    for (s, e) in [(10, 20), (21, 30), (31, 50), (51, 75), (-40, -5)] {
        row(s, e).insert(&t.db).await.expect("insert");
    }
    for strategy in ["columns", "range"] {
        let out = t.cli(
            None,
            &[
                "numbers",
                "overlap",
                "--start",
                "-5",
                "--end",
                "21",
                "--strategy",
                strategy,
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(
            stdout(&out),
            "{\"id\":1,\"number_start\":10,\"number_end\":20}\n\
             {\"id\":2,\"number_start\":21,\"number_end\":30}\n\
             {\"id\":5,\"number_start\":-40,\"number_end\":-5}\n",
            "{strategy}"
        );
    }
    let out = t.cli(None, &["numbers", "overlap", "--start", "5", "--end", "9"]);
    assert_eq!((out.status.code(), stdout(&out).as_str()), (Some(0), ""));
    let out = t.cli(
        None,
        &[
            "numbers",
            "overlap",
            "--start",
            "1",
            "--end",
            "2",
            "--strategy",
            "fast",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test]
async fn number_range_is_right_after_every_write_path() {
    let t = TestDb::new().await;
    let db = &t.db;
    // ORM insert (returns the model read back through select_as text).
    let inserted = row(1, 5).insert(db).await.expect("orm insert");
    assert_eq!(inserted.number_range.as_deref(), Some("[1,6)"));
    // ORM insert_many.
    my_number::Entity::insert_many([row(10, 10), row(-7, 3)])
        .exec(db)
        .await
        .expect("insert_many");
    // ORM update of one model.
    let mut change: my_number::ActiveModel = inserted.into();
    change.number_end = Set(8);
    let updated = change.update(db).await.expect("orm update");
    assert_eq!(updated.number_range.as_deref(), Some("[1,9)"));
    // ORM update_many (Django's queryset update(), which save() never sees).
    my_number::Entity::update_many()
        .col_expr(
            my_number::Column::NumberStart,
            Expr::col(my_number::Column::NumberStart).sub(1),
        )
        .filter(my_number::Column::NumberStart.eq(10))
        .exec(db)
        .await
        .expect("update_many");
    // Plain SQL from another program: insert, update, upsert, and a wrong range written on purpose.
    exec(
        db,
        "INSERT INTO my_numbers (number_start, number_end) VALUES (100, 200)",
    )
    .await;
    exec(
        db,
        "UPDATE my_numbers SET number_end = 250 WHERE number_start = 100",
    )
    .await;
    exec(
        db,
        "INSERT INTO my_numbers (id, number_start, number_end) VALUES (1, 2, 3)
         ON CONFLICT (id) DO UPDATE SET number_start = EXCLUDED.number_start, number_end = EXCLUDED.number_end",
    )
    .await;
    exec(
        db,
        "UPDATE my_numbers SET number_range = '[0,1000)' WHERE number_start = -7",
    )
    .await;
    let all = my_number::Entity::find()
        .order_by_asc(my_number::Column::Id)
        .all(db)
        .await
        .expect("all");
    let got: Vec<_> = all
        .iter()
        .map(|m| (m.number_start, m.number_end, m.number_range.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (2, 3, Some("[2,4)".into())),
            (9, 10, Some("[9,11)".into())),
            (-7, 3, Some("[-7,4)".into())),
            (100, 250, Some("[100,251)".into())),
        ]
    );
    assert_eq!(wrong_ranges(db).await, 0);
}

#[tokio::test]
async fn the_database_rejects_number_end_at_the_int4_maximum_and_start_after_end() {
    let t = TestDb::new().await;
    let err = row(1, i32::MAX).insert(&t.db).await.expect_err("rejected");
    assert!(
        err.to_string().contains("must be below 2147483647"),
        "{err}"
    );
    let err = row(5, 4).insert(&t.db).await.expect_err("rejected");
    assert!(err.to_string().contains("my_numbers_start_le_end"), "{err}");
    assert_eq!(scalar(&t.db, "SELECT count(*) FROM my_numbers").await, 0);
}
