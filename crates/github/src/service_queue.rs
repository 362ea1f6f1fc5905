//! The GitHub service's own calls to the queue beyond creating tasks: reading task definitions
//! and a group's states for reporting, and cancelling superseded groups. Every call is narrowed
//! with `authorizedScopes` to what it needs, so the service's (root) credentials never act with
//! more than the call requires.

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
#[error("queue: {0}")]
pub struct QueueError(pub String);

impl QueueError {
    fn of(e: impl std::fmt::Display) -> QueueError {
        QueueError(e.to_string())
    }
}

/// How a resolved group went: Taskcluster-GitHub's rule (any failed or exception task → failure;
/// else any unresolved task → pending; else success).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupOutcome {
    Success,
    Failure,
    Pending,
}

pub struct ServiceQueue {
    pub root_url: String,
    pub credentials: taskcluster::Credentials,
}

impl ServiceQueue {
    fn queue(&self, scopes: &[String]) -> Result<taskcluster::Queue, QueueError> {
        let builder = taskcluster::ClientBuilder::new(&self.root_url)
            .credentials(self.credentials.clone())
            .authorized_scopes(scopes);
        taskcluster::Queue::new(builder).map_err(QueueError::of)
    }

    /// A task's definition.
    pub async fn task(&self, task_id: &str) -> Result<Value, QueueError> {
        self.queue(&[format!("queue:get-task:{task_id}")])?
            .task(task_id)
            .await
            .map_err(QueueError::of)
    }

    pub async fn group_outcome(&self, task_group_id: &str) -> Result<GroupOutcome, QueueError> {
        let queue = self.queue(&[format!("queue:list-task-group:{task_group_id}")])?;
        let mut token: Option<String> = None;
        let mut unresolved = false;
        loop {
            let page = queue
                .listTaskGroup(task_group_id, token.as_deref(), None)
                .await
                .map_err(QueueError::of)?;
            let tasks = page["tasks"].as_array().cloned().unwrap_or_default();
            for t in &tasks {
                match t.pointer("/status/state").and_then(Value::as_str) {
                    Some("failed" | "exception") => return Ok(GroupOutcome::Failure),
                    Some("unscheduled" | "pending" | "running") => unresolved = true,
                    _ => {}
                }
            }
            token = page["continuationToken"].as_str().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        Ok(if unresolved {
            GroupOutcome::Pending
        } else {
            GroupOutcome::Success
        })
    }

    /// Seals then cancels a group, limited (as Taskcluster-GitHub) to the repository's roles and
    /// the service's own scheduler id. A group the queue does not know counts as cancelled.
    pub async fn cancel_group(
        &self,
        owner: &str,
        repo: &str,
        task_group_id: &str,
    ) -> Result<(), QueueError> {
        let queue = self.queue(&[
            format!("assume:repo:github.com/{owner}/{repo}:*"),
            "queue:seal-task-group:taskcluster-github/*".into(),
            "queue:cancel-task-group:taskcluster-github/*".into(),
        ])?;
        match queue.sealTaskGroup(task_group_id).await {
            Ok(_) => {}
            Err(e)
                if taskcluster::err_status_code(&e) == Some(taskcluster::StatusCode::NOT_FOUND) =>
            {
                return Ok(())
            }
            Err(e) => return Err(QueueError::of(e)),
        }
        queue
            .cancelTaskGroup(task_group_id)
            .await
            .map(|_| ())
            .map_err(QueueError::of)
    }
}
