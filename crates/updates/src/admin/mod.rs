//! Balrog's admin API (`<rootUrl>/api/updates/v1/…`, what `balrogclient` calls its api_root):
//! rules, releases, scheduled changes with sign-offs, required sign-offs, emergency shutoffs
//! and the caller's permissions. Routes are relative to the API root; the server nests
//! [`router`] behind `relyard_auth::authenticate`, so every handler finds a
//! [`relyard_auth::Caller`]: its clientId is Balrog's username (`changed_by`, `scheduled_by`,
//! sign-off `username`) and its scopes are Balrog's permissions ([`scopes`]).
//!
//! Handlers parse, authorize, call the store and answer in Balrog's shapes; after every
//! committed write they call [`UpdatesService::changed`] so the public endpoints see it.

mod body;
mod error;
mod listing;
mod locales;
mod pins;
mod releases;
mod releases_v2;
mod required;
mod rule_form;
mod rules;
mod sc_releases;
mod scheduled;
pub mod scopes;
mod shutoffs;
mod users;

use axum::routing::get;
use axum::Router;
use relyard_store::Db;

pub use error::{AdminError, AdminResult};

use crate::UpdatesService;

/// What the admin handlers share: the database they write and the service whose snapshot
/// must hear of each change.
#[derive(Clone)]
pub struct AdminState {
    pub db: Db,
    pub service: UpdatesService,
    /// Where other users' scopes come from (`/users/<u>/…`); without it only the caller's own
    /// are known.
    auth: Option<std::sync::Arc<relyard_auth::AuthService>>,
}

impl AdminState {
    pub fn new(db: Db, service: UpdatesService) -> AdminState {
        AdminState {
            db,
            service,
            auth: None,
        }
    }

    /// Lets `/users/<u>/permissions` and `/users/<u>/roles` answer for other clients too (for
    /// callers holding `updates:permission:view`).
    pub fn with_auth(mut self, auth: std::sync::Arc<relyard_auth::AuthService>) -> AdminState {
        self.auth = Some(auth);
        self
    }

    /// Tells the service a change committed. The change is in the database already, so a
    /// failed reload is logged rather than turned into an error the writer would retry.
    pub(crate) async fn changed(&self) {
        if let Err(e) = self.service.changed().await {
            tracing::error!(error = %e, "updates: reloading after an admin change failed");
        }
    }
}

/// The admin API, routes relative to its root (`/api/updates/v1`).
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/rules", get(rules::list).post(rules::create))
        .route("/rules/columns/{column}", get(rules::column))
        .route("/rules/history", get(rules::all_history))
        .route(
            "/rules/{id_or_alias}",
            get(rules::get_one)
                .put(rules::modify)
                .post(rules::modify)
                .delete(rules::delete),
        )
        .route(
            "/rules/{id}/revisions",
            get(rules::revisions).post(rules::revert),
        )
        .route("/releases", get(releases::list).post(releases::create))
        .route("/releases/columns/{column}", get(releases::column))
        .route(
            "/releases/{name}",
            get(releases::get_one)
                .put(releases::ensure)
                .post(releases::merge_post)
                .delete(releases::delete),
        )
        .route(
            "/releases/{name}/builds/{platform}/{locale}",
            get(locales::get_locale).put(locales::put_locale),
        )
        .route(
            "/releases/{name}/read_only",
            get(releases::get_read_only).put(releases::put_read_only),
        )
        .route("/releases/{name}/revisions", get(releases::revisions))
        .merge(scheduled::routes())
        .merge(required::routes())
        .merge(releases_v2::routes())
        .merge(pins::routes())
        .route(
            "/emergency_shutoff",
            get(shutoffs::list).post(shutoffs::create),
        )
        .route(
            "/emergency_shutoff/{product}/{channel}",
            get(shutoffs::get_one).delete(shutoffs::delete),
        )
        .route("/users/current", get(users::current))
        .route("/users/{username}/permissions", get(users::permissions))
        .route("/users/{username}/roles", get(users::roles))
        .layer(axum::middleware::from_fn(refuse_nul))
        .with_state(state)
}

/// A `%00` in the path or query would reach the database as a NUL, which PostgreSQL's TEXT
/// refuses with an error: answered 400 here instead.
async fn refuse_nul(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let target = req
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("");
    if target.to_ascii_lowercase().contains("%00") {
        return AdminError::bad_request("NUL characters are not allowed in URLs").into_response();
    }
    next.run(req).await
}
