//! What one webhook delivery asks for, read from GitHub's payload as Taskcluster-GitHub reads it.

use serde_json::Value;

use crate::tcyml::TasksFor;

/// One event to run `.taskcluster.yml` for.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub kind: Kind,
    pub owner: String,
    pub repo: String,
    /// The commit (or, for releases, the target commitish) whose `.taskcluster.yml` is used.
    pub git_ref: String,
    pub branch: Option<String>,
    pub pull_number: Option<u64>,
    pub installation: Option<u64>,
    /// Taskcluster-GitHub's `event.type`: `push`, `tag`, `pull_request.<action>`, `release`.
    pub event_type: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Push,
    /// `action` is `opened`, `synchronize` or `reopened`.
    PullRequest {
        opened: bool,
    },
    Release,
    /// A `/taskcluster <cmd>` comment on an open pull request; the pull request's head is
    /// looked up before anything runs.
    IssueComment,
}

impl Kind {
    pub fn tasks_for(self) -> TasksFor {
        match self {
            Kind::Push => TasksFor::Push,
            Kind::PullRequest { .. } => TasksFor::PullRequest,
            Kind::Release => TasksFor::Release,
            Kind::IssueComment => TasksFor::IssueComment,
        }
    }
}

/// Why nothing is run for an event (answered 200: GitHub needs no retry).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Skip {
    #[error("event {0} is not handled")]
    UnhandledEvent(String),
    #[error("pull_request action {0} is not handled")]
    UnhandledAction(String),
    #[error("the commit asks to skip CI")]
    SkipCi,
    #[error("the push deleted {0}")]
    Deleted(String),
    #[error("the comment is not a /taskcluster command on an open pull request")]
    NotACommand,
}

/// The payload lacks something every event of its kind has: a 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("webhook payload has no {0}")]
pub struct Malformed(pub &'static str);

fn text<'a>(body: &'a Value, pointer: &'static str) -> Result<&'a str, Malformed> {
    body.pointer(pointer)
        .and_then(Value::as_str)
        .ok_or(Malformed(pointer))
}

fn skip_ci(message: Option<&str>) -> bool {
    let m = message.unwrap_or_default().to_ascii_lowercase();
    m.contains("[skip ci]") || m.contains("[ci skip]")
}

/// GitHub's owner and repository names, limited to the characters Taskcluster-GitHub keeps.
fn sanitized(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect()
}

pub fn job_for(event: &str, body: &Value) -> Result<Result<Job, Skip>, Malformed> {
    let repo = sanitized(text(body, "/repository/name")?);
    let installation = body.pointer("/installation/id").and_then(Value::as_u64);
    let job = |kind,
               event_type: String,
               owner: &str,
               git_ref: &str,
               branch: Option<&str>,
               pull_number| Job {
        kind,
        owner: sanitized(owner),
        repo: repo.clone(),
        git_ref: git_ref.to_string(),
        branch: branch.map(str::to_string),
        pull_number,
        installation,
        event_type,
    };
    Ok(match event {
        "push" => {
            // Push payloads name the owner `name`; other payloads `login`.
            let owner = text(body, "/repository/owner/name")
                .or_else(|_| text(body, "/repository/owner/login"))?;
            let git_ref = text(body, "/ref")?;
            let after = text(body, "/after")?;
            let name = git_ref.splitn(3, '/').nth(2).unwrap_or_default();
            let head_message = body.pointer("/head_commit/message").and_then(Value::as_str);
            if body.get("deleted").and_then(Value::as_bool) == Some(true)
                || after.bytes().all(|b| b == b'0')
            {
                Err(Skip::Deleted(git_ref.to_string()))
            } else if skip_ci(head_message) {
                Err(Skip::SkipCi)
            } else {
                let kind = if git_ref.starts_with("refs/tags/") {
                    "tag"
                } else {
                    "push"
                };
                Ok(job(Kind::Push, kind.into(), owner, after, Some(name), None))
            }
        }
        "pull_request" => {
            let action = text(body, "/action")?;
            let opened = match action {
                "opened" => true,
                "synchronize" | "reopened" => false,
                other => return Ok(Err(Skip::UnhandledAction(other.to_string()))),
            };
            let owner = text(body, "/repository/owner/login")?;
            let sha = text(body, "/pull_request/head/sha")?;
            let branch = text(body, "/pull_request/head/ref")?;
            let number = body
                .get("number")
                .and_then(Value::as_u64)
                .ok_or(Malformed("/number"))?;
            if skip_ci(body.pointer("/pull_request/title").and_then(Value::as_str)) {
                Err(Skip::SkipCi)
            } else {
                Ok(job(
                    Kind::PullRequest { opened },
                    format!("pull_request.{action}"),
                    owner,
                    sha,
                    Some(branch),
                    Some(number),
                ))
            }
        }
        "release" => {
            let owner = text(body, "/repository/owner/login")?;
            let target = text(body, "/release/target_commitish")?;
            Ok(job(
                Kind::Release,
                "release".into(),
                owner,
                target,
                Some(target),
                None,
            ))
        }
        "issue_comment" => {
            let action = text(body, "/action")?;
            let on_open_pr = body.pointer("/issue/pull_request").is_some()
                && body.pointer("/issue/state").and_then(Value::as_str) == Some("open");
            let command = body
                .pointer("/comment/body")
                .and_then(Value::as_str)
                .and_then(taskcluster_command);
            if !matches!(action, "created" | "edited") || !on_open_pr || command.is_none() {
                Err(Skip::NotACommand)
            } else {
                let owner = text(body, "/repository/owner/login")?;
                let number = body
                    .pointer("/issue/number")
                    .and_then(Value::as_u64)
                    .ok_or(Malformed("/issue/number"))?;
                // The commit and branch are the pull request's head, fetched by the job.
                Ok(job(
                    Kind::IssueComment,
                    format!("issue_comment.{action}"),
                    owner,
                    "",
                    None,
                    Some(number),
                ))
            }
        }
        other => Err(Skip::UnhandledEvent(other.to_string())),
    })
}

/// The command of a `/taskcluster <cmd>` line in a comment (Taskcluster-GitHub's
/// `^\s*/taskcluster\s+(.+)$`, multi-line): the first such line's rest, trimmed.
pub fn taskcluster_command(comment: &str) -> Option<String> {
    comment.lines().find_map(|line| {
        let rest = line.trim_start().strip_prefix("/taskcluster")?;
        if !rest.starts_with(char::is_whitespace) {
            return None;
        }
        let cmd = rest.trim();
        (!cmd.is_empty()).then(|| cmd.to_string())
    })
}
