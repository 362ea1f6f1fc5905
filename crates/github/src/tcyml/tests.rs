//! Cases after Taskcluster-GitHub's `test/tc-yaml_test.js` and its `test/data/configs`.

use serde_json::{json, Value};

use super::*;

const NOW: &str = "2026-12-01T12:00:00.000Z";

fn push_event() -> Value {
    json!({"ref": "refs/heads/main", "after": "abc123", "repository": {"name": "repo", "clone_url": "https://github.com/org/repo.git"}})
}

fn render_yaml(yaml: &str, tasks_for: TasksFor, event: &Value) -> Result<Rendered, TcYmlError> {
    let file = TcYml::parse(yaml)?;
    render(
        &file,
        &RenderInput {
            tasks_for,
            event,
            root_url: "https://tc.example.com",
            branch: Some("main"),
        },
        NOW,
    )
}

fn render_tasks(tasks: Value) -> Rendered {
    let file = TcYml::from_value(json!({"version": 1, "tasks": tasks})).expect("version 1");
    let event = push_event();
    render(
        &file,
        &RenderInput {
            tasks_for: TasksFor::Push,
            event: &event,
            root_url: "https://tc.example.com",
            branch: None,
        },
        NOW,
    )
    .expect("renders")
}

const PUSH_PULL_RELEASE: &str = r#"
version: 1
tasks:
  $let:
    head_rev:
      $if: 'tasks_for == "github-pull-request"'
      then: ${event.pull_request.head.sha}
      else: ${event.after}
  in:
    - $if: 'tasks_for in ["github-push", "github-pull-request", "github-release"]'
      then:
        taskId: {$eval: as_slugid("build")}
        provisionerId: proj-taskcluster
        workerType: ci
        deadline: {$fromNow: '1 day'}
        payload:
          command: ["echo", "${tasks_for}", "${head_rev}"]
        metadata:
          name: build
          description: build it
          owner: ci@example.com
          source: ${event.repository.clone_url}
    - $if: 'tasks_for == "github-push"'
      then:
        taskId: {$eval: as_slugid("test")}
        dependencies: [{$eval: as_slugid("build")}]
        provisionerId: proj-taskcluster
        workerType: ci
        payload: {}
        metadata: {name: test, description: test it, owner: ci@example.com, source: "https://example.com"}
"#;

#[test]
fn push_renders_both_tasks_in_dependency_order() {
    let r = render_yaml(PUSH_PULL_RELEASE, TasksFor::Push, &push_event()).expect("renders");
    assert_eq!(r.tasks.len(), 2);
    let (build, test) = (&r.tasks[0], &r.tasks[1]);
    assert!(relyard_core::ids::is_slugid(&build.task_id));
    assert_eq!(test.task["dependencies"], json!([build.task_id]));
    assert_eq!(
        build.task["payload"]["command"],
        json!(["echo", "github-push", "abc123"])
    );
    // Two tasks: one new group that is neither task.
    assert_eq!(build.task["taskGroupId"], test.task["taskGroupId"]);
    assert_ne!(build.task["taskGroupId"], json!(build.task_id));
    assert_eq!(build.task["schedulerId"], "taskcluster-github");
    assert_eq!(build.task["created"], NOW);
    assert_eq!(build.task["routes"], json!(["statuses"]));
    assert!(build.task.get("taskId").is_none());
}

#[test]
fn pull_request_renders_only_its_task() {
    let event = json!({"action": "opened", "pull_request": {"head": {"sha": "def456"}}, "repository": {"clone_url": "u"}});
    let r = render_yaml(PUSH_PULL_RELEASE, TasksFor::PullRequest, &event).expect("renders");
    assert_eq!(r.tasks.len(), 1);
    let t = &r.tasks[0];
    assert_eq!(
        t.task["payload"]["command"],
        json!(["echo", "github-pull-request", "def456"])
    );
    // One task: its own group, like a decision task.
    assert_eq!(t.task["taskGroupId"], json!(t.task_id));
}

