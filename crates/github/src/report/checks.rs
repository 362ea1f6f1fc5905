//! Check runs, one per task (`reporting: checks-v1`): created `queued` when the task is defined,
//! `in_progress` while it runs, `completed` with Taskcluster-GitHub's conclusion when it resolves.

use serde_json::{json, Value};

use super::{build_of_task, context, task_url, ReportError};
use crate::store::{self, Build, CheckState};
use crate::GitHubState;

/// GitHub's conclusion for a resolved run, from its `reasonResolved` (else the task's state), as
/// Taskcluster-GitHub maps them; an intermittent task with no retries left is a failure.
pub fn conclusion(reason_or_state: &str, retries_left: Option<i64>) -> &'static str {
    match reason_or_state {
        "completed" => "success",
        "deadline-exceeded" => "timed_out",
        "canceled" => "cancelled",
        "intermittent-task" if retries_left == Some(0) => "failure",
        "worker-shutdown" | "intermittent-task" => "neutral",
        "malformed-payload" => "action_required",
        _ => "failure",
    }
}

/// The check run state an event asks for; `None` for exchanges that do not move it.
fn wanted(exchange: &str, payload: &Value) -> Option<CheckState> {
    let run = payload.get("runId").and_then(Value::as_i64).unwrap_or(0);
    let state = |rank, status: &str, conclusion: Option<&str>| CheckState {
        run,
        rank,
        status: status.to_string(),
        conclusion: conclusion.map(str::to_string),
    };
    match exchange {
        "task-defined" => Some(state(0, "queued", None)),
        "task-running" => Some(state(1, "in_progress", None)),
        "task-completed" | "task-failed" | "task-exception" => {
            let status = &payload["status"];
            let reason = status
                .pointer(&format!("/runs/{run}/reasonResolved"))
                .and_then(Value::as_str)
                .or_else(|| status["state"].as_str())
                .unwrap_or_default();
            let retries = status["retriesLeft"].as_i64();
            Some(state(2, "completed", Some(conclusion(reason, retries))))
        }
        _ => None,
    }
}

pub(super) async fn task_changed(
    state: &GitHubState,
    exchange: &str,
    payload: &Value,
) -> Result<(), ReportError> {
    let Some(wanted) = wanted(exchange, payload) else {
        return Ok(());
    };
    let Some(task_id) = payload.pointer("/status/taskId").and_then(Value::as_str) else {
        return Ok(());
    };
    let Some(build) = build_of_task(state, payload).await? else {
        return Ok(());
    };
    let creator = store::claim_check(&state.db, &build.task_group_id, task_id, &wanted).await?;
    if !creator && !store::want_check(&state.db, task_id, &wanted).await? {
        return Ok(()); // an older event than one already seen
    }
    let synced = sync(state, &build, task_id, creator).await;
    if synced.is_err() && creator {
        // Let a later event of this task create the run instead.
        store::release_check(&state.db, task_id).await?;
    }
    synced
}

/// Sends the row's wanted state until GitHub has the newest one (another event may have
/// raised it while a call was in flight).
async fn sync(
    state: &GitHubState,
    build: &Build,
    task_id: &str,
    creator: bool,
) -> Result<(), ReportError> {
    let gh = state
        .github
        .installation(build.installation_id.map(|i| i as u64));
    let (owner, repo) = (&build.organization, &build.repository);
    loop {
        let Some(row) = store::get_check(&state.db, task_id).await? else {
            return Ok(());
        };
        let want = (row.wanted.run, row.wanted.rank);
        if row.posted.is_some_and(|p| p >= want) {
            return Ok(());
        }
        let mut body = json!({
            "status": row.wanted.status,
            "details_url": task_url(&state.root_url, task_id),
        });
        if let Some(c) = &row.wanted.conclusion {
            body["conclusion"] = json!(c);
            body["completed_at"] = json!(relyard_core::Timestamp::now());
        }
        let id = match row.check_run_id {
            Some(id) => {
                gh.update_check_run(owner, repo, id, body).await?;
                id
            }
            // The creator is still creating it; it will send the newest state after.
            None if !creator => return Ok(()),
            None => {
                let task = state.queue.task(task_id).await?;
                let name = task.pointer("/metadata/name").and_then(Value::as_str);
                body["name"] = json!(name.unwrap_or(task_id));
                body["head_sha"] = json!(build.sha);
                body["external_id"] = json!(task_id);
                body["output"] = json!({
                    "title": context(&state.app_name, build),
                    "summary": task.pointer("/metadata/description").and_then(Value::as_str).unwrap_or_default(),
                });
                let created = gh.create_check_run(owner, repo, body).await?;
                created["id"]
                    .as_i64()
                    .ok_or_else(|| crate::ghapi::GhError::Decode {
                        what: format!("POST /repos/{owner}/{repo}/check-runs"),
                        detail: "no id".into(),
                    })?
            }
        };
        store::mark_check_posted(&state.db, task_id, id, want).await?;
    }
}
