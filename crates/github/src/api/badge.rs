//! `GET /repository/<owner>/<repo>/<branch>/badge.svg` and `.../latest`: the newest build of a
//! push to the branch, as an SVG badge or a redirect to its task group. Taskcluster-GitHub asks
//! GitHub for the branch head's statuses; the builds table answers the same question here
//! without a GitHub call, for checks builds too.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use relyard_auth::scopes::ScopeExpr;
use relyard_auth::Caller;
use relyard_core::ApiError;

use crate::store;
use crate::GitHubState;

type RepoBranch = Path<(String, String, String)>;

pub(super) async fn badge(
    State(state): State<Arc<GitHubState>>,
    caller: Caller,
    Path((owner, repo, branch)): RepoBranch,
) -> Result<Response, ApiError> {
    caller.require(&ScopeExpr::scope(format!(
        "github:get-badge:{owner}:{repo}:{branch}"
    )))?;
    let build = store::latest_push_build(&state.db, &owner, &repo, &branch).await?;
    // `newrepo` is Taskcluster-GitHub's word for a branch without a result yet.
    let status = build.as_ref().map_or("newrepo", |b| b.state.as_str());
    let svg = svg(status);
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "no-cache, no-store, must-revalidate"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
        ],
        [("x-taskcluster-status", status.to_string())],
        svg,
    )
        .into_response())
}

pub(super) async fn latest(
    State(state): State<Arc<GitHubState>>,
    caller: Caller,
    Path((owner, repo, branch)): RepoBranch,
) -> Result<Response, ApiError> {
    caller.require(&ScopeExpr::scope(format!(
        "github:latest-status:{owner}:{repo}:{branch}"
    )))?;
    match store::latest_push_build(&state.db, &owner, &repo, &branch).await? {
        Some(b) => {
            let url = crate::report::task_group_url(&state.root_url, &b.task_group_id);
            let mut resp = Redirect::to(&url).into_response();
            // Express's `res.redirect`, which Taskcluster-GitHub uses, answers 302.
            *resp.status_mut() = StatusCode::FOUND;
            Ok(resp)
        }
        None => Err(ApiError::not_found("Status not found")),
    }
}

/// A flat two-part badge: "taskcluster | <status>", coloured by status.
fn svg(status: &str) -> String {
    let (text, color) = match status {
        "success" => ("passing", "#4c1"),
        "failure" => ("failing", "#e05d44"),
        "error" => ("error", "#e05d44"),
        "pending" => ("pending", "#dfb317"),
        "cancelled" => ("cancelled", "#9f9f9f"),
        _ => ("no builds", "#9f9f9f"),
    };
    let label = "taskcluster";
    // About 7 px per character of Verdana 11 px, plus padding.
    let lw = label.len() as u32 * 7 + 10;
    let rw = text.len() as u32 * 7 + 10;
    let w = lw + rw;
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="20" role="img" aria-label="{label}: {text}"><title>{label}: {text}</title><rect width="{lw}" height="20" fill="#555"/><rect x="{lw}" width="{rw}" height="20" fill="{color}"/><g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11"><text x="{lx}" y="14">{label}</text><text x="{rx}" y="14">{text}</text></g></svg>"##,
        lx = lw / 2,
        rx = lw + rw / 2,
    )
}
