//! relyard secrets (`/api/secrets/v1/`): JSON objects guarded by one scope each, encrypted at rest,
//! expiring, and audited on every access.
//!
//! [`Secrets`] holds the logic and [`router`] serves Taskcluster's Secrets API over it, plus
//! `GET /audit` for the access log. Values are sealed with [`relyard_auth::Cipher`] (the key id
//! travels inside the sealed string, so keys rotate); names and expiry times stay plain so that
//! listing and expiry need no key.

pub mod audit;
mod error;
mod http;
pub mod input;
mod sealed;
mod service;
mod store;

pub use audit::{Action, AuditContext, AuditEntry, AuditPage, AuditQuery, Outcome};
pub use error::{SecretsError, SecretsResult};
pub use http::router;
pub use service::{Secret, SecretList, Secrets};

pub fn migrations() -> relyard_store::Migrations {
    relyard_store::migrations!("secrets")
}
