//! `relyard bench queue`: the queue over HTTP with Hawk signatures, driven by the official Rust
//! `taskcluster` client.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use futures::stream::{self, StreamExt, TryStreamExt};
use serde_json::{json, Value};
use taskcluster::{ClientBuilder, Credentials, Queue};

use super::child::ChildServer;
use super::stats::{ms, percentile, print_table};

#[derive(Args)]
pub struct QueueBenchArgs {
    /// Benchmark an already running server instead of starting one (needs --client-id and --access-token).
    #[arg(long)]
    root_url: Option<String>,
    #[arg(
        long,
        env = "TASKCLUSTER_CLIENT_ID",
        default_value = "static/taskcluster/root"
    )]
    client_id: String,
    #[arg(long, env = "TASKCLUSTER_ACCESS_TOKEN", hide_env_values = true)]
    access_token: Option<String>,
    /// Database of the server the benchmark starts (default: SQLite in a temp dir).
    #[arg(long)]
    database_url: Option<String>,
    /// Tasks in the burn-down.
    #[arg(long, default_value_t = 100_000)]
    tasks: usize,
    /// Concurrent worker loops.
    #[arg(long, default_value_t = 32)]
    workers: usize,
    /// Wake-up samples.
    #[arg(long, default_value_t = 200)]
    wakeups: usize,
}

pub(super) struct Target {
    pub root_url: String,
    pub credentials: Credentials,
}

impl Target {
    pub(super) fn queue(&self) -> anyhow::Result<Queue> {
        let builder = ClientBuilder::new(&self.root_url)
            .credentials(self.credentials.clone())
            .timeout(Duration::from_secs(60));
        Queue::new(builder).context("building a queue client")
    }
}

pub async fn run(args: QueueBenchArgs) -> anyhow::Result<()> {
    let child = match &args.root_url {
        Some(_) => None,
        None => Some(ChildServer::start(args.database_url.as_deref()).await?),
    };
    let target = match (&child, &args.root_url) {
        (Some(c), _) => Target {
            root_url: c.root_url.clone(),
            credentials: Credentials::new(relyard_auth::ROOT_CLIENT_ID, &c.root_access_token),
        },
        (None, Some(url)) => Target {
            root_url: url.clone(),
            credentials: Credentials::new(
                &args.client_id,
                args.access_token.as_deref().context(
                    "--access-token (or TASKCLUSTER_ACCESS_TOKEN) is required with --root-url",
                )?,
            ),
        },
        (None, None) => anyhow::bail!("no server to benchmark"),
    };
    let backend = match (&args.database_url, &args.root_url) {
        (_, Some(u)) => format!("server at {u}"),
        (Some(u), None) if u.starts_with("postgres") => "PostgreSQL".to_string(),
        _ => "SQLite".to_string(),
    };
    eprintln!("benchmarking the queue at {} ({backend})", target.root_url);

    let mut rows = Vec::new();
    let (create_rate, burn_rate) = burn_down(&target, args.tasks, args.workers).await?;
    rows.push((
        format!("(a) create {} no-op tasks", args.tasks),
        format!("{create_rate:.0} tasks/s"),
        "-".into(),
    ));
    rows.push((
        format!("(a) burn-down: claim+complete, {} workers", args.workers),
        format!("{burn_rate:.0} tasks/s"),
        "≥ 5,000 (SQLite) / ≥ 2,500 (PostgreSQL)".into(),
    ));
    let (total, mut hops) = chains(&target, 40, 5).await?;
    rows.push((
        "(b) chain of 40: first claim → last completed (mean of 5)".into(),
        ms(total),
        "≤ 100 ms".into(),
    ));
    rows.push((
        "(b) hop completed(i)→claimed(i+1) p50 / p99".into(),
        format!(
            "{} / {}",
            ms(percentile(&mut hops, 50.0)),
            ms(percentile(&mut hops, 99.0))
        ),
        "-".into(),
    ));
    let d = diamond(&target, 1000, args.workers).await?;
    rows.push((
        "(c) diamond: root completed → 1,000 claimable".into(),
        ms(d.claimable),
        "≤ 50 ms".into(),
    ));
    rows.push((
        "(c) diamond: root completed → 1,000 claimed (32 per claimWork)".into(),
        ms(d.claimed_all),
        "-".into(),
    ));
    rows.push((
        "(c) diamond: last leaf completed → sink claimed".into(),
        ms(d.sink),
        "≤ 50 ms".into(),
    ));
    let mut wake = wakeups(&target, args.wakeups).await?;
    rows.push((
        "(d) wake-up: createTask sent → waiting claimWork answered, p50 / p99".into(),
        format!(
            "{} / {}",
            ms(percentile(&mut wake, 50.0)),
            ms(percentile(&mut wake, 99.0))
        ),
        "p99 ≤ 5 ms".into(),
    ));
    if let Some(c) = &child {
        let rss = c
            .peak_rss()
            .map(|b| format!("{:.0} MB", b as f64 / 1e6))
            .unwrap_or_else(|| "n/a".into());
        rows.push(("(e) server peak RSS".into(), rss, "≤ 200 MB".into()));
    }
    print_table(&format!("relyard bench queue ({backend})"), &rows);
    if let Some(c) = child {
        c.stop().await;
    }
    Ok(())
}

