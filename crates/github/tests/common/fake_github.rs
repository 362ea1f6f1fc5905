//! A stand-in for GitHub's REST API: serves `.taskcluster.yml` by commit, answers collaborator,
//! repository and pull request questions, keeps check runs, and records every call (statuses,
//! check runs, comments too), waking [`FakeGitHub::wait_for`] on each one.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::{
    extract::{Path, Query, State},
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
    routing::{get, patch, post},
    Json, Router,
};
use base64::Engine;
use serde_json::{json, Value};

pub const TOKEN: &str = "test-token";

#[derive(Debug, Clone)]
pub struct Call {
    pub method: Method,
    pub path: String,
    pub body: Value,
}

#[derive(Default)]
pub struct Repo {
    /// `.taskcluster.yml` by ref (commit sha or branch).
    pub files: HashMap<String, String>,
    pub collaborators: HashSet<String>,
}

#[derive(Clone, Default)]
pub struct FakeGitHub {
    pub repo: Arc<Mutex<Repo>>,
    pub calls: Arc<Mutex<Vec<Call>>>,
    /// Check runs by id: the creation body with every update merged in.
    pub check_runs: Arc<Mutex<HashMap<i64, Value>>>,
    next_id: Arc<AtomicI64>,
    recorded: Arc<tokio::sync::Notify>,
}

/// How long [`FakeGitHub::wait_for`] waits before failing the test (a bound, not a delay).
const WAIT_LIMIT: Duration = Duration::from_secs(60);

