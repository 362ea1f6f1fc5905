//! `relyard ci run`: the graph of HEAD's `.taskcluster.yml` on a server (the given one, or one
//! started for the run with local workers), followed to its end.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use futures::stream::{FuturesUnordered, StreamExt};
use taskcluster::{ClientBuilder, Queue};

use super::embedded::Embedded;
use super::follow::{State, Tracker, Updates};
use super::graph::{short, EventArgs, Graph, Prepared, Source};
use super::progress::Progress;

#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    event: EventArgs,
    /// Submit to this server (with $TASKCLUSTER_CLIENT_ID / $TASKCLUSTER_ACCESS_TOKEN) and let
    /// its workers run the tasks; by default a server and workers are started for the run.
    #[arg(long)]
    root_url: Option<String>,
    /// Tasks each local worker runs at once (default: number of cores).
    #[arg(long)]
    capacity: Option<usize>,
}

/// How often a remote server's task groups are listed.
const REMOTE_POLL: Duration = Duration::from_millis(250);

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let event_args = args.event.clone();
    // git and the server start side by side; rendering needs both (the root URL is in the context).
    let prepare = tokio::task::spawn_blocking(move || Prepared::load(&event_args, Source::Head));
    let embedded = match &args.root_url {
        Some(_) => None,
        None => Some(Embedded::start()),
    };
    let (prepared, mut embedded) = match embedded {
        Some(start) => {
            let (p, e) = tokio::join!(prepare, start);
            (p, Some(e?))
        }
        None => (prepare.await, None),
    };
    let prepared = match prepared.context("reading the checkout").and_then(|p| p) {
        Ok(p) => p,
        Err(e) => {
            if let Some(e) = embedded {
                e.stop().await;
            }
            return Err(e);
        }
    };
    warn_uncommitted(&prepared);
    // No embedded server means a root URL was given.
    let (root_url, credentials) = match &embedded {
        Some(e) => (e.root_url.clone(), Some(e.credentials.clone())),
        None => (
            args.root_url
                .as_deref()
                .unwrap_or_default()
                .trim_end_matches('/')
                .to_string(),
            taskcluster::Credentials::from_env().ok(),
        ),
    };
    let result = async {
        let graph = prepared.render(&root_url)?;
        let mut client = ClientBuilder::new(&root_url);
        if let Some(c) = credentials {
            client = client.credentials(c);
        }
        let queue = Queue::new(client.clone())?;
        let groups: Vec<String> = graph
            .tasks
            .iter()
            .filter_map(|t| {
                t.definition
                    .get("taskGroupId")?
                    .as_str()
                    .map(str::to_string)
            })
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        // Subscribed before anything is created, so no transition is missed.
        let updates = match &mut embedded {
            Some(e) => {
                let events = e.events();
                let capacity = args
                    .capacity
                    .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
                e.add_workers(&graph.task_queues(), capacity).await?;
                Updates::Bus {
                    events,
                    queue: Queue::new(client.clone())?,
                    groups,
                }
            }
            None => Updates::poll(Queue::new(client.clone())?, groups, REMOTE_POLL),
        };
        println!(
            "{} task(s) for {} of {} at {} on {}{}",
            graph.tasks.len(),
            graph.tasks_for.as_str(),
            graph.branch,
            short(&graph.sha),
            root_url,
            if embedded.is_some() {
                " (started for this run)"
            } else {
                ""
            },
        );
        if graph.tasks.is_empty() {
            return Ok(());
        }
        create_all(&queue, &graph).await?;
        follow(&queue, &graph, updates, started).await
    }
    .await;
    if let Some(e) = embedded {
        e.stop().await;
    }
    result
}

fn warn_uncommitted(prepared: &Prepared) {
    match prepared.checkout.uncommitted() {
        Ok(paths) if !paths.is_empty() => {
            let mut list: Vec<&str> = paths.iter().take(5).map(String::as_str).collect();
            if paths.len() > 5 {
                list.push("…");
            }
            eprintln!(
                "warning: {} uncommitted change(s) are not part of this run, as CI would not see them: {}",
                paths.len(),
                list.join(", ")
            );
        }
        Ok(_) => {}
        Err(e) => eprintln!("warning: could not tell whether the work tree is clean: {e:#}"),
    }
}

/// Creates the tasks, each after the tasks of the graph it depends on; tasks whose dependencies
/// all exist are created together.
async fn create_all(queue: &Queue, graph: &Graph) -> anyhow::Result<()> {
    let mut created: HashSet<&str> = HashSet::new();
    let in_graph: HashSet<&str> = graph.tasks.iter().map(|t| t.task_id.as_str()).collect();
    while created.len() < graph.tasks.len() {
        let wave: Vec<_> = graph
            .tasks
            .iter()
            .filter(|t| !created.contains(t.task_id.as_str()))
            .filter(|t| {
                t.dependencies
                    .iter()
                    .all(|d| !in_graph.contains(d.as_str()) || created.contains(d.as_str()))
            })
            .collect();
        if wave.is_empty() {
            bail!("the graph's dependencies form a cycle");
        }
        let results = futures::future::join_all(wave.iter().map(|t| async move {
            queue
                .createTask(&t.task_id, &t.definition)
                .await
                .with_context(|| format!("creating task {:?} ({})", t.name, t.task_id))
        }))
        .await;
        for r in results {
            r?;
        }
        created.extend(wave.iter().map(|t| t.task_id.as_str()));
    }
    Ok(())
}

