//! The GitHub service's HTTP API, to be nested at `/api/github/v1`: the webhook, `builds`,
//! `badge`, `latest` and `renderTaskclusterYml`, with Taskcluster-GitHub's paths, scopes and
//! answer shapes (`services/github/src/api.js`, `schemas/v1/*.yml`).
//!
//! Endpoints with scopes read the [`relyard_auth::Caller`] the server's authenticate middleware
//! leaves; anonymous callers hold the `anonymous` role's scopes (give it `github:get-badge:*`
//! and `github:latest-status:*` for public badges, as Taskcluster deployments do).

mod badge;
mod builds;
mod render;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;

use crate::GitHubState;

pub fn router(state: Arc<GitHubState>) -> Router {
    Router::new()
        .route("/ping", get(relyard_core::ping::ping))
        .merge(crate::webhook::routes())
        .route("/builds", get(builds::builds))
        .route(
            "/repository/{owner}/{repo}/{branch}/badge.svg",
            get(badge::badge),
        )
        .route(
            "/repository/{owner}/{repo}/{branch}/latest",
            get(badge::latest),
        )
        .route("/taskcluster-yml", post(render::render_taskcluster_yml))
        .layer(axum::middleware::from_fn(
            relyard_core::error::request_info_layer,
        ))
        .with_state(state)
}

/// Taskcluster-GitHub's organization / repository parameter rule (`%` stands for `.`).
fn github_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '%' | '.'))
}