impl FakeGitHub {
    pub async fn start(self) -> String {
        let app = Router::new()
            .route("/repos/{owner}/{repo}", get(repository))
            .route("/repos/{owner}/{repo}/contents/{*path}", get(contents))
            .route(
                "/repos/{owner}/{repo}/collaborators/{login}",
                get(collaborator),
            )
            .route("/repos/{owner}/{repo}/statuses/{sha}", post(created))
            .route("/repos/{owner}/{repo}/check-runs", post(create_check_run))
            .route(
                "/repos/{owner}/{repo}/check-runs/{id}",
                patch(update_check_run),
            )
            .route("/repos/{owner}/{repo}/pulls/{number}", get(pull_request))
            .route(
                "/repos/{owner}/{repo}/issues/comments/{id}/reactions",
                post(created),
            )
            .route(
                "/repos/{owner}/{repo}/commits/{sha}/comments",
                post(created),
            )
            .route(
                "/repos/{owner}/{repo}/issues/{number}/comments",
                post(created),
            )
            .layer(axum::middleware::from_fn_with_state(self.clone(), record))
            .with_state(self);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    pub fn set_file(&self, git_ref: &str, yaml: &str) {
        self.repo
            .lock()
            .expect("lock")
            .files
            .insert(git_ref.into(), yaml.into());
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("lock").clone()
    }

    /// Waits until `found` finds something in the calls so far; woken by each recorded call.
    pub async fn wait_for<T>(
        &self,
        what: &str,
        mut found: impl FnMut(&FakeGitHub) -> Option<T>,
    ) -> T {
        let waited = tokio::time::timeout(WAIT_LIMIT, async {
            loop {
                let recorded = self.recorded.notified();
                tokio::pin!(recorded);
                recorded.as_mut().enable();
                if let Some(t) = found(self) {
                    return t;
                }
                recorded.await;
            }
        })
        .await;
        match waited {
            Ok(t) => t,
            Err(_) => panic!("GitHub never saw {what}; calls: {:#?}", self.calls()),
        }
    }

    /// The commit statuses posted, as (sha, body).
    pub fn statuses(&self) -> Vec<(String, Value)> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == Method::POST && c.path.contains("/statuses/"))
            .map(|c| {
                (
                    c.path.rsplit('/').next().unwrap_or_default().to_string(),
                    c.body,
                )
            })
            .collect()
    }

    /// Check runs as they stand, oldest first.
    pub fn check_runs(&self) -> Vec<(i64, Value)> {
        let mut runs: Vec<(i64, Value)> = self
            .check_runs
            .lock()
            .expect("lock")
            .iter()
            .map(|(id, v)| (*id, v.clone()))
            .collect();
        runs.sort_by_key(|(id, _)| *id);
        runs
    }

    /// The check run of the task named `name`, if created.
    pub fn check_run(&self, name: &str) -> Option<Value> {
        self.check_runs()
            .into_iter()
            .map(|(_, v)| v)
            .find(|v| v["name"] == name)
    }

    /// The comments posted (commit and issue comments), as (path, body).
    pub fn comments(&self) -> Vec<(String, String)> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == Method::POST && c.path.ends_with("/comments"))
            .map(|c| {
                (
                    c.path,
                    c.body["body"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }
}

async fn record(
    State(gh): State<FakeGitHub>,
    headers: HeaderMap,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("token {TOKEN}"))
    {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Bad credentials"})),
        )
            .into_response();
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let uri: &Uri = &parts.uri;
    let call = Call {
        method: parts.method.clone(),
        path: uri.path().to_string(),
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    };
    let response = next
        .run(axum::extract::Request::from_parts(
            parts,
            axum::body::Body::from(bytes),
        ))
        .await;
    // Recorded once handled, so a waiter woken by it also sees its effect (e.g. a check run).
    gh.calls.lock().expect("lock").push(call);
    gh.recorded.notify_waiters();
    response
}

async fn create_check_run(
    State(gh): State<FakeGitHub>,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let id = gh.next_id.fetch_add(1, Ordering::SeqCst) + 1;
    gh.check_runs.lock().expect("lock").insert(id, body.clone());
    let mut answer = body;
    answer["id"] = json!(id);
    answer["check_suite"] = json!({"id": 1});
    (StatusCode::CREATED, Json(answer))
}

async fn update_check_run(
    State(gh): State<FakeGitHub>,
    Path((_, _, id)): Path<(String, String, i64)>,
    Json(changes): Json<Value>,
) -> Response {
    let mut runs = gh.check_runs.lock().expect("lock");
    let Some(run) = runs.get_mut(&id) else {
        return (StatusCode::NOT_FOUND, Json(json!({"message": "Not Found"}))).into_response();
    };
    if let (Some(run), Some(changes)) = (run.as_object_mut(), changes.as_object()) {
        for (k, v) in changes {
            run.insert(k.clone(), v.clone());
        }
    }
    Json(run.clone()).into_response()
}

/// The pull request `/taskcluster` comments are made on: the opened fixture's.
async fn pull_request(Path((_, _, number)): Path<(String, String, u64)>) -> Json<Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pull_request.opened.json");
    let event: Value =
        serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("fixture JSON");
    let mut pr = event["pull_request"].clone();
    pr["number"] = json!(number);
    Json(pr)
}

async fn repository(Path((owner, repo)): Path<(String, String)>) -> Json<Value> {
    Json(json!({"name": repo, "full_name": format!("{owner}/{repo}"), "default_branch": "main"}))
}

async fn contents(
    State(gh): State<FakeGitHub>,
    Path((_, _, path)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let file = q
        .get("ref")
        .and_then(|r| gh.repo.lock().expect("lock").files.get(r).cloned());
    match file {
        Some(text) if path == ".taskcluster.yml" => {
            // GitHub wraps base64 content at 60 characters.
            let b64 = base64::engine::general_purpose::STANDARD.encode(text);
            let wrapped: Vec<String> = b64
                .as_bytes()
                .chunks(60)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect();
            Json(json!({"type": "file", "encoding": "base64", "name": path, "path": path, "content": wrapped.join("\n") + "\n"})).into_response()
        }
        _ => (StatusCode::NOT_FOUND, Json(json!({"message": "Not Found"}))).into_response(),
    }
}

async fn collaborator(
    State(gh): State<FakeGitHub>,
    Path((_, _, login)): Path<(String, String, String)>,
) -> StatusCode {
    if gh.repo.lock().expect("lock").collaborators.contains(&login) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}

async fn created(Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    (StatusCode::CREATED, Json(json!({"id": 1, "body": body})))
}
