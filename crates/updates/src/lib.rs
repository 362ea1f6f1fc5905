//! relyard-updates: a Balrog-compatible update server.
//!
//! This slice answers Balrog's public `/update/<N>/…/update.xml` URLs from
//! rules and release blobs held in memory by [`UpdatesService`]. The modules
//! follow Balrog's own split: URL parsing ([`request`]), column matchers
//! ([`matching`], [`versions`]), rules and the dice ([`rules`]), blobs
//! ([`blobs`]), the document ([`xml`]) and the endpoints ([`answer`],
//! [`json`], [`http`]).

pub mod allowlist;
pub mod answer;
pub mod blobs;
pub mod error;
pub mod http;
pub mod json;
pub mod matching;
pub mod request;
pub mod rules;
pub mod service;
pub mod versions;
pub mod xml;

pub use answer::{answer, evaluate, Answer, Catalog, PinnableRelease, UpdateRequest};
pub use blobs::Release;
pub use error::UpdatesError;
pub use http::router;
pub use rules::{Dice, EmergencyShutoff, RandomDice, Rule};
pub use service::UpdatesService;