#[test]
fn release_renders_and_untrusted_pull_request_gets_nothing() {
    let event = json!({"action": "published", "after": "r1", "release": {"tag_name": "v1"}, "repository": {"clone_url": "u"}});
    let r = render_yaml(PUSH_PULL_RELEASE, TasksFor::Release, &event).expect("renders");
    assert_eq!(r.tasks.len(), 1);
    assert_eq!(r.tasks[0].task["payload"]["command"][1], "github-release");
    let r =
        render_yaml(PUSH_PULL_RELEASE, TasksFor::PullRequestUntrusted, &event).expect("renders");
    assert!(r.tasks.is_empty());
}

#[test]
fn no_tasks_absent_null_or_empty() {
    for yaml in [
        "version: 1\n",
        "version: 1\ntasks: null\n",
        "version: 1\ntasks: []\n",
    ] {
        let r = render_yaml(yaml, TasksFor::Push, &push_event()).expect("renders");
        assert!(r.tasks.is_empty(), "{yaml}");
    }
    let err = render_yaml("version: 1\ntasks: {a: 1}\n", TasksFor::Push, &push_event());
    assert_eq!(err, Err(TcYmlError::TasksNotAList));
}

#[test]
fn json_e_error_names_the_failing_expression() {
    let yaml = "version: 1\ntasks:\n  - payload:\n      command: ['${event.nonexistent.sha}']\n";
    let err = render_yaml(yaml, TasksFor::Push, &push_event()).expect_err("fails");
    let text = err.to_string();
    assert!(text.contains("JSON-e error"), "{text}");
    assert!(text.contains("tasks[0].payload.command[0]"), "{text}");
    assert!(text.contains("${event.nonexistent.sha}"), "{text}");
    let yaml = "version: 1\ntasks:\n  - taskId: {$eval: 'no_such_function(1)'}\n";
    let text = render_yaml(yaml, TasksFor::Push, &push_event())
        .expect_err("fails")
        .to_string();
    assert!(text.contains("no_such_function(1)"), "{text}");
}

#[test]
fn versions_other_than_one_are_refused() {
    assert_eq!(
        TcYml::parse("version: 0\ntasks: []\n"),
        Err(TcYmlError::Version("0".into()))
    );
    assert_eq!(
        TcYml::parse("tasks: []\n"),
        Err(TcYmlError::Version("(missing)".into()))
    );
    assert!(matches!(
        TcYml::parse("version: [1\n"),
        Err(TcYmlError::Yaml(_))
    ));
    assert_eq!(TcYml::parse("- 1\n"), Err(TcYmlError::NotAMapping));
}

#[test]
fn as_slugid_is_stable_per_label() {
    let file = TcYml::from_value(json!({"version": 1, "tasks": [], "a": {"$eval": "as_slugid('x')"},
        "b": {"$eval": "as_slugid(\"x\")"}, "c": {"$eval": "as_slugid('y')"}, "d": {"$eval": "as_slugid(1)"},
        "e": {"$eval": "as_slugid('1')"}, "f": "id-${as_slugid('x')}", "g": {"$if": "as_slugid('x') == as_slugid('x')", "then": "same"},
        "h": {"$eval": "as_slugid('constructor')"}}))
    .expect("v1");
    let event = push_event();
    let input = RenderInput {
        tasks_for: TasksFor::Push,
        event: &event,
        root_url: "r",
        branch: None,
    };
    let prepared = slugids::rewrite_calls(&file.document);
    let out = slugids::resolve_markers(json_e::render(&prepared, &json!({})).expect("renders"));
    let a = out["a"].as_str().expect("string");
    assert!(relyard_core::ids::is_slugid(a), "{a}");
    assert_eq!(out["b"], out["a"]);
    assert_ne!(out["c"], out["a"]);
    assert_eq!(out["d"], out["e"]);
    assert_eq!(out["f"], json!(format!("id-{a}")));
    assert_eq!(out["g"], "same");
    assert!(relyard_core::ids::is_slugid(
        out["h"].as_str().expect("string")
    ));
    // A fresh render gives fresh slugids.
    let again = slugids::resolve_markers(json_e::render(&prepared, &json!({})).expect("renders"));
    assert_ne!(again["a"], out["a"]);
    // And the result is not callable.
    let called = TcYml::from_value(
        json!({"version": 1, "tasks": [{"x": {"$eval": "as_slugid('c')('pwn')"}}]}),
    )
    .expect("v1");
    assert!(render(&called, &input, NOW).is_err());
}

