//! From a checkout to a checked task graph: the event synthesized from git, `.taskcluster.yml`
//! rendered by `relyard_github::tcyml` (as Taskcluster-GitHub renders it), and every task checked
//! by the queue's own createTask validation, so that what the queue would refuse is refused here.

use std::collections::HashMap;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use relyard_github::tcyml::{self, RenderInput, TasksFor, TcYml};
use serde_json::Value;

use super::event::{EventInput, Repository};
use super::git::Checkout;

pub const FILE: &str = ".taskcluster.yml";

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum EventKind {
    /// A push of HEAD to its branch (`tasks_for: github-push`).
    Push,
    /// A pull request from HEAD's branch (`tasks_for: github-pull-request`).
    PullRequest,
}

/// How the event is made up from the checkout.
#[derive(Args, Clone, Debug)]
pub struct EventArgs {
    /// The repository (any directory in its work tree).
    #[arg(default_value = ".")]
    pub path: std::path::PathBuf,
    /// Which GitHub event to render the file for.
    #[arg(long, value_enum, default_value = "push")]
    pub event: EventKind,
    /// The branch, when HEAD is detached (or to pretend another).
    #[arg(long)]
    pub branch: Option<String>,
    /// The pull request's base branch (default: the remote's default branch, else main/master).
    #[arg(long)]
    pub base: Option<String>,
    /// What `event.repository.clone_url` says (default: the local checkout, so local workers clone it).
    #[arg(long)]
    pub clone_url: Option<String>,
}

/// One task of the rendered graph, checked.
#[derive(Debug, Clone)]
pub struct GraphTask {
    pub task_id: String,
    pub name: String,
    pub task_queue_id: String,
    pub dependencies: Vec<String>,
    /// The body for createTask.
    pub definition: Value,
}

/// Everything but the root URL: the checkout, the file and the event (all from git).
pub struct Prepared {
    pub checkout: Checkout,
    file: TcYml,
    pub tasks_for: TasksFor,
    pub branch: String,
    pub event: Value,
}

#[derive(Debug)]
pub struct Graph {
    pub tasks_for: TasksFor,
    pub branch: String,
    pub sha: String,
    pub top: std::path::PathBuf,
    pub task_group_id: Option<String>,
    /// Dependencies first.
    pub tasks: Vec<GraphTask>,
}

/// Where the file text comes from: the work tree (`ci check`, to check before committing) or
/// HEAD (`ci run`, which runs what CI would see).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Source {
    WorkTree,
    Head,
}

impl Prepared {
    /// Reads the checkout's `.taskcluster.yml` and makes up the event.
    pub fn load(args: &EventArgs, source: Source) -> anyhow::Result<Prepared> {
        let checkout = Checkout::open(&args.path)?;
        let text = match source {
            Source::WorkTree => {
                let path = checkout.top.join(FILE);
                std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?
            }
            Source::Head => checkout.committed_file(FILE)?.with_context(|| {
                format!(
                    "HEAD ({}) has no {FILE} at the top of {}",
                    short(&checkout.head.sha),
                    checkout.top.display()
                )
            })?,
        };
        let file = TcYml::parse(&text)?;
        let branch = match (&args.branch, &checkout.branch) {
            (Some(b), _) | (None, Some(b)) => b.clone(),
            (None, None) => bail!(
                "HEAD is detached: say which branch this is with --branch (CI events always name one)"
            ),
        };
        let clone_url = args
            .clone_url
            .clone()
            .unwrap_or_else(|| checkout.top.to_string_lossy().to_string());
        let repository = Repository::describe(&checkout, clone_url);
        let default_branch = checkout
            .remote_default_branch
            .clone()
            .unwrap_or_else(|| guess_default_branch(&checkout, &branch));
        let (login, _) = checkout.user();
        let login = login
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join("-"))
            .unwrap_or_else(|| repository.owner.clone());
        let input = EventInput {
            checkout: &checkout,
            repository: &repository,
            branch: &branch,
            login: &login,
        };
        let (tasks_for, event) = match args.event {
            EventKind::Push => (TasksFor::Push, input.push(&default_branch)),
            EventKind::PullRequest => {
                let base = args.base.clone().unwrap_or_else(|| default_branch.clone());
                let base_sha = checkout
                    .resolve(&base)
                    .or_else(|| checkout.resolve(&format!("origin/{base}")))
                    .with_context(|| {
                        format!("the pull request's base branch {base} is not known here (--base)")
                    })?;
                (
                    TasksFor::PullRequest,
                    input.pull_request(&default_branch, &base, &base_sha),
                )
            }
        };
        Ok(Prepared {
            checkout,
            file,
            tasks_for,
            branch,
            event,
        })
    }

    /// Renders the file for the server at `root_url` and checks every task; all problems are
    /// listed in the error.
    pub fn render(&self, root_url: &str) -> anyhow::Result<Graph> {
        let now = relyard_core::Timestamp::now().to_string();
        let rendered = tcyml::render(
            &self.file,
            &RenderInput {
                tasks_for: self.tasks_for,
                event: &self.event,
                root_url,
                branch: Some(&self.branch),
            },
            &now,
        )?;
        let task_group_id = rendered.task_group_id().map(str::to_string);
        let tasks = check_tasks(rendered.tasks)?;
        Ok(Graph {
            tasks_for: self.tasks_for,
            branch: self.branch.clone(),
            sha: self.checkout.head.sha.clone(),
            top: self.checkout.top.clone(),
            task_group_id,
            tasks,
        })
    }
}

