//! Tasks running to their ends: graphs, artifacts, logs, time limits, payload errors.

use std::time::Duration;

use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use crate::common::{sh, sleeper, wait_file, Env};

#[tokio::test]
async fn a_three_task_graph_runs_to_completion_in_dependency_order() {
    let env = Env::new().await;
    let _worker = env.worker("graph", &[]);
    let order = env.path("order");
    let step = |name: &str| json!({"command": [sh(&format!("echo {name} >> {}", order.display()))], "maxRunTime": 30});
    let a = env.create(&env.task("a", step("a"))).await;
    let mut b_def = env.task("b", step("b"));
    b_def["dependencies"] = json!([a]);
    let b = env.create(&b_def).await;
    let mut c_def = env.task("c", step("c"));
    c_def["dependencies"] = json!([a, b]);
    let c = env.create(&c_def).await;
    for id in [&a, &b, &c] {
        let status = env.wait_resolved(id).await;
        assert_eq!(status["state"], "completed", "{status:#}");
    }
    assert_eq!(std::fs::read_to_string(&order).expect("order"), "a\nb\nc\n");
}

#[tokio::test]
async fn an_artifact_is_downloaded_byte_identical() {
    let env = Env::new().await;
    let _worker = env.worker("artifacts", &[]);
    // Bytes of every value, and enough of them to need several chunks.
    let data: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let source = env.path("source.bin");
    std::fs::write(&source, &data).expect("write source");
    let payload = json!({
        "command": [sh(&format!("mkdir -p out/sub && cp {} out/sub/data.bin && echo small > small.txt", source.display()))],
        "maxRunTime": 30,
        "artifacts": [
            {"type": "directory", "path": "out", "name": "public/out"},
            {"type": "file", "path": "small.txt", "name": "public/small.txt"},
        ],
    });
    let id = env.create(&env.task("artifacts", payload)).await;
    assert_eq!(env.wait_resolved(&id).await["state"], "completed");
    let got = env.artifact(&id, "public/out/sub/data.bin").await;
    assert_eq!(got.len(), data.len());
    assert_eq!(Sha256::digest(&got), Sha256::digest(&data));
    assert_eq!(env.artifact(&id, "public/small.txt").await, b"small\n");
}

