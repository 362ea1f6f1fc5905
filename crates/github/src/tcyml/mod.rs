//! `.taskcluster.yml` version 1: parsed from YAML, rendered with JSON-e in Taskcluster-GitHub's
//! context, then completed as Taskcluster-GitHub completes it (ids, group, routes, order).
//!
//! Everything here is a pure function of its inputs (plus fresh slugids and the clock).

mod compile;
mod locate;
pub mod reproducible;
mod slugids;

use serde_json::{json, Map, Value};

pub use compile::{TaskEntry, CHECKS_ROUTE, SCHEDULER_ID, STATUSES_ROUTE};

/// What the webhook event asks tasks for; the template's `tasks_for`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TasksFor {
    Push,
    PullRequest,
    PullRequestUntrusted,
    Release,
    IssueComment,
}

impl TasksFor {
    pub fn as_str(self) -> &'static str {
        match self {
            TasksFor::Push => "github-push",
            TasksFor::PullRequest => "github-pull-request",
            TasksFor::PullRequestUntrusted => "github-pull-request-untrusted",
            TasksFor::Release => "github-release",
            TasksFor::IssueComment => "github-issue-comment",
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TcYmlError {
    #[error("`.taskcluster.yml` is not valid YAML: {0}")]
    Yaml(String),
    #[error("`.taskcluster.yml` must be a mapping at the top level")]
    NotAMapping,
    #[error("`.taskcluster.yml` version {0} is not supported (only version 1 is)")]
    Version(String),
    #[error("Must have only ascii-printable chars in branch names!")]
    BranchName,
    #[error("JSON-e error in `.taskcluster.yml`: {message}{}", located(.location))]
    Render {
        message: String,
        location: Option<locate::Location>,
    },
    #[error("tasks field of .taskcluster.yml must be array of tasks or empty array")]
    TasksNotAList,
    #[error("task {0} of .taskcluster.yml is not an object")]
    TaskNotAnObject(usize),
    #[error("taskId {0} is given to more than one task in .taskcluster.yml")]
    DuplicateTaskId(String),
    #[error("tasks of .taskcluster.yml depend on each other in a cycle: {}", .0.join(", "))]
    Cycle(Vec<String>),
}

fn located(location: &Option<locate::Location>) -> String {
    match location {
        Some(l) => format!(" (at {}: `{}`)", l.path, l.expression),
        None => String::new(),
    }
}

/// A parsed `.taskcluster.yml` (version 1).
#[derive(Debug, Clone, PartialEq)]
pub struct TcYml {
    /// The whole file as JSON, `version` and `hooks` included.
    pub document: Value,
}

impl TcYml {
    pub fn parse(text: &str) -> Result<TcYml, TcYmlError> {
        let document: Value =
            serde_yaml_ng::from_str(text).map_err(|e| TcYmlError::Yaml(e.to_string()))?;
        Self::from_value(document)
    }

    pub fn from_value(document: Value) -> Result<TcYml, TcYmlError> {
        let Some(map) = document.as_object() else {
            return Err(TcYmlError::NotAMapping);
        };
        match map.get("version") {
            Some(v) if v.as_i64() == Some(1) => Ok(TcYml { document }),
            Some(v) => Err(TcYmlError::Version(v.to_string())),
            None => Err(TcYmlError::Version("(missing)".into())),
        }
    }

    /// `policy.pullRequests`, unrendered (Taskcluster-GitHub reads it from the default branch's file).
    pub fn pull_request_policy(&self) -> Option<&str> {
        self.document.pointer("/policy/pullRequests")?.as_str()
    }

    /// `autoCancelPreviousChecks`: on unless set to `false`.
    pub fn auto_cancel_previous_checks(&self) -> bool {
        self.document.get("autoCancelPreviousChecks") != Some(&Value::Bool(false))
    }
}

/// The context the template is rendered in, besides `now` (which JSON-e supplies).
#[derive(Debug, Clone)]
pub struct RenderInput<'a> {
    pub tasks_for: TasksFor,
    /// The webhook body, as the template's `event`.
    pub event: &'a Value,
    pub root_url: &'a str,
    /// The event's branch, which must be printable ASCII (it ends up in scopes).
    pub branch: Option<&'a str>,
}

/// The rendered file: tasks ready for `createTask`, in dependency order.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub tasks: Vec<TaskEntry>,
    /// `reporting` after rendering (`checks-v1` → check runs; absent → commit statuses).
    pub reporting: Option<String>,
    pub auto_cancel_previous_checks: bool,
}

impl Rendered {
    /// The route every task carries, and the one the repository's scopes must allow.
    pub fn route(&self) -> &'static str {
        if self.reporting.is_some() {
            CHECKS_ROUTE
        } else {
            STATUSES_ROUTE
        }
    }

    pub fn task_group_id(&self) -> Option<&str> {
        self.tasks.first()?.task.get("taskGroupId")?.as_str()
    }
}

/// Renders the file for one event and completes its tasks; `now` is the tasks' `created`.
pub fn render(file: &TcYml, input: &RenderInput, now: &str) -> Result<Rendered, TcYmlError> {
    if let Some(branch) = input.branch {
        if !branch.chars().all(|c| (' '..='~').contains(&c)) {
            return Err(TcYmlError::BranchName);
        }
    }
    let mut template = file.document.clone();
    if let Some(map) = template.as_object_mut() {
        map.remove("version");
        map.remove("hooks");
    }
    let context = json!({
        "tasks_for": input.tasks_for.as_str(),
        "event": input.event,
        "taskcluster_root_url": input.root_url,
    });
    let prepared = slugids::rewrite_calls(&template);
    let rendered = json_e::render(&prepared, &context).map_err(|e| TcYmlError::Render {
        message: e.to_string(),
        location: locate::failing_expression(&template, &context, &e.to_string()),
    })?;
    let rendered = slugids::resolve_markers(rendered);
    let mut config = match rendered {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let reporting = config
        .get("reporting")
        .and_then(Value::as_str)
        .map(str::to_string);
    let tasks = compile::compile_tasks(config.remove("tasks"), reporting.is_some(), now)?;
    let tasks = reproducible::expand(tasks);
    Ok(Rendered {
        tasks,
        reporting,
        auto_cancel_previous_checks: config.get("autoCancelPreviousChecks")
            != Some(&Value::Bool(false)),
    })
}

#[cfg(test)]
mod tests;
