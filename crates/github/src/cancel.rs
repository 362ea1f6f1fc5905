//! autoCancelPreviousChecks: when a pull request gets a new build, the older unfinished builds
//! of that pull request are sealed and cancelled, as Taskcluster-GitHub does: only for
//! `pull_request` events; `opened` and `synchronize` count as one kind (other actions only
//! cancel their own kind); never the new group, nor a group of the same delivery. Pushes are not
//! cancelled (Taskcluster-GitHub skips them too, since builds of one sha may be for several
//! branches).

use crate::store::{self, Build};
use crate::GitHubState;

/// The groups cancelled. Errors are returned for the webhook to comment on.
pub async fn cancel_previous(
    state: &GitHubState,
    new: &Build,
) -> Result<Vec<String>, crate::report::ReportError> {
    let Some(number) = new.pull_request_number else {
        return Ok(Vec::new());
    };
    if !new.event_type.starts_with("pull_request.") {
        return Ok(Vec::new());
    }
    let kinds: Vec<&str> = match new.event_type.as_str() {
        "pull_request.opened" | "pull_request.synchronize" => {
            vec!["pull_request.opened", "pull_request.synchronize"]
        }
        other => vec![other],
    };
    let older: Vec<Build> =
        store::pending_pull_request_builds(&state.db, &new.organization, &new.repository, number)
            .await?
            .into_iter()
            .filter(|b| {
                b.task_group_id != new.task_group_id
                    && b.event_id != new.event_id
                    && kinds.contains(&b.event_type.as_str())
            })
            .collect();
    let mut cancelled = Vec::new();
    for b in older {
        state
            .queue
            .cancel_group(&b.organization, &b.repository, &b.task_group_id)
            .await?;
        store::cancel_build(&state.db, &b.task_group_id).await?;
        cancelled.push(b.task_group_id);
    }
    Ok(cancelled)
}
