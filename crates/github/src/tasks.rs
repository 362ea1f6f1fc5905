//! Creating the rendered tasks: through [`TaskCreator`], whose real implementation calls the
//! queue's `createTask` over HTTP with the GitHub service's credentials narrowed by Hawk
//! `ext.authorizedScopes` to the repository role's scopes, so the queue (and auth) decide what
//! the repository may do, exactly as with Taskcluster-GitHub.

use async_trait::async_trait;

use crate::tcyml::TaskEntry;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CreateError(pub String);

#[async_trait]
pub trait TaskCreator: Send + Sync {
    /// Creates `tasks` in order (dependencies first), each limited to `scopes`.
    async fn create_tasks(&self, scopes: &[String], tasks: &[TaskEntry])
        -> Result<(), CreateError>;
}

/// Calls the queue at `root_url` with the official Taskcluster client.
pub struct QueueTaskCreator {
    pub root_url: String,
    pub credentials: taskcluster::Credentials,
}

#[async_trait]
impl TaskCreator for QueueTaskCreator {
    async fn create_tasks(
        &self,
        scopes: &[String],
        tasks: &[TaskEntry],
    ) -> Result<(), CreateError> {
        let builder = taskcluster::ClientBuilder::new(&self.root_url)
            .credentials(self.credentials.clone())
            .authorized_scopes(scopes);
        let queue = taskcluster::Queue::new(builder).map_err(|e| CreateError(e.to_string()))?;
        for entry in tasks {
            queue
                .createTask(&entry.task_id, &entry.task)
                .await
                .map_err(|e| {
                    CreateError(format!(
                        "Creating task {} with the scopes\n\n```\n{}\n```\n\nfailed:\n\n{e}",
                        entry.task_id,
                        scopes.join("\n")
                    ))
                })?;
        }
        Ok(())
    }
}
