//! The payload of a signing task: `{signing: {format, upstreamArtifacts: [{taskId, paths}]},
//! maxRunTime?}`, the shape scriptworker's signing tasks use, with the format named once.

use std::collections::BTreeSet;
use std::path::{Component, Path};

use serde::Deserialize;
use serde_json::Value;

use crate::payload::Malformed;

/// Signing is short; a stuck server must not hold a claim for a day.
const DEFAULT_MAX_RUN_TIME_SECS: u64 = 3600;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Raw {
    signing: SigningSpec,
    #[serde(default)]
    max_run_time: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SigningSpec {
    format: String,
    upstream_artifacts: Vec<Upstream>,
}

/// Artifacts of one task this task depends on.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Upstream {
    pub task_id: String,
    pub paths: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct SigningPayload {
    pub format: String,
    pub upstream: Vec<Upstream>,
    pub max_run_time: u64,
}

/// Whether a task is a signing task (its payload names `signing`).
pub fn is_signing(payload: &Value) -> bool {
    payload.get("signing").is_some()
}

/// Parses and checks a signing payload against its task: every upstream task must be one of
/// the task's dependencies (the chain of trust starts there: a signing task signs only what
/// tasks it waited for produced), and every path must be a plain relative artifact name.
pub fn parse(task: &Value) -> Result<SigningPayload, Malformed> {
    let payload = task.get("payload").unwrap_or(&Value::Null);
    let raw: Raw = crate::payload::deserialize(payload)?;
    let max_run_time = crate::payload::max_run_time(raw.max_run_time, DEFAULT_MAX_RUN_TIME_SECS)?;
    let spec = raw.signing;
    if spec.format.is_empty() {
        return Err(Malformed(
            "payload.signing.format must name a format".into(),
        ));
    }
    if spec.upstream_artifacts.is_empty() {
        return Err(Malformed(
            "payload.signing.upstreamArtifacts must list at least one task".into(),
        ));
    }
    let dependencies = crate::payload::dependencies(task);
    let mut seen = BTreeSet::new();
    for (i, up) in spec.upstream_artifacts.iter().enumerate() {
        if !dependencies.contains(up.task_id.as_str()) {
            return Err(Malformed(format!(
                "payload.signing.upstreamArtifacts[{i}].taskId {} is not among the task's dependencies",
                up.task_id
            )));
        }
        if up.paths.is_empty() {
            return Err(Malformed(format!(
                "payload.signing.upstreamArtifacts[{i}].paths must list at least one artifact"
            )));
        }
        for path in &up.paths {
            if !is_plain_relative(path) {
                return Err(Malformed(format!(
                    "payload.signing.upstreamArtifacts[{i}].paths: `{path}` must be a relative artifact name without `..`"
                )));
            }
            // Two tasks' files of one name would land on one path in the task directory.
            if !seen.insert(path.clone()) {
                return Err(Malformed(format!(
                    "payload.signing.upstreamArtifacts: `{path}` is named twice"
                )));
            }
        }
    }
    Ok(SigningPayload {
        format: spec.format,
        upstream: spec.upstream_artifacts,
        max_run_time,
    })
}

fn is_plain_relative(path: &str) -> bool {
    !path.is_empty()
        && !path.ends_with('/')
        && Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn task(payload: Value) -> Value {
        json!({"dependencies": ["build1"], "payload": payload})
    }

    #[test]
    fn a_signing_payload_parses_with_defaults() {
        let p = parse(&task(json!({"signing": {"format": "gpg",
            "upstreamArtifacts": [{"taskId": "build1", "paths": ["public/build/a.tar.gz"]}]}})))
        .expect("valid");
        assert_eq!(p.format, "gpg");
        assert_eq!(p.max_run_time, DEFAULT_MAX_RUN_TIME_SECS);
        assert_eq!(p.upstream[0].paths, vec!["public/build/a.tar.gz"]);
    }

    #[test]
    fn upstream_tasks_must_be_dependencies() {
        let e = parse(&task(json!({"signing": {"format": "gpg",
            "upstreamArtifacts": [{"taskId": "other", "paths": ["public/a"]}]}})))
        .unwrap_err();
        assert!(e.0.contains("not among the task's dependencies"), "{e:?}");
    }

    #[test]
    fn paths_must_stay_inside_the_task_directory() {
        for bad in ["../etc/passwd", "/abs", "public/../../x", "", "dir/"] {
            let r = parse(&task(json!({"signing": {"format": "gpg",
                "upstreamArtifacts": [{"taskId": "build1", "paths": [bad]}]}})));
            assert!(r.is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn unknown_keys_and_missing_parts_are_malformed() {
        for payload in [
            json!({"signing": {"format": "gpg", "upstreamArtifacts": [], }}),
            json!({"signing": {"format": "", "upstreamArtifacts": [{"taskId": "build1", "paths": ["a"]}]}}),
            json!({"signing": {"format": "gpg", "upstreamArtifacts": [{"taskId": "build1", "paths": ["a"]}]}, "command": []}),
            json!({"signing": {"format": "gpg", "upstreamArtifacts": [{"taskId": "build1", "paths": ["a", "a"]}]}}),
            json!({"signing": {"format": "gpg", "upstreamArtifacts": [{"taskId": "build1", "paths": ["a"]}]}, "maxRunTime": 0}),
        ] {
            assert!(parse(&task(payload.clone())).is_err(), "{payload} accepted");
        }
    }
}
