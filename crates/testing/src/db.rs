use relyard_store::{Backend, Db};
use sqlx::Executor;

/// A database for one test; dropped with it.
pub struct TestDb {
    pub db: Db,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A fresh, empty database (no migrations run).
    pub async fn new() -> TestDb {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => Self::postgres(&url).await,
            _ => Self::sqlite().await,
        }
    }

    async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite:{}", dir.path().join("relyard.db").display());
        let db = Db::connect(&url).await.expect("open sqlite");
        TestDb {
            db,
            url,
            _dir: Some(dir),
        }
    }

    /// A fresh schema on the server, made the connection's `search_path`: as isolated as a
    /// database for relyard's tables, and far cheaper to create and drop than one.
    async fn postgres(server_url: &str) -> TestDb {
        let admin = Db::connect(server_url)
            .await
            .expect("connect to TEST_DATABASE_URL");
        let name = format!(
            "relyard_test_{}",
            relyard_core::ids::slugid().to_lowercase().replace('-', "_")
        );
        admin
            .writer()
            .execute(format!("CREATE SCHEMA {name}").as_str())
            .await
            .expect("create test schema");
        admin.close().await;
        let separator = if server_url.contains('?') { '&' } else { '?' };
        let url = format!("{server_url}{separator}options=-c%20search_path%3D{name}");
        let db = Db::connect(&url).await.expect("connect to test schema");
        assert_eq!(db.backend(), Backend::Postgres);
        TestDb {
            db,
            url,
            _dir: None,
        }
    }

    pub fn backend(&self) -> Backend {
        self.db.backend()
    }
}
