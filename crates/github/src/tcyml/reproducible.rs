//! Reproducibility checks: a task with `extra.reproducible: true` is run twice and a verification
//! task compares the two runs' artifacts.
//!
//! Each such task is kept as it is and followed by
//! - its **twin**: the same definition under a new taskId, `metadata.name` marked as the rerun,
//!   `extra.reproducible` dropped and `extra.reproducibleOf` = the original's taskId (the queue
//!   reads that to give the twin to another worker than the original's when it can);
//! - a **verification task** depending on both, on the same task queue, with the payload
//!   `{"verifyReproducible": {"tasks": [<original>, <twin>]}}`, no scopes and only the reporting
//!   route; relyard's worker runs it by comparing the sha256 of every artifact of the two runs.
//!
//! Tasks depending on the original still depend on the original only. The three are placed where
//! the original was, so the list stays in dependency order.

use serde_json::{json, Map, Value};

use super::compile::{TaskEntry, CHECKS_ROUTE, STATUSES_ROUTE};

/// The payload key of verification tasks (read by `relyard_worker::reproducible`).
pub const VERIFY_PAYLOAD_KEY: &str = "verifyReproducible";
/// Marks a task to be run twice.
pub const REPRODUCIBLE: &str = "reproducible";
/// On a twin: the taskId of the task it reruns.
pub const REPRODUCIBLE_OF: &str = "reproducibleOf";

/// What the rerun's name ends with.
const RERUN_SUFFIX: &str = " (reproducibility rerun)";

/// Adds a twin and a verification task after every task with `extra.reproducible: true`.
pub fn expand(tasks: Vec<TaskEntry>) -> Vec<TaskEntry> {
    let mut out = Vec::with_capacity(tasks.len());
    for entry in tasks {
        if !is_reproducible(&entry.task) {
            out.push(entry);
            continue;
        }
        let twin = twin_of(&entry);
        let verify = verification_of(&entry, &twin.task_id);
        out.push(entry);
        out.push(twin);
        out.push(verify);
    }
    out
}

fn is_reproducible(task: &Value) -> bool {
    task.pointer("/extra/reproducible") == Some(&Value::Bool(true))
}

fn twin_of(original: &TaskEntry) -> TaskEntry {
    let mut task = original.task.clone();
    if let Some(name) = task.pointer_mut("/metadata/name") {
        let marked = format!("{}{RERUN_SUFFIX}", name.as_str().unwrap_or_default());
        *name = Value::String(marked);
    }
    // `extra` is an object whenever `extra.reproducible` is true.
    if let Some(extra) = task.get_mut("extra").and_then(Value::as_object_mut) {
        extra.remove(REPRODUCIBLE);
        extra.insert(REPRODUCIBLE_OF.into(), original.task_id.clone().into());
    }
    TaskEntry {
        task_id: relyard_core::ids::slugid(),
        task,
    }
}