/// Follows the graph until every task is resolved or blocked, streaming failed tasks' logs, then
/// prints the summary; an error when any task did not complete.
async fn follow(
    queue: &Queue,
    graph: &Graph,
    mut updates: Updates,
    started: Instant,
) -> anyhow::Result<()> {
    let mut tracker = Tracker::new(graph);
    let progress = Progress::new(
        graph.tasks.iter().map(|t| t.name.clone()).collect(),
        started,
    );
    let mut logs = FuturesUnordered::new();
    let mut interrupted = false;
    while !tracker.done() {
        tokio::select! {
            batch = updates.next() => {
                for status in batch? {
                    for (i, state) in tracker.update(&status) {
                        progress.set(i, state, tracker.known[i].reason.as_deref());
                        if matches!(state, State::Failed | State::Exception) {
                            logs.push(failed_log(queue, graph, i));
                        }
                    }
                }
            }
            Some(text) = logs.next(), if !logs.is_empty() => progress.to_stderr(&text),
            _ = crate::cli::termination() => {
                interrupted = true;
                break;
            }
        }
    }
    while let Some(text) = logs.next().await {
        progress.to_stderr(&text);
    }
    progress.finish();
    print_summary(graph, &tracker, started);
    if interrupted {
        bail!("interrupted");
    }
    let not_completed: Vec<String> = graph
        .tasks
        .iter()
        .zip(&tracker.known)
        .filter(|(_, k)| k.state != State::Completed)
        .map(|(t, k)| format!("{} ({})", t.name, k.state.as_str()))
        .collect();
    if !not_completed.is_empty() {
        bail!(
            "{} of {} task(s) did not complete: {}",
            not_completed.len(),
            graph.tasks.len(),
            not_completed.join(", ")
        );
    }
    Ok(())
}

/// The failed task's log with a header naming it (or why there is none).
async fn failed_log(queue: &Queue, graph: &Graph, i: usize) -> Vec<u8> {
    let task = &graph.tasks[i];
    let name = task
        .definition
        .pointer("/payload/logs/live")
        .and_then(|v| v.as_str())
        .unwrap_or("public/logs/live.log");
    let mut out = format!(
        "\n──── log of {:?} ({}), which did not complete ────\n",
        task.name, task.task_id
    )
    .into_bytes();
    match fetch_artifact(queue, &task.task_id, name).await {
        Ok(bytes) => {
            out.extend_from_slice(&bytes);
            if !bytes.ends_with(b"\n") {
                out.push(b'\n');
            }
        }
        Err(e) => out.extend_from_slice(format!("(no log: {e:#})\n").as_bytes()),
    }
    out.extend_from_slice(format!("──── end of the log of {:?} ────\n", task.name).as_bytes());
    out
}

async fn fetch_artifact(queue: &Queue, task_id: &str, name: &str) -> anyhow::Result<Vec<u8>> {
    let url = queue.getLatestArtifact_signed_url(task_id, name, Duration::from_secs(600))?;
    let resp = reqwest::get(&url).await?;
    let status = resp.status();
    if !status.is_success() {
        bail!("{name}: {status}");
    }
    Ok(resp.bytes().await?.to_vec())
}

fn print_summary(graph: &Graph, tracker: &Tracker, started: Instant) {
    let width = graph
        .tasks
        .iter()
        .map(|t| t.name.chars().count())
        .max()
        .unwrap_or(0);
    println!();
    let mut counts: Vec<(State, usize)> = Vec::new();
    for (t, k) in graph.tasks.iter().zip(&tracker.known) {
        let took = match (&k.started, &k.resolved) {
            (Some(s), Some(r)) => match (
                relyard_core::Timestamp::parse(s),
                relyard_core::Timestamp::parse(r),
            ) {
                (Ok(s), Ok(r)) => {
                    format!(
                        "{:.1}s",
                        r.duration_since(s).num_milliseconds() as f64 / 1e3
                    )
                }
                _ => String::new(),
            },
            _ => String::new(),
        };
        let reason = match (&k.reason, k.state) {
            (Some(r), State::Exception | State::Failed) if r != "failed" => format!(" ({r})"),
            _ => String::new(),
        };
        println!(
            "  {:11} {:width$}  {}  {}{}",
            k.state.as_str(),
            t.name,
            t.task_id,
            took,
            reason
        );
        match counts.iter_mut().find(|(s, _)| *s == k.state) {
            Some((_, n)) => *n += 1,
            None => counts.push((k.state, 1)),
        }
    }
    let counts: Vec<String> = counts
        .iter()
        .map(|(s, n)| format!("{n} {}", s.as_str()))
        .collect();
    println!(
        "{} in {:.2}s",
        counts.join(", "),
        started.elapsed().as_secs_f64()
    );
}
