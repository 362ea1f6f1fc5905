//! A small GitHub REST client: what the webhook needs (file contents at a ref, collaborators,
//! default branch) and what reporting back needs (statuses, check runs, comments).
//!
//! The base URL is `https://api.github.com` for github.com and `https://<host>/api/v3` for GitHub
//! Enterprise. Calls are made with a personal token, or as a GitHub App installation (one
//! installation covers every repository of an organization; the webhook names it).

mod app;

use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

pub use app::AppCredentials;

pub const GITHUB_COM_API: &str = "https://api.github.com";

#[derive(Debug, thiserror::Error)]
pub enum GhError {
    #[error("GitHub API request failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("GitHub API answered {status} to {what}: {body}")]
    Status {
        status: u16,
        what: String,
        body: String,
    },
    #[error("GitHub API answer to {what} could not be read: {detail}")]
    Decode { what: String, detail: String },
    #[error("GitHub App token could not be made: {0}")]
    AppToken(String),
    #[error("GitHub App calls need an installation id (the webhook event names none)")]
    NoInstallation,
}

/// How calls are authenticated.
#[derive(Debug, Clone)]
pub enum GitHubAuth {
    /// A personal (or fine-grained) access token.
    Token(String),
    /// A GitHub App: installation tokens are made from its private key and cached.
    App(AppCredentials),
}

#[derive(Debug)]
pub struct GitHubClient {
    http: reqwest::Client,
    base_url: String,
    auth: GitHubAuth,
    tokens: app::TokenCache,
}

/// The client acting for one App installation (or with the personal token).
#[derive(Debug, Clone, Copy)]
pub struct Installation<'a> {
    client: &'a GitHubClient,
    id: Option<u64>,
}

impl GitHubClient {
    pub fn new(base_url: &str, auth: GitHubAuth) -> Result<GitHubClient, GhError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("relyard-github/", env!("CARGO_PKG_VERSION")))
            .timeout(std::time::Duration::from_secs(30))
            .build()?;
        Ok(GitHubClient {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            auth,
            tokens: app::TokenCache::default(),
        })
    }

    /// Calls as the installation `id` (from the event's `installation.id`); ignored with a token.
    pub fn installation(&self, id: Option<u64>) -> Installation<'_> {
        Installation { client: self, id }
    }

    async fn authorization(&self, installation: Option<u64>) -> Result<String, GhError> {
        match &self.auth {
            GitHubAuth::Token(token) => Ok(format!("token {token}")),
            GitHubAuth::App(app) => {
                let id = installation.ok_or(GhError::NoInstallation)?;
                let token = self
                    .tokens
                    .get_or_make(id, || {
                        app.installation_token(&self.http, &self.base_url, id)
                    })
                    .await?;
                Ok(format!("token {token}"))
            }
        }
    }
}

