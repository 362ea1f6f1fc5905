use sqlx::migrate::Migrator;

use crate::{Backend, Db, StoreResult};

/// A crate's migrations: one directory for both backends (`migrations/`) when its DDL is
/// portable, else one per backend (`migrations/sqlite`, `migrations/postgres`).
///
/// Crates share one `_sqlx_migrations` table, so each crate numbers its migrations in a range of its
/// own (store 1xxx, events 2xxx, auth 3xxx, queue 4xxx, secrets 5xxx, …) and each migrator ignores
/// the others' rows.
pub struct Migrations {
    pub name: &'static str,
    pub sqlite: Migrator,
    pub postgres: Migrator,
}

/// Builds a [`Migrations`]: `migrations!("queue", portable)` from the crate's `migrations/`,
/// `migrations!("events")` from its `migrations/sqlite` and `migrations/postgres`.
#[macro_export]
macro_rules! migrations {
    ($name:expr, portable) => {
        $crate::Migrations {
            name: $name,
            sqlite: $crate::sqlx::migrate!("./migrations"),
            postgres: $crate::sqlx::migrate!("./migrations"),
        }
    };
    ($name:expr) => {
        $crate::Migrations {
            name: $name,
            sqlite: $crate::sqlx::migrate!("./migrations/sqlite"),
            postgres: $crate::sqlx::migrate!("./migrations/postgres"),
        }
    };
}

impl Db {
    /// Applies a crate's pending migrations.
    pub async fn migrate(&self, migrations: &Migrations) -> StoreResult<()> {
        let mut migrator = match self.backend() {
            Backend::Sqlite => clone_migrator(&migrations.sqlite),
            Backend::Postgres => clone_migrator(&migrations.postgres),
        };
        migrator.set_ignore_missing(true);
        tracing::debug!(crate_name = migrations.name, "running migrations");
        migrator.run(self.writer()).await?;
        Ok(())
    }
}

fn clone_migrator(m: &Migrator) -> Migrator {
    Migrator {
        migrations: m.migrations.clone(),
        ignore_missing: m.ignore_missing,
        locking: m.locking,
        no_tx: m.no_tx,
    }
}
