//! `relyard task log [-f] <taskId>`: prints a task's log, live while it runs.

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use futures::StreamExt;
use taskcluster::Queue;

use super::connect::ConnectArgs;

#[derive(Args)]
pub struct TaskArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Subcommand)]
enum Verb {
    /// Print the task's `public/logs/live.log` (streamed to its end while the task runs).
    Log {
        task_id: String,
        /// Wait for a task that has not started yet, then follow its log to the end.
        #[arg(short, long)]
        follow: bool,
        /// The log artifact to read.
        #[arg(long, default_value = "public/logs/live.log")]
        name: String,
    },
}

pub async fn run(args: TaskArgs) -> anyhow::Result<()> {
    match args.verb {
        Verb::Log {
            task_id,
            follow,
            name,
        } => log(&args.connect, &task_id, &name, follow).await,
    }
}

async fn log(connect: &ConnectArgs, task_id: &str, name: &str, follow: bool) -> anyhow::Result<()> {
    let (root_url, creds) = connect.resolve()?;
    let mut builder = taskcluster::ClientBuilder::new(&root_url);
    if let Some(c) = creds.clone() {
        builder = builder.credentials(c);
    }
    let queue = Queue::new(builder)?;
    let http = reqwest::Client::new();
    loop {
        // The latest run's log: the queue redirects to the worker's live log while the task
        // runs, to the uploaded backing log afterwards.
        let url = if creds.is_some() {
            queue.getLatestArtifact_signed_url(task_id, name, Duration::from_secs(3600))?
        } else {
            queue.getLatestArtifact_url(task_id, name)?
        };
        let resp = http.get(&url).send().await.context("fetching the log")?;
        if resp.status().is_success() {
            let mut body = resp.bytes_stream();
            let mut out = std::io::stdout().lock();
            while let Some(chunk) = body.next().await {
                out.write_all(&chunk.context("reading the log")?)?;
                out.flush()?;
            }
            return Ok(());
        }
        let status = resp.status();
        if !(follow
            && status == reqwest::StatusCode::NOT_FOUND
            && !resolved(&queue, task_id).await?)
        {
            let text = resp.text().await.unwrap_or_default();
            anyhow::bail!("{name} of task {task_id}: {status}: {text}");
        }
        // Not started yet: the live log appears when a worker claims the task.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Whether the task has ended (so no log will appear by waiting).
async fn resolved(queue: &Queue, task_id: &str) -> anyhow::Result<bool> {
    let status = queue.status(task_id).await?;
    let state = status
        .pointer("/status/state")
        .and_then(|s| s.as_str())
        .unwrap_or("");
    Ok(matches!(state, "completed" | "failed" | "exception"))
}
