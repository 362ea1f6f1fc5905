//! Reporting back to GitHub after tasks change: commit statuses per task group (no `reporting`)
//! or one check run per task (`reporting: checks-v1`), from the queue's events on the bus.
//!
//! Which build a task group belongs to is read from `github_builds`, never kept in memory, so a
//! restarted server carries on. The bus hands each committed event to one server's subscribers
//! (the server whose publisher took it from the outbox), and every change is claimed in the
//! database before it is posted (a build's state moves once per transition; a task's check run
//! row is inserted by the one server that creates the run), so several servers, or an event
//! delivered again after a crash, do not post twice.

mod checks;
mod statuses;

use std::sync::Arc;

use relyard_events::{Bus, PublishedEvent};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::store::Build;
use crate::GitHubState;

pub use checks::conclusion;
pub use statuses::post_pending;

const QUEUE_EXCHANGES: &str = "exchange/taskcluster-queue/v1/";

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Store(#[from] relyard_store::StoreError),
    #[error(transparent)]
    GitHub(#[from] crate::ghapi::GhError),
    #[error(transparent)]
    Queue(#[from] crate::service_queue::QueueError),
}

/// Subscribes now (so nothing published after this call is missed) and reports until `shutdown`.
pub fn spawn(
    state: Arc<GitHubState>,
    bus: &Bus,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let mut events = bus.subscribe();
    tokio::spawn(async move {
        loop {
            let event = tokio::select! {
                _ = shutdown.cancelled() => return,
                e = events.recv() => e,
            };
            match event {
                Ok(e) => {
                    if let Err(err) = handle(&state, &e).await {
                        tracing::warn!(error = %err, exchange = %e.event.exchange, "reporting to GitHub failed");
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "GitHub reporter fell behind the event bus");
                }
                Err(RecvError::Closed) => return,
            }
        }
    })
}

/// Handles one event; events of other exchanges, routes or schedulers are ignored.
pub async fn handle(state: &GitHubState, e: &PublishedEvent) -> Result<(), ReportError> {
    let Some(exchange) = e.event.exchange.strip_prefix(QUEUE_EXCHANGES) else {
        return Ok(());
    };
    let payload = &e.event.payload;
    if exchange == "task-group-resolved" {
        if payload["schedulerId"] != crate::tcyml::SCHEDULER_ID {
            return Ok(());
        }
        let Some(group) = payload["taskGroupId"].as_str() else {
            return Ok(());
        };
        return statuses::group_resolved(state, group).await;
    }
    let has_route = |r: &str| e.event.cc.iter().any(|c| c == &format!("route.{r}"));
    if has_route(crate::tcyml::STATUSES_ROUTE) {
        statuses::task_changed(state, exchange, payload).await?;
    }
    if has_route(crate::tcyml::CHECKS_ROUTE) {
        checks::task_changed(state, exchange, payload).await?;
    }
    Ok(())
}

/// `"<app name> (<event>)"`, Taskcluster-GitHub's status context and check title.
pub fn context(app_name: &str, build: &Build) -> String {
    let event = build.event_type.split('.').next().unwrap_or_default();
    format!("{app_name} ({event})")
}

pub fn task_group_url(root_url: &str, task_group_id: &str) -> String {
    format!("{root_url}/tasks/groups/{task_group_id}")
}

pub fn task_url(root_url: &str, task_id: &str) -> String {
    format!("{root_url}/tasks/{task_id}")
}

/// The build of the group a task event is about, if the webhook created it.
async fn build_of_task(
    state: &GitHubState,
    payload: &serde_json::Value,
) -> Result<Option<Build>, ReportError> {
    let Some(group) = payload
        .pointer("/status/taskGroupId")
        .and_then(|v| v.as_str())
    else {
        return Ok(None);
    };
    Ok(crate::store::get_build(&state.db, group).await?)
}
