//! GitHub's webhook end to end: documented payloads, signed and not, posted to the webhook
//! (nested at /api/github/v1 as the server will), a stand-in for GitHub's REST API serving
//! `.taskcluster.yml`, and a real relyard server whose queue gets the tasks.

mod common;

use std::sync::Arc;

use common::fake_github::{FakeGitHub, TOKEN};
use relyard_github::ghapi::{GitHubAuth, GitHubClient};
use relyard_github::signature;
use relyard_github::tasks::QueueTaskCreator;
use relyard_github::GitHubState;
use relyard_testing::TestServer;
use serde_json::{json, Value};

const SECRET: &str = "webhook secret";
const PUSH_SHA: &str = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
const PR_SHA: &str = "b7b9a4ac8a9f2a9bc2b8e0f6f5b2b1c3d4e5f607";
const ROLE_PREFIX: &str = "repo:github.com/relyard-ci/hello";

const TASKCLUSTER_YML: &str = r#"
version: 1
policy:
  pullRequests: collaborators
tasks:
  $let:
    sha:
      $if: 'tasks_for[:19] == "github-pull-request"'
      then: ${event.pull_request.head.sha}
      else:
        $if: 'tasks_for == "github-push"'
        then: ${event.after}
        else: ${event.release.tag_name}
  in:
    - taskId: {$eval: as_slugid("build")}
      provisionerId: proj-ci
      workerType: ci
      deadline: {$fromNow: '1 hour'}
      payload:
        command: [echo, "${tasks_for}", "${sha}"]
      metadata:
        name: build
        description: builds ${event.repository.full_name}
        owner: ci@example.com
        source: ${event.repository.html_url}
    - taskId: {$eval: as_slugid("test")}
      dependencies: [{$eval: as_slugid("build")}]
      provisionerId: proj-ci
      workerType: ci
      deadline: {$fromNow: '1 hour'}
      payload: {command: [echo, test]}
      metadata: {name: test, description: tests it, owner: ci@example.com, source: "${event.repository.html_url}"}
"#;

struct Setup {
    tc: TestServer,
    gh: FakeGitHub,
    webhook_url: String,
    http: reqwest::Client,
}

async fn setup() -> Setup {
    let tc = TestServer::start().await;
    let auth = taskcluster::Auth::new(tc.root_client()).expect("auth client");
    // The roles a repository's tasks get: enough to create tasks on proj-ci/ci, nothing more.
    for role in ["branch:main", "pull-request", "release:published"] {
        let scopes = json!({"description": "CI tasks of relyard-ci/hello", "scopes": [
            "queue:create-task:highest:proj-ci/ci", "queue:create-task:project:none"]});
        auth.createRole(&format!("{ROLE_PREFIX}:{role}"), &scopes)
            .await
            .expect("create role");
    }
    let gh = FakeGitHub::default();
    gh.set_file(PUSH_SHA, TASKCLUSTER_YML);
    gh.set_file(PR_SHA, TASKCLUSTER_YML);
    gh.set_file("main", TASKCLUSTER_YML);
    gh.repo
        .lock()
        .expect("lock")
        .collaborators
        .insert("alice".into());
    let gh_url = gh.clone().start().await;
    let state = GitHubState {
        webhook_secrets: vec!["an older secret".into(), SECRET.into()],
        root_url: tc.root_url.clone(),
        github: GitHubClient::new(&gh_url, GitHubAuth::Token(TOKEN.into())).expect("client"),
        tasks: Arc::new(QueueTaskCreator {
            root_url: tc.root_url.clone(),
            credentials: tc.root_credentials(),
        }),
    };
    let app = axum::Router::new().nest("/api/github/v1", relyard_github::router(Arc::new(state)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    Setup {
        tc,
        gh,
        webhook_url: format!("http://{addr}/api/github/v1/github"),
        http: reqwest::Client::new(),
    }
}

fn fixture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("fixture JSON")
}

impl Setup {
    async fn deliver(&self, event: &str, body: &Value, signature: Option<String>) -> (u16, Value) {
        let bytes = serde_json::to_vec(body).expect("serialize");
        let mut req = self
            .http
            .post(&self.webhook_url)
            .header("content-type", "application/json")
            .header("x-github-event", event)
            .header("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958");
        if let Some(sig) = signature {
            req = req.header("x-hub-signature-256", sig);
        }
        let resp = req.body(bytes).send().await.expect("deliver");
        let status = resp.status().as_u16();
        (status, resp.json().await.expect("JSON answer"))
    }

    async fn deliver_signed(&self, event: &str, body: &Value) -> (u16, Value) {
        let sig = signature::sign(SECRET, &serde_json::to_vec(body).expect("serialize"));
        self.deliver(event, body, Some(sig)).await
    }

    /// Delivers the push fixture for commit `sha`, which must fail and be commented on once;
    /// returns that comment as (path, body).
    async fn push_failing_at(&self, sha: &str) -> (String, String) {
        let mut push = fixture("push.json");
        push["after"] = json!(sha);
        let (status, answer) = self.deliver_signed("push", &push).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["outcome"], "error-commented", "{answer}");
        let mut comments = self.gh.comments();
        assert_eq!(comments.len(), 1, "{comments:?}");
        comments.remove(0)
    }

    async fn task(&self, task_id: &str) -> Value {
        let queue = taskcluster::Queue::new(self.tc.root_client()).expect("queue client");
        queue.task(task_id).await.expect("task exists")
    }
}

fn created(answer: &Value) -> (String, Vec<String>, Vec<String>) {
    assert_eq!(answer["outcome"], "created", "{answer}");
    let strings = |v: &Value| {
        v.as_array()
            .expect("list")
            .iter()
            .map(|s| s.as_str().expect("str").to_string())
            .collect()
    };
    (
        answer["taskGroupId"].as_str().expect("group").into(),
        strings(&answer["taskIds"]),
        strings(&answer["scopes"]),
    )
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
