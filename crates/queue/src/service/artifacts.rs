//! Artifacts: createArtifact, getArtifact / getLatestArtifact, artifact / latestArtifact,
//! listArtifacts / listLatestArtifacts and artifactInfo, with Taskcluster's rules
//! (`services/queue/src/artifacts.js`):
//!
//! - artifacts are created while the run is running, or up to 25 minutes after it was resolved
//!   `exception` (so a worker can still upload logs after reporting the exception);
//! - `expires` may be at most the task's and at least 15 minutes ago;
//! - repeating a createArtifact is allowed when nothing but `expires` (later only) changes, a
//!   `reference` may change its url or become a `link`; anything else is a 409;
//! - `link` artifacts resolve to their target in the same run, each name on the way needing
//!   `queue:get-artifact:<name>`; a cycle is a 400;
//! - artifact-created is published (in the creating transaction) for every storage type but
//!   `s3`, whose message schema excludes it.

use relyard_auth::scopes::ScopeExpr;
use relyard_core::error::ApiResult;
use relyard_core::{paging, ApiError, ErrorCode, Timestamp};
use serde::Deserialize;
use serde_json::{json, Value};

use super::no_task;
use super::read::Page;
use crate::blobs::{validate_key, BlobInfo};
use crate::events::artifact_created;
use crate::model::RunState;
use crate::store::artifacts::{self as rows, blob_key, Artifact};
use crate::store::tasks;
use crate::validate::parse_body;
use crate::Queue;

/// Longest artifact name (Taskcluster's artifact-response schema).
pub const MAX_NAME_LEN: usize = 1024;
/// How long a `putUrl` stays valid (Taskcluster: 45 minutes, plus 10 s for clock drift).
const PUT_URL_TTL_MS: i64 = 45 * 60 * 1000;
const PUT_URL_DRIFT_MS: i64 = 10 * 1000;
/// How long a download URL of an `s3` artifact stays valid.
const GET_URL_TTL_MS: i64 = 30 * 60 * 1000;
/// How long after a run was resolved `exception` artifacts may still be created.
const EXCEPTION_GRACE_MS: i64 = 25 * 60 * 1000;
/// How far in the past an artifact's `expires` may be.
const EXPIRES_DRIFT_MS: i64 = 15 * 60 * 1000;
/// contentType used when a request gives none (links and errors), as Taskcluster does.
const DEFAULT_CONTENT_TYPE: &str = "application/binary";

/// The reasons an `error` artifact may give.
pub const ERROR_REASONS: [&str; 4] = [
    "file-missing-on-worker",
    "invalid-resource-on-worker",
    "too-large-file-on-worker",
    "file-not-readable-on-worker",
];

/// A createArtifact body (`post-artifact-request.yml`), by storage type.
#[derive(Debug, Clone, PartialEq)]
pub enum ArtifactRequest {
    S3 {
        expires: Timestamp,
        content_type: String,
        content_length: Option<i64>,
    },
    Reference {
        expires: Timestamp,
        content_type: String,
        url: String,
    },
    Link {
        expires: Timestamp,
        content_type: Option<String>,
        artifact: String,
    },
    Error {
        expires: Timestamp,
        reason: String,
        message: String,
    },
}

/// Every field any storage type has; which are allowed is checked per type.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawRequest {
    storage_type: Option<String>,
    expires: Option<Timestamp>,
    content_type: Option<String>,
    content_length: Option<i64>,
    url: Option<String>,
    artifact: Option<String>,
    reason: Option<String>,
    message: Option<String>,
}

fn invalid(msg: impl Into<String>) -> ApiError {
    ApiError::validation(msg)
}

