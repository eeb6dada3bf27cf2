//! The test harness itself: each test's database and Redis key space are its own.
use redis::AsyncCommands;
use sea_orm::{ConnectionTrait, Statement};
use tests::{TestDb, TestRedis};

#[tokio::test]
async fn each_test_gets_its_own_database() {
    let (a, b) = (TestDb::new().await, TestDb::new().await);
    assert_ne!(a.name, b.name);
    a.db.execute_raw(Statement::from_string(
        a.db.get_database_backend(),
        "INSERT INTO communities (name) VALUES ('only in a')",
    ))
    .await
    .expect("insert");
    let count = |t: &TestDb| {
        let db = t.db.clone();
        async move {
            db.query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT count(*) FROM communities",
            ))
            .await
            .expect("count")
            .expect("a row")
            .try_get_by_index::<i64>(0)
            .expect("bigint")
        }
    };
    assert_eq!(count(&a).await, 1);
    assert_eq!(count(&b).await, 0);
}

#[tokio::test]
async fn each_test_gets_its_own_redis_prefix() {
    let (a, b) = (TestRedis::new().await, TestRedis::new().await);
    assert_ne!(a.key("k"), b.key("k"));
    let mut conn = a.conn.clone();
    let _: () = conn.set(a.key("k"), "a").await.expect("set");
    let seen: Option<String> = conn.get(b.key("k")).await.expect("get");
    assert_eq!(seen, None);
}
