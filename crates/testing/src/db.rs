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
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create test database");
        admin.close().await;
        let url = replace_database(server_url, &name);
        let db = Db::connect(&url).await.expect("connect to test database");
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

/// `postgres://u@h:p/old?x` → `postgres://u@h:p/<name>?x`
fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = base[scheme_end..]
        .find('/')
        .map(|i| i + scheme_end)
        .unwrap_or(base.len());
    let mut out = format!("{}/{}", &base[..path_start], name);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn replaces_the_database_name() {
        assert_eq!(
            super::replace_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            super::replace_database("postgres://h/test?sslmode=disable", "y"),
            "postgres://h/y?sslmode=disable"
        );
    }
}