impl ArtifactRequest {
    /// Parses and checks a createArtifact body against Taskcluster's schema (400 naming the field).
    pub fn parse(body: &[u8]) -> ApiResult<ArtifactRequest> {
        let raw: RawRequest = parse_body(body)?;
        let storage_type = raw
            .storage_type
            .clone()
            .ok_or_else(|| invalid("`storageType` is required"))?;
        let allowed: &[&str] = match storage_type.as_str() {
            "s3" => &["contentType", "contentLength"],
            "reference" => &["contentType", "url"],
            "link" => &["contentType", "artifact"],
            "error" => &["reason", "message"],
            "object" => {
                return Err(ApiError::input(
                    "storageType `object` needs Taskcluster's object service, which this deployment does not \
                     have; use `s3`",
                ))
            }
            other => {
                return Err(invalid(format!(
                    "`storageType` must be one of s3, reference, link, error; got {other:?}"
                )))
            }
        };
        let present = [
            ("contentType", raw.content_type.is_some()),
            ("contentLength", raw.content_length.is_some()),
            ("url", raw.url.is_some()),
            ("artifact", raw.artifact.is_some()),
            ("reason", raw.reason.is_some()),
            ("message", raw.message.is_some()),
        ];
        for (field, is_set) in present {
            if is_set && !allowed.contains(&field) {
                return Err(invalid(format!(
                    "`{field}` is not allowed for storageType `{storage_type}`"
                )));
            }
        }
        let expires = raw
            .expires
            .ok_or_else(|| invalid("`expires` is required"))?;
        if let Some(ct) = &raw.content_type {
            if ct.chars().count() > 255 {
                return Err(invalid("`contentType` is longer than 255 characters"));
            }
        }
        let required = |field: &str, v: Option<String>| {
            v.ok_or_else(|| invalid(format!("`{field}` is required")))
        };
        Ok(match storage_type.as_str() {
            "s3" => {
                if raw.content_length.is_some_and(|n| n < 0) {
                    return Err(invalid("`contentLength` must be at least 0"));
                }
                ArtifactRequest::S3 {
                    expires,
                    content_type: required("contentType", raw.content_type)?,
                    content_length: raw.content_length,
                }
            }
            "reference" => {
                let url = required("url", raw.url)?;
                if !is_uri(&url) {
                    return Err(invalid(format!("`url` is not an absolute URI: {url:?}")));
                }
                ArtifactRequest::Reference {
                    expires,
                    content_type: required("contentType", raw.content_type)?,
                    url,
                }
            }
            "link" => ArtifactRequest::Link {
                expires,
                content_type: raw.content_type,
                artifact: required("artifact", raw.artifact)?,
            },
            _ => {
                let reason = required("reason", raw.reason)?;
                if !ERROR_REASONS.contains(&reason.as_str()) {
                    return Err(invalid(format!(
                        "`reason` must be one of {}; got {reason:?}",
                        ERROR_REASONS.join(", ")
                    )));
                }
                let message = required("message", raw.message)?;
                if message.chars().count() > 4096 {
                    return Err(invalid("`message` is longer than 4096 characters"));
                }
                ArtifactRequest::Error {
                    expires,
                    reason,
                    message,
                }
            }
        })
    }

    pub fn storage_type(&self) -> &'static str {
        match self {
            ArtifactRequest::S3 { .. } => "s3",
            ArtifactRequest::Reference { .. } => "reference",
            ArtifactRequest::Link { .. } => "link",
            ArtifactRequest::Error { .. } => "error",
        }
    }

    pub fn expires(&self) -> Timestamp {
        match self {
            ArtifactRequest::S3 { expires, .. }
            | ArtifactRequest::Reference { expires, .. }
            | ArtifactRequest::Link { expires, .. }
            | ArtifactRequest::Error { expires, .. } => *expires,
        }
    }

    fn content_type(&self) -> &str {
        match self {
            ArtifactRequest::S3 { content_type, .. }
            | ArtifactRequest::Reference { content_type, .. } => content_type,
            ArtifactRequest::Link { content_type, .. } => {
                content_type.as_deref().unwrap_or(DEFAULT_CONTENT_TYPE)
            }
            ArtifactRequest::Error { .. } => DEFAULT_CONTENT_TYPE,
        }
    }

    fn details(&self) -> Value {
        match self {
            ArtifactRequest::S3 { .. } => json!({}),
            ArtifactRequest::Reference { url, .. } => json!({ "url": url }),
            ArtifactRequest::Link { artifact, .. } => json!({ "artifact": artifact }),
            ArtifactRequest::Error {
                reason, message, ..
            } => json!({ "reason": reason, "message": message }),
        }
    }
}