#[tokio::test]
async fn the_live_log_is_readable_while_the_task_runs() {
    let env = Env::new().await;
    let _worker = env.worker("livelog", &[]);
    let gate = env.path("gate");
    let payload = json!({
        "command": [sh(&format!("echo before-the-wait; while [ ! -e {} ]; do sleep 0.05; done; echo after-the-wait", gate.display()))],
        "maxRunTime": 60,
    });
    let id = env.create(&env.task("livelog", payload)).await;
    env.wait_state(&id, &["running"], Duration::from_secs(30))
        .await;
    // While the task waits for the gate, `relyard task log -f` streams what it printed so far
    // (waiting for the live log's artifact if the task has only just been claimed).
    let mut follower = tokio::process::Command::new(env!("CARGO_BIN_EXE_relyard"))
        .args(["task", "log", "-f", &id])
        .env("TASKCLUSTER_ROOT_URL", &env.server.root_url)
        .env("TASKCLUSTER_CLIENT_ID", relyard_auth::ROOT_CLIENT_ID)
        .env("TASKCLUSTER_ACCESS_TOKEN", &env.server.root_access_token)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("relyard task log starts");
    let mut out = follower.stdout.take().expect("stdout");
    let mut seen = String::new();
    let mut buf = vec![0u8; 4096];
    while !seen.contains("before-the-wait") {
        let n = tokio::time::timeout(Duration::from_secs(20), out.read(&mut buf))
            .await
            .expect("live log bytes in time")
            .expect("read");
        assert!(n > 0, "the log ended while the task runs: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert_eq!(
        env.status(&id).await["state"],
        "running",
        "read while running"
    );
    std::fs::write(&gate, "go").expect("open the gate");
    // The same stream follows the task to its end, and the command exits.
    tokio::time::timeout(Duration::from_secs(20), out.read_to_string(&mut seen))
        .await
        .expect("the log ends in time")
        .expect("read");
    let status = follower.wait().await.expect("wait");
    assert!(status.success(), "{status:?}");
    assert!(seen.contains("after-the-wait"), "{seen}");
    assert_eq!(env.wait_resolved(&id).await["state"], "completed");
    // Afterwards live.log is a link to the uploaded backing log.
    let artifacts = env
        .queue()
        .listLatestArtifacts(&id, None, None)
        .await
        .expect("list");
    let live = artifacts["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .find(|a| a["name"] == "public/logs/live.log")
        .expect("live.log")
        .clone();
    assert_eq!(live["storageType"], "link");
    let log = env.log(&id).await;
    assert!(
        log.contains("before-the-wait") && log.contains("after-the-wait"),
        "{log}"
    );
    assert!(
        log.contains("[relyard-worker "),
        "worker lines are prefixed: {log}"
    );
    let backing = String::from_utf8_lossy(&env.artifact(&id, "public/logs/live_backing.log").await)
        .into_owned();
    assert_eq!(backing, log);
}

#[tokio::test]
async fn max_run_time_kills_the_task_and_fails_it() {
    let env = Env::new().await;
    let _worker = env.worker("maxrun", &[]);
    let pidfile = env.path("pid");
    let payload = sleeper(&pidfile, 120, 1);
    let id = env.create(&env.task("maxrun", payload)).await;
    let status = env.wait_resolved(&id).await;
    assert_eq!(status["state"], "failed", "{status:#}");
    let pid: i32 = wait_file(&pidfile, Duration::from_secs(5))
        .await
        .parse()
        .expect("pid");
    assert!(
        crate::common::gone_within(pid, Duration::from_secs(2)).await,
        "the sleep outlived its task"
    );
    let log = env.log(&id).await;
    assert!(log.contains("max run time exceeded"), "{log}");
}

#[tokio::test]
async fn task_env_exit_codes_and_payload_errors() {
    let env = Env::new().await;
    let _worker = env.worker("results", &[]);
    // The documented variables, and the payload's env.
    let ok = env
        .create(&env.task("env", json!({
            "command": [sh("test -n \"$TASK_ID\" && test \"$RUN_ID\" = 0 && test -n \"$TASK_GROUP_ID\" && test \"$TASK_WORKDIR\" = \"$PWD\" && test -n \"$TASKCLUSTER_ROOT_URL\" && test \"$GREETING\" = hello")],
            "env": {"GREETING": "hello"},
            "maxRunTime": 30,
        })))
        .await;
    // The first failing command fails the task; later ones do not run.
    let marker = env.path("never");
    let failing = env
        .create(&env.task(
            "fails",
            json!({
                "command": [sh("exit 3"), sh(&format!("touch {}", marker.display()))],
                "maxRunTime": 30,
            }),
        ))
        .await;
    let retried = env
        .create(&env.task(
            "intermittent",
            json!({
                "command": [sh("exit 36")],
                "maxRunTime": 30,
                "onExitStatus": {"retry": [36]},
            }),
        ))
        .await;
    let malformed = env
        .create(&env.task(
            "malformed",
            json!({"command": [["true"]], "maxRunTime": 30, "nonsense": true}),
        ))
        .await;
    let missing = env
        .create(&env.task("missing", json!({
            "command": [["true"]],
            "maxRunTime": 30,
            "artifacts": [{"type": "file", "path": "nope.txt", "name": "public/nope.txt"}, {"type": "file", "path": "opt.txt", "optional": true}],
        })))
        .await;

    // The queue refuses a content type of over 255 characters: the payload's fault.
    let refused = env
        .create(&env.task(
            "refused-artifact",
            json!({
                "command": [sh("echo x > a.txt")],
                "maxRunTime": 30,
                "artifacts": [{"type": "file", "path": "a.txt", "name": "public/a.txt", "contentType": "x".repeat(300)}],
            }),
        ))
        .await;
    assert_eq!(env.wait_resolved(&ok).await["state"], "completed");
    assert_eq!(env.wait_resolved(&failing).await["state"], "failed");
    assert!(!marker.exists(), "a command after the failing one ran");

    let first = env
        .wait_for(&retried, Duration::from_secs(30), |s| {
            s["runs"][0]["state"] == "exception"
        })
        .await;
    assert_eq!(
        first["runs"][0]["reasonResolved"], "intermittent-task",
        "{first:#}"
    );
    assert_eq!(first["runs"][1]["reasonCreated"], "task-retry", "{first:#}");

    let status = env.wait_resolved(&malformed).await;
    assert_eq!(status["state"], "exception");
    assert_eq!(status["runs"][0]["reasonResolved"], "malformed-payload");
    let log = env.log(&malformed).await;
    assert!(log.contains("nonsense"), "the reason is in the log: {log}");

    let status = env.wait_resolved(&refused).await;
    assert_eq!(
        status["runs"][0]["reasonResolved"], "malformed-payload",
        "{status:#}"
    );
    let log = env.log(&refused).await;
    assert!(
        log.contains("contentType"),
        "the queue's reason is in the log: {log}"
    );

    let status = env.wait_resolved(&missing).await;
    assert_eq!(status["state"], "failed", "{status:#}");
    let url = env
        .queue()
        .getLatestArtifact_signed_url(&missing, "public/nope.txt", Duration::from_secs(60))
        .expect("url");
    let resp = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(&url)
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status().as_u16(), 424, "an error artifact");
    let body: serde_json::Value = resp.json().await.expect("json");
    assert!(
        body.to_string().contains("file-missing-on-worker"),
        "{body}"
    );
}

#[tokio::test]
async fn a_worker_runs_as_many_tasks_at_once_as_its_capacity_even_beyond_one_claim() {
    let env = Env::new().await;
    // 40 > 32, the most one claimWork call hands out.
    let _worker = env.worker("wide", &["--capacity", "40"]);
    let gate = env.path("gate");
    let payload = json!({
        "command": [sh(&format!("while [ ! -e {} ]; do sleep 0.05; done", gate.display()))],
        "maxRunTime": 60,
    });
    let mut ids = Vec::new();
    for _ in 0..40 {
        ids.push(env.create(&env.task("wide", payload.clone())).await);
    }
    for id in &ids {
        env.wait_state(id, &["running"], Duration::from_secs(30))
            .await;
    }
    std::fs::write(&gate, "go").expect("open the gate");
    for id in &ids {
        assert_eq!(env.wait_resolved(id).await["state"], "completed");
    }
}

#[tokio::test]
async fn mounts_bring_artifacts_and_urls_into_the_task_directory_checked_by_sha256() {
    let env = Env::new().await;
    let _worker = env.worker("mounts", &[]);
    let make = json!({
        "command": [sh("mkdir -p out tools/bin && echo 'echo from-the-tool' > tools/bin/tool.sh && tar czf out/tools.tar.gz -C tools . && echo hello-mount > out/data.txt")],
        "maxRunTime": 30,
        "artifacts": [{"type": "directory", "path": "out", "name": "public/m"}],
    });
    let producer = env.create(&env.task("producer", make)).await;
    let sha = hex::encode(Sha256::digest(b"hello-mount\n"));
    let url = format!(
        "{}/api/queue/v1/task/{producer}/artifacts/public%2Fm%2Fdata.txt",
        env.server.root_url
    );
    let mut consume_def = env.task(
        "consumer",
        json!({
            "command": [sh("cat in/data.txt viaurl.txt && sh tools/bin/tool.sh && stat -c 'mode=%a' tools/bin/tool.sh")],
            "maxRunTime": 30,
            "mounts": [
                {"file": "in/data.txt", "content": {"taskId": producer, "artifact": "public/m/data.txt", "sha256": sha}},
                {"directory": "tools", "format": "tar.gz", "content": {"taskId": producer, "artifact": "public/m/tools.tar.gz"}},
                {"file": "viaurl.txt", "content": {"url": url, "sha256": sha}},
            ],
        }),
    );
    consume_def["dependencies"] = json!([producer]);
    let consumer = env.create(&consume_def).await;
    let mut bad_def = env.task(
        "tampered",
        json!({
            "command": [["true"]],
            "maxRunTime": 30,
            "mounts": [{"file": "in/data.txt", "content": {"taskId": producer, "artifact": "public/m/data.txt", "sha256": "0".repeat(64)}}],
        }),
    );
    bad_def["dependencies"] = json!([producer]);
    let tampered = env.create(&bad_def).await;

    let status = env.wait_resolved(&consumer).await;
    let log = env.log(&consumer).await;
    assert_eq!(status["state"], "completed", "{log}");
    assert_eq!(log.matches("hello-mount").count(), 2, "{log}");
    assert!(log.contains("from-the-tool"), "{log}");
    assert!(
        log.contains("mode=444"),
        "the directory mount is read-only: {log}"
    );

    let status = env.wait_resolved(&tampered).await;
    assert_eq!(
        status["runs"][0]["reasonResolved"], "malformed-payload",
        "{status:#}"
    );
    let log = env.log(&tampered).await;
    assert!(log.contains("sha256"), "{log}");
}
