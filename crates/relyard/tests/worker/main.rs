//! End-to-end tests of `relyard worker`: a server on a test database (SQLite, or PostgreSQL when
//! TEST_DATABASE_URL is set) and real worker processes claiming from it over HTTP.

mod cleanslate;
mod common;
mod control;
mod proxy;
mod reproducible;
mod runner;
mod runs;
mod signing;
