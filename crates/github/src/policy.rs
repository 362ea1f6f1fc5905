//! Who may run what: `policy.pullRequests` decides what happens to a pull request from a given
//! author, and the repository's role scopes are the ones the tasks are created with, both as
//! Taskcluster-GitHub computes them.

use async_trait::async_trait;
use serde_json::Value;

use crate::tcyml::{TasksFor, SCHEDULER_ID};

/// `policy.pullRequests` of the default branch's `.taskcluster.yml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullRequestPolicy {
    Public,
    PublicRestricted,
    Collaborators,
    CollaboratorsQuiet,
}

impl PullRequestPolicy {
    /// Absent (or a value the schema would refuse) is `collaborators`, Taskcluster-GitHub's default.
    pub fn from_config(value: Option<&str>) -> PullRequestPolicy {
        match value {
            Some("public") => PullRequestPolicy::Public,
            Some("public_restricted") => PullRequestPolicy::PublicRestricted,
            Some("collaborators_quiet") => PullRequestPolicy::CollaboratorsQuiet,
            _ => PullRequestPolicy::Collaborators,
        }
    }
}

/// What to do with one pull request event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullRequestDecision {
    /// Run with `tasks_for: github-pull-request`.
    Trusted,
    /// Run with `tasks_for: github-pull-request-untrusted` (and that role's scopes).
    Untrusted,
    /// Run nothing and say so on the pull request (Taskcluster-GitHub comments when it is opened).
    Refused,
    /// Run nothing, silently.
    Quiet,
}

/// The collaborator check, answered by the GitHub API (or a stand-in in tests).
#[async_trait]
pub trait CollaboratorCheck: Send + Sync {
    type Error;
    async fn is_collaborator(
        &self,
        owner: &str,
        repo: &str,
        login: &str,
    ) -> Result<bool, Self::Error>;
}

/// The pull request is trusted when its author is a collaborator and its head is a collaborator's
/// or the base repository's own; the policy decides what happens otherwise.
pub async fn decide_pull_request<C: CollaboratorCheck>(
    policy: PullRequestPolicy,
    event: &Value,
    owner: &str,
    repo: &str,
    check: &C,
) -> Result<PullRequestDecision, C::Error> {
    if policy == PullRequestPolicy::Public {
        return Ok(PullRequestDecision::Trusted);
    }
    let login = |pointer: &str| event.pointer(pointer).and_then(Value::as_str);
    let opener = login("/pull_request/user/login");
    let head = login("/pull_request/head/user/login");
    let base = login("/pull_request/base/user/login");
    let opener_ok = match opener {
        Some(o) => check.is_collaborator(owner, repo, o).await?,
        None => false,
    };
    let head_ok = match head {
        Some(h) if Some(h) == opener => opener_ok,
        Some(h) if opener_ok => head == base || check.is_collaborator(owner, repo, h).await?,
        _ => false,
    };
    let trusted = opener_ok && head_ok;
    Ok(match (trusted, policy) {
        (true, _) | (_, PullRequestPolicy::Public) => PullRequestDecision::Trusted,
        (false, PullRequestPolicy::PublicRestricted) => PullRequestDecision::Untrusted,
        (false, PullRequestPolicy::Collaborators) => PullRequestDecision::Refused,
        (false, PullRequestPolicy::CollaboratorsQuiet) => PullRequestDecision::Quiet,
    })
}

/// The scopes tasks for this event are created with (`authorizedScopes`): the repository's role
/// for the event, the reporting route, and Taskcluster-GitHub's scheduler id.
pub fn repository_scopes(
    tasks_for: TasksFor,
    owner: &str,
    repo: &str,
    event: &Value,
    route: &str,
) -> Vec<String> {
    let prefix = format!("assume:repo:github.com/{owner}/{repo}");
    let mut scopes = Vec::with_capacity(3);
    match tasks_for {
        TasksFor::PullRequest | TasksFor::IssueComment => {
            scopes.push(format!("{prefix}:pull-request"))
        }
        TasksFor::PullRequestUntrusted => scopes.push(format!("{prefix}:pull-request-untrusted")),
        TasksFor::Push => {
            let git_ref = event.get("ref").and_then(Value::as_str).unwrap_or_default();
            let mut parts = git_ref.split('/');
            let kind = parts.nth(1);
            let name = parts.collect::<Vec<_>>().join("/");
            if kind == Some("tags") {
                scopes.push(format!("{prefix}:tag:{name}"));
            } else {
                scopes.push(format!("{prefix}:branch:{name}"));
            }
        }
        TasksFor::Release => {
            let action = event
                .get("action")
                .and_then(Value::as_str)
                .unwrap_or("published");
            scopes.push(format!("{prefix}:release:{action}"));
        }
    }
    scopes.push(format!("queue:route:{route}"));
    scopes.push(format!("queue:scheduler-id:{SCHEDULER_ID}"));
    scopes
}

#[cfg(test)]
mod tests;
