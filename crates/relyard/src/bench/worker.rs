//! `relyard bench worker`: a `relyard serve` child and a `relyard worker` child, measured from
//! outside: how long a claimed task waits for its process, how close many short tasks come to the
//! ideal throughput, and the worker's memory.

use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use futures::stream::{self, StreamExt, TryStreamExt};
use serde_json::{json, Value};
use taskcluster::Credentials;

use super::child::{cpu_time_of, peak_rss_of, stop_child, ChildServer};
use super::queue::{create_all, Target};
use super::stats::{ms, percentile, print_table};

#[derive(Args)]
pub struct WorkerBenchArgs {
    /// Database of the server (default: SQLite in a temp dir).
    #[arg(long)]
    database_url: Option<String>,
    /// No-op tasks whose claim → process start is measured.
    #[arg(long, default_value_t = 200)]
    noops: usize,
    /// Tasks of `sleep <sleep>` for the throughput run.
    #[arg(long, default_value_t = 2000)]
    tasks: usize,
    /// Seconds each throughput task sleeps.
    #[arg(long, default_value_t = 0.1)]
    sleep: f64,
    /// The worker's capacity in the throughput run.
    #[arg(long, default_value_t = 100)]
    capacity: usize,
}

pub async fn run(args: WorkerBenchArgs) -> anyhow::Result<()> {
    let server = ChildServer::start(args.database_url.as_deref()).await?;
    let target = Target {
        root_url: server.root_url.clone(),
        credentials: Credentials::new(relyard_auth::ROOT_CLIENT_ID, &server.root_access_token),
    };
    let backend = if args
        .database_url
        .as_deref()
        .is_some_and(|u| u.starts_with("postgres"))
    {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let work = tempfile::tempdir()?;
    let mut rows = Vec::new();

    // Overhead: each no-op task prints the time its process started; the run's `started` is
    // when the queue handed it to the worker.
    let metrics_port = free_port()?;
    let noop = start_worker(
        &target,
        "bench/noop",
        8,
        &work.path().join("noop"),
        metrics_port,
    )?;
    let ids = create_tasks(
        &target,
        "bench/noop",
        args.noops,
        json!([["date", "+%s%N"]]),
    )
    .await?;
    wait_drained(&target, "bench/noop", &ids).await?;
    let mut overheads = overheads(&target, &ids).await?;
    let inside = mean_claim_to_start(metrics_port).await?;
    stop_child(noop).await;
    rows.push((
        format!(
            "claim → process start, {} no-op tasks, p50 / p99",
            args.noops
        ),
        format!(
            "{} / {}",
            ms(percentile(&mut overheads, 50.0)),
            ms(percentile(&mut overheads, 99.0))
        ),
        "p50 ≤ 10 ms".into(),
    ));
    rows.push((
        "  of which in the worker: claimWork answered → spawn (its own metric), mean".into(),
        ms(inside),
        "-".into(),
    ));

    // Throughput: every task is pending before the worker starts; the clock runs from the first
    // claim to the last resolution.
    let sleep = format!("{}", args.sleep);
    let ids = create_tasks(
        &target,
        "bench/sleep",
        args.tasks,
        json!([["sleep", sleep]]),
    )
    .await?;
    let server_cpu_before = server.pid().and_then(cpu_time_of).unwrap_or_default();
    let busy = start_worker(
        &target,
        "bench/sleep",
        args.capacity,
        &work.path().join("sleep"),
        free_port()?,
    )?;
    let span = wait_drained(&target, "bench/sleep", &ids).await?;
    let rss = busy.id().and_then(peak_rss_of);
    let worker_cpu = busy.id().and_then(cpu_time_of).unwrap_or_default();
    let server_cpu = server.pid().and_then(cpu_time_of).unwrap_or_default() - server_cpu_before;
    stop_child(busy).await;
    let ideal = args.tasks as f64 * args.sleep / args.capacity as f64;
    rows.push((
        format!(
            "{} tasks of sleep {}, capacity {}: first claim → last resolved",
            args.tasks, args.sleep, args.capacity
        ),
        format!("{:.2} s (ideal {ideal:.2} s)", span.as_secs_f64()),
        "-".into(),
    ));
    rows.push((
        "throughput as % of ideal".into(),
        format!("{:.1} %", 100.0 * ideal / span.as_secs_f64()),
        "≥ 98 %".into(),
    ));
    rows.push((
        "CPU used in the throughput run: server / worker".into(),
        format!(
            "{:.2} s / {:.2} s",
            server_cpu.as_secs_f64(),
            worker_cpu.as_secs_f64()
        ),
        "-".into(),
    ));
    rows.push((
        "worker peak RSS".into(),
        rss.map(|b| format!("{:.0} MB", b as f64 / 1e6))
            .unwrap_or_else(|| "n/a".into()),
        "-".into(),
    ));
    print_table(&format!("relyard bench worker ({backend})"), &rows);
    server.stop().await;
    Ok(())
}

fn start_worker(
    target: &Target,
    task_queue: &str,
    capacity: usize,
    work_dir: &std::path::Path,
    port: u16,
) -> anyhow::Result<tokio::process::Child> {
    tokio::process::Command::new(std::env::current_exe()?)
        .arg("worker")
        .args(["--task-queue", task_queue, "--worker-id", "bench"])
        .args(["--capacity", &capacity.to_string()])
        .arg(format!("--work-dir={}", work_dir.display()))
        .arg(format!("--listen=127.0.0.1:{port}"))
        .env("TASKCLUSTER_ROOT_URL", &target.root_url)
        .env("TASKCLUSTER_CLIENT_ID", &target.credentials.client_id)
        .env("TASKCLUSTER_ACCESS_TOKEN", &target.credentials.access_token)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting relyard worker")
}

/// A port nobody listens on right now, for the worker's HTTP server.
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The worker's own claim-to-start histogram, as a mean (its buckets are too coarse for p50).
async fn mean_claim_to_start(port: u16) -> anyhow::Result<Duration> {
    let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await?
        .text()
        .await?;
    let read = |name: &str| -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
    };
    let sum = read("relyard_worker_claim_to_start_seconds_sum").context("no claim_to_start sum")?;
    let count =
        read("relyard_worker_claim_to_start_seconds_count").context("no claim_to_start count")?;
    Ok(Duration::from_secs_f64(if count > 0.0 {
        sum / count
    } else {
        0.0
    }))
}

