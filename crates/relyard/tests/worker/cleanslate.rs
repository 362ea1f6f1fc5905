//! Nothing a task started outlives it, daemons that left its process group and session included.

use std::time::Duration;

use serde_json::json;

use crate::common::{alive, gone_within, sh, wait_file, Env};

async fn a_double_forked_daemon_is_killed(mode: &str) {
    let env = Env::new().await;
    let _worker = env.worker(&format!("clean-{mode}"), &["--cleanslate", mode]);
    let pidfile = env.path("daemon.pid");
    // The daemon leaves the task's session (setsid) and its parent exits at once, so it is
    // re-parented and in no process group of the task's.
    let script = format!(
        "(setsid sh -c 'sleep 1000 & echo $! > {}' &) ; while [ ! -s {} ]; do sleep 0.02; done",
        pidfile.display(),
        pidfile.display()
    );
    let id = env
        .create(&env.task(
            "daemon",
            json!({"command": [sh(&script)], "maxRunTime": 30}),
        ))
        .await;
    let status = env.wait_resolved(&id).await;
    assert_eq!(status["state"], "completed", "{status:#}");
    let pid: i32 = wait_file(&pidfile, Duration::from_secs(5))
        .await
        .parse()
        .expect("pid");
    // Resolution comes after the clean slate: the daemon is already gone.
    let left = alive(pid);
    if left {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    assert!(
        !left,
        "the double-forked sleep 1000 ({pid}) outlived its task"
    );
    let log = env.log(&id).await;
    assert!(log.contains("Clean slate: killed"), "{log}");
}

#[tokio::test]
async fn a_double_forked_daemon_is_killed_with_cgroups_or_snapshots() {
    a_double_forked_daemon_is_killed("auto").await;
}

#[tokio::test]
async fn a_double_forked_daemon_is_killed_by_process_snapshot() {
    a_double_forked_daemon_is_killed("snapshot").await;
}

#[tokio::test]
async fn the_task_directory_is_fresh_and_removed() {
    let env = Env::new().await;
    let _worker = env.worker("fresh", &[]);
    let seen = env.path("seen");
    let payload = json!({
        "command": [sh(&format!("ls -A | wc -l > {}; pwd >> {}; touch leftover", seen.display(), seen.display()))],
        "maxRunTime": 30,
    });
    let id = env.create(&env.task("fresh", payload)).await;
    assert_eq!(env.wait_resolved(&id).await["state"], "completed");
    let text = std::fs::read_to_string(&seen).expect("seen");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("0"), "the task directory was not empty");
    let dir = lines.next().expect("pwd");
    assert!(
        gone_within_dir(dir).await,
        "the task directory {dir} was left behind"
    );
}

async fn gone_within_dir(dir: &str) -> bool {
    for _ in 0..100 {
        if !std::path::Path::new(dir).exists() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test]
async fn processes_of_a_finished_task_are_gone_before_it_resolves() {
    let env = Env::new().await;
    let _worker = env.worker("bg", &[]);
    let pidfile = env.path("bg.pid");
    // A plain background child that the task does not wait for.
    let payload = json!({
        "command": [sh(&format!("sleep 1000 & echo $! > {}", pidfile.display()))],
        "maxRunTime": 30,
    });
    let id = env.create(&env.task("bg", payload)).await;
    assert_eq!(env.wait_resolved(&id).await["state"], "completed");
    let pid: i32 = wait_file(&pidfile, Duration::from_secs(5))
        .await
        .parse()
        .expect("pid");
    assert!(
        gone_within(pid, Duration::from_millis(100)).await,
        "sleep 1000 survived"
    );
}
