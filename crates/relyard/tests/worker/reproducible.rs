//! Reproducibility checks end to end: a `.taskcluster.yml` rendered by `relyard_github::tcyml`
//! with `extra.reproducible: true` tasks, created on the queue and run by two real workers. The
//! rerun lands on the other worker; a task writing a timestamp fails its verification naming
//! the artifact with both hashes, a deterministic one passes.

use std::time::Duration;

use relyard_github::tcyml::{render, RenderInput, TasksFor, TcYml};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::common::{sh, Env};

/// Runs `slots` barrier tasks that each wait until all have started: they can only finish when
/// every slot of every worker holds one, so afterwards every worker is known to the queue as
/// claiming from this task queue.
async fn all_workers_claiming(env: &Env, slots: usize) {
    let dir = env.path("barrier");
    std::fs::create_dir_all(&dir).expect("barrier dir");
    let mut ids = Vec::new();
    for i in 0..slots {
        let script = format!(
            "touch {d}/{i}; while [ $(ls {d} | wc -l) -lt {slots} ]; do sleep 0.02; done",
            d = dir.display()
        );
        let def = env.task(
            &format!("barrier {i}"),
            json!({"command": [sh(&script)], "maxRunTime": 60}),
        );
        ids.push(env.create(&def).await);
    }
    for id in &ids {
        assert_eq!(env.wait_resolved(id).await["state"], "completed");
    }
}

fn tcyml(task_queue: &str) -> String {
    let task = |name: &str, script: &str| {
        json!({
            "taskQueueId": task_queue,
            "deadline": {"$fromNow": "1 hour"},
            "payload": {
                "command": [["sh", "-c", script]],
                "maxRunTime": 60,
                "artifacts": [{"type": "directory", "path": "out", "name": "public/out"}],
            },
            "metadata": {"name": name, "description": "reproducibility test",
                "owner": "test@example.com", "source": "https://example.com/test"},
            "extra": {"reproducible": true},
        })
    };
    let doc = json!({
        "version": 1,
        "tasks": [
            task("stamp", "mkdir -p out && date +%s%N > out/stamp.txt && echo same > out/same.txt"),
            task("fixed", "mkdir -p out && printf 'fixed content\\n' > out/fixed.txt"),
        ],
    });
    // JSON is YAML: the file goes through the same parser as a repository's.
    doc.to_string()
}

/// The rendered graph, created on the queue in its order; (taskId, definition) each.
async fn create_graph(env: &Env) -> Vec<(String, Value)> {
    let file = TcYml::parse(&tcyml(&env.task_queue)).expect("a valid .taskcluster.yml");
    let event = json!({"ref": "refs/heads/main", "after": "0123abcd"});
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let rendered = render(
        &file,
        &RenderInput {
            tasks_for: TasksFor::Push,
            event: &event,
            root_url: &env.server.root_url,
            branch: Some("main"),
        },
        &now,
    )
    .expect("renders");
    let queue = env.queue();
    let mut graph = Vec::new();
    for t in rendered.tasks {
        queue
            .createTask(&t.task_id, &t.task)
            .await
            .unwrap_or_else(|e| panic!("createTask {}: {e:#}", t.task["metadata"]["name"]));
        graph.push((t.task_id, t.task));
    }
    graph
}

/// The task whose name is `name`.
fn named<'a>(graph: &'a [(String, Value)], name: &str) -> &'a str {
    graph
        .iter()
        .find(|(_, t)| t["metadata"]["name"] == name)
        .map(|(id, _)| id.as_str())
        .unwrap_or_else(|| panic!("no task named {name}"))
}

