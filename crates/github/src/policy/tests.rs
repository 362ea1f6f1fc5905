use std::collections::HashSet;
use std::convert::Infallible;

use serde_json::json;

use super::*;

struct Collaborators(HashSet<&'static str>);

#[async_trait]
impl CollaboratorCheck for Collaborators {
    type Error = Infallible;
    async fn is_collaborator(&self, _: &str, _: &str, login: &str) -> Result<bool, Infallible> {
        Ok(self.0.contains(login))
    }
}

fn pr(opener: &str, head: &str) -> serde_json::Value {
    json!({"pull_request": {"user": {"login": opener}, "head": {"user": {"login": head}}, "base": {"user": {"login": "org"}}}})
}

async fn decide(policy: &str, event: &serde_json::Value) -> PullRequestDecision {
    let check = Collaborators(["alice", "bob"].into_iter().collect());
    let policy = PullRequestPolicy::from_config(Some(policy));
    match decide_pull_request(policy, event, "org", "repo", &check).await {
        Ok(d) => d,
        Err(never) => match never {},
    }
}

#[tokio::test]
async fn policies_decide_as_tc_github() {
    use PullRequestDecision::*;
    let collaborator = pr("alice", "alice");
    let from_base = pr("alice", "org");
    let from_two = pr("alice", "bob");
    let outsider = pr("mallory", "mallory");
    let collaborator_from_fork = pr("alice", "mallory");
    for (policy, expected) in [
        ("public", [Trusted, Trusted, Trusted, Trusted, Trusted]),
        (
            "public_restricted",
            [Trusted, Trusted, Trusted, Untrusted, Untrusted],
        ),
        (
            "collaborators",
            [Trusted, Trusted, Trusted, Refused, Refused],
        ),
        (
            "collaborators_quiet",
            [Trusted, Trusted, Trusted, Quiet, Quiet],
        ),
        (
            "something-else",
            [Trusted, Trusted, Trusted, Refused, Refused],
        ),
    ] {
        let mut got = Vec::new();
        for e in [
            &collaborator,
            &from_base,
            &from_two,
            &outsider,
            &collaborator_from_fork,
        ] {
            got.push(decide(policy, e).await);
        }
        assert_eq!(got, expected, "{policy}");
    }
    assert_eq!(decide("collaborators", &json!({})).await, Refused);
}

#[test]
fn scopes_as_tc_github_computes_them() {
    let scopes = |t, e: serde_json::Value, route| repository_scopes(t, "org", "repo", &e, route);
    assert_eq!(
        scopes(
            TasksFor::Push,
            json!({"ref": "refs/heads/feature/x"}),
            "statuses"
        ),
        [
            "assume:repo:github.com/org/repo:branch:feature/x",
            "queue:route:statuses",
            "queue:scheduler-id:taskcluster-github"
        ]
    );
    assert_eq!(
        scopes(
            TasksFor::Push,
            json!({"ref": "refs/tags/v1.2.3"}),
            "statuses"
        )[0],
        "assume:repo:github.com/org/repo:tag:v1.2.3"
    );
    assert_eq!(
        scopes(TasksFor::PullRequest, json!({}), "checks")[..2],
        [
            "assume:repo:github.com/org/repo:pull-request",
            "queue:route:checks"
        ]
    );
    assert_eq!(
        scopes(TasksFor::IssueComment, json!({}), "statuses")[0],
        "assume:repo:github.com/org/repo:pull-request"
    );
    assert_eq!(
        scopes(TasksFor::PullRequestUntrusted, json!({}), "statuses")[0],
        "assume:repo:github.com/org/repo:pull-request-untrusted"
    );
    assert_eq!(
        scopes(TasksFor::Release, json!({}), "statuses")[0],
        "assume:repo:github.com/org/repo:release:published"
    );
    assert_eq!(
        scopes(
            TasksFor::Release,
            json!({"action": "prereleased"}),
            "statuses"
        )[0],
        "assume:repo:github.com/org/repo:release:prereleased"
    );
}