/// `format: uri` of the schemas: a scheme, then no whitespace or control characters.
fn is_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
        && !rest.is_empty()
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Checks an artifact name from a route: printable ASCII (Taskcluster's route pattern), at most
/// [`MAX_NAME_LEN`] characters.
pub fn validate_name(name: &str) -> ApiResult<()> {
    if name.is_empty() || !name.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return Err(ApiError::invalid_arguments(format!(
            "artifact name {name:?} must be non-empty printable ASCII"
        )));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(ApiError::invalid_arguments(format!(
            "artifact name is longer than {MAX_NAME_LEN} characters"
        )));
    }
    Ok(())
}

/// Where getArtifact sends the caller, or the error artifact it answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtifactContent {
    /// `s3` (a signed download URL) and `reference` (its url): 303 to `url`.
    Url { storage_type: String, url: String },
    /// `error`: 424 with `{reason, message}`.
    Error { reason: String, message: String },
}

impl ArtifactContent {
    pub fn storage_type(&self) -> &str {
        match self {
            ArtifactContent::Url { storage_type, .. } => storage_type,
            ArtifactContent::Error { .. } => "error",
        }
    }

    /// The artifact / latestArtifact body (`artifact-content-response.yml`).
    pub fn to_json(&self) -> Value {
        match self {
            ArtifactContent::Url { storage_type, url } => {
                json!({ "storageType": storage_type, "url": url })
            }
            ArtifactContent::Error { reason, message } => {
                json!({ "storageType": "error", "reason": reason, "message": message })
            }
        }
    }
}

fn artifact_not_found() -> ApiError {
    ApiError::not_found("Artifact not found")
}

impl Queue {
    /// `queue:create-artifact:<taskId>/<runId>`
    pub fn create_artifact_scopes(task_id: &str, run_id: u32) -> ScopeExpr {
        ScopeExpr::scope(format!("queue:create-artifact:{task_id}/{run_id}"))
    }

    /// `AllOf[queue:get-artifact:<name> for each name]` (the names a link chain passed through).
    pub fn get_artifact_scopes(names: &[String]) -> ScopeExpr {
        ScopeExpr::all_of(
            names
                .iter()
                .map(|n| ScopeExpr::scope(format!("queue:get-artifact:{n}"))),
        )
    }

    /// `queue:list-artifacts:<taskId>:<runId>`, or `queue:list-artifacts:<taskId>` for the
    /// latest run.
    pub fn list_artifacts_scopes(task_id: &str, run_id: Option<u32>) -> ScopeExpr {
        match run_id {
            Some(r) => ScopeExpr::scope(format!("queue:list-artifacts:{task_id}:{r}")),
            None => ScopeExpr::scope(format!("queue:list-artifacts:{task_id}")),
        }
    }

