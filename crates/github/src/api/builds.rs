//! `GET /builds`: builds newest first, filtered by organization, repository, sha or pull request,
//! paged with `continuationToken` and `limit` (scope `github:list-builds`).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::Json;
use relyard_auth::scopes::ScopeExpr;
use relyard_auth::Caller;
use relyard_core::paging::{self, PageQuery};
use relyard_core::ApiError;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::store::{self, Build, BuildFilter};
use crate::GitHubState;

const DEFAULT_LIMIT: usize = 1000;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct BuildsQuery {
    organization: Option<String>,
    repository: Option<String>,
    sha: Option<String>,
    pull_request: Option<String>,
    #[serde(flatten)]
    page: PageQuery,
}

pub(super) async fn builds(
    State(state): State<Arc<GitHubState>>,
    caller: Caller,
    Query(q): Query<BuildsQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(&ScopeExpr::scope("github:list-builds".to_string()))?;
    let filter = filter_of(&q)?;
    let limit = q.page.limit(DEFAULT_LIMIT, DEFAULT_LIMIT)?;
    let offset: i64 = q.page.token()?.unwrap_or(0);
    let mut rows = store::list_builds(&state.db, &filter, offset, limit as i64 + 1).await?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let mut answer = json!({ "builds": rows.iter().map(build_json).collect::<Vec<_>>() });
    if more {
        answer["continuationToken"] = json!(paging::encode(&(offset + limit as i64)));
    }
    Ok(Json(answer))
}

fn filter_of(q: &BuildsQuery) -> Result<BuildFilter, ApiError> {
    let given = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    let (organization, repository, sha) =
        (given(&q.organization), given(&q.repository), given(&q.sha));
    for v in [&organization, &repository].into_iter().flatten() {
        if !super::github_identifier(v) {
            return Err(ApiError::invalid_arguments(format!(
                "{v:?} is not a GitHub organization or repository name"
            )));
        }
    }
    if repository.is_some() && organization.is_none() {
        return Err(ApiError::input(
            "Must provide `organization` if querying `repository`",
        ));
    }
    if sha.is_some() && repository.is_none() {
        return Err(ApiError::input(
            "Must provide `repository` if querying `sha`",
        ));
    }
    let pull_request = match given(&q.pull_request) {
        None => None,
        Some(_) if repository.is_none() => {
            return Err(ApiError::input(
                "Must provide `repository` if querying `pullRequest`",
            ))
        }
        Some(n) => Some(n.parse::<i64>().map_err(|_| {
            ApiError::invalid_arguments(format!("pullRequest must be a number, got {n:?}"))
        })?),
    };
    // Stored names use `.`; Taskcluster-GitHub's clients send `%` for it.
    let dotted = |v: Option<String>| v.map(|s| s.replace('%', "."));
    Ok(BuildFilter {
        organization: dotted(organization),
        repository: dotted(repository),
        sha,
        pull_request,
    })
}

/// One build as `build-list.yml` describes it.
pub(super) fn build_json(b: &Build) -> Value {
    let mut v = json!({
        "organization": b.organization,
        "repository": b.repository,
        "sha": b.sha,
        "state": b.state,
        "taskGroupId": b.task_group_id,
        "eventType": b.event_type,
        "eventId": b.event_id,
        "created": b.created,
        "updated": b.updated,
    });
    if let Some(n) = b.pull_request_number {
        v["pullRequestNumber"] = json!(n);
    }
    v
}
