//! What a worker is told at start: where the queue is, who it is, how many tasks at once, and how
//! it keeps its machine clean.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use relyard_core::retry::RetryPolicy;

use crate::cleanslate;
use crate::runner::{RecyclePolicy, StartupConfig};

#[derive(Clone)]
pub struct WorkerConfig {
    pub root_url: String,
    /// The worker's own credentials: `queue:claim-work:<taskQueueId>` and
    /// `queue:worker-id:<group>/<id>` are all it needs; tasks get credentials of their own.
    pub credentials: taskcluster::Credentials,
    /// `<provisionerId>/<workerType>`.
    pub task_queue_id: String,
    pub worker_group: String,
    pub worker_id: String,
    /// Tasks run at once.
    pub capacity: usize,
    /// Task directories and logs are made below this directory.
    pub work_dir: PathBuf,
    /// Keep each task's directory after it ends (for debugging); removed by default.
    pub keep_task_dirs: bool,
    /// After SIGTERM, how long running tasks may go on before they are killed and resolved as
    /// `exception` / `worker-shutdown` (which the queue retries).
    pub shutdown_grace: Duration,
    /// Between TERM and KILL when a task's processes are ended.
    pub kill_grace: Duration,
    /// How often a running task's status is looked at, so a canceled task stops within this
    /// (plus the kill grace) instead of at its next reclaim.
    pub cancel_poll: Duration,
    /// The worker's HTTP port: live logs and `/metrics`.
    pub listen: SocketAddr,
    /// Host (and port) that readers of live logs use to reach `listen`; its bound address by default.
    pub public_address: Option<String>,
    pub cleanslate: cleanslate::Mode,
    /// Start-up steps run in order before the first claim.
    pub startup: Option<StartupConfig>,
    /// Program told about every start-up step and every task (JSON on stdin).
    pub hook: Option<PathBuf>,
    /// After each task: go on, restart the worker, or reboot the machine.
    pub recycle: RecyclePolicy,
    /// The one retry schedule for the worker's calls to the queue.
    pub retry: RetryPolicy,
    pub hostname: String,
    /// Set on signing workers: the signing servers, and the credentials that get signing tokens.
    pub signing: Option<crate::signing::SigningSettings>,
}

impl WorkerConfig {
    /// A worker with the defaults a local `relyard up` wants; callers adjust fields.
    pub fn new(
        root_url: &str,
        credentials: taskcluster::Credentials,
        task_queue_id: &str,
        work_dir: PathBuf,
    ) -> WorkerConfig {
        let hostname = nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| "localhost".into());
        WorkerConfig {
            root_url: root_url.trim_end_matches('/').to_string(),
            credentials,
            task_queue_id: task_queue_id.to_string(),
            worker_group: "local".into(),
            worker_id: hostname.clone(),
            capacity: std::thread::available_parallelism().map_or(1, |n| n.get()),
            work_dir,
            keep_task_dirs: false,
            shutdown_grace: Duration::from_secs(30),
            kill_grace: Duration::from_millis(500),
            cancel_poll: Duration::from_secs(1),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            public_address: None,
            cleanslate: cleanslate::Mode::Auto,
            startup: None,
            hook: None,
            recycle: RecyclePolicy::default(),
            retry: RetryPolicy::http(),
            hostname,
            signing: None,
        }
    }
}
