//! Following a graph to its end: task statuses come from the embedded server's event bus (or,
//! for a remote server, from `listTaskGroup` at a short interval), and a task that can never run
//! because a dependency did not complete counts as blocked, so the run ends when the queue would
//! have nothing more to do for it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use relyard_events::PublishedEvent;
use serde_json::Value;
use taskcluster::Queue;
use tokio::sync::broadcast;

use super::graph::Graph;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Unscheduled,
    Pending,
    Running,
    Completed,
    Failed,
    Exception,
    /// Never to run: a dependency it requires to complete did not.
    Blocked,
}

impl State {
    pub fn parse(s: &str) -> Option<State> {
        Some(match s {
            "unscheduled" => State::Unscheduled,
            "pending" => State::Pending,
            "running" => State::Running,
            "completed" => State::Completed,
            "failed" => State::Failed,
            "exception" => State::Exception,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            State::Unscheduled => "unscheduled",
            State::Pending => "pending",
            State::Running => "running",
            State::Completed => "completed",
            State::Failed => "failed",
            State::Exception => "exception",
            State::Blocked => "blocked",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            State::Completed | State::Failed | State::Exception | State::Blocked
        )
    }

    /// Orders states within one run, so an older snapshot never undoes a newer one.
    fn rank(self) -> u8 {
        match self {
            State::Unscheduled => 0,
            State::Pending => 1,
            State::Running => 2,
            _ => 3,
        }
    }
}

/// What is known of one task.
#[derive(Debug, Clone)]
pub struct Known {
    pub state: State,
    pub runs: usize,
    /// The last run's `reasonResolved`, `started` and `resolved`.
    pub reason: Option<String>,
    pub started: Option<String>,
    pub resolved: Option<String>,
}

pub struct Tracker {
    index: HashMap<String, usize>,
    /// In-graph dependencies of each task, by index.
    deps: Vec<Vec<usize>>,
    all_completed: Vec<bool>,
    pub known: Vec<Known>,
}

impl Tracker {
    pub fn new(graph: &Graph) -> Tracker {
        let index: HashMap<String, usize> = graph
            .tasks
            .iter()
            .enumerate()
            .map(|(i, t)| (t.task_id.clone(), i))
            .collect();
        let deps = graph
            .tasks
            .iter()
            .map(|t| {
                t.dependencies
                    .iter()
                    .filter_map(|d| index.get(d).copied())
                    .collect()
            })
            .collect();
        let all_completed = graph
            .tasks
            .iter()
            .map(|t| t.definition.get("requires").and_then(Value::as_str) != Some("all-resolved"))
            .collect();
        let known = graph
            .tasks
            .iter()
            .map(|_| Known {
                state: State::Unscheduled,
                runs: 0,
                reason: None,
                started: None,
                resolved: None,
            })
            .collect();
        Tracker {
            index,
            deps,
            all_completed,
            known,
        }
    }

    /// Takes in a task status (Taskcluster's `status` object); returns the tasks whose state
    /// changed, with their new state (blocked dependents included).
    pub fn update(&mut self, status: &Value) -> Vec<(usize, State)> {
        let mut changed = Vec::new();
        let Some(&i) = status
            .get("taskId")
            .and_then(Value::as_str)
            .and_then(|id| self.index.get(id))
        else {
            return changed;
        };
        let Some(state) = status
            .get("state")
            .and_then(Value::as_str)
            .and_then(State::parse)
        else {
            return changed;
        };
        let runs = status.get("runs").and_then(Value::as_array);
        let n = runs.map_or(0, Vec::len);
        let k = &mut self.known[i];
        if k.state == State::Blocked || n < k.runs || (n == k.runs && state.rank() < k.state.rank())
        {
            return changed;
        }
        let last = runs.and_then(|r| r.last());
        let field = |f: &str| {
            last.and_then(|r| r.get(f))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        k.runs = n;
        k.reason = field("reasonResolved");
        k.started = field("started");
        k.resolved = field("resolved");
        if k.state != state {
            k.state = state;
            changed.push((i, state));
        }
        changed.extend(self.block_dependents());
        changed
    }

    /// Marks unscheduled tasks that can no longer be scheduled (tasks are dependencies-first,
    /// so one pass reaches a fixed point).
    fn block_dependents(&mut self) -> Vec<(usize, State)> {
        let mut blocked = Vec::new();
        for i in 0..self.known.len() {
            if self.known[i].state != State::Unscheduled {
                continue;
            }
            let never = self.deps[i].iter().any(|&d| match self.known[d].state {
                State::Blocked => true,
                State::Failed | State::Exception => self.all_completed[i],
                _ => false,
            });
            if never {
                self.known[i].state = State::Blocked;
                blocked.push((i, State::Blocked));
            }
        }
        blocked
    }

    pub fn done(&self) -> bool {
        self.known.iter().all(|k| k.state.is_final())
    }
}

/// Where statuses come from.
pub enum Updates {
    /// The embedded server's bus: every transition as it commits.
    Bus {
        events: broadcast::Receiver<Arc<PublishedEvent>>,
        queue: Queue,
        groups: Vec<String>,
    },
    /// A remote server: its task groups listed at an interval.
    Poll {
        queue: Queue,
        groups: Vec<String>,
        interval: tokio::time::Interval,
    },
}

const TASK_EXCHANGES: &str = "exchange/taskcluster-queue/v1/task-";

impl Updates {
    pub fn poll(queue: Queue, groups: Vec<String>, every: Duration) -> Updates {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Updates::Poll {
            queue,
            groups,
            interval,
        }
    }

