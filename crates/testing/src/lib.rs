//! Test helpers shared by every crate's tests.
//!
//! Tests run on SQLite by default and on PostgreSQL when `TEST_DATABASE_URL` is set; each test gets
//! a database of its own (a temporary SQLite file, or a fresh PostgreSQL database created on the
//! server `TEST_DATABASE_URL` points at), so tests run in parallel without seeing each other.

mod db;

pub use db::TestDb;
mod server;

pub use server::TestServer;