impl Graph {
    /// Names of the tasks by taskId.
    pub fn names(&self) -> HashMap<&str, &str> {
        self.tasks
            .iter()
            .map(|t| (t.task_id.as_str(), t.name.as_str()))
            .collect()
    }

    /// The task queues the graph's tasks are for, each once, in first-use order.
    pub fn task_queues(&self) -> Vec<String> {
        let mut queues: Vec<String> = Vec::new();
        for t in &self.tasks {
            if !queues.contains(&t.task_queue_id) {
                queues.push(t.task_queue_id.clone());
            }
        }
        queues
    }

    /// The task list, one line per task: taskId, name, task queue, dependencies (by name).
    pub fn table(&self) -> String {
        let names = self.names();
        let rows: Vec<[String; 4]> = self
            .tasks
            .iter()
            .map(|t| {
                let deps = if t.dependencies.is_empty() {
                    "-".to_string()
                } else {
                    t.dependencies
                        .iter()
                        .map(|d| names.get(d.as_str()).map_or(d.clone(), |n| n.to_string()))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                [
                    t.task_id.clone(),
                    t.name.clone(),
                    t.task_queue_id.clone(),
                    deps,
                ]
            })
            .collect();
        let header = ["TASK ID", "NAME", "TASK QUEUE", "DEPENDS ON"].map(String::from);
        let widths: Vec<usize> = (0..3)
            .map(|i| {
                std::iter::once(&header)
                    .chain(&rows)
                    .map(|r| r[i].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in std::iter::once(&header).chain(&rows) {
            out.push_str(&format!(
                "{:w0$}  {:w1$}  {:w2$}  {}\n",
                row[0],
                row[1],
                row[2],
                row[3],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
            ));
        }
        out
    }
}

/// Checks each rendered task as the queue's createTask would; every refusal names the task.
fn check_tasks(entries: Vec<tcyml::TaskEntry>) -> anyhow::Result<Vec<GraphTask>> {
    let now = relyard_core::Timestamp::now();
    let mut tasks = Vec::with_capacity(entries.len());
    let mut problems = Vec::new();
    for (i, entry) in entries.into_iter().enumerate() {
        let name = entry
            .task
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .map(str::to_string);
        let label = match &name {
            Some(n) => format!("task {n:?} ({})", entry.task_id),
            None => format!("task #{} ({})", i + 1, entry.task_id),
        };
        let checked = serde_json::to_vec(&entry.task)
            .map_err(|e| relyard_core::ApiError::malformed(e.to_string()))
            .and_then(|body| relyard_queue::validate::parse_body(&body))
            .and_then(|req| relyard_queue::validate::task_definition(&entry.task_id, req, now));
        match checked {
            Ok(def) => tasks.push(GraphTask {
                name: def.metadata.name.clone(),
                task_queue_id: def.task_queue_id.clone(),
                dependencies: def.dependencies.clone(),
                task_id: entry.task_id,
                definition: entry.task,
            }),
            Err(e) => problems.push(format!("{label}: the queue would refuse it: {}", e.message)),
        }
    }
    if !problems.is_empty() {
        bail!(
            "{FILE} renders tasks the queue would refuse:\n  {}",
            problems.join("\n  ")
        );
    }
    Ok(tasks)
}

/// Without a remote to ask: the branch called main or master, else the current one.
fn guess_default_branch(checkout: &Checkout, current: &str) -> String {
    ["main", "master"]
        .into_iter()
        .find(|b| checkout.resolve(&format!("refs/heads/{b}")).is_some())
        .unwrap_or(current)
        .to_string()
}

pub fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// `ci check`: renders, checks and prints the task list.
pub fn check(args: &EventArgs, root_url: &str) -> anyhow::Result<()> {
    let graph = Prepared::load(args, Source::WorkTree)?.render(root_url)?;
    println!(
        "{} renders {} task(s) for {} of {} at {} (group {}):",
        graph.top.join(FILE).display(),
        graph.tasks.len(),
        graph.tasks_for.as_str(),
        graph.branch,
        short(&graph.sha),
        graph.task_group_id.as_deref().unwrap_or("-"),
    );
    print!("{}", graph.table());
    Ok(())
}
