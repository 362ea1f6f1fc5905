//! One storage layer for SQLite (embedded default) and PostgreSQL.
//!
//! Every service writes its SQL once, against [`sqlx::Any`], using `$1`-style placeholders (both
//! SQLite and PostgreSQL accept them), `BIGINT` milliseconds for times and `TEXT` for JSON. The few
//! dialect differences (row locking, identity columns in DDL) stay behind [`Db`]'s helpers and in
//! per-backend migration directories.

mod db;
mod error;
mod migrate;

pub use db::{Backend, Db, Tx};
pub use error::{StoreError, StoreResult};
pub use migrate::Migrations;

pub use sqlx;
pub use sqlx::Row;
