//! Run control: cancel, a worker killed mid-task, a worker asked to stop.

use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::json;

use crate::common::{gone_within, sh, sleeper, wait_file, Env};

#[tokio::test]
async fn canceling_a_running_task_stops_it_within_two_seconds() {
    let env = Env::new().await;
    let _worker = env.worker("cancel", &[]);
    let pidfile = env.path("pid");
    let payload = sleeper(&pidfile, 600, 600);
    let id = env.create(&env.task("cancel", payload)).await;
    let pid: i32 = wait_file(&pidfile, Duration::from_secs(30))
        .await
        .parse()
        .expect("pid");
    env.queue().cancelTask(&id).await.expect("cancelTask");
    assert!(
        gone_within(pid, Duration::from_secs(2)).await,
        "the canceled task's sleep still runs 2 s after cancelTask"
    );
    let status = env.status(&id).await;
    assert_eq!(
        status["runs"][0]["reasonResolved"], "canceled",
        "{status:#}"
    );
}

#[tokio::test]
async fn a_worker_killed_mid_task_is_replaced_by_another_after_claim_expiry() {
    let env = Env::with_claim_timeout(2).await;
    let mut first = env.worker("doomed", &[]);
    let pidfile = env.path("run0.pid");
    // Run 0 hangs (until this test kills it); any later run completes at once.
    let script = format!(
        "if [ \"$RUN_ID\" = 0 ]; then sleep 600 & echo $! > {}; wait; fi; echo run $RUN_ID done",
        pidfile.display()
    );
    let id = env
        .create(&env.task(
            "survivor",
            json!({"command": [sh(&script)], "maxRunTime": 600}),
        ))
        .await;
    let orphan: i32 = wait_file(&pidfile, Duration::from_secs(30))
        .await
        .parse()
        .expect("pid");
    first.signal(Signal::SIGKILL);
    first.wait(Duration::from_secs(10)).await;
    // A worker killed outright cleans nothing up; the machine would be recycled. Not here.
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(orphan), Signal::SIGKILL);

    let _second = env.worker("rescuer", &[]);
    let status = env
        .wait_state(&id, &["completed"], Duration::from_secs(60))
        .await;
    assert_eq!(
        status["runs"][0]["reasonResolved"], "claim-expired",
        "{status:#}"
    );
    assert_eq!(status["runs"][0]["workerId"], "doomed");
    assert_eq!(status["runs"][1]["reasonCreated"], "retry");
    assert_eq!(status["runs"][1]["workerId"], "rescuer");
    assert!(env.log(&id).await.contains("run 1 done"));
}

#[tokio::test]
async fn sigterm_resolves_running_tasks_as_worker_shutdown_after_the_grace() {
    let env = Env::new().await;
    let mut worker = env.worker("stopping", &["--shutdown-grace", "200ms"]);
    let pidfile = env.path("pid");
    let payload = sleeper(&pidfile, 600, 600);
    let id = env.create(&env.task("shutdown", payload)).await;
    let pid: i32 = wait_file(&pidfile, Duration::from_secs(30))
        .await
        .parse()
        .expect("pid");
    worker.signal(Signal::SIGTERM);
    let exit = worker.wait(Duration::from_secs(30)).await;
    assert!(exit.success(), "{exit:?}");
    assert!(
        gone_within(pid, Duration::from_secs(1)).await,
        "the task's sleep survived the worker"
    );
    let status = env.status(&id).await;
    assert_eq!(
        status["runs"][0]["reasonResolved"], "worker-shutdown",
        "{status:#}"
    );
    // The queue retries it.
    assert_eq!(status["runs"][1]["reasonCreated"], "retry", "{status:#}");
    assert_eq!(status["state"], "pending");
}

#[tokio::test]
async fn reclaims_keep_a_task_longer_than_its_claim_and_refresh_the_proxys_credentials() {
    // Claims (and the temporary credentials that come with them) last 2 s; the task runs 4 s and
    // then calls the proxy, which must be signing with credentials from a later reclaim.
    let env = Env::with_claim_timeout(2).await;
    env.set_secret("proj/late", json!({"v": "still-here"}))
        .await;
    let _worker = env.worker("reclaimer", &[]);
    let script = r#"
        sleep 4
        mkdir out
        curl -s -D out/headers.txt -o out/late.json -w '%{http_code}' "$TASKCLUSTER_PROXY_URL/api/secrets/v1/secret/proj/late" > out/late.code
    "#;
    let def = env.proxy_task("long", script, &["secrets:get:proj/late"]);
    let id = env.create(&def).await;
    let status = env.wait_resolved(&id).await;
    assert_eq!(status["state"], "completed", "{status:#}");
    assert_eq!(
        status["runs"].as_array().map(Vec::len),
        Some(1),
        "{status:#}"
    );
    assert_eq!(env.artifact(&id, "public/out/late.code").await, b"200");
    // The proxy names the credentials it signs with; theirs end in `/until/<takenUntil>`, and
    // must come from a reclaim (the first claim's ran out 2 s after the start).
    let headers =
        String::from_utf8_lossy(&env.artifact(&id, "public/out/headers.txt").await).into_owned();
    let client_id = headers
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("x-taskcluster-proxy-temp-clientid:")
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no client id header: {headers}"));
    let until: i64 = client_id
        .rsplit('/')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{client_id}"));
    let started = chrono::DateTime::parse_from_rfc3339(
        status["runs"][0]["started"].as_str().expect("started"),
    )
    .expect("date")
    .timestamp();
    assert!(
        until > started + 2,
        "the proxy still signs with the claim's first credentials: {client_id}"
    );
}
