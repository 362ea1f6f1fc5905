//! relyard-updates: a Balrog-compatible update server.
//!
//! This slice answers Balrog's public `/update/<N>/…/update.xml` URLs from
//! rules and release blobs held in memory by [`UpdatesService`]. The modules
//! follow Balrog's own split: URL parsing ([`request`]), column matchers
//! ([`matching`], [`versions`]), rules and the dice ([`rules`]), blobs
//! ([`blobs`]), the document ([`xml`]) and the endpoints ([`answer`],
//! [`json`], [`http`]). [`store`] keeps rules, releases and their history in
//! SQL (SQLite or PostgreSQL); [`UpdatesService::from_db`] loads from it.
//! [`signoffs`] and the store's scheduled changes hold rule changes back
//! until they are due and signed off.

pub mod admin;
pub mod allowlist;
pub mod answer;
pub mod blobs;
pub mod cache;
pub mod error;
pub mod explain;
pub mod http;
pub mod json;
pub mod matching;
pub mod request;
pub mod rules;
pub mod scheduler;
pub mod service;
pub mod signoffs;
pub mod store;
pub mod sync;
pub mod versions;
pub mod xml;

pub use answer::{answer, evaluate, Answer, Catalog, PinnableRelease, UpdateRequest};
pub use blobs::Release;
pub use error::UpdatesError;
pub use http::router;
pub use rules::{Dice, EmergencyShutoff, RandomDice, Rule};
pub use service::UpdatesService;

/// The updates tables' migrations (6xxx); the DDL is portable, one directory for both backends.
pub fn migrations() -> relyard_store::Migrations {
    relyard_store::migrations!("updates", portable)
}
