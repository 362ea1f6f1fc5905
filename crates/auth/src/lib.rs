//! relyard auth: clients, roles, scopes, Hawk verification, temporary credentials.
//!
//! [`AuthService`] answers "who is this and what may they do" for every request of every service
//! through the [`authenticate`] middleware, which leaves a [`Caller`] in the request; handlers then
//! call [`Caller::require`] with their endpoint's scope expression. Bad credentials fail (401) the
//! handlers that take a [`Caller`]; public endpoints still answer, as in Taskcluster. [`router`] serves the Auth API
//! (`/api/auth/v1/`), including the OAuth2 token endpoint whose Bearer tokens the middleware
//! also accepts. Client and role changes are announced on Taskcluster's auth exchanges.

mod authn;
pub mod caller;
pub mod crypto;
pub mod exchanges;
pub mod hawk_verify;
mod http;
mod manage;
pub mod middleware;
pub mod oauth;
pub mod roles;
pub mod scopes;
pub mod service;
pub mod store;
mod sweep;
pub mod tempcreds;
pub mod testauth;

pub use caller::Caller;
pub use crypto::Cipher;
pub use http::router;
pub use middleware::authenticate;
pub use service::{AuthConfig, AuthService, Credentials, QUEUE_CLIENT_ID, ROOT_CLIENT_ID};
pub use sweep::run_background;

pub fn migrations() -> relyard_store::Migrations {
    relyard_store::migrations!("auth", portable)
}
