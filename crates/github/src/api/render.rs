//! `POST /taskcluster-yml` (renderTaskclusterYml, no scopes): renders a `.taskcluster.yml` for a
//! made-up event, as Taskcluster-GitHub does, answering `{tasks, scopes}`; errors are 400s.
//! The made-up events are GitHub's documented payloads (the test fixtures) for the requested
//! organization, repository and branch, with `action` and the caller's `overrides` mixed in.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use relyard_core::ApiError;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::policy;
use crate::tcyml::{self, RenderInput, TasksFor, TcYml};
use crate::GitHubState;

const PUSH: &str = include_str!("../../tests/fixtures/push.json");
const PULL_REQUEST: &str = include_str!("../../tests/fixtures/pull_request.opened.json");
const RELEASE: &str = include_str!("../../tests/fixtures/release.published.json");
const ISSUE_COMMENT: &str = include_str!("../../tests/fixtures/issue_comment.created.json");
/// The names the fixtures are written for.
const FIXTURE_REPO: (&str, &str) = ("relyard-ci", "hello");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RenderRequest {
    body: String,
    organization: Option<String>,
    repository: Option<String>,
    #[serde(rename = "fakeEvent")]
    fake_event: FakeEvent,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FakeEvent {
    #[serde(rename = "type")]
    kind: String,
    action: Option<String>,
    overrides: Option<Map<String, Value>>,
}

pub(super) async fn render_taskcluster_yml(
    State(state): State<Arc<GitHubState>>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let req: RenderRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::input(format!("renderTaskclusterYml input: {e}")))?;
    let owner = req.organization.as_deref().unwrap_or("taskcluster");
    let repo = req.repository.as_deref().unwrap_or("testing");
    if !super::github_identifier(owner) || !super::github_identifier(repo) {
        return Err(ApiError::input(
            "organization or repository name is invalid",
        ));
    }
    let (tasks_for, template) = match req.fake_event.kind.as_str() {
        "github-push" => (TasksFor::Push, PUSH),
        "github-pull-request" => (TasksFor::PullRequest, PULL_REQUEST),
        "github-pull-request-untrusted" => (TasksFor::PullRequestUntrusted, PULL_REQUEST),
        "github-release" => (TasksFor::Release, RELEASE),
        "github-issue-comment" => (TasksFor::IssueComment, ISSUE_COMMENT),
        other => return Err(ApiError::input(format!("unknown fakeEvent type {other:?}"))),
    };
    let overrides = req.fake_event.overrides.unwrap_or_default();
    let branch = overrides
        .get("branch")
        .and_then(Value::as_str)
        .unwrap_or("main")
        .to_string();
    let event = fake_event(
        template,
        tasks_for,
        owner,
        repo,
        &branch,
        req.fake_event.action,
        overrides,
    )?;
    let file = TcYml::parse(&req.body).map_err(|e| ApiError::input(e.to_string()))?;
    let input = RenderInput {
        tasks_for,
        event: &event,
        root_url: &state.root_url,
        branch: Some(&branch),
    };
    let rendered = tcyml::render(&file, &input, &relyard_core::Timestamp::now().to_string())
        .map_err(|e| ApiError::input(e.to_string()))?;
    let scopes = policy::repository_scopes(tasks_for, owner, repo, &event, rendered.route());
    let tasks: Vec<Value> = rendered
        .tasks
        .iter()
        .map(|t| json!({ "taskId": t.task_id, "task": t.task }))
        .collect();
    Ok(Json(json!({ "tasks": tasks, "scopes": scopes })))
}

fn fake_event(
    template: &str,
    tasks_for: TasksFor,
    owner: &str,
    repo: &str,
    branch: &str,
    action: Option<String>,
    overrides: Map<String, Value>,
) -> Result<Value, ApiError> {
    let (fixture_owner, fixture_repo) = FIXTURE_REPO;
    // Names are limited to characters that need no escaping in JSON, so text replacement is safe.
    let text = template
        .replace(
            &format!("{fixture_owner}/{fixture_repo}"),
            &format!("{owner}/{repo}"),
        )
        .replace(fixture_owner, owner)
        .replace(&format!("\"{fixture_repo}\""), &format!("\"{repo}\""));
    let mut event: Value = serde_json::from_str(&text).map_err(ApiError::internal)?;
    let branch = json!(branch);
    match tasks_for {
        TasksFor::Push => {
            event["ref"] = json!(format!(
                "refs/heads/{}",
                branch.as_str().unwrap_or_default()
            ))
        }
        TasksFor::PullRequest | TasksFor::PullRequestUntrusted => {
            event["pull_request"]["head"]["ref"] = branch
        }
        TasksFor::Release => event["release"]["target_commitish"] = branch,
        TasksFor::IssueComment => {}
    }
    if let Some(a) = action {
        event["action"] = json!(a);
    }
    if tasks_for == TasksFor::IssueComment {
        let body = event
            .pointer("/comment/body")
            .and_then(Value::as_str)
            .unwrap_or_default();
        event["taskcluster_comment"] =
            json!(crate::webhook::taskcluster_command(body).unwrap_or_default());
    }
    if let Value::Object(map) = &mut event {
        map.extend(overrides);
    }
    Ok(event)
}
