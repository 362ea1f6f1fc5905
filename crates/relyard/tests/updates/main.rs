//! The update service inside `relyard serve`: mounted at the root, over TLS, kept in step
//! across servers on one database, scheduled changes enacted by the server, and the
//! `relyard updates` CLI. SQLite by default; PostgreSQL with `TEST_DATABASE_URL`.

mod cli;
mod common;
mod mount;
mod scheduler;
mod sync;
mod tls;
