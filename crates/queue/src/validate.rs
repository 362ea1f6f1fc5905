//! Checks of request bodies against Taskcluster's schemas (create-task-request.yml and friends).
//!
//! Bodies are parsed into structs with `deny_unknown_fields` (through `serde_path_to_error`, so a
//! type error names its field), then checked explicitly for what serde cannot express: patterns,
//! lengths, time windows. Every failure is a 400 whose message names the field.

use std::collections::HashSet;

use once_cell::sync::Lazy;
use regex::Regex;
use relyard_core::ids::{
    is_identifier, is_provisioner_id, is_slugid, is_task_queue_id, is_worker_type,
};
use relyard_core::{ApiError, Timestamp};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::model::{priority_rank, Metadata, TaskDef};

/// Taskcluster's `max-task-dependencies`.
pub const MAX_DEPENDENCIES: usize = 10_000;
/// `MAX_TASK_DEADLINE_DAYS`.
pub const MAX_DEADLINE_DAYS: i64 = 5;
/// Allowed clock drift for `created` and the deadline cap.
const DRIFT_MS: i64 = 15 * 60 * 1000;

static PROJECT_ID: Lazy<Regex> =
    Lazy::new(|| Regex::new(r"^[a-zA-Z0-9._/-]{1,500}$").expect("projectId pattern"));
static SOURCE: Lazy<Regex> =
    Lazy::new(|| Regex::new(r"^(https?://|ssh://|git@)").expect("source pattern"));

/// Parses a JSON body into `T`, answering 400 with the path of the offending field.
pub fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let text = if body.iter().all(|b| b.is_ascii_whitespace()) {
        &b"{}"[..]
    } else {
        body
    };
    let de = &mut serde_json::Deserializer::from_slice(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            ApiError::malformed(format!("request body is not valid JSON: {inner}"))
        } else if path.is_empty() || path == "." {
            ApiError::validation(format!("request body: {inner}"))
        } else {
            ApiError::validation(format!("`{path}`: {inner}"))
        }
    })
}

/// The createTask body: every field optional here so that missing ones get named explicitly.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTaskRequest {
    pub provisioner_id: Option<String>,
    pub worker_type: Option<String>,
    pub task_queue_id: Option<String>,
    pub scheduler_id: Option<String>,
    pub project_id: Option<String>,
    pub task_group_id: Option<String>,
    pub dependencies: Option<Vec<String>>,
    pub requires: Option<String>,
    pub routes: Option<Vec<String>>,
    pub priority: Option<String>,
    pub retries: Option<i64>,
    pub created: Option<Timestamp>,
    pub deadline: Option<Timestamp>,
    pub expires: Option<Timestamp>,
    pub scopes: Option<Vec<String>>,
    pub payload: Option<Value>,
    pub metadata: Option<Metadata>,
    pub tags: Option<Map<String, Value>>,
    pub extra: Option<Value>,
}

fn bad(field: &str, why: impl std::fmt::Display) -> ApiError {
    ApiError::input(format!("`{field}` {why}"))
}