fn verification_of(original: &TaskEntry, twin_id: &str) -> TaskEntry {
    let task = &original.task;
    let mut verify = Map::new();
    // Where and when it runs, and whose it is: the original's.
    for key in [
        "taskQueueId",
        "provisionerId",
        "workerType",
        "schedulerId",
        "projectId",
        "taskGroupId",
        "created",
        "deadline",
        "expires",
        "priority",
        "tags",
    ] {
        if let Some(v) = task.get(key) {
            verify.insert(key.into(), v.clone());
        }
    }
    verify.insert(
        "dependencies".into(),
        json!([original.task_id.as_str(), twin_id]),
    );
    // Reported like the original (a status or check run of its own), indexed nowhere.
    let routes: Vec<Value> = task
        .get("routes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|r| matches!(r.as_str(), Some(STATUSES_ROUTE | CHECKS_ROUTE)))
        .cloned()
        .collect();
    verify.insert("routes".into(), Value::Array(routes));
    verify.insert("scopes".into(), json!([]));
    verify.insert(
        "payload".into(),
        json!({ VERIFY_PAYLOAD_KEY: { "tasks": [original.task_id.as_str(), twin_id] } }),
    );
    let meta = |k: &str| task.pointer(&format!("/metadata/{k}")).cloned();
    let name = meta("name")
        .and_then(|n| n.as_str().map(str::to_string))
        .unwrap_or_default();
    verify.insert(
        "metadata".into(),
        json!({
            "name": format!("Verify reproducible: {name}"),
            "description": format!(
                "Compares the sha256 of every artifact of {} and its rerun {twin_id}", original.task_id
            ),
            "owner": meta("owner").unwrap_or(Value::Null),
            "source": meta("source").unwrap_or(Value::Null),
        }),
    );
    TaskEntry {
        task_id: relyard_core::ids::slugid(),
        task: Value::Object(verify),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, deps: &[&str], extra: Value) -> TaskEntry {
        TaskEntry {
            task_id: id.into(),
            task: json!({
                "taskQueueId": "proj/ci",
                "taskGroupId": "group",
                "schedulerId": "taskcluster-github",
                "created": "2026-12-01T12:00:00.000Z",
                "deadline": "2026-12-02T12:00:00.000Z",
                "dependencies": deps,
                "routes": ["statuses", "index.project.latest"],
                "scopes": ["secrets:get:project/token"],
                "payload": {"command": [["make"]], "maxRunTime": 600},
                "metadata": {"name": id, "description": "d", "owner": "o@example.com", "source": "https://example.com"},
                "extra": extra,
            }),
        }
    }

    fn ids(tasks: &[TaskEntry]) -> Vec<&str> {
        tasks.iter().map(|t| t.task_id.as_str()).collect()
    }

    #[test]
    fn tasks_without_the_flag_are_untouched() {
        let tasks = vec![
            entry("a", &[], json!({})),
            entry("b", &["a"], json!({"reproducible": false})),
            entry("c", &[], json!({"reproducible": "yes"})),
        ];
        assert_eq!(expand(tasks.clone()), tasks);
    }

    #[test]
    fn a_reproducible_task_gets_a_twin_and_a_verification_in_dependency_order() {
        let tasks = vec![
            entry("decision", &[], json!({})),
            entry(
                "build",
                &["decision"],
                json!({"reproducible": true, "other": 1}),
            ),
            entry("test", &["build"], json!({})),
        ];
        let original = tasks[1].task.clone();
        let out = expand(tasks);
        assert_eq!(out.len(), 5);
        let (twin, verify) = (&out[2], &out[3]);
        assert_eq!(
            ids(&out),
            vec![
                "decision",
                "build",
                twin.task_id.as_str(),
                verify.task_id.as_str(),
                "test"
            ]
        );
        assert_ne!(twin.task_id, verify.task_id);
        assert!(![&"decision", &"build", &"test"].contains(&&twin.task_id.as_str()));

        // The original and its dependents are unchanged.
        assert_eq!(out[1].task, original);
        assert_eq!(out[4].task["dependencies"], json!(["build"]));

        // The twin: the same definition but its name and extra.
        let mut expected = original.clone();
        expected["metadata"]["name"] = json!("build (reproducibility rerun)");
        expected["extra"] = json!({"other": 1, "reproducibleOf": "build"});
        assert_eq!(twin.task, expected);

        // The verification: after both, same queue and group, no scopes, the reporting route only.
        let v = &verify.task;
        assert_eq!(v["dependencies"], json!(["build", twin.task_id]));
        assert_eq!(
            v["payload"],
            json!({"verifyReproducible": {"tasks": ["build", twin.task_id]}})
        );
        assert_eq!(v["taskQueueId"], "proj/ci");
        assert_eq!(v["taskGroupId"], "group");
        assert_eq!(v["deadline"], original["deadline"]);
        assert_eq!(v["scopes"], json!([]));
        assert_eq!(v["routes"], json!(["statuses"]));
        assert_eq!(v["metadata"]["name"], "Verify reproducible: build");
        assert_eq!(v["metadata"]["owner"], "o@example.com");
        assert!(v.get("extra").is_none());
    }

    #[test]
    fn every_reproducible_task_is_expanded_with_its_own_ids() {
        let out = expand(vec![
            entry("x", &[], json!({"reproducible": true})),
            entry("y", &[], json!({"reproducible": true})),
        ]);
        assert_eq!(out.len(), 6);
        assert_eq!(out[1].task["extra"]["reproducibleOf"], "x");
        assert_eq!(out[4].task["extra"]["reproducibleOf"], "y");
        let mut all: Vec<&str> = ids(&out);
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 6, "ids are distinct");
    }

    #[test]
    fn render_expands_after_completion() {
        let file = crate::tcyml::TcYml::parse(
            r#"
version: 1
tasks:
  - taskQueueId: proj/ci
    deadline: {$fromNow: '1 day'}
    payload: {command: [["date"]], maxRunTime: 60}
    metadata: {name: stamp, description: d, owner: o@example.com, source: https://example.com}
    extra: {reproducible: true}
"#,
        )
        .expect("parses");
        let event = json!({});
        let input = crate::tcyml::RenderInput {
            tasks_for: crate::tcyml::TasksFor::Push,
            event: &event,
            root_url: "https://tc.example.com",
            branch: None,
        };
        let out = crate::tcyml::render(&file, &input, "2026-12-01T12:00:00.000Z").expect("renders");
        assert_eq!(out.tasks.len(), 3);
        let group = out.task_group_id().expect("group");
        for t in &out.tasks {
            assert_eq!(t.task["taskGroupId"], group);
            assert_eq!(t.task["schedulerId"], "taskcluster-github");
            assert_eq!(t.task["created"], "2026-12-01T12:00:00.000Z");
        }
        assert_eq!(out.tasks[1].task["routes"], json!(["statuses"]));
        assert_eq!(out.tasks[2].task["routes"], json!(["statuses"]));
    }

    #[test]
    fn the_provisioner_and_worker_type_form_is_kept() {
        let mut e = entry("p", &[], json!({"reproducible": true}));
        let t = e.task.as_object_mut().expect("object");
        t.remove("taskQueueId");
        t.insert("provisionerId".into(), json!("proj"));
        t.insert("workerType".into(), json!("ci"));
        let out = expand(vec![e]);
        assert_eq!(out[2].task["provisionerId"], "proj");
        assert_eq!(out[2].task["workerType"], "ci");
        assert!(out[2].task.get("taskQueueId").is_none());
    }
}