    /// The next statuses (at least one, unless the source has ended).
    pub async fn next(&mut self) -> anyhow::Result<Vec<Value>> {
        match self {
            Updates::Bus {
                events,
                queue,
                groups,
            } => {
                let mut statuses = Vec::new();
                let first = events.recv().await;
                let mut lagged = false;
                let mut take = |r: Result<Arc<PublishedEvent>, broadcast::error::RecvError>| match r
                {
                    Ok(e) if e.event.exchange.starts_with(TASK_EXCHANGES) => {
                        if let Some(s) = e.event.payload.get("status") {
                            statuses.push(s.clone());
                        }
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => lagged = true,
                    Err(broadcast::error::RecvError::Closed) => {}
                };
                if let Err(broadcast::error::RecvError::Closed) = first {
                    anyhow::bail!("the embedded server stopped publishing events");
                }
                take(first);
                // Whatever else is already there, in one go.
                loop {
                    match events.try_recv() {
                        Ok(e) => take(Ok(e)),
                        Err(broadcast::error::TryRecvError::Lagged(n)) => {
                            take(Err(broadcast::error::RecvError::Lagged(n)))
                        }
                        Err(_) => break,
                    }
                }
                if lagged {
                    // Events were dropped: the groups' listing says where everything is.
                    statuses.extend(list_groups(queue, groups).await?);
                }
                Ok(statuses)
            }
            Updates::Poll {
                queue,
                groups,
                interval,
            } => {
                interval.tick().await;
                list_groups(queue, groups).await
            }
        }
    }
}

/// Every status in the task groups (`listTaskGroup`, all pages).
pub async fn list_groups(queue: &Queue, groups: &[String]) -> anyhow::Result<Vec<Value>> {
    let mut statuses = Vec::new();
    for group in groups {
        let mut token: Option<String> = None;
        loop {
            let page = queue.listTaskGroup(group, token.as_deref(), None).await?;
            if let Some(tasks) = page.get("tasks").and_then(Value::as_array) {
                statuses.extend(tasks.iter().filter_map(|t| t.get("status").cloned()));
            }
            token = page
                .get("continuationToken")
                .and_then(Value::as_str)
                .map(str::to_string);
            if token.is_none() {
                break;
            }
        }
    }
    Ok(statuses)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::ci::graph::GraphTask;
    use serde_json::json;

    fn graph(tasks: &[(&str, &[&str], &str)]) -> Graph {
        Graph {
            tasks_for: relyard_github::tcyml::TasksFor::Push,
            branch: "main".into(),
            sha: "0".repeat(40),
            top: "/".into(),
            task_group_id: None,
            tasks: tasks
                .iter()
                .map(|(id, deps, requires)| GraphTask {
                    task_id: id.to_string(),
                    name: id.to_string(),
                    task_queue_id: "p/w".into(),
                    dependencies: deps.iter().map(|d| d.to_string()).collect(),
                    definition: json!({ "requires": requires }),
                })
                .collect(),
        }
    }

    fn status(id: &str, state: &str, runs: usize) -> Value {
        let runs: Vec<Value> = (0..runs).map(|r| json!({ "runId": r })).collect();
        json!({ "taskId": id, "state": state, "runs": runs })
    }

    #[test]
    fn a_failed_dependency_blocks_what_requires_it_to_complete() {
        let mut t = Tracker::new(&graph(&[
            ("build", &[], "all-completed"),
            ("test", &["build"], "all-completed"),
            ("upload", &["test"], "all-completed"),
            ("report", &["build"], "all-resolved"),
        ]));
        for id in ["test", "upload", "report"] {
            t.update(&status(id, "unscheduled", 0));
        }
        t.update(&status("build", "running", 1));
        assert!(!t.done());
        let changed = t.update(&status("build", "failed", 1));
        assert_eq!(
            changed,
            vec![(0, State::Failed), (1, State::Blocked), (2, State::Blocked)]
        );
        assert!(!t.done(), "report still runs after a failure");
        t.update(&status("report", "completed", 1));
        assert!(t.done());
    }

    #[test]
    fn older_snapshots_do_not_undo_newer_states_but_retries_do() {
        let mut t = Tracker::new(&graph(&[("a", &[], "all-completed")]));
        t.update(&status("a", "running", 1));
        assert!(t.update(&status("a", "pending", 1)).is_empty());
        // An exception that is retried: the status already shows the new pending run.
        assert_eq!(
            t.update(&status("a", "pending", 2)),
            vec![(0, State::Pending)]
        );
        assert!(!t.done());
        t.update(&status("a", "completed", 2));
        assert!(t.done());
        assert!(t.update(&status("b", "failed", 1)).is_empty(), "not ours");
    }
}