fn worker_of(status: &Value) -> String {
    let run = status["runs"]
        .as_array()
        .and_then(|r| r.last())
        .expect("a run");
    format!(
        "{}/{}",
        run["workerGroup"].as_str().unwrap_or("?"),
        run["workerId"].as_str().unwrap_or("?")
    )
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[tokio::test]
async fn reruns_go_to_the_other_worker_and_only_the_deterministic_task_verifies() {
    let env = Env::new().await;
    // Two slots each: one worker could take a task and its rerun in one claim.
    let _w1 = env.worker("repro-1", &["--capacity", "2"]);
    let _w2 = env.worker("repro-2", &["--capacity", "2"]);
    all_workers_claiming(&env, 4).await;

    let graph = create_graph(&env).await;
    assert_eq!(
        graph.len(),
        6,
        "two tasks, each with a rerun and a verification"
    );
    let mut status = std::collections::HashMap::new();
    for (id, _) in &graph {
        status.insert(id.clone(), env.wait_resolved(id).await);
    }
    let id = |name: &str| named(&graph, name).to_string();
    for name in [
        "stamp",
        "stamp (reproducibility rerun)",
        "fixed",
        "fixed (reproducibility rerun)",
    ] {
        assert_eq!(
            status[&id(name)]["state"],
            "completed",
            "{name}: {:#}",
            status[&id(name)]
        );
    }

    // Each rerun ran on the other worker.
    for name in ["stamp", "fixed"] {
        let (a, b) = (id(name), id(&format!("{name} (reproducibility rerun)")));
        assert_ne!(
            worker_of(&status[&a]),
            worker_of(&status[&b]),
            "{name} and its rerun on one worker"
        );
    }

    // The timestamp differs: the verification fails naming the artifact and both hashes.
    let verify_stamp = id("Verify reproducible: stamp");
    assert_eq!(
        status[&verify_stamp]["state"], "failed",
        "{:#}",
        status[&verify_stamp]
    );
    let log = env.log(&verify_stamp).await;
    let (a, b) = (id("stamp"), id("stamp (reproducibility rerun)"));
    let hash_a = sha256_hex(&env.artifact(&a, "public/out/stamp.txt").await);
    let hash_b = sha256_hex(&env.artifact(&b, "public/out/stamp.txt").await);
    assert_ne!(hash_a, hash_b);
    let differs = format!(
        "Differs: public/out/stamp.txt: sha256 {hash_a} ({a} run 0) vs {hash_b} ({b} run 0)"
    );
    assert!(log.contains(&differs), "{differs} not in:\n{log}");
    assert!(log.contains("Same: public/out/same.txt"), "{log}");
    assert!(
        !log.contains("public/logs/"),
        "logs are not compared:\n{log}"
    );
    for t in [&a, &b] {
        let line = format!("Task {t} run 0 ran on worker {}", worker_of(&status[t]));
        assert!(log.contains(&line), "{line} not in:\n{log}");
    }

    // Fixed content: the verification completes.
    let verify_fixed = id("Verify reproducible: fixed");
    assert_eq!(
        status[&verify_fixed]["state"], "completed",
        "{:#}",
        status[&verify_fixed]
    );
    let log = env.log(&verify_fixed).await;
    let fixed = sha256_hex(b"fixed content\n");
    assert!(
        log.contains(&format!("Same: public/out/fixed.txt sha256 {fixed}")),
        "{log}"
    );
    assert!(log.contains("Reproducible: all 1 artifact(s)"), "{log}");
}

#[tokio::test]
async fn one_worker_runs_both_and_a_bad_verification_payload_is_malformed() {
    let env = Env::new().await;
    let _w = env.worker("repro-solo", &[]);
    let graph = create_graph(&env).await;
    for (id, _) in &graph {
        env.wait_resolved(id).await;
    }
    let verify = named(&graph, "Verify reproducible: fixed");
    assert_eq!(env.status(verify).await["state"], "completed");
    let log = env.log(verify).await;
    assert!(log.contains("Both runs were on worker"), "{log}");

    let dep = named(&graph, "fixed").to_string();
    let mut def = env.task(
        "bad verification",
        json!({"verifyReproducible": {"tasks": [dep]}}),
    );
    def["dependencies"] = json!([dep]);
    let bad = env.create(&def).await;
    let status = env
        .wait_state(
            &bad,
            &["completed", "failed", "exception"],
            Duration::from_secs(60),
        )
        .await;
    assert_eq!(status["state"], "exception");
    assert_eq!(status["runs"][0]["reasonResolved"], "malformed-payload");
    let log = env.log(&bad).await;
    assert!(log.contains("must name exactly two tasks"), "{log}");
}