/// Checks a createTask body and fills in Taskcluster's defaults. `now` is the server's clock.
pub fn task_definition(
    task_id: &str,
    req: CreateTaskRequest,
    now: Timestamp,
) -> Result<TaskDef, ApiError> {
    if !is_slugid(task_id) {
        return Err(ApiError::invalid_arguments(format!(
            "taskId `{task_id}` is not a valid slugid"
        )));
    }
    let (provisioner_id, worker_type, task_queue_id) =
        match (req.provisioner_id, req.worker_type, req.task_queue_id) {
            (Some(p), Some(w), Some(q)) => {
                if format!("{p}/{w}") != q {
                    return Err(ApiError::input(
                        "`taskQueueId` must match \"provisionerId/workerType\"",
                    ));
                }
                (p, w, q)
            }
            (Some(p), Some(w), None) => {
                let q = format!("{p}/{w}");
                (p, w, q)
            }
            (_, _, Some(q)) => match q.split_once('/') {
                Some((p, w)) => (p.to_string(), w.to_string(), q.clone()),
                None => return Err(bad("taskQueueId", "must be <provisionerId>/<workerType>")),
            },
            _ => {
                return Err(ApiError::input(
                    "at least a provisionerId and a workerType or a taskQueueId must be provided",
                ))
            }
        };
    if !is_provisioner_id(&provisioner_id) {
        return Err(bad("provisionerId", "must match ^[a-zA-Z0-9-_]{1,38}$"));
    }
    if !is_worker_type(&worker_type) {
        return Err(bad(
            "workerType",
            "must match ^[a-z]([-a-z0-9]{0,36}[a-z0-9])?$",
        ));
    }
    if !is_task_queue_id(&task_queue_id) {
        return Err(bad("taskQueueId", "must be <provisionerId>/<workerType>"));
    }

    let scheduler_id = req.scheduler_id.unwrap_or_else(|| "-".into());
    if !is_identifier(&scheduler_id) {
        return Err(bad("schedulerId", "must match ^[a-zA-Z0-9-_]{1,38}$"));
    }
    let project_id = match req.project_id {
        Some(p) if !p.is_empty() => p,
        _ => "none".into(),
    };
    if !PROJECT_ID.is_match(&project_id) {
        return Err(bad("projectId", "must match ^[a-zA-Z0-9._/-]{1,500}$"));
    }
    let task_group_id = req.task_group_id.unwrap_or_else(|| task_id.to_string());
    if !is_slugid(&task_group_id) {
        return Err(bad("taskGroupId", "is not a valid slugid"));
    }

    let dependencies = req.dependencies.unwrap_or_default();
    if dependencies.len() > MAX_DEPENDENCIES {
        return Err(bad(
            "dependencies",
            format!("has more than {MAX_DEPENDENCIES} entries"),
        ));
    }
    let mut seen = HashSet::with_capacity(dependencies.len());
    for d in &dependencies {
        if !is_slugid(d) {
            return Err(bad(
                "dependencies",
                format!("contains `{d}`, which is not a valid slugid"),
            ));
        }
        if !seen.insert(d.as_str()) {
            return Err(bad(
                "dependencies",
                format!("contains `{d}` more than once"),
            ));
        }
    }
    let requires = req.requires.unwrap_or_else(|| "all-completed".into());
    if requires != "all-completed" && requires != "all-resolved" {
        return Err(bad("requires", "must be `all-completed` or `all-resolved`"));
    }

    let routes = req.routes.unwrap_or_default();
    if routes.len() > 64 {
        return Err(bad("routes", "has more than 64 entries"));
    }
    let mut seen = HashSet::with_capacity(routes.len());
    for r in &routes {
        if r.is_empty() || r.len() > 249 {
            return Err(bad("routes", "entries must be 1 to 249 characters long"));
        }
        if !seen.insert(r.as_str()) {
            return Err(bad("routes", format!("contains `{r}` more than once")));
        }
    }

    let priority = req.priority.unwrap_or_else(|| "lowest".into());
    if priority_rank(&priority).is_none() {
        return Err(bad(
            "priority",
            "must be one of highest, very-high, high, medium, low, very-low, lowest",
        ));
    }
    let retries = req.retries.unwrap_or(5);
    if !(0..=49).contains(&retries) {
        return Err(bad("retries", "must be between 0 and 49"));
    }

    let created = req.created.ok_or_else(|| bad("created", "is required"))?;
    let deadline = req.deadline.ok_or_else(|| bad("deadline", "is required"))?;
    if created.millis() < now.millis() - DRIFT_MS {
        return Err(bad("created", "cannot be in the past (max 15min drift)"));
    }
    if created.millis() > now.millis() + DRIFT_MS {
        return Err(bad("created", "cannot be in the future (max 15min drift)"));
    }
    if created > deadline {
        return Err(bad("deadline", "cannot be earlier than `created`"));
    }
    if deadline < now {
        return Err(bad("deadline", "cannot be in the past"));
    }
    if deadline.millis() - now.millis() > MAX_DEADLINE_DAYS * 86_400_000 + DRIFT_MS {
        return Err(bad(
            "deadline",
            format!("cannot be more than {MAX_DEADLINE_DAYS} days into the future"),
        ));
    }
    let expires = req.expires.unwrap_or_else(|| one_year_after(deadline));
    if expires < deadline {
        return Err(bad("expires", "cannot be before `deadline`"));
    }

    let scopes = req.scopes.unwrap_or_default();
    for s in &scopes {
        if !s.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
            return Err(bad(
                "scopes",
                format!("contains {s:?}, which is not printable ASCII"),
            ));
        }
        if s.ends_with("**") {
            return Err(bad("scopes", "must not end with `**`"));
        }
    }

    let payload = req.payload.ok_or_else(|| bad("payload", "is required"))?;
    if !payload.is_object() {
        return Err(bad("payload", "must be an object"));
    }
    let metadata = req.metadata.ok_or_else(|| bad("metadata", "is required"))?;
    check_metadata(&metadata)?;
    let tags = req.tags.unwrap_or_default();
    for (k, v) in &tags {
        match v.as_str() {
            Some(s) if s.len() <= 4096 => {}
            Some(_) => return Err(bad(&format!("tags.{k}"), "is longer than 4096 characters")),
            None => return Err(bad(&format!("tags.{k}"), "must be a string")),
        }
    }
    let extra = req.extra.unwrap_or_else(|| Value::Object(Map::new()));
    if !extra.is_object() {
        return Err(bad("extra", "must be an object"));
    }

    Ok(TaskDef {
        provisioner_id,
        worker_type,
        task_queue_id,
        scheduler_id,
        project_id,
        task_group_id,
        dependencies,
        requires,
        routes,
        priority,
        retries,
        created,
        deadline,
        expires,
        scopes,
        payload,
        metadata,
        tags,
        extra,
    })
}

