//! Verification tasks of reproducibility checks: a task with `extra.reproducible: true` is run
//! twice (the queue gives the rerun to another worker when one is claiming) and a task whose
//! payload is `{verifyReproducible: {tasks: [<original>, <rerun>]}}` compares the two latest
//! runs. Any worker runs it: it has no commands, reads both runs' artifact records and status
//! with the worker's own credentials (`queue:list-artifacts:*`, `queue:get-artifact:*` for
//! artifacts without a recorded hash), so the task needs no scopes.
//!
//! It completes when both runs have the same artifact names (logs aside) with the same sha256,
//! and fails listing each artifact that differs with both hashes, and names only one run has.

pub mod compare;
pub mod fetch;
pub mod payload;

use std::sync::Arc;

use crate::livelog::LiveLog;
use crate::queue_api::QueueApi;
use crate::run::Resolution;
use compare::{compare, Comparison, LOGS_PREFIX};
use fetch::{latest_run, RunArtifacts};
use payload::VerifyPayload;

/// One verification run; the caller handles claims, cancel and the time limit.
pub struct VerifyRun<'a> {
    pub api: &'a QueueApi,
    pub http: &'a reqwest::Client,
    pub log: &'a Arc<LiveLog>,
}

impl VerifyRun<'_> {
    pub async fn run(&self, payload: &VerifyPayload) -> Resolution {
        let log = self.log;
        let mut runs = Vec::with_capacity(2);
        for task_id in &payload.tasks {
            match latest_run(self.api, self.http, task_id).await {
                Ok(r) => {
                    log.worker_line(&format!(
                        "Task {} run {} ran on worker {} ({}): {} artifact(s) compared",
                        r.task_id,
                        r.run_id,
                        r.worker,
                        r.state,
                        r.digests.len()
                    ));
                    runs.push(r);
                }
                Err(e) => {
                    log.worker_line(&format!("reading task {task_id}: {e}"));
                    return if e.is_task_fault() {
                        Resolution::Failed
                    } else {
                        Resolution::Exception("internal-error")
                    };
                }
            }
        }
        let (first, second) = (&runs[0], &runs[1]);
        for r in [first, second] {
            if r.state != "completed" {
                log.worker_line(&format!(
                    "Task {} run {} is {}, not completed: its artifacts are not a build to compare; the task failed",
                    r.task_id, r.run_id, r.state
                ));
                return Resolution::Failed;
            }
        }
        if first.worker == second.worker {
            log.worker_line(&format!(
                "Both runs were on worker {}: two clean runs of one worker (no other worker took the rerun)",
                first.worker
            ));
        }
        let result = compare(&first.digests, &second.digests);
        report(log, first, second, &result);
        if result.reproducible() {
            Resolution::Completed
        } else {
            Resolution::Failed
        }
    }
}

fn report(log: &LiveLog, first: &RunArtifacts, second: &RunArtifacts, c: &Comparison) {
    let side = |r: &RunArtifacts| format!("{} run {}", r.task_id, r.run_id);
    for (name, digest) in &c.same {
        log.worker_line(&format!("Same: {name} sha256 {digest}"));
    }
    for (name, a, b) in &c.differ {
        log.worker_line(&format!(
            "Differs: {name}: sha256 {a} ({}) vs {b} ({})",
            side(first),
            side(second)
        ));
    }
    for (name, r) in c
        .only_first
        .iter()
        .map(|n| (n, first))
        .chain(c.only_second.iter().map(|n| (n, second)))
    {
        log.worker_line(&format!("Only in {}: {name}", side(r)));
    }
    if c.reproducible() {
        if c.same.is_empty() {
            log.worker_line(&format!(
                "Reproducible, vacuously: neither run has artifacts outside {LOGS_PREFIX}"
            ));
        } else {
            log.worker_line(&format!(
                "Reproducible: all {} artifact(s) have the same sha256 in both runs",
                c.same.len()
            ));
        }
    } else {
        log.worker_line(&format!(
            "Not reproducible: {} artifact(s) differ, {} only in one run; the task failed",
            c.differ.len(),
            c.only_first.len() + c.only_second.len()
        ));
    }
}
