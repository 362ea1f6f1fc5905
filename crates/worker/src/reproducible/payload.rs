//! The payload of a verification task: `{verifyReproducible: {tasks: [<original>, <rerun>]},
//! maxRunTime?}`, as `relyard_github::tcyml::reproducible` writes it.

use serde::Deserialize;
use serde_json::Value;

use crate::payload::Malformed;

/// Comparing two runs' hashes is quick; downloads of unhashed artifacts are bounded by this.
const DEFAULT_MAX_RUN_TIME_SECS: u64 = 3600;
/// The payload key that makes a task a verification task.
pub const KEY: &str = "verifyReproducible";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Raw {
    verify_reproducible: Spec,
    #[serde(default)]
    max_run_time: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    tasks: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyPayload {
    /// The two tasks whose latest runs are compared (the original first).
    pub tasks: [String; 2],
    pub max_run_time: u64,
}

/// Whether a task is a verification task (its payload names `verifyReproducible`).
pub fn is_verification(payload: &Value) -> bool {
    payload.get(KEY).is_some()
}

/// Parses a verification payload and checks it against its task: two distinct tasks, both
/// among the task's dependencies (so both have resolved before it runs).
pub fn parse(task: &Value) -> Result<VerifyPayload, Malformed> {
    let payload = task.get("payload").unwrap_or(&Value::Null);
    let raw: Raw = crate::payload::deserialize(payload)?;
    let max_run_time = crate::payload::max_run_time(raw.max_run_time, DEFAULT_MAX_RUN_TIME_SECS)?;
    let tasks: [String; 2] =
        raw.verify_reproducible
            .tasks
            .try_into()
            .map_err(|t: Vec<String>| {
                Malformed(format!(
            "payload.{KEY}.tasks must name exactly two tasks (the original and its rerun), not {}",
            t.len()
        ))
            })?;
    if tasks[0] == tasks[1] {
        return Err(Malformed(format!(
            "payload.{KEY}.tasks names {} twice; a run compared with itself proves nothing",
            tasks[0]
        )));
    }
    let dependencies = crate::payload::dependencies(task);
    for (i, t) in tasks.iter().enumerate() {
        if !dependencies.contains(&t.as_str()) {
            return Err(Malformed(format!(
                "payload.{KEY}.tasks[{i}] {t} is not among the task's dependencies"
            )));
        }
    }
    Ok(VerifyPayload {
        tasks,
        max_run_time,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn task(payload: Value) -> Value {
        json!({"dependencies": ["a", "b"], "payload": payload})
    }

    #[test]
    fn a_verification_payload_parses_with_defaults() {
        let p = parse(&task(json!({"verifyReproducible": {"tasks": ["a", "b"]}}))).expect("valid");
        assert_eq!(p.tasks, ["a".to_string(), "b".to_string()]);
        assert_eq!(p.max_run_time, DEFAULT_MAX_RUN_TIME_SECS);
        assert!(is_verification(&json!({"verifyReproducible": null})));
        assert!(!is_verification(&json!({"command": []})));
    }

    #[test]
    fn bad_payloads_say_why() {
        for (payload, why) in [
            (
                json!({"verifyReproducible": {"tasks": ["a"]}}),
                "exactly two",
            ),
            (
                json!({"verifyReproducible": {"tasks": ["a", "b", "a"]}}),
                "exactly two",
            ),
            (
                json!({"verifyReproducible": {"tasks": ["a", "a"]}}),
                "twice",
            ),
            (
                json!({"verifyReproducible": {"tasks": ["a", "c"]}}),
                "tasks[1] c is not among",
            ),
            (
                json!({"verifyReproducible": {"tasks": ["a", 1]}}),
                "verifyReproducible.tasks",
            ),
            (json!({"verifyReproducible": {}}), "tasks"),
            (
                json!({"verifyReproducible": {"tasks": ["a", "b"], "x": 1}}),
                "unknown field",
            ),
            (
                json!({"verifyReproducible": {"tasks": ["a", "b"]}, "command": []}),
                "unknown field",
            ),
            (
                json!({"verifyReproducible": {"tasks": ["a", "b"]}, "maxRunTime": 0}),
                "maxRunTime",
            ),
        ] {
            let e = parse(&task(payload.clone())).expect_err("refused");
            assert!(e.0.contains(why), "{payload}: {}", e.0);
        }
    }
}
