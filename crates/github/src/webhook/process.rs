//! One job: `.taskcluster.yml` at the event's commit → policy → render → tasks, with render,
//! policy and creation errors reported as a comment on the pull request or commit.

use async_trait::async_trait;
use serde_json::{json, Value};

use super::{GitHubState, Job, Kind};
use crate::ghapi::{GhError, Installation};
use crate::policy::{self, CollaboratorCheck, PullRequestDecision, PullRequestPolicy};
use crate::tcyml::{self, RenderInput, TasksFor, TcYml};

const FILE: &str = ".taskcluster.yml";

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    NoConfig,
    NoTasks,
    Refused {
        commented: bool,
    },
    /// The error was posted as a comment.
    Failed {
        error: String,
    },
    Created {
        task_group_id: String,
        task_ids: Vec<String>,
        scopes: Vec<String>,
    },
}

impl Outcome {
    pub fn to_json(&self) -> Value {
        match self {
            Outcome::NoConfig => json!({ "outcome": "no-config" }),
            Outcome::NoTasks => json!({ "outcome": "no-tasks" }),
            Outcome::Refused { commented } => {
                json!({ "outcome": "refused", "commented": commented })
            }
            Outcome::Failed { error } => json!({ "outcome": "error-commented", "error": error }),
            Outcome::Created {
                task_group_id,
                task_ids,
                scopes,
            } => json!({
                "outcome": "created", "taskGroupId": task_group_id, "taskIds": task_ids, "scopes": scopes,
            }),
        }
    }
}

#[async_trait]
impl CollaboratorCheck for Installation<'_> {
    type Error = GhError;
    async fn is_collaborator(&self, owner: &str, repo: &str, login: &str) -> Result<bool, GhError> {
        Installation::is_collaborator(self, owner, repo, login).await
    }
}

pub(super) async fn run(state: &GitHubState, job: &Job, event: &Value) -> Result<Outcome, GhError> {
    let gh = state.github.installation(job.installation);
    let Some(text) = gh
        .file_contents(&job.owner, &job.repo, FILE, &job.git_ref)
        .await?
    else {
        return Ok(Outcome::NoConfig);
    };
    let mut tasks_for = job.kind.tasks_for();
    if let Kind::PullRequest { opened } = job.kind {
        // The policy comes from the default branch, so a pull request cannot loosen its own.
        let default_branch = gh.default_branch(&job.owner, &job.repo).await?;
        let policy = match gh
            .file_contents(&job.owner, &job.repo, FILE, &default_branch)
            .await?
        {
            Some(text) => PullRequestPolicy::from_config(policy_of(&text).as_deref()),
            None => PullRequestPolicy::CollaboratorsQuiet,
        };
        match policy::decide_pull_request(policy, event, &job.owner, &job.repo, &gh).await? {
            PullRequestDecision::Trusted => {}
            PullRequestDecision::Untrusted => tasks_for = TasksFor::PullRequestUntrusted,
            PullRequestDecision::Quiet => return Ok(Outcome::Refused { commented: false }),
            PullRequestDecision::Refused => {
                if opened {
                    let details = "The `policy.pullRequests` configuration for this repository (in `.taskcluster.yml` \
                        on the default branch) does not allow starting tasks for this pull request.";
                    comment(
                        &gh,
                        job,
                        "No Taskcluster jobs started for this pull request",
                        details,
                    )
                    .await?;
                }
                return Ok(Outcome::Refused { commented: opened });
            }
        }
    }
    let rendered = TcYml::parse(&text).and_then(|file| {
        let input = RenderInput {
            tasks_for,
            event,
            root_url: &state.root_url,
            branch: job.branch.as_deref(),
        };
        tcyml::render(&file, &input, &relyard_core::Timestamp::now().to_string())
    });
    let rendered = match rendered {
        Ok(r) => r,
        Err(e) => return fail(&gh, job, e.to_string()).await,
    };
    let Some(task_group_id) = rendered.task_group_id().map(str::to_string) else {
        return Ok(Outcome::NoTasks);
    };
    let scopes =
        policy::repository_scopes(tasks_for, &job.owner, &job.repo, event, rendered.route());
    if let Err(e) = state.tasks.create_tasks(&scopes, &rendered.tasks).await {
        return fail(&gh, job, e.to_string()).await;
    }
    Ok(Outcome::Created {
        task_group_id,
        task_ids: rendered.tasks.iter().map(|t| t.task_id.clone()).collect(),
        scopes,
    })
}

/// `policy.pullRequests` read leniently: a default branch whose file is broken still has a policy
/// (the default).
fn policy_of(text: &str) -> Option<String> {
    let doc: Value = serde_yaml_ng::from_str(text).ok()?;
    if doc.get("version").and_then(Value::as_i64) != Some(1) {
        return None;
    }
    doc.pointer("/policy/pullRequests")?
        .as_str()
        .map(str::to_string)
}

async fn fail(gh: &Installation<'_>, job: &Job, error: String) -> Result<Outcome, GhError> {
    comment(gh, job, "Uh oh! Looks like an error!", &error).await?;
    Ok(Outcome::Failed { error })
}

/// A collapsed comment, on the pull request if there is one, else on the commit.
async fn comment(
    gh: &Installation<'_>,
    job: &Job,
    summary: &str,
    details: &str,
) -> Result<(), GhError> {
    let body = format!("<details>\n<summary>{summary}</summary>\n\n{details}\n\n</details>");
    match job.pull_number {
        Some(n) => {
            gh.create_issue_comment(&job.owner, &job.repo, n, &body)
                .await
        }
        None => {
            gh.create_commit_comment(&job.owner, &job.repo, &job.git_ref, &body)
                .await
        }
    }
}