fn check_metadata(m: &Metadata) -> Result<(), ApiError> {
    if m.name.chars().count() > 255 {
        return Err(bad("metadata.name", "is longer than 255 characters"));
    }
    if m.description.chars().count() > 32768 {
        return Err(bad(
            "metadata.description",
            "is longer than 32768 characters",
        ));
    }
    if m.owner.chars().count() > 255 {
        return Err(bad("metadata.owner", "is longer than 255 characters"));
    }
    if m.source.chars().count() > 4096 || !SOURCE.is_match(&m.source) {
        return Err(bad(
            "metadata.source",
            "must start with https://, http://, ssh:// or git@ (at most 4096 characters)",
        ));
    }
    Ok(())
}

/// `deadline` plus one calendar year, as JavaScript's `setFullYear(+1)` computes the default.
fn one_year_after(t: Timestamp) -> Timestamp {
    let s = t.to_string();
    let year: i64 = s.get(0..4).and_then(|y| y.parse().ok()).unwrap_or(1970);
    let shifted = format!("{:04}{}", year + 1, s.get(4..).unwrap_or(""));
    // Feb 29 of a leap year becomes Mar 1, as in JavaScript.
    Timestamp::parse(&shifted).unwrap_or_else(|_| {
        Timestamp::parse(&shifted.replacen("-02-29T", "-03-01T", 1))
            .unwrap_or_else(|_| t.plus_days(365))
    })
}

/// Checks a workerGroup / workerId.
pub fn worker_identifier(field: &str, v: &str) -> Result<(), ApiError> {
    if is_identifier(v) {
        Ok(())
    } else {
        Err(ApiError::validation(format!(
            "`{field}` must match ^[a-zA-Z0-9-_]{{1,38}}$"
        )))
    }
}

/// Parses a `runId` path segment: an integer 0..=1000.
pub fn run_id(s: &str) -> Result<u32, ApiError> {
    s.parse::<u32>().ok().filter(|r| *r <= 1000).ok_or_else(|| {
        ApiError::invalid_arguments(format!("runId `{s}` must be an integer between 0 and 1000"))
    })
}