    /// createArtifact: records the artifact (publishing artifact-created in the same transaction
    /// unless it is `s3`) and answers Taskcluster's post-artifact-response: `{storageType:'s3',
    /// putUrl, expires, contentType}` for `s3`, `{storageType}` for the others.
    pub async fn create_artifact(
        &self,
        task_id: &str,
        run_id: u32,
        name: &str,
        req: &ArtifactRequest,
    ) -> ApiResult<Value> {
        validate_name(name)?;
        let key = blob_key(task_id, run_id, name);
        if matches!(req, ArtifactRequest::S3 { .. }) {
            validate_key(&key).map_err(|e| {
                ApiError::input(format!("artifact name {name:?} cannot be stored: {e}"))
            })?;
        }
        let now = Timestamp::now();
        let expires = req.expires();
        if expires < now.plus_ms(-EXPIRES_DRIFT_MS) {
            return Err(ApiError::input("Expires must be in the future"));
        }

        let mut w = self.begin().await?;
        let task = tasks::get(&mut *w.tx, task_id, w.lock)
            .await?
            .ok_or_else(|| ApiError::input(format!("Task `{task_id}` not found")))?;
        let run = task.runs.get(run_id as usize).cloned().ok_or_else(|| {
            ApiError::input(format!("Run {run_id} not found on task `{task_id}`"))
        })?;
        if run.worker_group.is_none() || run.worker_id.is_none() {
            return Err(ApiError::input(
                "Run was not claimed by a worker and so no artifacts can exist",
            ));
        }
        if expires > task.expires {
            return Err(ApiError::input(format!(
                "Artifact expires ({expires}) after the task expiration {} (task.expires < expires) - this is not \
                 allowed, artifacts may not expire after the task they belong to expires",
                task.expires
            )));
        }
        if run.state != RunState::Running {
            let in_grace = run.state == RunState::Exception
                && run
                    .resolved
                    .is_some_and(|r| r > now.plus_ms(-EXCEPTION_GRACE_MS));
            if !in_grace {
                return Err(ApiError::conflict(format!(
                    "Artifacts cannot be created for a task after it is resolved, unless it is resolved 'exception', \
                     and even in this case only up to 25 min past resolution. This to ensure that artifacts have \
                     been uploaded before a task is 'completed' and output is consumed by a dependent task\n\n\
                     Task status: {}",
                    serde_json::to_string(&task.status()).unwrap_or_default()
                )));
            }
        }

        let wanted = Artifact {
            task_id: task_id.to_string(),
            run_id,
            name: name.to_string(),
            storage_type: req.storage_type().to_string(),
            content_type: req.content_type().to_string(),
            expires,
            details: req.details(),
            reported_length: match req {
                ArtifactRequest::S3 { content_length, .. } => *content_length,
                _ => None,
            },
            size: None,
            sha256: None,
            created: now,
        };
        let artifact = match rows::get(&mut *w.tx, task_id, run_id, name).await? {
            None => {
                rows::insert(&mut w.tx, &wanted).await?;
                wanted
            }
            Some(original) => {
                if !compatible(&original, &wanted) {
                    return Err(ApiError::conflict(format!(
                        "Artifact already exists with different properties, and none of the immutability special \
                         cases apply\n\nExisting artifact information: {}",
                        json!({
                            "storageType": original.storage_type,
                            "contentType": original.content_type,
                            "expires": original.expires,
                        })
                    )));
                }
                let updated = Artifact {
                    storage_type: wanted.storage_type,
                    expires: wanted.expires,
                    details: wanted.details,
                    ..original
                };
                rows::update(&mut w.tx, &updated).await?;
                updated
            }
        };
        if artifact.storage_type != "s3" {
            w.event(&artifact_created(&task, &run, artifact.to_message_json()))
                .await?;
        }
        self.commit(w).await?;

        Ok(match artifact.storage_type.as_str() {
            "s3" => {
                let (put_url, until) = self.blobs.signed_put_url(
                    &key,
                    &artifact.content_type,
                    now.plus_ms(PUT_URL_TTL_MS + PUT_URL_DRIFT_MS),
                );
                json!({
                    "storageType": "s3",
                    "putUrl": put_url,
                    "expires": until.plus_ms(-PUT_URL_DRIFT_MS),
                    "contentType": artifact.content_type,
                })
            }
            other => json!({ "storageType": other }),
        })
    }

    /// The latest run of a task (what the `latest` endpoints use); 404 without task or runs.
    pub async fn latest_run_id(&self, task_id: &str) -> ApiResult<u32> {
        let task = tasks::get(self.db.reader(), task_id, "")
            .await?
            .ok_or_else(|| no_task(task_id))?;
        match task.runs.len() {
            0 => Err(ApiError::not_found(format!(
                "Task `{task_id}` doesn't have any runs"
            ))),
            n => Ok(n as u32 - 1),
        }
    }

    /// An artifact record with the size and SHA-256 of its uploaded bytes; 404 when it does
    /// not exist. Links are not followed (this is artifactInfo).
    pub async fn artifact_info(
        &self,
        task_id: &str,
        run_id: u32,
        name: &str,
    ) -> ApiResult<Artifact> {
        rows::get(self.db.reader(), task_id, run_id, name)
            .await?
            .ok_or_else(artifact_not_found)
    }

    /// What the blob store recorded of an `s3` artifact's uploaded bytes (size, SHA-256, content
    /// type and encoding, upload time); `None` before the upload. 404 when there is no such
    /// `s3` artifact.
    pub async fn artifact_blob(
        &self,
        task_id: &str,
        run_id: u32,
        name: &str,
    ) -> ApiResult<Option<BlobInfo>> {
        let a = self.artifact_info(task_id, run_id, name).await?;
        if a.storage_type != "s3" {
            return Err(ApiError::not_found(format!(
                "Artifact `{name}` is not an s3 artifact"
            )));
        }
        Ok(self.blobs.info(&a.blob_key()).await?)
    }

