//! A stand-in for GitHub's REST API: serves `.taskcluster.yml` by commit, answers collaborator
//! and repository questions, and records every call (statuses, check runs, comments too).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::{
    extract::{Path, Query, State},
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
    routing::{get, post},
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
}

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
            .route("/repos/{owner}/{repo}/check-runs", post(created))
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
    gh.calls.lock().expect("lock").push(Call {
        method: parts.method.clone(),
        path: uri.path().to_string(),
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    });
    next.run(axum::extract::Request::from_parts(
        parts,
        axum::body::Body::from(bytes),
    ))
    .await
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