async fn create_tasks(
    target: &Target,
    task_queue: &str,
    n: usize,
    command: Value,
) -> anyhow::Result<Vec<String>> {
    let group = relyard_core::ids::slugid();
    let now = chrono::Utc::now();
    let defs: Vec<(String, Value)> = (0..n)
        .map(|_| {
            let def = json!({
                "taskQueueId": task_queue,
                "taskGroupId": group,
                "created": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "deadline": (now + chrono::Duration::hours(2)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "payload": {"command": command, "maxRunTime": 600},
                "metadata": {"name": "bench", "description": "a relyard worker benchmark task",
                             "owner": "bench@relyard.invalid", "source": "https://relyard.invalid/bench"},
            });
            (relyard_core::ids::slugid(), def)
        })
        .collect();
    let ids = defs.iter().map(|(id, _)| id.clone()).collect();
    create_all(target, defs, 32).await?;
    Ok(ids)
}

/// Waits until the queue has nothing pending or claimed; then the span from the first run's
/// start to the last run's resolution over `ids`.
async fn wait_drained(
    target: &Target,
    task_queue: &str,
    ids: &[String],
) -> anyhow::Result<Duration> {
    let queue = target.queue()?;
    loop {
        let counts = queue.taskQueueCounts(task_queue).await?;
        let busy = counts["pendingTasks"].as_u64().unwrap_or(1)
            + counts["claimedTasks"].as_u64().unwrap_or(1);
        if busy == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let statuses: Vec<Value> = stream::iter(ids.iter().cloned())
        .map(|id| {
            let queue = &queue;
            async move { anyhow::Ok(queue.status(&id).await?["status"].clone()) }
        })
        .buffer_unordered(32)
        .try_collect()
        .await?;
    let failed = statuses
        .iter()
        .filter(|s| s["state"] != "completed")
        .count();
    anyhow::ensure!(failed == 0, "{failed} benchmark tasks did not complete");
    let first = statuses
        .iter()
        .filter_map(|s| time_of(&s["runs"][0]["started"]))
        .min();
    let last = statuses
        .iter()
        .filter_map(|s| time_of(&s["runs"][0]["resolved"]))
        .max();
    let (Some(first), Some(last)) = (first, last) else {
        anyhow::bail!("resolved tasks without run times");
    };
    Ok((last - first).to_std().unwrap_or_default())
}

fn time_of(v: &Value) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(v.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// Per task: the nanosecond clock its `date` printed, less the run's `started`.
async fn overheads(target: &Target, ids: &[String]) -> anyhow::Result<Vec<Duration>> {
    let queue = target.queue()?;
    let http = reqwest::Client::new();
    stream::iter(ids.iter().cloned())
        .map(|id| {
            let queue = &queue;
            let http = &http;
            async move {
                let status = queue.status(&id).await?;
                let started = time_of(&status["status"]["runs"][0]["started"])
                    .context("a no-op task without a start time")?;
                let url = queue.getLatestArtifact_signed_url(
                    &id,
                    "public/logs/live_backing.log",
                    Duration::from_secs(600),
                )?;
                let log = http
                    .get(&url)
                    .send()
                    .await?
                    .error_for_status()?
                    .text()
                    .await?;
                let ns: i64 = log
                    .lines()
                    .find_map(|l| l.trim().parse().ok())
                    .with_context(|| format!("no clock in the log of {id}"))?;
                let started_ns = started
                    .timestamp_nanos_opt()
                    .context("start time out of range")?;
                anyhow::Ok(Duration::from_nanos((ns - started_ns).max(0) as u64))
            }
        })
        .buffer_unordered(16)
        .try_collect()
        .await
}
