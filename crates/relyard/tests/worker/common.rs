//! A server in the test process and real `relyard worker` processes beside it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use relyard_testing::TestServer;
use serde_json::{json, Value};
use taskcluster::Queue;

pub struct Env {
    pub server: TestServer,
    /// A task queue of this test's own, so tests running side by side never take each other's tasks.
    pub task_queue: String,
    pub dir: tempfile::TempDir,
}

impl Env {
    pub async fn new() -> Env {
        Self::with_server(TestServer::start().await).await
    }

    /// A server whose claims last `secs` seconds and whose reaper looks every 100 ms.
    pub async fn with_claim_timeout(secs: i64) -> Env {
        let server = TestServer::start_with(|c| {
            c.claim_timeout_secs = secs;
            c.reaper_interval = Duration::from_millis(100);
        })
        .await;
        Self::with_server(server).await
    }

    async fn with_server(server: TestServer) -> Env {
        let worker_type = format!(
            "t{}",
            relyard_core::ids::slugid().to_lowercase().replace('_', "-")
        )
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(30)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string();
        Env {
            server,
            task_queue: format!("proj-test/{worker_type}"),
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn queue(&self) -> Queue {
        Queue::new(self.server.root_client()).expect("queue client")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts `relyard worker` on this test's queue; `extra` adds or overrides flags.
    pub fn worker(&self, id: &str, extra: &[&str]) -> WorkerProcess {
        let work_dir = self.path(&format!("work-{id}"));
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_relyard"));
        cmd.arg("worker")
            .args(["--task-queue", &self.task_queue])
            .args(["--worker-id", id])
            .args(["--work-dir", &work_dir.to_string_lossy()])
            .args(["--cancel-poll", "200ms"])
            .args(if extra.contains(&"--capacity") {
                &[][..]
            } else {
                &["--capacity", "2"][..]
            })
            .args(extra)
            .env("TASKCLUSTER_ROOT_URL", &self.server.root_url)
            .env("TASKCLUSTER_CLIENT_ID", relyard_auth::ROOT_CLIENT_ID)
            .env("TASKCLUSTER_ACCESS_TOKEN", &self.server.root_access_token)
            .env_remove("TASKCLUSTER_CERTIFICATE")
            .env("RUST_LOG", "info,relyard_worker=debug")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let child = cmd.spawn().expect("relyard worker starts");
        WorkerProcess { child }
    }

    /// A task definition on this test's queue with a generic-worker payload.
    pub fn task(&self, name: &str, payload: Value) -> Value {
        let now = chrono::Utc::now();
        json!({
            "taskQueueId": self.task_queue,
            "created": now.to_rfc3339(),
            "deadline": (now + chrono::Duration::hours(1)).to_rfc3339(),
            "payload": payload,
            "metadata": {"name": name, "description": "worker test", "owner": "test@example.com", "source": "https://example.com/test"},
        })
    }

    /// A task that runs `script` with the task proxy, holding `scopes`, and publishes `out/`
    /// as `public/out/...`.
    pub fn proxy_task(&self, name: &str, script: &str, scopes: &[&str]) -> Value {
        let mut def = self.task(
            name,
            json!({
                "command": [sh(script)],
                "maxRunTime": 60,
                "features": {"taskclusterProxy": true},
                "artifacts": [{"type": "directory", "path": "out", "name": "public/out"}],
            }),
        );
        def["scopes"] = json!(scopes);
        def
    }

    /// Sets a secret (valid for an hour) with the root client.
    pub async fn set_secret(&self, name: &str, value: Value) {
        let secrets = taskcluster::Secrets::new(self.server.root_client()).expect("secrets client");
        let expires = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
        secrets
            .set(name, &json!({"secret": value, "expires": expires}))
            .await
            .expect("set a secret");
    }

    pub async fn create(&self, def: &Value) -> String {
        let id = relyard_core::ids::slugid();
        self.queue().createTask(&id, def).await.expect("createTask");
        id
    }

    pub async fn status(&self, task_id: &str) -> Value {
        self.queue().status(task_id).await.expect("status")["status"].clone()
    }

    /// Waits (bounded) until the task's status satisfies `done`; returns that status.
    pub async fn wait_for(
        &self,
        task_id: &str,
        limit: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let until = Instant::now() + limit;
        loop {
            let status = self.status(task_id).await;
            if done(&status) {
                return status;
            }
            assert!(
                Instant::now() < until,
                "task {task_id} never got there: {status:#}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits (bounded) until the task's state is one of `states`.
    pub async fn wait_state(&self, task_id: &str, states: &[&str], limit: Duration) -> Value {
        self.wait_for(task_id, limit, |s| {
            states.contains(&s["state"].as_str().unwrap_or(""))
        })
        .await
    }

    pub async fn wait_resolved(&self, task_id: &str) -> Value {
        self.wait_state(
            task_id,
            &["completed", "failed", "exception"],
            Duration::from_secs(60),
        )
        .await
    }

    /// The bytes of the latest run's artifact, fetched as a client would (redirects followed).
    pub async fn artifact(&self, task_id: &str, name: &str) -> Vec<u8> {
        let url = self
            .queue()
            .getLatestArtifact_signed_url(task_id, name, Duration::from_secs(300))
            .expect("signed url");
        let resp = reqwest::get(&url).await.expect("GET artifact");
        assert!(resp.status().is_success(), "{name}: {}", resp.status());
        resp.bytes().await.expect("artifact bytes").to_vec()
    }

    pub async fn log(&self, task_id: &str) -> String {
        String::from_utf8_lossy(&self.artifact(task_id, "public/logs/live.log").await).into_owned()
    }
}

pub struct WorkerProcess {
    pub child: tokio::process::Child,
}

impl WorkerProcess {
    pub fn pid(&self) -> i32 {
        self.child.id().expect("running") as i32
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), sig)
            .expect("signal the worker");
    }

    /// Waits (bounded) for the worker to exit.
    pub async fn wait(&mut self, limit: Duration) -> std::process::ExitStatus {
        tokio::time::timeout(limit, self.child.wait())
            .await
            .expect("the worker exits in time")
            .expect("wait")
    }
}

/// Waits (bounded) for a file a task writes, and returns its trimmed contents.
pub async fn wait_file(path: &Path, limit: Duration) -> String {
    let until = Instant::now() + limit;
    loop {
        if let Ok(s) = std::fs::read_to_string(path) {
            if !s.trim().is_empty() {
                return s.trim().to_string();
            }
        }
        assert!(Instant::now() < until, "{} never appeared", path.display());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether a process is alive (a zombie is not).
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit_once(')')
                .map(|(_, r)| r.trim_start().chars().next());
            !matches!(state, Some(Some('Z')) | Some(Some('X')))
        }
        Err(_) => false,
    }
}

/// Waits (bounded) for a process to be gone; false when it is still there at the limit.
pub async fn gone_within(pid: i32, limit: Duration) -> bool {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if !alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    !alive(pid)
}

/// `sh -c <script>` as a payload command.
pub fn sh(script: &str) -> Value {
    json!(["sh", "-c", script])
}

/// A payload whose task runs `sleep <secs>` in the background, writes its pid to `pidfile` and
/// waits for it: a long-running task whose process the test can watch.
pub fn sleeper(pidfile: &Path, secs: u32, max_run_time: u32) -> Value {
    json!({
        "command": [sh(&format!("sleep {secs} & echo $! > {}; wait", pidfile.display()))],
        "maxRunTime": max_run_time,
    })
}