/// Checks a `taskId` path segment.
pub fn task_id(s: &str) -> Result<(), ApiError> {
    if is_slugid(s) {
        Ok(())
    } else {
        Err(ApiError::invalid_arguments(format!(
            "taskId `{s}` is not a valid slugid"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(now: Timestamp) -> Value {
        json!({
            "taskQueueId": "prov/wt",
            "created": now.to_string(),
            "deadline": now.plus_secs(3600).to_string(),
            "payload": {},
            "metadata": {"name": "n", "description": "d", "owner": "o@example.com", "source": "https://example.com/x"}
        })
    }

    fn check(v: Value, now: Timestamp) -> Result<TaskDef, ApiError> {
        let req: CreateTaskRequest = parse_body(v.to_string().as_bytes())?;
        task_definition("fN1SbArXTPSVFNUvaOlinQ", req, now)
    }

    #[test]
    fn defaults_are_filled_in() {
        let now = Timestamp::now();
        let d = check(body(now), now).unwrap();
        assert_eq!(d.provisioner_id, "prov");
        assert_eq!(d.worker_type, "wt");
        assert_eq!(d.scheduler_id, "-");
        assert_eq!(d.project_id, "none");
        assert_eq!(d.task_group_id, "fN1SbArXTPSVFNUvaOlinQ");
        assert_eq!(d.priority, "lowest");
        assert_eq!(d.retries, 5);
        assert_eq!(d.requires, "all-completed");
        assert!(d.expires > d.deadline.plus_days(364));
    }

    #[test]
    fn errors_name_the_field() {
        let now = Timestamp::now();
        let cases: Vec<(Value, &str)> = vec![
            (json!({"bogus": 1}), "bogus"),
            (
                json!({"metadata": {"name": "n", "description": "d", "owner": "o", "source": "https://x", "x": 1}}),
                "x",
            ),
            (json!({"retries": "five"}), "retries"),
            (json!({"retries": 50}), "retries"),
            (json!({"priority": "urgent"}), "priority"),
            (
                json!({"created": now.plus_secs(-3600).to_string()}),
                "created",
            ),
            (
                json!({"deadline": now.plus_days(6).to_string()}),
                "deadline",
            ),
            (json!({"expires": now.to_string()}), "expires"),
            (json!({"dependencies": ["nope"]}), "dependencies"),
            (json!({"routes": ["a", "a"]}), "routes"),
            (json!({"scopes": ["a**"]}), "scopes"),
            (
                json!({"metadata": {"name": "n", "description": "d", "owner": "o", "source": "ftp://x"}}),
                "metadata.source",
            ),
            (json!({"tags": {"k": 1}}), "tags.k"),
            (json!({"workerType": "Bad"}), "workerType"),
        ];
        for (patch, field) in cases {
            let mut v = body(now);
            if let (Some(obj), Some(p)) = (v.as_object_mut(), patch.as_object()) {
                if p.contains_key("workerType") {
                    obj.remove("taskQueueId");
                    obj.insert("provisionerId".into(), json!("prov"));
                }
                for (k, x) in p {
                    obj.insert(k.clone(), x.clone());
                }
            }
            let err = check(v, now).expect_err(field);
            assert_eq!(err.status(), http::StatusCode::BAD_REQUEST, "{field}");
            assert!(err.message.contains(field), "{field}: {}", err.message);
        }
    }

    #[test]
    fn expires_default_is_one_calendar_year() {
        let t = Timestamp::parse("2024-02-29T10:00:00.000Z").unwrap();
        assert_eq!(one_year_after(t).to_string(), "2025-03-01T10:00:00.000Z");
        let t = Timestamp::parse("2024-05-01T10:00:00.123Z").unwrap();
        assert_eq!(one_year_after(t).to_string(), "2025-05-01T10:00:00.123Z");
    }
}
