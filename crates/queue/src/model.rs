//! The queue's data: task definitions, runs and task status, in Taskcluster's JSON shapes.

use relyard_core::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Taskcluster's priorities, most urgent first; the index is the claim order rank.
pub const PRIORITIES: [&str; 7] = [
    "highest",
    "very-high",
    "high",
    "medium",
    "low",
    "very-low",
    "lowest",
];

/// A priority's claim rank (0 = most urgent), or `None` for an unknown name.
pub fn priority_rank(p: &str) -> Option<i64> {
    PRIORITIES.iter().position(|x| *x == p).map(|i| i as i64)
}

/// `queue:create-task:<p>:…` is required for the task's priority or any more urgent one.
pub fn priorities_at_least(p: &str) -> &'static [&'static str] {
    let n = PRIORITIES
        .iter()
        .position(|x| *x == p)
        .map(|i| i + 1)
        .unwrap_or(PRIORITIES.len());
    &PRIORITIES[..n]
}

/// Taskcluster's cap on runs per task (`MAX_RUNS_ALLOWED`).
pub const MAX_RUNS: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    Pending,
    Running,
    Completed,
    Failed,
    Exception,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Pending => "pending",
            RunState::Running => "running",
            RunState::Completed => "completed",
            RunState::Failed => "failed",
            RunState::Exception => "exception",
        }
    }
    pub fn is_resolved(self) -> bool {
        matches!(
            self,
            RunState::Completed | RunState::Failed | RunState::Exception
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReasonCreated {
    Scheduled,
    Retry,
    TaskRetry,
    Rerun,
    Exception,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReasonResolved {
    Completed,
    Failed,
    DeadlineExceeded,
    Canceled,
    ClaimExpired,
    WorkerShutdown,
    MalformedPayload,
    ResourceUnavailable,
    InternalError,
    IntermittentTask,
    Superseded,
}

impl ReasonResolved {
    /// The reasons a worker may report with reportException.
    pub fn from_worker_report(s: &str) -> Option<Self> {
        Some(match s {
            "worker-shutdown" => Self::WorkerShutdown,
            "malformed-payload" => Self::MalformedPayload,
            "resource-unavailable" => Self::ResourceUnavailable,
            "internal-error" => Self::InternalError,
            "intermittent-task" => Self::IntermittentTask,
            // A worker that ran a later task in this one's place (Taskcluster's superseding).
            "superseded" => Self::Superseded,
            _ => return None,
        })
    }
    /// The kind of run an automatic retry after this reason creates, if it retries at all.
    pub fn retry_reason(self) -> Option<ReasonCreated> {
        match self {
            Self::WorkerShutdown | Self::ClaimExpired => Some(ReasonCreated::Retry),
            Self::IntermittentTask => Some(ReasonCreated::TaskRetry),
            _ => None,
        }
    }
}

/// One run of a task, as in Taskcluster's task status (`runs[i].runId == i`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    pub run_id: u32,
    pub state: RunState,
    pub reason_created: ReasonCreated,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_resolved: Option<ReasonResolved>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken_until: Option<Timestamp>,
    pub scheduled: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<Timestamp>,
}

/// `{name, description, owner, source}`, all required.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    pub name: String,
    pub description: String,
    pub owner: String,
    pub source: String,
}

/// A task definition with every default filled in, as `task()` returns it and as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskDef {
    pub provisioner_id: String,
    pub worker_type: String,
    pub task_queue_id: String,
    pub scheduler_id: String,
    pub project_id: String,
    pub task_group_id: String,
    pub dependencies: Vec<String>,
    pub requires: String,
    pub routes: Vec<String>,
    pub priority: String,
    pub retries: i64,
    pub created: Timestamp,
    pub deadline: Timestamp,
    pub expires: Timestamp,
    pub scopes: Vec<String>,
    pub payload: Value,
    pub metadata: Metadata,
    pub tags: Map<String, Value>,
    pub extra: Value,
}

/// The parts of a task that state changes read and write (everything but the definition).
#[derive(Debug, Clone)]
pub struct TaskRow {
    pub task_id: String,
    pub task_group_id: String,
    pub scheduler_id: String,
    pub project_id: String,
    pub task_queue_id: String,
    pub priority: String,
    pub requires: String,
    pub retries: i64,
    pub retries_left: i64,
    pub deadline: Timestamp,
    pub expires: Timestamp,
    pub runs: Vec<Run>,
    pub routes: Vec<String>,
    pub tags: Value,
    pub scopes: Vec<String>,
}

/// Taskcluster's task status structure.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskStatus {
    pub task_id: String,
    pub provisioner_id: String,
    pub worker_type: String,
    pub task_queue_id: String,
    pub scheduler_id: String,
    pub project_id: String,
    pub task_group_id: String,
    pub priority: String,
    pub deadline: Timestamp,
    pub expires: Timestamp,
    pub retries_left: i64,
    pub state: String,
    pub runs: Vec<Run>,
}

impl TaskRow {
    /// The last run's state, or `unscheduled`.
    pub fn state(&self) -> &'static str {
        self.runs
            .last()
            .map(|r| r.state.as_str())
            .unwrap_or("unscheduled")
    }

    /// Unscheduled, pending or running: the task still counts against its group.
    pub fn is_active(&self) -> bool {
        self.runs
            .last()
            .map(|r| !r.state.is_resolved())
            .unwrap_or(true)
    }

    pub fn last_run(&self) -> Option<&Run> {
        self.runs.last()
    }

    pub fn provisioner_and_worker_type(&self) -> (&str, &str) {
        self.task_queue_id
            .split_once('/')
            .unwrap_or((&self.task_queue_id, ""))
    }

    pub fn status(&self) -> TaskStatus {
        let (p, w) = self.provisioner_and_worker_type();
        TaskStatus {
            task_id: self.task_id.clone(),
            provisioner_id: p.to_string(),
            worker_type: w.to_string(),
            task_queue_id: self.task_queue_id.clone(),
            scheduler_id: self.scheduler_id.clone(),
            project_id: self.project_id.clone(),
            task_group_id: self.task_group_id.clone(),
            priority: self.priority.clone(),
            deadline: self.deadline,
            expires: self.expires,
            retries_left: self.retries_left,
            state: self.state().to_string(),
            runs: self.runs.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_at_least_includes_the_more_urgent() {
        assert_eq!(priorities_at_least("highest"), &["highest"]);
        assert_eq!(
            priorities_at_least("high"),
            &["highest", "very-high", "high"]
        );
        assert_eq!(priorities_at_least("lowest").len(), 7);
        assert_eq!(priority_rank("medium"), Some(3));
        assert_eq!(priority_rank("normal"), None);
    }

    #[test]
    fn runs_serialize_like_taskcluster() {
        let run = Run {
            run_id: 0,
            state: RunState::Exception,
            reason_created: ReasonCreated::TaskRetry,
            reason_resolved: Some(ReasonResolved::DeadlineExceeded),
            worker_group: None,
            worker_id: None,
            taken_until: None,
            scheduled: Timestamp::from_millis(0),
            started: None,
            resolved: Some(Timestamp::from_millis(1)),
        };
        let v = serde_json::to_value(&run).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"runId": 0, "state": "exception", "reasonCreated": "task-retry",
                "reasonResolved": "deadline-exceeded", "scheduled": "1970-01-01T00:00:00.000Z",
                "resolved": "1970-01-01T00:00:00.001Z"})
        );
    }
}
