//! GitHub's webhook end to end: documented payloads, signed and not, posted to
//! /api/github/v1/github of a real relyard server with the GitHub service configured, a
//! stand-in for GitHub's REST API serving `.taskcluster.yml`, and the queue getting the tasks.

mod common;

use common::setup::{created, fixture, setup, PR_SHA, PUSH_SHA, SECRET, TASKCLUSTER_YML};
use relyard_github::signature;
use serde_json::json;

#[tokio::test]
async fn the_official_client_pings_the_service() {
    let s = setup().await;
    // The client answers `Ok` only for a 2xx.
    s.github().ping().await.expect("GET /api/github/v1/ping");
}

#[tokio::test]
async fn signed_push_creates_the_graph_with_the_branch_role() {
    let s = setup().await;
    let (status, answer) = s.deliver_signed("push", &fixture("push.json")).await;
    assert_eq!(status, 200, "{answer}");
    let (group, ids, scopes) = created(&answer);
    assert_eq!(
        scopes,
        [
            "assume:repo:github.com/relyard-ci/hello:branch:main",
            "queue:route:statuses",
            "queue:scheduler-id:taskcluster-github",
        ]
    );
    assert_eq!(ids.len(), 2);
    let build = s.task(&ids[0]).await;
    assert_eq!(
        build["payload"]["command"],
        json!(["echo", "github-push", PUSH_SHA])
    );
    assert_eq!(build["schedulerId"], "taskcluster-github");
    assert_eq!(build["taskGroupId"], group);
    assert_eq!(build["routes"], json!(["statuses"]));
    assert_eq!(build["metadata"]["description"], "builds relyard-ci/hello");
    let test = s.task(&ids[1]).await;
    assert_eq!(test["dependencies"], json!([ids[0]]));
    assert!(s.gh.comments().is_empty(), "{:?}", s.gh.comments());
}

#[tokio::test]
async fn signed_pull_request_and_release_use_their_roles() {
    let s = setup().await;
    let (status, answer) = s
        .deliver_signed("pull_request", &fixture("pull_request.opened.json"))
        .await;
    assert_eq!(status, 200, "{answer}");
    let (_, ids, scopes) = created(&answer);
    assert_eq!(
        scopes[0],
        "assume:repo:github.com/relyard-ci/hello:pull-request"
    );
    assert_eq!(
        s.task(&ids[0]).await["payload"]["command"],
        json!(["echo", "github-pull-request", PR_SHA])
    );

    let (status, answer) = s
        .deliver_signed("release", &fixture("release.published.json"))
        .await;
    assert_eq!(status, 200, "{answer}");
    let (_, ids, scopes) = created(&answer);
    assert_eq!(
        scopes[0],
        "assume:repo:github.com/relyard-ci/hello:release:published"
    );
    assert_eq!(
        s.task(&ids[0]).await["payload"]["command"],
        json!(["echo", "github-release", "v1.0.0"])
    );
}

#[tokio::test]
async fn bad_or_missing_signatures_do_nothing() {
    let s = setup().await;
    let push = fixture("push.json");
    let bytes = serde_json::to_vec(&push).expect("serialize");
    let (status, answer) = s
        .deliver(
            "push",
            &push,
            Some(signature::sign("not the secret", &bytes)),
        )
        .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (403, Some("InsufficientScopes")),
        "{answer}"
    );
    let (status, answer) = s.deliver("push", &push, None).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("InputError")),
        "{answer}"
    );
    // Signed for another body.
    let mut altered = push.clone();
    altered["after"] = json!(PR_SHA);
    let (status, _) = s
        .deliver("push", &altered, Some(signature::sign(SECRET, &bytes)))
        .await;
    assert_eq!(status, 403);
    // GitHub was not even asked for the file, so nothing can have been created.
    assert!(s.gh.calls().is_empty(), "{:?}", s.gh.calls());
}

#[tokio::test]
async fn json_e_error_is_commented_naming_the_expression() {
    let s = setup().await;
    let sha = "1111111111111111111111111111111111111111";
    s.gh.set_file(
        sha,
        "version: 1\ntasks:\n  - payload:\n      command: ['${event.head_commit.no_such_field}']\n",
    );
    let comments = s.push_failing_at(sha).await;
    let (path, body) = &comments;
    assert_eq!(
        path,
        &format!("/repos/relyard-ci/hello/commits/{sha}/comments")
    );
    assert!(body.contains("JSON-e error"), "{body}");
    assert!(
        body.contains("${event.head_commit.no_such_field}"),
        "{body}"
    );
    assert!(body.contains("tasks[0].payload.command[0]"), "{body}");
}

