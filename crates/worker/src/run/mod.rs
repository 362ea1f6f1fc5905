//! One claimed run, from claim to resolution: fresh directory, mounts, proxy, commands, clean
//! slate, artifacts, logs, and the report to the queue.

pub mod commands;
pub mod control;
mod logs;
mod workdir;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::cleanslate::Tracker;
use crate::livelog::LiveLog;
use crate::payload::{self, Payload};
use crate::queue_api::{Claim, RunApi};
use crate::Shared;
use commands::{Abort, CommandRun, Ended, OutputPipe};
use workdir::remove_dir_forcibly;

/// How a run ended, as reported to the queue (or not, when the run was lost).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    Completed,
    Failed,
    Exception(&'static str),
    /// Resolved by someone else (canceled, deadline, claim expired): nothing reported.
    Lost,
}

impl Resolution {
    /// The result string for hooks, metrics and the recycle policy.
    pub fn as_str(&self) -> &'static str {
        match self {
            Resolution::Completed => "completed",
            Resolution::Failed => "failed",
            Resolution::Exception(_) => "exception",
            Resolution::Lost => "lost",
        }
    }
}

/// What the claim loop learns from a finished run.
pub struct RunOutcome {
    pub task_id: String,
    pub run_id: u32,
    pub name: String,
    pub resolution: Resolution,
}

/// Runs one claimed task to its end; never panics and never leaves the claim hanging.
pub async fn run_claim(
    shared: Arc<Shared>,
    claim: Claim,
    claimed_at: Instant,
    shutdown: CancellationToken,
) -> RunOutcome {
    let task_id = claim.task_id();
    let name = claim
        .task
        .pointer("/metadata/name")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    let run_id = claim.run_id;
    let started = Instant::now();
    shared.hook.task_started(&task_id, run_id, &name).await;
    shared.metrics.running.inc();
    let resolution = match RunApi::new(&shared.api, &task_id, run_id, &claim.credentials) {
        Ok(run) => {
            let run = Arc::new(run);
            let r = TaskRun::new(Arc::clone(&shared), &claim, Arc::clone(&run), claimed_at)
                .execute(shutdown)
                .await;
            report(&run, &r).await;
            r
        }
        Err(e) => {
            tracing::error!(error = %e, %task_id, "cannot talk to the queue for this run");
            Resolution::Exception("internal-error")
        }
    };
    shared.metrics.running.dec();
    shared.metrics.task_finished(resolution.as_str());
    shared
        .hook
        .task_finished(
            &task_id,
            run_id,
            &name,
            resolution.as_str(),
            started.elapsed(),
        )
        .await;
    RunOutcome {
        task_id,
        run_id,
        name,
        resolution,
    }
}

async fn report(run: &RunApi, resolution: &Resolution) {
    let result = match resolution {
        Resolution::Completed => run.report_completed().await,
        Resolution::Failed => run.report_failed().await,
        Resolution::Exception(reason) => run.report_exception(reason).await,
        Resolution::Lost => Ok(()),
    };
    if let Err(e) = result {
        // A 409 means it is resolved already (canceled meanwhile); anything else the claim
        // expiry will settle: the reaper resolves it as claim-expired and the queue retries it.
        tracing::warn!(error = %e, task_id = %run.task_id, run_id = %run.run_id, "reporting the result failed");
    }
}

struct TaskRun {
    shared: Arc<Shared>,
    run: Arc<RunApi>,
    task: Value,
    task_id: String,
    run_id: u32,
    taken_until: String,
    claimed_at: Instant,
    dir: PathBuf,
    log_path: PathBuf,
}

impl TaskRun {
    fn new(shared: Arc<Shared>, claim: &Claim, run: Arc<RunApi>, claimed_at: Instant) -> TaskRun {
        let task_id = run.task_id.clone();
        let slug = format!("{task_id}-{}", claim.run_id);
        TaskRun {
            dir: shared.config.work_dir.join("tasks").join(&slug),
            log_path: shared
                .config
                .work_dir
                .join("logs")
                .join(format!("{slug}.log")),
            shared,
            run,
            task: claim.task.clone(),
            task_id,
            run_id: claim.run_id,
            taken_until: claim.taken_until.clone(),
            claimed_at,
        }
    }

