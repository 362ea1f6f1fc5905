//! The lifecycle hook: an optional program told about every start-up step and every task, before
//! and after, with one JSON object on its stdin.
//!
//! The event goes on stdin rather than on the command line (as build-runner's `task_hook` does)
//! so that no quoting is involved: a `'` in a name cannot break the call.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use tokio::process::Command;

use super::process::{self, Finish};

/// What an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HookKind {
    Step,
    Task,
}

/// How one try of a start-up step went, as the hook's `result` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepResult {
    /// Sent before the try.
    Running,
    /// Exit 0.
    Ok,
    /// Any other failure. Whether another try follows is `try < maxTries`.
    Retry,
    /// Exit 2: the worker halts.
    Halt,
    /// The try overran the step timeout and was killed; it counts as a failed try.
    Timeout,
}

impl StepResult {
    pub fn as_str(self) -> &'static str {
        match self {
            StepResult::Running => "running",
            StepResult::Ok => "ok",
            StepResult::Retry => "retry",
            StepResult::Halt => "halt",
            StepResult::Timeout => "timeout",
        }
    }
}

/// The `result` of a task event sent before the task runs.
pub const RUNNING: &str = "running";

/// The object the hook reads. Every key is always present; those that do not apply are null.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HookEvent {
    pub kind: HookKind,
    /// The step's file name (`10-mount`), or the task's `metadata.name`.
    pub name: String,
    /// The try number of a step, from 1; null for tasks.
    #[serde(rename = "try")]
    pub try_num: Option<u32>,
    pub max_tries: Option<u32>,
    /// `running` before; after, a [`StepResult`] for steps or the task's result for tasks.
    pub result: String,
    pub task_id: Option<String>,
    pub run_id: Option<u32>,
    /// How long the step try or the task took; null before it.
    pub duration_ms: Option<u64>,
}

/// The hook program, or none. Cheap to clone and share between the start-up and the task loop.
#[derive(Debug, Clone)]
pub struct Hook {
    program: Option<PathBuf>,
    timeout: Duration,
}

impl Default for Hook {
    fn default() -> Self {
        Hook::new(None)
    }
}

impl Hook {
    /// How long a hook call may take by default before it is killed: a hook is a notification,
    /// and one that hangs must not hold the worker up.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

