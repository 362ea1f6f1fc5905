//! One job: `.taskcluster.yml` at the event's commit → policy → render → tasks, with render,
//! policy and creation errors reported as a comment on the pull request or commit.

use async_trait::async_trait;
use serde_json::{json, Value};

use super::{GitHubState, Job, Kind};
use crate::ghapi::{GhError, Installation};
use crate::policy::{self, CollaboratorCheck, PullRequestDecision, PullRequestPolicy};
use crate::store::{self, Build};
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

pub(super) async fn run(
    state: &GitHubState,
    job: &Job,
    event: &Value,
    delivery: &str,
) -> Result<Outcome, GhError> {
    let gh = state.github.installation(job.installation);
    // A comment runs for its pull request's head, with the pull request in the event.
    let commented;
    let (job, event) = if job.kind == Kind::IssueComment {
        commented = comment_context(&gh, job, event).await?;
        (&commented.0, &commented.1)
    } else {
        (job, event)
    };
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
    if job.kind == Kind::IssueComment {
        if let Some(refusal) = comment_refusal(&gh, job, event).await? {
            return Ok(refusal);
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
    // Recorded before the tasks exist, so that their first events find the build.
    let build = build_row(job, &task_group_id, &rendered, delivery);
    if let Err(e) = store::insert_build(&state.db, &build).await {
        return fail(&gh, job, format!("Recording the build failed: {e}")).await;
    }
    if let Err(e) = state.tasks.create_tasks(&scopes, &rendered.tasks).await {
        // Nothing will report on this group: it shows as an error in `builds`.
        if let Err(e) = store::set_build_state(&state.db, &task_group_id, store::ERROR).await {
            tracing::warn!(error = %e, "could not mark a failed build");
        }
        return fail(&gh, job, e.to_string()).await;
    }
    // Only once the new tasks exist, as Taskcluster-GitHub does.
    if rendered.auto_cancel_previous_checks {
        if let Err(e) = crate::cancel::cancel_previous(state, &build).await {
            let details = format!(
                "Taskcluster-GitHub attempted to cancel previously created task groups and failed:\n\n{e}"
            );
            comment(&gh, job, "Uh oh! Looks like an error!", &details).await?;
        }
    }
    if build.reporting == "statuses" {
        if let Err(e) = crate::report::post_pending(state, &build).await {
            tracing::warn!(error = %e, task_group_id, "posting the pending status failed");
        }
    }
    if job.kind == Kind::IssueComment {
        react(&gh, job, event, "+1").await;
    }
    Ok(Outcome::Created {
        task_group_id,
        task_ids: rendered.tasks.iter().map(|t| t.task_id.clone()).collect(),
        scopes,
    })
}

/// The job and event of a `/taskcluster` comment: the pull request's head commit and branch,
/// `event.pull_request` and `event.taskcluster_comment` set, as Taskcluster-GitHub does.
async fn comment_context(
    gh: &Installation<'_>,
    job: &Job,
    event: &Value,
) -> Result<(Job, Value), GhError> {
    let number = job.pull_number.unwrap_or_default();
    let pr = gh.pull_request(&job.owner, &job.repo, number).await?;
    let field = |p: &str| pr.pointer(p).and_then(Value::as_str).map(str::to_string);
    let mut job = job.clone();
    job.git_ref = field("/head/sha").unwrap_or_default();
    job.branch = field("/head/ref");
    let mut event = event.clone();
    let command = event
        .pointer("/comment/body")
        .and_then(Value::as_str)
        .and_then(super::taskcluster_command);
    event["pull_request"] = pr;
    event["taskcluster_comment"] = json!(command);
    Ok((job, event))
}

/// Comments run only when the default branch's file says `policy.allowComments: collaborators`
/// and the commenter is a collaborator; otherwise the comment is answered and nothing runs.
async fn comment_refusal(
    gh: &Installation<'_>,
    job: &Job,
    event: &Value,
) -> Result<Option<Outcome>, GhError> {
    let default_branch = gh.default_branch(&job.owner, &job.repo).await?;
    let Some(text) = gh
        .file_contents(&job.owner, &job.repo, FILE, &default_branch)
        .await?
    else {
        return Ok(Some(Outcome::NoConfig));
    };
    let allowed = serde_yaml_ng::from_str::<Value>(&text)
        .ok()
        .and_then(|doc| doc.pointer("/policy/allowComments").cloned())
        == Some(json!("collaborators"));
    let details = if !allowed {
        "The `policy.allowComments` configuration for this repository (in `.taskcluster.yml` \
         on the default branch) does not allow starting tasks from comments."
            .to_string()
    } else {
        let login = event
            .pointer("/comment/user/login")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if gh.is_collaborator(&job.owner, &job.repo, login).await? {
            return Ok(None);
        }
        format!("Cannot create tasks from comments. User \"{login}\" is not a collaborator.")
    };
    let summary = if allowed {
        "No Taskcluster jobs started for this pull request"
    } else {
        "No Taskcluster jobs started for comment"
    };
    comment(gh, job, summary, &details).await?;
    react(gh, job, event, "confused").await;
    Ok(Some(Outcome::Refused { commented: true }))
}

/// A reaction on the command's comment; it only informs, so failing to add it changes nothing.
async fn react(gh: &Installation<'_>, job: &Job, event: &Value, content: &str) {
    let Some(id) = event.pointer("/comment/id").and_then(Value::as_u64) else {
        return;
    };
    if let Err(e) = gh
        .react_to_comment(&job.owner, &job.repo, id, content)
        .await
    {
        tracing::warn!(error = %e, "reacting to a /taskcluster comment failed");
    }
}

fn build_row(job: &Job, task_group_id: &str, rendered: &tcyml::Rendered, delivery: &str) -> Build {
    let now = relyard_core::Timestamp::now();
    let reporting = if rendered.reporting.is_some() {
        "checks"
    } else {
        "statuses"
    };
    Build {
        task_group_id: task_group_id.to_string(),
        organization: job.owner.clone(),
        repository: job.repo.clone(),
        sha: job.git_ref.clone(),
        state: store::PENDING.to_string(),
        event_type: job.event_type.clone(),
        event_id: delivery.to_string(),
        installation_id: job.installation.and_then(|i| i64::try_from(i).ok()),
        pull_request_number: job.pull_number.and_then(|n| i64::try_from(n).ok()),
        // badge and latest look at pushes to a branch.
        branch: (job.event_type == "push")
            .then(|| job.branch.clone())
            .flatten(),
        reporting: reporting.to_string(),
        created: now,
        updated: now,
    }
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