impl Installation<'_> {
    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> Result<(StatusCode, Value), GhError> {
        let c = self.client;
        let url = reqwest::Url::parse_with_params(&format!("{}{path}", c.base_url), query)
            .map_err(|e| GhError::Decode {
                what: format!("{method} {path}"),
                detail: format!("bad URL: {e}"),
            })?;
        let mut req = c
            .http
            .request(method.clone(), url)
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28")
            .header("authorization", c.authorization(self.id).await?);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let text = resp.text().await?;
        let value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok((status, value))
    }

    /// A call whose every non-2xx answer is an error.
    async fn expect_ok(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, GhError> {
        let what = format!("{method} {path}");
        let (status, value) = self.call(method, path, &[], body).await?;
        if status.is_success() {
            Ok(value)
        } else {
            Err(GhError::Status {
                status: status.as_u16(),
                what,
                body: value.to_string(),
            })
        }
    }

    /// A file's text at `git_ref`; `None` when there is no such file.
    pub async fn file_contents(
        &self,
        owner: &str,
        repo: &str,
        path: &str,
        git_ref: &str,
    ) -> Result<Option<String>, GhError> {
        let api_path = format!("/repos/{owner}/{repo}/contents/{path}");
        let what = format!("GET {api_path}?ref={git_ref}");
        let (status, value) = self
            .call(Method::GET, &api_path, &[("ref", git_ref)], None)
            .await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(GhError::Status {
                status: status.as_u16(),
                what,
                body: value.to_string(),
            });
        }
        let decode = |detail: String| GhError::Decode {
            what: what.clone(),
            detail,
        };
        let encoded = value
            .get("content")
            .and_then(Value::as_str)
            .ok_or_else(|| decode("no content (is it a directory?)".into()))?;
        // GitHub wraps the base64 text in lines.
        let compact: String = encoded
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|e| decode(e.to_string()))?;
        String::from_utf8(bytes)
            .map(Some)
            .map_err(|e| decode(e.to_string()))
    }

    pub async fn default_branch(&self, owner: &str, repo: &str) -> Result<String, GhError> {
        let path = format!("/repos/{owner}/{repo}");
        let value = self.expect_ok(Method::GET, &path, None).await?;
        value
            .get("default_branch")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or(GhError::Decode {
                what: format!("GET {path}"),
                detail: "no default_branch".into(),
            })
    }

    /// A pull request (GitHub's pull request object: `head.sha`, `head.ref`, `user`, ...).
    pub async fn pull_request(
        &self,
        owner: &str,
        repo: &str,
        number: u64,
    ) -> Result<Value, GhError> {
        let path = format!("/repos/{owner}/{repo}/pulls/{number}");
        self.expect_ok(Method::GET, &path, None).await
    }

    /// Reacts to an issue comment (`+1`, `confused`, ...).
    pub async fn react_to_comment(
        &self,
        owner: &str,
        repo: &str,
        comment_id: u64,
        content: &str,
    ) -> Result<(), GhError> {
        let path = format!("/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions");
        self.expect_ok(Method::POST, &path, Some(json!({ "content": content })))
            .await?;
        Ok(())
    }

    /// 204 → a collaborator; 404 → not one.
    pub async fn is_collaborator(
        &self,
        owner: &str,
        repo: &str,
        login: &str,
    ) -> Result<bool, GhError> {
        let path = format!("/repos/{owner}/{repo}/collaborators/{login}");
        let (status, value) = self.call(Method::GET, &path, &[], None).await?;
        match status {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            s => Err(GhError::Status {
                status: s.as_u16(),
                what: format!("GET {path}"),
                body: value.to_string(),
            }),
        }
    }

    /// `state` is `error`, `failure`, `pending` or `success`.
    pub async fn create_status(
        &self,
        owner: &str,
        repo: &str,
        sha: &str,
        status: &CommitStatus,
    ) -> Result<(), GhError> {
        let body = json!({
            "state": status.state, "target_url": status.target_url,
            "description": status.description, "context": status.context,
        });
        self.expect_ok(
            Method::POST,
            &format!("/repos/{owner}/{repo}/statuses/{sha}"),
            Some(body),
        )
        .await?;
        Ok(())
    }

    /// `check_run` is GitHub's check run body (`name`, `head_sha`, `status`, `conclusion`, ...).
    pub async fn create_check_run(
        &self,
        owner: &str,
        repo: &str,
        check_run: Value,
    ) -> Result<Value, GhError> {
        self.expect_ok(
            Method::POST,
            &format!("/repos/{owner}/{repo}/check-runs"),
            Some(check_run),
        )
        .await
    }

    /// Changes a check run (`status`, `conclusion`, `output`, ...).
    pub async fn update_check_run(
        &self,
        owner: &str,
        repo: &str,
        check_run_id: i64,
        changes: Value,
    ) -> Result<Value, GhError> {
        self.expect_ok(
            Method::PATCH,
            &format!("/repos/{owner}/{repo}/check-runs/{check_run_id}"),
            Some(changes),
        )
        .await
    }

    pub async fn create_commit_comment(
        &self,
        owner: &str,
        repo: &str,
        sha: &str,
        body: &str,
    ) -> Result<(), GhError> {
        let path = format!("/repos/{owner}/{repo}/commits/{sha}/comments");
        self.expect_ok(Method::POST, &path, Some(json!({ "body": body })))
            .await?;
        Ok(())
    }

    pub async fn create_issue_comment(
        &self,
        owner: &str,
        repo: &str,
        number: u64,
        body: &str,
    ) -> Result<(), GhError> {
        let path = format!("/repos/{owner}/{repo}/issues/{number}/comments");
        self.expect_ok(Method::POST, &path, Some(json!({ "body": body })))
            .await?;
        Ok(())
    }
}

/// One commit status.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CommitStatus {
    pub state: String,
    pub target_url: Option<String>,
    pub description: Option<String>,
    pub context: String,
}
