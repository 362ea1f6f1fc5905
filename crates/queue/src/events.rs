//! The queue's Pulse messages: exchange names, routing keys and payloads as Taskcluster sends them.

use relyard_core::Timestamp;
use relyard_events::Event;
use serde_json::{json, Value};

use crate::model::{Run, TaskRow};

const PREFIX: &str = "exchange/taskcluster-queue/v1/";

/// The task exchanges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskExchange {
    Defined,
    Pending,
    Running,
    ArtifactCreated,
    Completed,
    Failed,
    Exception,
}

impl TaskExchange {
    pub fn name(self) -> &'static str {
        match self {
            TaskExchange::Defined => "task-defined",
            TaskExchange::Pending => "task-pending",
            TaskExchange::Running => "task-running",
            TaskExchange::ArtifactCreated => "artifact-created",
            TaskExchange::Completed => "task-completed",
            TaskExchange::Failed => "task-failed",
            TaskExchange::Exception => "task-exception",
        }
    }
}

/// A routing-key word: `_` when absent; dots would split the word, so they are not allowed.
fn word(s: Option<&str>) -> String {
    match s {
        Some(s) if !s.is_empty() => s.replace('.', "%"),
        _ => "_".into(),
    }
}

/// `primary.<taskId>.<runId>.<workerGroup>.<workerId>.<provisionerId>.<workerType>.<schedulerId>.<taskGroupId>._`
pub fn task_routing_key(task: &TaskRow, run: Option<&Run>, with_worker: bool) -> String {
    let (p, w) = task.provisioner_and_worker_type();
    let run_id = run.map(|r| r.run_id.to_string());
    let (wg, wid) = match run {
        Some(r) if with_worker => (r.worker_group.as_deref(), r.worker_id.as_deref()),
        _ => (None, None),
    };
    format!(
        "primary.{}.{}.{}.{}.{}.{}.{}.{}._",
        word(Some(&task.task_id)),
        word(run_id.as_deref()),
        word(wg),
        word(wid),
        word(Some(p)),
        word(Some(w)),
        word(Some(&task.scheduler_id)),
        word(Some(&task.task_group_id)),
    )
}

fn route_ccs(task: &TaskRow) -> Vec<String> {
    task.routes.iter().map(|r| format!("route.{r}")).collect()
}

/// A task message about `run` (`None` for task-defined), with the task's current status.
pub fn task_event(kind: TaskExchange, task: &TaskRow, run: Option<&Run>) -> Event {
    let mut payload = json!({
        "version": 1,
        "status": task.status(),
        "task": { "tags": task.tags },
    });
    let with_worker = !matches!(kind, TaskExchange::Defined | TaskExchange::Pending);
    if let Some(run) = run {
        payload["runId"] = json!(run.run_id);
        if with_worker {
            if let (Some(wg), Some(wid)) = (&run.worker_group, &run.worker_id) {
                payload["workerGroup"] = json!(wg);
                payload["workerId"] = json!(wid);
            }
        }
        if kind == TaskExchange::Running {
            if let Some(t) = run.taken_until {
                payload["takenUntil"] = json!(t);
            }
        }
    }
    Event {
        exchange: format!("{PREFIX}{}", kind.name()),
        routing_key: task_routing_key(task, run, with_worker),
        cc: route_ccs(task),
        payload,
    }
}

/// artifact-created: the run's worker and the artifact's public fields.
pub fn artifact_created(task: &TaskRow, run: &Run, artifact: Value) -> Event {
    let mut e = task_event(TaskExchange::ArtifactCreated, task, Some(run));
    e.payload["artifact"] = artifact;
    // The schema requires the worker words; a run without a worker cannot have artifacts.
    e.payload.as_object_mut().map(|o| o.remove("task"));
    e
}

/// task-group-resolved / task-group-sealed.
pub fn group_event(
    exchange: &str,
    task_group_id: &str,
    scheduler_id: &str,
    expires: Timestamp,
    sealed: Option<Timestamp>,
) -> Event {
    let mut payload = json!({
        "version": 1,
        "taskGroupId": task_group_id,
        "schedulerId": scheduler_id,
        "expires": expires,
    });
    if let Some(s) = sealed {
        payload["sealed"] = json!(s);
    }
    Event {
        exchange: format!("{PREFIX}{exchange}"),
        routing_key: format!(
            "primary.{}.{}._",
            word(Some(task_group_id)),
            word(Some(scheduler_id))
        ),
        cc: Vec::new(),
        payload,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ReasonCreated, RunState};

    fn task() -> TaskRow {
        TaskRow {
            task_id: "T".into(),
            task_group_id: "G".into(),
            scheduler_id: "-".into(),
            project_id: "none".into(),
            task_queue_id: "prov/wt".into(),
            priority: "lowest".into(),
            requires: "all-completed".into(),
            retries: 5,
            retries_left: 5,
            deadline: Timestamp::from_millis(0),
            expires: Timestamp::from_millis(0),
            runs: vec![],
            routes: vec!["index.a.b".into()],
            tags: json!({}),
            scopes: vec![],
        }
    }

    #[test]
    fn routing_keys() {
        let mut t = task();
        let e = task_event(TaskExchange::Defined, &t, None);
        assert_eq!(e.routing_key, "primary.T._._._.prov.wt.-.G._");
        assert_eq!(e.exchange, "exchange/taskcluster-queue/v1/task-defined");
        assert_eq!(e.cc, vec!["route.index.a.b"]);
        t.runs.push(Run {
            run_id: 0,
            state: RunState::Running,
            reason_created: ReasonCreated::Scheduled,
            reason_resolved: None,
            worker_group: Some("wg".into()),
            worker_id: Some("wid".into()),
            taken_until: Some(Timestamp::from_millis(5)),
            scheduled: Timestamp::from_millis(0),
            started: None,
            resolved: None,
        });
        let run = t.runs[0].clone();
        let e = task_event(TaskExchange::Running, &t, Some(&run));
        assert_eq!(e.routing_key, "primary.T.0.wg.wid.prov.wt.-.G._");
        assert_eq!(e.payload["takenUntil"], json!("1970-01-01T00:00:00.005Z"));
        let e = task_event(TaskExchange::Pending, &t, Some(&run));
        assert_eq!(e.routing_key, "primary.T.0._._.prov.wt.-.G._");
        let g = group_event(
            "task-group-resolved",
            "G",
            "-",
            Timestamp::from_millis(0),
            None,
        );
        assert_eq!(g.routing_key, "primary.G.-._");
    }
}
