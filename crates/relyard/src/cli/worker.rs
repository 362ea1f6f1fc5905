//! `relyard worker`: claims tasks of one task queue and runs them (generic-worker's POSIX payload).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use relyard_worker::cleanslate::Mode;
use relyard_worker::runner::{RecyclePolicy, StartupConfig};
use relyard_worker::{Exit, Worker, WorkerConfig};
use tokio_util::sync::CancellationToken;

use super::connect::ConnectArgs;

#[derive(Args, Clone)]
pub struct WorkerArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// `<provisionerId>/<workerType>` to claim from.
    #[arg(long, env = "RELYARD_TASK_QUEUE", default_value = "proj-local/default")]
    task_queue: String,
    /// The worker's group, as the queue records it with each run (e.g. a data centre).
    #[arg(long, env = "RELYARD_WORKER_GROUP", default_value = "local")]
    worker_group: String,
    /// Default: this machine's hostname.
    #[arg(long, env = "RELYARD_WORKER_ID")]
    worker_id: Option<String>,
    /// Tasks run at once (default: number of cores).
    #[arg(long, env = "RELYARD_CAPACITY")]
    capacity: Option<usize>,
    /// Where task directories and logs are made.
    #[arg(long, env = "RELYARD_WORK_DIR", default_value = ".relyard/worker")]
    work_dir: PathBuf,
    /// Keep task directories after tasks end.
    #[arg(long)]
    keep_task_dirs: bool,
    /// Address of the worker's HTTP port (live logs, /metrics).
    #[arg(long, env = "RELYARD_WORKER_LISTEN", default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// host:port (or URL) live-log readers use to reach --listen, when it is not the bound address.
    #[arg(long, env = "RELYARD_WORKER_PUBLIC_ADDRESS")]
    public_address: Option<String>,
    /// How processes a task left behind are found: auto (cgroup v2 where possible), cgroup, snapshot.
    #[arg(long, default_value = "auto")]
    cleanslate: Mode,
    /// After SIGTERM, how long running tasks may go on before they are resolved as worker-shutdown.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    shutdown_grace: Duration,
    /// How often a running task's status is checked so a canceled task stops promptly.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    cancel_poll: Duration,
    /// Directory of start-up steps `NN-name`, run in numeric order before the first claim.
    #[arg(long)]
    startup_steps: Option<PathBuf>,
    /// Program run when a start-up step halts the worker.
    #[arg(long)]
    halt_step: Option<PathBuf>,
    /// Tries of each start-up step.
    #[arg(long, default_value_t = 5)]
    step_tries: u32,
    /// Seconds before the first retry of a failed start-up step (redo's schedule after that).
    #[arg(long, default_value_t = 1.0)]
    step_sleeptime: f64,
    /// Program given JSON on stdin before and after every start-up step and every task.
    #[arg(long)]
    hook: Option<PathBuf>,
    /// JSON recycle policy: when to restart the worker or reboot the machine after a task.
    #[arg(long)]
    recycle_policy: Option<PathBuf>,
    /// Make this a signing worker: run `payload.signing` tasks through these signing servers
    /// (repeat for failover); its credentials need `signing:token:<format>`.
    #[arg(long = "signing-server", value_name = "URL")]
    signing_servers: Vec<String>,
}

pub async fn run(args: WorkerArgs) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    let token = shutdown.clone();
    tokio::spawn(async move {
        super::termination().await;
        tracing::info!("termination signal: the worker stops claiming");
        token.cancel();
    });
    let config = build_config(&args)?;
    let worker = Worker::new(config).await?;
    tracing::info!(http = worker.http_base(), queue = %args.task_queue, "worker started");
    match worker.run(shutdown).await? {
        Exit::Shutdown => Ok(()),
        Exit::Reboot => Ok(()),
        Exit::Halted { step, reason } => {
            anyhow::bail!("start-up step {step} halted the worker: {reason}")
        }
        Exit::Restart => restart(),
    }
}

/// Puts a fresh copy of this program in place of the current process, same arguments.
fn restart() -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe().context("finding this program to restart it")?;
    tracing::warn!("restarting the worker as the recycle policy asks");
    let err = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .exec();
    Err(err).context("restarting the worker")
}

pub fn build_config(args: &WorkerArgs) -> anyhow::Result<WorkerConfig> {
    let (root_url, creds) = args.connect.resolve()?;
    let creds = creds.context(
        "the worker needs credentials: TASKCLUSTER_CLIENT_ID / TASKCLUSTER_ACCESS_TOKEN or --credentials-file",
    )?;
    let mut c = WorkerConfig::new(&root_url, creds, &args.task_queue, args.work_dir.clone());
    c.worker_group = args.worker_group.clone();
    if let Some(id) = &args.worker_id {
        c.worker_id = id.clone();
    }
    if let Some(n) = args.capacity {
        c.capacity = n;
    }
    c.keep_task_dirs = args.keep_task_dirs;
    c.listen = args.listen;
    c.public_address = args.public_address.clone();
    c.cleanslate = args.cleanslate;
    c.shutdown_grace = args.shutdown_grace;
    c.cancel_poll = args.cancel_poll;
    c.hook = args.hook.clone();
    if !args.signing_servers.is_empty() {
        c.signing = Some(relyard_worker::signing::SigningSettings {
            servers: args.signing_servers.clone(),
            credentials: c.credentials.clone(),
        });
    }
    if let Some(dir) = &args.startup_steps {
        c.startup = Some(startup_config(args, dir)?);
    }
    if let Some(path) = &args.recycle_policy {
        c.recycle = RecyclePolicy::load(path)
            .with_context(|| format!("loading the recycle policy {}", path.display()))?;
    }
    Ok(c)
}

fn startup_config(args: &WorkerArgs, dir: &std::path::Path) -> anyhow::Result<StartupConfig> {
    let policy = relyard_core::retry::RetryPolicy::new(
        args.step_tries,
        Duration::from_secs_f64(args.step_sleeptime.max(0.0)),
        Duration::from_secs(300),
        1.5,
        Duration::ZERO,
    )?;
    let mut s = StartupConfig::new(dir);
    s.halt_step = args.halt_step.clone();
    s.max_tries = args.step_tries;
    // The sleep after the n-th failed try is the n-th of the policy's schedule.
    s.delay = std::sync::Arc::new(move |failed_try| {
        policy
            .delays()
            .nth(failed_try.saturating_sub(1) as usize)
            .unwrap_or(policy.max_sleeptime())
    });
    Ok(s)
}
