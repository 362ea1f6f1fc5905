//! A relyard server with the GitHub service configured (as `relyard serve --github-…` does),
//! the stand-in GitHub it talks to, the repository's roles, and helpers to deliver webhooks and
//! to resolve tasks through the queue API as a worker would (claimWork + report*).

use relyard::config::GitHubConfig;
use relyard_github::ghapi::GitHubAuth;
use relyard_github::signature;
use relyard_testing::TestServer;
use serde_json::{json, Value};

use super::fake_github::{FakeGitHub, TOKEN};

pub const SECRET: &str = "webhook secret";
pub const PUSH_SHA: &str = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
pub const PR_SHA: &str = "b7b9a4ac8a9f2a9bc2b8e0f6f5b2b1c3d4e5f607";
pub const ROLE_PREFIX: &str = "repo:github.com/relyard-ci/hello";
pub const TASK_QUEUE: &str = "proj-ci/ci";

/// Two tasks, `test` depending on `build`, on proj-ci/ci.
pub const TASKCLUSTER_YML: &str = r#"
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

/// continuationToken, limit, organization, repository, sha, pullRequest.
pub type BuildsQuery<'a> = (
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
);

pub struct Setup {
    pub tc: TestServer,
    pub gh: FakeGitHub,
    /// The GitHub settings the server runs with.
    pub github: GitHubConfig,
    pub api: String,
    pub http: reqwest::Client,
}

pub async fn setup() -> Setup {
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
    let mut github = GitHubConfig::new(GitHubAuth::Token(TOKEN.into()));
    github.api_url = gh_url.clone();
    github.webhook_secrets = vec!["an older secret".into(), SECRET.into()];
    let configured = github.clone();
    let tc = TestServer::start_with(|c| c.github = Some(configured)).await;
    let auth = taskcluster::Auth::new(tc.root_client()).expect("auth client");
    // The roles a repository's tasks get: enough to create tasks on proj-ci/ci, nothing more.
    for role in ["branch:main", "pull-request", "release:published", "*"] {
        let scopes = json!({"description": "CI tasks of relyard-ci/hello", "scopes": [
            "queue:create-task:highest:proj-ci/ci", "queue:create-task:project:none"]});
        auth.createRole(&format!("{ROLE_PREFIX}:{role}"), &scopes)
            .await
            .expect("create role");
    }
    let api = format!("{}/api/github/v1", tc.root_url);
    Setup {
        tc,
        gh,
        github,
        api,
        http: reqwest::Client::new(),
    }
}

pub fn fixture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("fixture JSON")
}

/// (taskGroupId, taskIds, scopes) of a `created` answer.
pub fn created(answer: &Value) -> (String, Vec<String>, Vec<String>) {
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

impl Setup {
    pub async fn deliver_as(
        &self,
        event: &str,
        delivery: &str,
        body: &Value,
        signature: Option<String>,
    ) -> (u16, Value) {
        let bytes = serde_json::to_vec(body).expect("serialize");
        let mut req = self
            .http
            .post(format!("{}/github", self.api))
            .header("content-type", "application/json")
            .header("x-github-event", event)
            .header("x-github-delivery", delivery);
        if let Some(sig) = signature {
            req = req.header("x-hub-signature-256", sig);
        }
        let resp = req.body(bytes).send().await.expect("deliver");
        let status = resp.status().as_u16();
        (status, resp.json().await.expect("JSON answer"))
    }

    pub async fn deliver(
        &self,
        event: &str,
        body: &Value,
        signature: Option<String>,
    ) -> (u16, Value) {
        self.deliver_as(
            event,
            "72d3162e-cc78-11e3-81ab-4c9367dc0958",
            body,
            signature,
        )
        .await
    }

    pub async fn deliver_signed(&self, event: &str, body: &Value) -> (u16, Value) {
        let sig = signature::sign(SECRET, &serde_json::to_vec(body).expect("serialize"));
        self.deliver(event, body, Some(sig)).await
    }

    pub async fn deliver_signed_as(
        &self,
        event: &str,
        delivery: &str,
        body: &Value,
    ) -> (u16, Value) {
        let sig = signature::sign(SECRET, &serde_json::to_vec(body).expect("serialize"));
        self.deliver_as(event, delivery, body, Some(sig)).await
    }

    /// Delivers the push fixture for commit `sha`, which must fail and be commented on once;
    /// returns that comment as (path, body).
    pub async fn push_failing_at(&self, sha: &str) -> (String, String) {
        let mut push = fixture("push.json");
        push["after"] = json!(sha);
        let (status, answer) = self.deliver_signed("push", &push).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["outcome"], "error-commented", "{answer}");
        let mut comments = self.gh.comments();
        assert_eq!(comments.len(), 1, "{comments:?}");
        comments.remove(0)
    }

    pub fn queue(&self) -> taskcluster::Queue {
        taskcluster::Queue::new(self.tc.root_client()).expect("queue client")
    }

    pub async fn task(&self, task_id: &str) -> Value {
        self.queue().task(task_id).await.expect("task exists")
    }

    /// Claims the one pending task of proj-ci/ci, which must be `task_id`; returns its run id.
    pub async fn claim(&self, task_id: &str) -> u64 {
        let claim = json!({"workerGroup": "tests", "workerId": "w1", "tasks": 1});
        let answer = self
            .queue()
            .claimWork(TASK_QUEUE, &claim)
            .await
            .expect("claimWork");
        let claimed = &answer["tasks"][0];
        assert_eq!(claimed["status"]["taskId"], task_id, "{answer}");
        claimed["runId"].as_u64().expect("runId")
    }

    pub async fn complete(&self, task_id: &str) {
        let run = self.claim(task_id).await.to_string();
        self.queue()
            .reportCompleted(task_id, &run)
            .await
            .expect("reportCompleted");
    }

    pub async fn fail(&self, task_id: &str) {
        let run = self.claim(task_id).await.to_string();
        self.queue()
            .reportFailed(task_id, &run)
            .await
            .expect("reportFailed");
    }

    /// The official client of the GitHub service, with the root client's credentials.
    pub fn github(&self) -> taskcluster::Github {
        taskcluster::Github::new(self.tc.root_client()).expect("github client")
    }

    /// `builds` through a signed URL: the official Rust client (v114) signs GET requests
    /// without their query, so Hawk (rightly) refuses its query-carrying calls.
    pub async fn builds(&self, query: BuildsQuery<'_>) -> (u16, Value) {
        let (token, limit, org, repo, sha, pr) = query;
        let url = self
            .github()
            .builds_signed_url(
                token,
                limit,
                org,
                repo,
                sha,
                pr,
                std::time::Duration::from_secs(60),
            )
            .expect("signed URL");
        let (status, _, body) = self.fetch(&url).await;
        (status, serde_json::from_str(&body).expect("JSON answer"))
    }

    /// GETs a URL (e.g. a signed one) without following redirects: (status, headers, body).
    pub async fn fetch(&self, url: &str) -> (u16, reqwest::header::HeaderMap, String) {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http client");
        let resp = http.get(url).send().await.expect("GET");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        (status, headers, resp.text().await.expect("body"))
    }
}
