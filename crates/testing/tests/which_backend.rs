//! The test database follows TEST_DATABASE_URL.

use relyard_store::Backend;
use relyard_testing::TestDb;

#[tokio::test]
async fn test_databases_follow_test_database_url() {
    let db = TestDb::new().await;
    let want = match std::env::var("TEST_DATABASE_URL") {
        Ok(u) if !u.is_empty() => Backend::Postgres,
        _ => Backend::Sqlite,
    };
    assert_eq!(db.backend(), want, "{}", db.url);
}