#[tokio::test]
async fn tasks_get_only_the_repository_roles_scopes() {
    let s = setup().await;
    let sha = "2222222222222222222222222222222222222222";
    // The root client creating it has `*`; the branch role has no secrets scope.
    let yml = TASKCLUSTER_YML.replace(
        "payload: {command: [echo, test]}",
        "payload: {}\n      scopes: ['secrets:get:deploy-key']",
    );
    s.gh.set_file(sha, &yml);
    let comments = s.push_failing_at(sha).await;
    let body = &comments.1;
    assert!(
        body.contains("assume:repo:github.com/relyard-ci/hello:branch:main"),
        "{body}"
    );
    assert!(
        body.contains("InsufficientScopes") || body.contains("secrets:get:deploy-key"),
        "{body}"
    );
}

#[tokio::test]
async fn pull_requests_from_outsiders_are_refused_with_a_comment() {
    let s = setup().await;
    let mut pr = fixture("pull_request.opened.json");
    pr["pull_request"]["user"]["login"] = json!("mallory");
    pr["pull_request"]["head"]["user"]["login"] = json!("mallory");
    let (status, answer) = s.deliver_signed("pull_request", &pr).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, json!({"outcome": "refused", "commented": true}));
    let comments = s.gh.comments();
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].0, "/repos/relyard-ci/hello/issues/7/comments");
    // A closed pull request is not CI's business.
    pr["action"] = json!("closed");
    let (status, answer) = s.deliver_signed("pull_request", &pr).await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("skipped")));
    let (status, _) = s
        .deliver_signed("ping", &json!({"zen": "Keep it logically awesome."}))
        .await;
    assert_eq!(status, 200);
}

const COMMENT_YML: &str = r#"
version: 1
policy:
  pullRequests: collaborators
  allowComments: collaborators
tasks:
  - taskId: {$eval: as_slugid("cmd")}
    provisionerId: proj-ci
    workerType: ci
    deadline: {$fromNow: '1 hour'}
    payload:
      command: [echo, "${tasks_for}", "${event.taskcluster_comment}", "${event.pull_request.head.sha}"]
    metadata: {name: cmd, description: runs a command, owner: ci@example.com, source: "${event.repository.html_url}"}
"#;

fn reactions(s: &common::setup::Setup) -> Vec<String> {
    s.gh.calls()
        .into_iter()
        .filter(|c| c.path.ends_with("/reactions"))
        .map(|c| c.body["content"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn a_collaborators_taskcluster_comment_runs_the_pull_requests_tasks() {
    let s = setup().await;
    s.gh.set_file("main", COMMENT_YML);
    s.gh.set_file(PR_SHA, COMMENT_YML);
    let comment = fixture("issue_comment.created.json");
    let (status, answer) = s.deliver_signed("issue_comment", &comment).await;
    assert_eq!(status, 200, "{answer}");
    let (_, ids, scopes) = created(&answer);
    assert_eq!(
        scopes[0],
        "assume:repo:github.com/relyard-ci/hello:pull-request"
    );
    assert_eq!(
        s.task(&ids[0]).await["payload"]["command"],
        json!(["echo", "github-issue-comment", "run-all", PR_SHA])
    );
    assert_eq!(reactions(&s), ["+1"]);

    // A comment without a command, or on a closed pull request, is not CI's business.
    let mut chat = comment.clone();
    chat["comment"]["body"] = json!("thanks! /taskcluster is great");
    let (_, answer) = s.deliver_signed("issue_comment", &chat).await;
    assert_eq!(answer["outcome"], "skipped", "{answer}");
    let mut closed = comment.clone();
    closed["issue"]["state"] = json!("closed");
    let (_, answer) = s.deliver_signed("issue_comment", &closed).await;
    assert_eq!(answer["outcome"], "skipped", "{answer}");
}

#[tokio::test]
async fn taskcluster_comments_need_allow_comments_and_a_collaborator() {
    let s = setup().await;
    // The default branch's file does not allow comments.
    s.gh.set_file(PR_SHA, COMMENT_YML);
    let comment = fixture("issue_comment.created.json");
    let (_, answer) = s.deliver_signed("issue_comment", &comment).await;
    assert_eq!(answer, json!({"outcome": "refused", "commented": true}));
    let comments = s.gh.comments();
    assert_eq!(comments[0].0, "/repos/relyard-ci/hello/issues/7/comments");
    assert!(comments[0].1.contains("allowComments"), "{comments:?}");
    // Allowed, but the commenter is not a collaborator.
    s.gh.set_file("main", COMMENT_YML);
    let mut outsider = comment.clone();
    outsider["comment"]["user"]["login"] = json!("mallory");
    let (_, answer) = s.deliver_signed("issue_comment", &outsider).await;
    assert_eq!(answer, json!({"outcome": "refused", "commented": true}));
    let comments = s.gh.comments();
    assert!(
        comments[1].1.contains("\"mallory\" is not a collaborator"),
        "{comments:?}"
    );
    assert_eq!(reactions(&s), ["confused", "confused"]);
}
