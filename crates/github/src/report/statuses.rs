//! Commit statuses, one per task group: `pending` when created (posted by the webhook), `failure`
//! as soon as a task fails, back to `pending` if a task runs again, and on task-group-resolved
//! the group's outcome, as Taskcluster-GitHub's status handler does.

use serde_json::Value;

use super::{build_of_task, context, task_group_url, ReportError};
use crate::ghapi::CommitStatus;
use crate::service_queue::GroupOutcome;
use crate::store::{self, Build};
use crate::GitHubState;

pub(super) async fn group_resolved(state: &GitHubState, group: &str) -> Result<(), ReportError> {
    let Some(build) = store::get_build(&state.db, group).await? else {
        return Ok(());
    };
    let outcome = match state.queue.group_outcome(group).await? {
        GroupOutcome::Success => store::SUCCESS,
        GroupOutcome::Failure => store::FAILURE,
        GroupOutcome::Pending => store::PENDING,
    };
    // The state is kept for checks builds too (builds, badge and latest show it).
    if store::set_build_state(&state.db, group, outcome).await? && build.reporting == "statuses" {
        post(state, &build, outcome, &format!("TaskGroup: {outcome}")).await?;
    }
    Ok(())
}

pub(super) async fn task_changed(
    state: &GitHubState,
    exchange: &str,
    payload: &Value,
) -> Result<(), ReportError> {
    let Some(build) = build_of_task(state, payload).await? else {
        return Ok(());
    };
    let new_state = match exchange {
        "task-failed" | "task-exception" => store::FAILURE,
        // A task running again after the build was resolved (a rerun): pending once more.
        "task-pending" | "task-running" if build.state != store::PENDING => store::PENDING,
        _ => return Ok(()),
    };
    if store::set_build_state(&state.db, &build.task_group_id, new_state).await? {
        post(state, &build, new_state, &format!("TaskGroup: {new_state}")).await?;
    }
    Ok(())
}

/// The status a new build starts with; called by the webhook once its tasks exist.
pub async fn post_pending(state: &GitHubState, build: &Build) -> Result<(), ReportError> {
    let description = format!("TaskGroup: Pending (for {})", build.event_type);
    post(state, build, store::PENDING, &description).await
}

async fn post(
    state: &GitHubState,
    build: &Build,
    status: &str,
    description: &str,
) -> Result<(), ReportError> {
    let gh = state
        .github
        .installation(build.installation_id.map(|i| i as u64));
    let status = CommitStatus {
        state: status.to_string(),
        target_url: Some(task_group_url(&state.root_url, &build.task_group_id)),
        description: Some(description.to_string()),
        context: context(&state.app_name, build),
    };
    gh.create_status(&build.organization, &build.repository, &build.sha, &status)
        .await?;
    Ok(())
}