    fn task_expires(&self) -> String {
        self.task
            .get("expires")
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| (chrono::Utc::now() + chrono::Duration::days(28)).to_rfc3339())
    }

    async fn execute(self, shutdown: CancellationToken) -> Resolution {
        if let Err(e) = std::fs::create_dir_all(self.log_path.parent().unwrap_or(Path::new("."))) {
            tracing::error!(error = %e, "cannot create the log directory");
            return Resolution::Exception("internal-error");
        }
        let log = match LiveLog::create(&self.log_path) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "cannot create the task log");
                return Resolution::Exception("internal-error");
            }
        };
        let payload_value = self.task.get("payload").unwrap_or(&Value::Null);
        let signing = crate::signing::payload::is_signing(payload_value)
            .then(|| crate::signing::payload::parse(&self.task));
        let verify = crate::reproducible::payload::is_verification(payload_value)
            .then(|| crate::reproducible::payload::parse(&self.task));
        // Signing and verification tasks have no commands; their log and features are the defaults.
        let parsed = match (&signing, &verify) {
            (None, None) => payload::parse(payload_value),
            _ => Err(payload::Malformed(String::new())),
        };
        let token = format!(
            "{}{}",
            relyard_core::ids::slugid(),
            relyard_core::ids::slugid()
        );
        let live = parsed.as_ref().map_or(true, |p| p.features.live_log);
        if live {
            self.shared.logs.insert(token.clone(), Arc::clone(&log));
        }
        log.worker_line(&format!(
            "Worker {}/{} running task {} run {}",
            self.shared.config.worker_group,
            self.shared.config.worker_id,
            self.task_id,
            self.run_id
        ));
        // The live log's artifact is made while the task starts, not before: readers find it a
        // moment later, the task starts a round trip sooner.
        let publish = async {
            if live {
                self.publish_live_log(&token, parsed.as_ref().ok()).await;
            }
        };
        let work = async {
            match (&signing, &verify, &parsed) {
                (Some(Ok(job)), _, _) => self.run_signing(job, &log, shutdown).await,
                (None, Some(Ok(job)), _) => self.run_verify(job, &log, shutdown).await,
                (Some(Err(reason)), _, _)
                | (None, Some(Err(reason)), _)
                | (None, None, Err(reason)) => {
                    log.worker_line(&format!("malformed-payload: {reason}"));
                    Resolution::Exception("malformed-payload")
                }
                (None, None, Ok(payload)) => self.run_payload(payload, &log, shutdown).await,
            }
        };
        let ((), resolution) = tokio::join!(publish, work);
        log.worker_line(&format!("Resolving task as {}", resolution.as_str()));
        log.close();
        if resolution != Resolution::Lost {
            let backing = parsed.as_ref().map_or(true, |p| p.features.backing_log);
            let logs = parsed.as_ref().map(|p| p.logs.clone()).unwrap_or_default();
            if backing {
                if let Err(e) = self.publish_backing_log(&logs, live).await {
                    tracing::warn!(error = %e, task_id = %self.task_id, "uploading the log failed");
                }
            }
        }
        self.shared.logs.remove(&token);
        if !self.shared.config.keep_task_dirs {
            let _ = tokio::fs::remove_file(&self.log_path).await;
        }
        resolution
    }

    async fn run_payload(
        &self,
        payload: &Payload,
        log: &Arc<LiveLog>,
        shutdown: CancellationToken,
    ) -> Resolution {
        let config = &self.shared.config;
        // A fresh directory every time: whatever an earlier run left is gone.
        let _ = tokio::fs::remove_dir_all(&self.dir).await;
        if let Err(e) = tokio::fs::create_dir_all(&self.dir).await {
            log.worker_line(&format!("cannot create the task directory: {e}"));
            return Resolution::Exception("internal-error");
        }
        let marker = format!("{}/{}/{}", config.worker_id, self.task_id, self.run_id);
        let tracker = match Tracker::start(config.cleanslate, marker, config.capacity == 1) {
            Ok(t) => t,
            Err(e) => {
                log.worker_line(&format!("cannot track the task's processes: {e}"));
                return Resolution::Exception("internal-error");
            }
        };
        let resolution = self.run_tracked(payload, log, &tracker, shutdown).await;
        if !config.keep_task_dirs {
            remove_dir_forcibly(&self.dir).await;
        }
        resolution
    }

    async fn run_tracked(
        &self,
        payload: &Payload,
        log: &Arc<LiveLog>,
        tracker: &Tracker,
        shutdown: CancellationToken,
    ) -> Resolution {
        let config = &self.shared.config;
        match crate::mounts::apply_all(&self.run, &self.shared.http, &self.dir, &payload.mounts)
            .await
        {
            Ok(done) => {
                for d in done {
                    log.worker_line(&format!("Mounted {d}"));
                }
            }
            Err(e) => {
                log.worker_line(&format!("mount failed: {e}"));
                return if e.is_task_fault() {
                    Resolution::Exception("malformed-payload")
                } else {
                    Resolution::Exception("internal-error")
                };
            }
        }

        let (abort_tx, abort_rx) = watch::channel(None);
        let proxy = if payload.features.taskcluster_proxy {
            match self.start_proxy().await {
                Ok(p) => Some(Arc::new(p)),
                Err(e) => {
                    log.worker_line(&format!("cannot start the taskcluster proxy: {e}"));
                    return Resolution::Exception("internal-error");
                }
            }
        } else {
            None
        };
        let env = self.task_env(payload, proxy.as_ref().map(|p| p.url()));

        let control_done = CancellationToken::new();
        let control = {
            let proxy = proxy.clone();
            tokio::spawn(control::control_run(
                Arc::clone(&self.run),
                self.shared.api.clone(),
                self.taken_until.clone(),
                config.cancel_poll,
                abort_tx.clone(),
                Box::new(move |creds| {
                    if let Some(p) = &proxy {
                        if let Err(e) = p.update_credentials(creds) {
                            tracing::warn!(error = %e, "the proxy refused the reclaimed credentials");
                        }
                    }
                }),
                control_done.clone(),
            ))
        };
        let shutdown_watch = {
            let abort_tx = abort_tx.clone();
            let grace = config.shutdown_grace;
            let done = control_done.clone();
            tokio::spawn(async move {
                tokio::select! {
                    _ = done.cancelled() => {}
                    _ = async { shutdown.cancelled().await; tokio::time::sleep(grace).await } => {
                        let _ = abort_tx.send(Some(Abort::Shutdown));
                    }
                }
            })
        };

        let mut pipe = match OutputPipe::open(Arc::clone(log)) {
            Ok(p) => p,
            Err(e) => {
                log.worker_line(&format!("cannot open the output pipe: {e}"));
                control_done.cancel();
                return Resolution::Exception("internal-error");
            }
        };
        let metrics = Arc::clone(&self.shared.metrics);
        let claimed_at = self.claimed_at;
        let on_first_start = move || {
            metrics
                .claim_to_start
                .observe(claimed_at.elapsed().as_secs_f64())
        };
        let ended = CommandRun {
            commands: &payload.command,
            task_dir: &self.dir,
            env: &env,
            tracker,
            log,
            pipe: &pipe,
            deadline: Instant::now() + Duration::from_secs(payload.max_run_time),
            abort: abort_rx,
            on_first_start: &on_first_start,
        }
        .run()
        .await;
        // Stop the task's leftovers now, so the output pipe can reach its end.
        let killed = tracker.kill_all(config.kill_grace).await;
        pipe.finish(Duration::from_secs(2)).await;
        control_done.cancel();
        let _ = control.await;
        let _ = shutdown_watch.await;
        if killed.killed > 0 {
            log.worker_line(&format!(
                "Clean slate: killed {} process(es) of the task ({})",
                killed.killed,
                if tracker.uses_cgroup() {
                    "cgroup"
                } else {
                    "process snapshot"
                }
            ));
        }
        if !killed.survivors.is_empty() {
            log.worker_line(&format!(
                "Clean slate: processes survived KILL: {:?}",
                killed.survivors
            ));
        }
        if let Some(p) = proxy.and_then(|p| Arc::try_unwrap(p).ok()) {
            p.shutdown().await;
        }

        let resolution = resolution_of(ended, payload, log);
        if resolution == Resolution::Lost {
            return resolution;
        }
        if matches!(resolution, Resolution::Exception("worker-shutdown")) {
            return resolution;
        }
        match crate::artifacts::upload_all(
            &self.run,
            &self.shared.http,
            &self.dir,
            &payload.artifacts,
            &self.task_expires(),
            log,
        )
        .await
        {
            Ok(up) if !up.missing.is_empty() && resolution == Resolution::Completed => {
                log.worker_line(&format!(
                    "Missing artifacts: {}; the task failed",
                    up.missing.join(", ")
                ));
                Resolution::Failed
            }
            Ok(_) => resolution,
            Err(e) if e.is_conflict() => {
                log.worker_line(&format!("uploading artifacts: {e}"));
                Resolution::Lost
            }
            Err(e) if e.is_task_fault() => {
                log.worker_line(&format!("the payload's artifacts were refused: {e}"));
                Resolution::Exception("malformed-payload")
            }
            Err(e) => {
                log.worker_line(&format!("uploading artifacts failed: {e}"));
                Resolution::Exception("internal-error")
            }
        }
    }

    /// A signing task: inputs checked against the queue's hashes, signed by the signing servers,
    /// outputs uploaded; reclaimed, canceled and time-limited like any run.
    async fn run_signing(
        &self,
        job: &crate::signing::payload::SigningPayload,
        log: &Arc<LiveLog>,
        shutdown: CancellationToken,
    ) -> Resolution {
        let config = &self.shared.config;
        let Some(settings) = &config.signing else {
            log.worker_line(
                "malformed-payload: this worker signs nothing (it has no --signing-server); \
                 route signing tasks to a signing worker's task queue",
            );
            return Resolution::Exception("malformed-payload");
        };
        let _ = tokio::fs::remove_dir_all(&self.dir).await;
        if let Err(e) = tokio::fs::create_dir_all(&self.dir).await {
            log.worker_line(&format!("cannot create the task directory: {e}"));
            return Resolution::Exception("internal-error");
        }
        let expires = self.task_expires();
        let signing = crate::signing::SigningRun {
            run: &self.run,
            http: &self.shared.http,
            dir: &self.dir,
            settings,
            expires: &expires,
            log,
        };
        let resolution = self
            .supervised(job.max_run_time, log, shutdown, signing.run(job))
            .await;
        if !config.keep_task_dirs {
            remove_dir_forcibly(&self.dir).await;
        }
        resolution
    }

    /// A verification task of a reproducibility check: compares two runs' artifacts; reclaimed,
    /// canceled and time-limited like any run.
    async fn run_verify(
        &self,
        job: &crate::reproducible::payload::VerifyPayload,
        log: &Arc<LiveLog>,
        shutdown: CancellationToken,
    ) -> Resolution {
        let verify = crate::reproducible::VerifyRun {
            api: &self.shared.api,
            http: &self.shared.http,
            log,
        };
        self.supervised(job.max_run_time, log, shutdown, verify.run(job))
            .await
    }

    /// Runs a task the worker does itself (no commands) while the run is reclaimed and watched
    /// for cancellation, its max run time and the worker's shutdown.
    async fn supervised(
        &self,
        max_run_time: u64,
        log: &Arc<LiveLog>,
        shutdown: CancellationToken,
        work: impl std::future::Future<Output = Resolution>,
    ) -> Resolution {
        let config = &self.shared.config;
        let (abort_tx, mut abort_rx) = watch::channel(None);
        let control_done = CancellationToken::new();
        let control = tokio::spawn(control::control_run(
            Arc::clone(&self.run),
            self.shared.api.clone(),
            self.taken_until.clone(),
            config.cancel_poll,
            abort_tx,
            Box::new(|_| {}),
            control_done.clone(),
        ));
        let lost = async {
            loop {
                if let Some(Abort::Lost(why)) = abort_rx.borrow_and_update().clone() {
                    return why;
                }
                if abort_rx.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        };
        let resolution = tokio::select! {
            r = work => r,
            why = lost => {
                log.worker_line(&format!("Aborting task: {why}"));
                Resolution::Lost
            }
            _ = tokio::time::sleep(Duration::from_secs(max_run_time)) => {
                log.worker_line(&format!(
                    "Aborting task: max run time exceeded ({max_run_time} s); the task failed"
                ));
                Resolution::Failed
            }
            _ = async { shutdown.cancelled().await; tokio::time::sleep(config.shutdown_grace).await } => {
                log.worker_line("Aborting task: the worker is shutting down (worker-shutdown)");
                Resolution::Exception("worker-shutdown")
            }
        };
        control_done.cancel();
        let _ = control.await;
        resolution
    }

    /// The task proxy, signing with the claim's credentials until a reclaim swaps them.
    async fn start_proxy(&self) -> Result<crate::proxy::TaskProxy, crate::proxy::ProxyError> {
        let scopes: Vec<String> = self
            .task
            .get("scopes")
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let creds = self.run.initial_credentials().clone();
        crate::proxy::TaskProxy::start(&self.shared.config.root_url, creds, scopes).await
    }
}

/// What the end of the commands means for the run, with the reason in the log.
fn resolution_of(ended: Ended, payload: &Payload, log: &LiveLog) -> Resolution {
    match ended {
        Ended::Succeeded => Resolution::Completed,
        Ended::Failed { code: Some(c) } if payload.on_exit_status.retry.contains(&(c as i64)) => {
            log.worker_line(&format!(
                "Exit code {c} is listed in onExitStatus.retry: intermittent-task"
            ));
            Resolution::Exception("intermittent-task")
        }
        Ended::Failed { .. } => Resolution::Failed,
        Ended::MaxRunTimeExceeded => {
            log.worker_line(&format!(
                "Aborting task: max run time exceeded ({} s); the task failed",
                payload.max_run_time
            ));
            Resolution::Failed
        }
        Ended::Aborted(Abort::Shutdown) => {
            log.worker_line("Aborting task: the worker is shutting down (worker-shutdown)");
            Resolution::Exception("worker-shutdown")
        }
        Ended::Aborted(Abort::Lost(why)) => {
            log.worker_line(&format!("Aborting task: {why}"));
            Resolution::Lost
        }
    }
}