fn task_def(queue: &str, group: &str, deps: &[String]) -> Value {
    let now = chrono::Utc::now();
    json!({
        "taskQueueId": format!("bench/{queue}"),
        "schedulerId": "bench",
        "taskGroupId": group,
        "created": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "deadline": (now + chrono::Duration::hours(2)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "dependencies": deps,
        "payload": {},
        "metadata": {
            "name": "no-op",
            "description": "a relyard benchmark task",
            "owner": "bench@relyard.invalid",
            "source": "https://relyard.invalid/bench",
        },
    })
}

fn claim_body(worker: usize, tasks: usize) -> Value {
    json!({ "workerGroup": "bench", "workerId": format!("w{worker}"), "tasks": tasks })
}

/// The (taskId, runId) pairs of a claimWork answer.
fn claimed(answer: &Value) -> Vec<(String, String)> {
    answer["tasks"]
        .as_array()
        .map(|tasks| {
            tasks
                .iter()
                .filter_map(|t| {
                    Some((
                        t["status"]["taskId"].as_str()?.to_string(),
                        t["runId"].as_u64()?.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

pub(super) async fn create_all(
    target: &Target,
    defs: Vec<(String, Value)>,
    concurrency: usize,
) -> anyhow::Result<()> {
    let clients: Vec<Queue> = (0..concurrency)
        .map(|_| target.queue())
        .collect::<anyhow::Result<_>>()?;
    let clients = Arc::new(clients);
    stream::iter(defs.into_iter().enumerate())
        .map(|(i, (id, def))| {
            let clients = Arc::clone(&clients);
            async move {
                clients[i % clients.len()]
                    .createTask(&id, &def)
                    .await
                    .with_context(|| format!("createTask {id}"))?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(concurrency)
        .try_collect::<()>()
        .await
}

/// (a): create `n` tasks, then `workers` loops claim and complete them all.
async fn burn_down(target: &Target, n: usize, workers: usize) -> anyhow::Result<(f64, f64)> {
    let group = relyard_core::ids::slugid();
    let defs: Vec<(String, Value)> = (0..n)
        .map(|_| (relyard_core::ids::slugid(), task_def("burn", &group, &[])))
        .collect();
    let start = Instant::now();
    create_all(target, defs, workers).await?;
    let create_rate = n as f64 / start.elapsed().as_secs_f64();
    eprintln!("(a) created {n} tasks at {create_rate:.0}/s");

    let done = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(tokio::sync::Notify::new());
    let start = Instant::now();
    let mut loops = Vec::new();
    for w in 0..workers {
        let queue = target.queue()?;
        let done = Arc::clone(&done);
        let finished = Arc::clone(&finished);
        loops.push(tokio::spawn(async move {
            while done.load(Ordering::Relaxed) < n {
                let answer = queue.claimWork("bench/burn", &claim_body(w, 32)).await?;
                for (task_id, run_id) in claimed(&answer) {
                    queue.reportCompleted(&task_id, &run_id).await?;
                    if done.fetch_add(1, Ordering::Relaxed) + 1 == n {
                        finished.notify_one();
                    }
                }
            }
            anyhow::Ok(())
        }));
    }
    let failure = async {
        for l in &mut loops {
            match l.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return e,
                Err(e) => return anyhow::anyhow!(e),
            }
        }
        std::future::pending::<anyhow::Error>().await
    };
    tokio::select! {
        _ = finished.notified() => {}
        e = failure => return Err(e),
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    // Loops still parked in claimWork long polls are no longer needed.
    eprintln!("(a) burned down {n} tasks at {rate:.0}/s");
    Ok((create_rate, rate))
}

/// (b): `rounds` chains of `len` tasks, one worker: total time and completed(i) → claimed(i+1).
async fn chains(
    target: &Target,
    len: usize,
    rounds: usize,
) -> anyhow::Result<(Duration, Vec<Duration>)> {
    let queue = target.queue()?;
    let mut hops = Vec::new();
    let mut total = Duration::ZERO;
    for round in 0..rounds {
        let group = relyard_core::ids::slugid();
        let ids: Vec<String> = (0..len).map(|_| relyard_core::ids::slugid()).collect();
        let wt = format!("chain{round}");
        for (i, id) in ids.iter().enumerate() {
            let deps: Vec<String> = if i == 0 {
                vec![]
            } else {
                vec![ids[i - 1].clone()]
            };
            queue.createTask(id, &task_def(&wt, &group, &deps)).await?;
        }
        // The chain runs from its first claim to its last completion; creating it is not timed.
        let start = Instant::now();
        let mut last_completed: Option<Instant> = None;
        for _ in 0..len {
            let answer = queue
                .claimWork(&format!("bench/{wt}"), &claim_body(0, 1))
                .await?;
            let claimed_at = Instant::now();
            let got = claimed(&answer);
            let (task_id, run_id) = got.first().context("chain: claimWork returned no task")?;
            if let Some(t) = last_completed {
                hops.push(claimed_at - t);
            }
            queue.reportCompleted(task_id, run_id).await?;
            last_completed = Some(Instant::now());
        }
        total += start.elapsed();
    }
    Ok((total / rounds as u32, hops))
}

/// (c): root → `width` leaves → sink.
async fn diamond(target: &Target, width: usize, workers: usize) -> anyhow::Result<Diamond> {
    let queue = target.queue()?;
    let group = relyard_core::ids::slugid();
    let root = relyard_core::ids::slugid();
    let leaves: Vec<String> = (0..width).map(|_| relyard_core::ids::slugid()).collect();
    let sink = relyard_core::ids::slugid();
    queue
        .createTask(&root, &task_def("diamond", &group, &[]))
        .await?;
    let leaf_defs = leaves
        .iter()
        .map(|id| {
            (
                id.clone(),
                task_def("diamond", &group, std::slice::from_ref(&root)),
            )
        })
        .collect();
    create_all(target, leaf_defs, workers).await?;
    queue
        .createTask(&sink, &task_def("diamond", &group, &leaves))
        .await?;

    let answer = queue.claimWork("bench/diamond", &claim_body(0, 1)).await?;
    let (task_id, run_id) = claimed(&answer)
        .into_iter()
        .next()
        .context("diamond: root not claimable")?;
    let root_reported = Instant::now();
    queue.reportCompleted(&task_id, &run_id).await?;
    // The leaves become pending in the root's own transaction: once the report answers, a count
    // shows them all claimable.
    let counts = queue.taskQueueCounts("bench/diamond").await?;
    let claimable = root_reported.elapsed();
    anyhow::ensure!(
        counts["pendingTasks"].as_u64() == Some(width as u64),
        "diamond: {} leaves pending after the root completed, expected {width}",
        counts["pendingTasks"]
    );
    let mut got = Vec::new();
    while got.len() < width {
        let answer = queue.claimWork("bench/diamond", &claim_body(1, 32)).await?;
        got.extend(claimed(&answer));
    }
    let fan_out = root_reported.elapsed();

    let clients: Vec<Queue> = (0..workers)
        .map(|_| target.queue())
        .collect::<anyhow::Result<_>>()?;
    let clients = Arc::new(clients);
    let (last, rest) = got.split_last().context("diamond: no leaves")?;
    stream::iter(rest.iter().cloned().enumerate())
        .map(|(i, (t, r))| {
            let clients = Arc::clone(&clients);
            async move {
                clients[i % clients.len()]
                    .reportCompleted(&t, &r)
                    .await
                    .map(|_| ())
            }
        })
        .buffer_unordered(workers)
        .try_collect::<()>()
        .await?;
    queue.reportCompleted(&last.0, &last.1).await?;
    let leaves_done = Instant::now();
    let answer = queue.claimWork("bench/diamond", &claim_body(2, 1)).await?;
    let fan_in = leaves_done.elapsed();
    let (sink_claimed, run) = claimed(&answer)
        .into_iter()
        .next()
        .context("diamond: sink not claimable")?;
    anyhow::ensure!(
        sink_claimed == sink,
        "diamond: claimed {sink_claimed}, expected the sink"
    );
    queue.reportCompleted(&sink_claimed, &run).await?;
    Ok(Diamond {
        claimable,
        claimed_all: fan_out,
        sink: fan_in,
    })
}

struct Diamond {
    /// reportCompleted(root) sent → taskQueueCounts shows every leaf pending.
    claimable: Duration,
    /// … → every leaf claimed by one worker taking 32 at a time.
    claimed_all: Duration,
    /// last leaf's reportCompleted answered → the sink claimed.
    sink: Duration,
}

/// (d): a worker waits in claimWork; a task is created; how long until the claim answers.
async fn wakeups(target: &Target, samples: usize) -> anyhow::Result<Vec<Duration>> {
    let worker = Arc::new(target.queue()?);
    let creator = target.queue()?;
    let group = relyard_core::ids::slugid();
    let mut out = Vec::with_capacity(samples);
    for _ in 0..samples {
        let waiting = tokio::spawn({
            let worker = Arc::clone(&worker);
            async move {
                let answer = worker.claimWork("bench/wake", &claim_body(0, 1)).await?;
                anyhow::Ok((Instant::now(), claimed(&answer)))
            }
        });
        // Give the long poll time to park (this is the state being measured, not a wait for a result).
        tokio::time::sleep(Duration::from_millis(20)).await;
        let id = relyard_core::ids::slugid();
        let def = task_def("wake", &group, &[]);
        let created_at = Instant::now();
        creator.createTask(&id, &def).await?;
        let (claimed_at, got) = waiting.await??;
        anyhow::ensure!(
            got.len() == 1,
            "wake-up: claimWork returned {} tasks",
            got.len()
        );
        worker.reportCompleted(&got[0].0, &got[0].1).await?;
        out.push(claimed_at.saturating_duration_since(created_at));
    }
    Ok(out)
}
