use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Executor};

use crate::{StoreError, StoreResult};

/// A write transaction.
pub type Tx = sqlx::Transaction<'static, Any>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The database: a pool for reads and one for writes.
///
/// On SQLite the write pool holds a single connection, so write transactions queue in-process
/// instead of failing with `SQLITE_BUSY` when two of them try to upgrade their locks at once.
/// On PostgreSQL both are the same pool.
#[derive(Clone, Debug)]
pub struct Db {
    read: AnyPool,
    write: AnyPool,
    backend: Backend,
    url: String,
}

impl Db {
    /// Connects to `sqlite:path/to/file.db` (created when missing) or `postgres://…`.
    pub async fn connect(url: &str) -> StoreResult<Db> {
        sqlx::any::install_default_drivers();
        if url.starts_with("sqlite:") {
            Self::connect_sqlite(url).await
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::connect_postgres(url).await
        } else {
            Err(StoreError::UnsupportedUrl(url.to_string()))
        }
    }

    async fn connect_sqlite(url: &str) -> StoreResult<Db> {
        let url = if url.contains('?') {
            url.to_string()
        } else {
            format!("{url}?mode=rwc")
        };
        let opts = AnyConnectOptions::from_str(&url)?;
        let write = AnyPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(|conn, _meta| Box::pin(sqlite_pragmas(conn)))
            .connect_with(opts.clone())
            .await?;
        let read = AnyPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(|conn, _meta| Box::pin(sqlite_pragmas(conn)))
            .connect_with(opts)
            .await?;
        Ok(Db {
            read,
            write,
            backend: Backend::Sqlite,
            url,
        })
    }

    async fn connect_postgres(url: &str) -> StoreResult<Db> {
        let pool = AnyPoolOptions::new()
            .max_connections(24)
            .acquire_timeout(Duration::from_secs(30))
            .connect(url)
            .await?;
        Ok(Db {
            read: pool.clone(),
            write: pool,
            backend: Backend::Postgres,
            url: url.to_string(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The pool for queries that only read.
    pub fn reader(&self) -> &AnyPool {
        &self.read
    }

    /// The pool for single-statement writes outside a transaction.
    pub fn writer(&self) -> &AnyPool {
        &self.write
    }

    /// Starts a write transaction.
    pub async fn begin(&self) -> StoreResult<Tx> {
        Ok(self.write.begin().await?)
    }

    /// The suffix that locks selected rows against other writers, skipping rows already locked.
    /// SQLite needs none: its one write connection already serializes writers.
    pub fn for_update_skip_locked(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        }
    }

    /// The suffix that locks selected rows for the rest of the transaction.
    pub fn for_update(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        }
    }

    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }
}

/// Per-connection SQLite settings: WAL so readers never block the writer, a busy timeout for the
/// rare cross-process contention, and foreign keys on.
async fn sqlite_pragmas(conn: &mut sqlx::AnyConnection) -> Result<(), sqlx::Error> {
    conn.execute(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
         PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;",
    )
    .await?;
    Ok(())
}