    pub fn new(program: Option<PathBuf>) -> Self {
        Hook {
            program,
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sends `event` to the hook and waits for it to finish. A hook that cannot be started,
    /// fails or overruns is logged and otherwise ignored: it never stops the worker.
    pub async fn emit(&self, event: &HookEvent) {
        let Some(program) = &self.program else {
            return;
        };
        let mut input = match serde_json::to_vec(event) {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::warn!(error = %e, "could not encode hook event");
                return;
            }
        };
        input.push(b'\n');
        let run = process::run(
            Command::new(program),
            "hook",
            Some(&input),
            Some(self.timeout),
        );
        match run.await {
            Ok(Finish::Exited(status)) if status.success() => {}
            Ok(Finish::Exited(status)) => {
                let hook = program.display();
                tracing::warn!(%hook, %status, event = %event.name, "hook failed")
            }
            Ok(Finish::TimedOut) => tracing::warn!(
                hook = %program.display(),
                timeout_ms = duration_ms(self.timeout),
                event = %event.name,
                "hook overran its timeout and was killed"
            ),
            Err(e) => {
                tracing::warn!(hook = %program.display(), error = %e, "could not run hook")
            }
        }
    }

    pub async fn step_started(&self, name: &str, try_num: u32, max_tries: u32) {
        self.emit(&step_event(
            name,
            try_num,
            max_tries,
            StepResult::Running,
            None,
        ))
        .await
    }

    pub async fn step_finished(
        &self,
        name: &str,
        try_num: u32,
        max_tries: u32,
        result: StepResult,
        duration: Duration,
    ) {
        let event = step_event(name, try_num, max_tries, result, Some(duration));
        self.emit(&event).await
    }

    pub async fn task_started(&self, task_id: &str, run_id: u32, name: &str) {
        self.emit(&task_event(task_id, run_id, name, RUNNING, None))
            .await
    }

    /// `result` is the task's result as the caller resolved it (`completed`, `failed`,
    /// `exception`, ...).
    pub async fn task_finished(
        &self,
        task_id: &str,
        run_id: u32,
        name: &str,
        result: &str,
        duration: Duration,
    ) {
        let event = task_event(task_id, run_id, name, result, Some(duration));
        self.emit(&event).await
    }
}

fn step_event(
    name: &str,
    try_num: u32,
    max_tries: u32,
    result: StepResult,
    duration: Option<Duration>,
) -> HookEvent {
    HookEvent {
        kind: HookKind::Step,
        name: name.to_owned(),
        try_num: Some(try_num),
        max_tries: Some(max_tries),
        result: result.as_str().to_owned(),
        task_id: None,
        run_id: None,
        duration_ms: duration.map(duration_ms),
    }
}

fn task_event(
    task_id: &str,
    run_id: u32,
    name: &str,
    result: &str,
    duration: Option<Duration>,
) -> HookEvent {
    HookEvent {
        kind: HookKind::Task,
        name: name.to_owned(),
        try_num: None,
        max_tries: None,
        result: result.to_owned(),
        task_id: Some(task_id.to_owned()),
        run_id: Some(run_id),
        duration_ms: duration.map(duration_ms),
    }
}

/// Milliseconds, saturating: no real duration reaches u64::MAX ms, but a conversion should not
/// be able to panic.
fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::runner::testutil::{read_lines, write_script};
    use serde_json::{json, Value};
    use std::path::Path;

    /// A hook that appends each event it reads to `log`.
    pub(crate) fn recording_hook(dir: &Path, log: &Path) -> Hook {
        let body = format!("cat >> '{}'", log.display());
        Hook::new(Some(write_script(dir, "hook", &body)))
    }

    /// The events a [`recording_hook`] logged, in order.
    pub(crate) fn hook_events(log: &Path) -> Vec<Value> {
        read_lines(log)
            .iter()
            .map(|line| serde_json::from_str(line).expect("hook line is one JSON object"))
            .collect()
    }

    #[tokio::test]
    async fn task_events_are_well_formed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("hook.log");
        let hook = recording_hook(dir.path(), &log);
        hook.task_started("fN1J0yQeT6Kn0Hxp3N9rMw", 2, "it's a test")
            .await;
        hook.task_finished(
            "fN1J0yQeT6Kn0Hxp3N9rMw",
            2,
            "it's a test",
            "failed",
            Duration::from_millis(1500),
        )
        .await;
        let base = json!({
            "kind": "task", "name": "it's a test", "try": null, "maxTries": null,
            "taskId": "fN1J0yQeT6Kn0Hxp3N9rMw", "runId": 2,
        });
        let with = |result: &str, duration: Value| {
            let mut v = base.clone();
            v["result"] = json!(result);
            v["durationMs"] = duration;
            v
        };
        assert_eq!(
            hook_events(&log),
            vec![with("running", Value::Null), with("failed", json!(1500))]
        );
    }

    #[tokio::test]
    async fn failing_missing_and_hanging_hooks_do_not_stop_the_caller() {
        let dir = tempfile::tempdir().expect("tempdir");
        let failing = Hook::new(Some(write_script(dir.path(), "fail", "exit 3")));
        failing.task_started("t", 0, "n").await;
        let missing = Hook::new(Some(dir.path().join("no-such-hook")));
        missing.task_started("t", 0, "n").await;
        let hanging = Hook::new(Some(write_script(dir.path(), "hang", "sleep 30")))
            .with_timeout(Duration::from_millis(100));
        let started = std::time::Instant::now();
        hanging.task_started("t", 0, "n").await;
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
