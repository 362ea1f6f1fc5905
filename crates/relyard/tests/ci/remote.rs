//! `relyard ci run --root-url`: submitted to a running server (SQLite, or PostgreSQL with
//! TEST_DATABASE_URL) whose own worker runs the tasks.

use std::process::Stdio;

use relyard_testing::TestServer;

use crate::common::{repo, stderr, stdout};

#[tokio::test(flavor = "multi_thread")]
async fn runs_on_a_given_server_and_its_workers() {
    let server = TestServer::start().await;
    let repo = repo("failing");
    let work = tempfile::tempdir().expect("tempdir");
    let _worker = tokio::process::Command::new(env!("CARGO_BIN_EXE_relyard"))
        .args([
            "worker",
            "--task-queue",
            "proj-fixture/ci",
            "--worker-id",
            "remote-1",
        ])
        .arg("--work-dir")
        .arg(work.path())
        .env("TASKCLUSTER_ROOT_URL", &server.root_url)
        .env("TASKCLUSTER_CLIENT_ID", relyard_auth::ROOT_CLIENT_ID)
        .env("TASKCLUSTER_ACCESS_TOKEN", &server.root_access_token)
        .env_remove("TASKCLUSTER_CERTIFICATE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("starting a worker");

    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_relyard"))
        .current_dir(repo.path())
        .args(["ci", "run", "--root-url", &server.root_url])
        .env("TASKCLUSTER_CLIENT_ID", relyard_auth::ROOT_CLIENT_ID)
        .env("TASKCLUSTER_ACCESS_TOKEN", &server.root_access_token)
        .env_remove("TASKCLUSTER_CERTIFICATE")
        .output()
        .await
        .expect("running relyard ci run");
    let (out_text, err_text) = (stdout(&out), stderr(&out));
    assert!(!out.status.success(), "{out_text}\n{err_text}");
    assert!(
        out_text.contains(&format!("on {}", server.root_url)),
        "{out_text}"
    );
    assert!(out_text.contains("1 completed, 1 failed"), "{out_text}");
    assert!(err_text.contains("FAIL: 2 + 2 gave 4, not 5"), "{err_text}");

    // The tasks are the server's: the failed one is there with its log.
    let queue = taskcluster::Queue::new(server.root_client()).expect("queue");
    let task_id = out_text
        .lines()
        .find(|l| l.trim_start().starts_with("failed"))
        .and_then(|l| l.split_whitespace().nth(2))
        .expect("the failed task in the summary")
        .to_string();
    let status = queue.status(&task_id).await.expect("status");
    assert_eq!(status["status"]["state"], "failed");
}