#[test]
fn one_task_defaults_follow_tc_github() {
    let r = render_tasks(json!([{}]));
    let t = &r.tasks[0];
    assert_eq!(
        t.task,
        json!({"created": NOW, "taskGroupId": t.task_id, "schedulerId": "taskcluster-github", "routes": ["statuses"]})
    );
    let r = render_tasks(json!([{"taskId": "task-1"}]));
    assert_eq!(r.tasks[0].task_id, "task-1");
    assert_eq!(r.tasks[0].task["taskGroupId"], "task-1");
    let r = render_tasks(json!([{"taskGroupId": "tgid-1"}]));
    assert_eq!(r.tasks[0].task_id, "tgid-1");
}

#[test]
fn user_values_win_and_routes_are_added_once() {
    let r = render_tasks(json!([
        {"taskId": "task-1", "taskGroupId": "tgid-1", "schedulerId": "mine", "routes": ["statuses", "index.x"]},
        {"taskId": "task-2", "taskGroupId": "tgid-2", "schedulerId": "mine"},
    ]));
    assert_eq!(
        r.tasks[0].task,
        json!({"created": NOW, "taskGroupId": "tgid-1", "schedulerId": "mine", "routes": ["statuses", "index.x"]})
    );
    assert_eq!(r.tasks[1].task["taskGroupId"], "tgid-2");
    let file = TcYml::from_value(
        json!({"version": 1, "reporting": "checks-v1", "tasks": [{"taskId": "t"}]}),
    )
    .expect("v1");
    let event = push_event();
    let input = RenderInput {
        tasks_for: TasksFor::Push,
        event: &event,
        root_url: "r",
        branch: None,
    };
    let r = render(&file, &input, NOW).expect("renders");
    assert_eq!(r.tasks[0].task["routes"], json!(["checks"]));
    assert_eq!(r.route(), "checks");
}

#[test]
fn dependencies_come_first_and_cycles_are_errors() {
    let r = render_tasks(json!([
        {"taskId": "c", "dependencies": ["b", "outside"]},
        {"taskId": "b", "dependencies": ["a"]},
        {"taskId": "a"},
        {"taskId": "d"},
    ]));
    let ids: Vec<&str> = r.tasks.iter().map(|t| t.task_id.as_str()).collect();
    assert_eq!(ids, ["a", "d", "b", "c"]);
    let file = TcYml::from_value(json!({"version": 1, "tasks": [
        {"taskId": "a", "dependencies": ["b"]}, {"taskId": "b", "dependencies": ["a"]}, {"taskId": "c"}]})).expect("v1");
    let event = push_event();
    let input = RenderInput {
        tasks_for: TasksFor::Push,
        event: &event,
        root_url: "r",
        branch: None,
    };
    assert_eq!(
        render(&file, &input, NOW),
        Err(TcYmlError::Cycle(vec!["a".into(), "b".into()]))
    );
}

#[test]
fn branch_names_must_be_printable_ascii() {
    let file = TcYml::parse("version: 1\n").expect("v1");
    let event = push_event();
    let input = RenderInput {
        tasks_for: TasksFor::Push,
        event: &event,
        root_url: "r",
        branch: Some("bräanch"),
    };
    assert_eq!(render(&file, &input, NOW), Err(TcYmlError::BranchName));
}