    /// Loads an artifact for download, following links within the run. `authorize` is called
    /// with the names seen so far before each one is loaded (the caller needs
    /// `queue:get-artifact:<name>` for all of them). 404 when missing, 410 when expired, 400 on
    /// a link cycle.
    pub async fn resolve_artifact<F>(
        &self,
        task_id: &str,
        run_id: u32,
        name: &str,
        authorize: F,
    ) -> ApiResult<Artifact>
    where
        F: Fn(&[String]) -> ApiResult<()> + Sync,
    {
        let now = Timestamp::now();
        let mut names: Vec<String> = Vec::new();
        let mut name = name.to_string();
        loop {
            names.push(name.clone());
            authorize(&names)?;
            let artifact = rows::get(self.db.reader(), task_id, run_id, &name)
                .await?
                .ok_or_else(artifact_not_found)?;
            if artifact.expires < now {
                return Err(ApiError::new(
                    ErrorCode::ResourceExpired,
                    "Artifact expired",
                ));
            }
            if artifact.storage_type != "link" {
                return Ok(artifact);
            }
            let target = artifact
                .details
                .get("artifact")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if names.contains(&target) {
                return Err(ApiError::input("Artifact leads to a link cycle"));
            }
            name = target;
        }
    }

    /// Where a resolved (non-link) artifact's content is: a signed download URL valid for 30
    /// minutes for `s3`, the url of a `reference`, the reason and message of an `error`.
    pub fn artifact_content(&self, artifact: &Artifact) -> ApiResult<ArtifactContent> {
        let detail = |k: &str| {
            artifact
                .details
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        match artifact.storage_type.as_str() {
            "s3" => Ok(ArtifactContent::Url {
                storage_type: "s3".into(),
                url: self.blobs.get_url(
                    &artifact.blob_key(),
                    Timestamp::now().plus_ms(GET_URL_TTL_MS),
                ),
            }),
            "reference" => Ok(ArtifactContent::Url {
                storage_type: "reference".into(),
                url: detail("url"),
            }),
            "error" => Ok(ArtifactContent::Error {
                reason: detail("reason"),
                message: detail("message"),
            }),
            other => Err(ApiError::internal(format!(
                "unexpected artifact storageType {other:?}"
            ))),
        }
    }

    /// getArtifact and artifact in one: resolve (following links) and locate the content.
    pub async fn get_artifact<F>(
        &self,
        task_id: &str,
        run_id: u32,
        name: &str,
        authorize: F,
    ) -> ApiResult<ArtifactContent>
    where
        F: Fn(&[String]) -> ApiResult<()> + Sync,
    {
        let artifact = self
            .resolve_artifact(task_id, run_id, name, authorize)
            .await?;
        self.artifact_content(&artifact)
    }

    /// listArtifacts (a run) / listLatestArtifacts (`run_id` `None`): a page in name order.
    /// 404 when the task, or the run, does not exist.
    pub async fn list_artifacts(
        &self,
        task_id: &str,
        run_id: Option<u32>,
        token: Option<&str>,
        limit: usize,
    ) -> ApiResult<Page<Artifact>> {
        let latest = self.latest_run_id(task_id).await?;
        let run_id = match run_id {
            Some(r) if r > latest => {
                return Err(ApiError::not_found(format!(
                    "Task with taskId: `{task_id}` has no run with runId: {r}"
                )))
            }
            Some(r) => r,
            None => latest,
        };
        let after: String = token.map(paging::decode).transpose()?.unwrap_or_default();
        let items = rows::list(self.db.reader(), task_id, run_id, &after, limit).await?;
        let next = (items.len() == limit)
            .then(|| items.last().map(|a| paging::encode(&a.name)))
            .flatten();
        Ok((items, next))
    }
}

/// Taskcluster's `createArtifactCallsCompatible`: the content type never changes (links have
/// none to compare), `expires` may only grow, details must match except for references, and the
/// only change of storage type is reference → link.
fn compatible(original: &Artifact, wanted: &Artifact) -> bool {
    if wanted.storage_type != "link" && original.content_type != wanted.content_type {
        return false;
    }
    if original.expires > wanted.expires {
        return false;
    }
    if original.storage_type == wanted.storage_type {
        original.details == wanted.details || wanted.storage_type == "reference"
    } else {
        original.storage_type == "reference" && wanted.storage_type == "link"
    }
}
