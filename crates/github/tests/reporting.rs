//! Reporting back after the graph resolves, end to end: a real relyard server with the GitHub
//! service configured, the stand-in GitHub recording calls, and tasks resolved through the queue
//! API (claimWork + reportCompleted / reportFailed with the root client). Waits are on the
//! stand-in's notifications, never on the clock.

mod common;

use common::fake_github::FakeGitHub;
use common::setup::{created, fixture, setup, Setup, PR_SHA, PUSH_SHA, TASKCLUSTER_YML};
use serde_json::{json, Value};

fn states(statuses: &[(String, Value)], sha: &str) -> Vec<String> {
    statuses
        .iter()
        .filter(|(s, _)| s == sha)
        .map(|(_, b)| b["state"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Waits for the push commit's second status; all statuses so far.
async fn second_status(gh: &FakeGitHub, what: &str) -> Vec<(String, Value)> {
    gh.wait_for(what, |gh| {
        let st = gh.statuses();
        (states(&st, PUSH_SHA).len() >= 2).then_some(st)
    })
    .await
}

/// The badge of a branch of relyard-ci/hello: (status, headers, svg).
async fn badge(s: &Setup, branch: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let url = s
        .github()
        .badge_signed_url(
            "relyard-ci",
            "hello",
            branch,
            std::time::Duration::from_secs(60),
        )
        .expect("url");
    s.fetch(&url).await
}

/// `builds` of relyard-ci/hello's pull request 7 (the fixtures').
async fn pull_request_7_builds(s: &Setup) -> Value {
    let query = (
        None,
        None,
        Some("relyard-ci"),
        Some("hello"),
        None,
        Some("7"),
    );
    s.builds(query).await.1
}

async fn push(s: &Setup) -> (String, Vec<String>) {
    let (status, answer) = s.deliver_signed("push", &fixture("push.json")).await;
    assert_eq!(status, 200, "{answer}");
    let (group, ids, _) = created(&answer);
    (group, ids)
}

#[tokio::test]
async fn push_posts_pending_then_success_once_every_task_completed() {
    let s = setup().await;
    let (group, ids) = push(&s).await;
    // The pending status is posted as the build starts.
    let statuses = s.gh.statuses();
    assert_eq!(states(&statuses, PUSH_SHA), ["pending"], "{statuses:?}");
    let pending = &statuses[0].1;
    assert_eq!(pending["context"], "Taskcluster (push)");
    assert_eq!(pending["description"], "TaskGroup: Pending (for push)");
    let group_url = format!("{}/tasks/groups/{group}", s.tc.root_url);
    assert_eq!(pending["target_url"], group_url);

    s.complete(&ids[0]).await;
    s.complete(&ids[1]).await;
    let statuses = second_status(&s.gh, "the success status").await;
    assert_eq!(
        states(&statuses, PUSH_SHA),
        ["pending", "success"],
        "{statuses:?}"
    );
    let success = &statuses[1].1;
    assert_eq!(success["context"], "Taskcluster (push)");
    assert_eq!(success["target_url"], group_url);
    assert_eq!(success["description"], "TaskGroup: success");

    // builds, badge and latest show it.
    let builds = s
        .builds((None, None, Some("relyard-ci"), Some("hello"), None, None))
        .await
        .1;
    let build = &builds["builds"][0];
    assert_eq!(
        builds["builds"].as_array().map(Vec::len),
        Some(1),
        "{builds}"
    );
    assert_eq!(build["taskGroupId"], group);
    assert_eq!(build["state"], "success");
    assert_eq!(build["sha"], PUSH_SHA);
    assert_eq!(build["eventType"], "push");
    assert_eq!(build["eventId"], "72d3162e-cc78-11e3-81ab-4c9367dc0958");
    assert!(build.get("pullRequestNumber").is_none(), "{build}");
    let (status, headers, svg) = badge(&s, "main").await;
    assert_eq!(status, 200, "{svg}");
    assert_eq!(headers["x-taskcluster-status"], "success");
    assert_eq!(headers["content-type"], "image/svg+xml");
    assert!(svg.contains("passing"), "{svg}");
    let latest = s
        .github()
        .latest_signed_url(
            "relyard-ci",
            "hello",
            "main",
            std::time::Duration::from_secs(60),
        )
        .expect("url");
    let (status, headers, _) = s.fetch(&latest).await;
    assert_eq!(status, 302);
    assert_eq!(headers["location"], group_url.as_str());
}

#[tokio::test]
async fn a_failed_task_posts_failure_and_the_build_shows_it() {
    let s = setup().await;
    let (group, ids) = push(&s).await;
    s.fail(&ids[0]).await;
    let statuses = second_status(&s.gh, "the failure status").await;
    assert_eq!(
        states(&statuses, PUSH_SHA),
        ["pending", "failure"],
        "{statuses:?}"
    );
    assert_eq!(statuses[1].1["description"], "TaskGroup: failure");
    // The dependent never runs; cancelling it resolves the group, still a failure (and not
    // posted again: the build's state did not change).
    s.queue().cancelTask(&ids[1]).await.expect("cancelTask");
    let builds = s
        .builds((
            None,
            None,
            Some("relyard-ci"),
            Some("hello"),
            Some(PUSH_SHA),
            None,
        ))
        .await
        .1;
    assert_eq!(builds["builds"][0]["taskGroupId"], group);
    assert_eq!(builds["builds"][0]["state"], "failure");
    let (_, headers, _) = badge(&s, "main").await;
    assert_eq!(headers["x-taskcluster-status"], "failure");
}

#[tokio::test]
async fn checks_v1_reports_one_check_run_per_task_with_taskclusters_conclusions() {
    let s = setup().await;
    let yml = TASKCLUSTER_YML.replace("version: 1\n", "version: 1\nreporting: checks-v1\n");
    s.gh.set_file(PR_SHA, &yml);
    let (status, answer) = s
        .deliver_signed("pull_request", &fixture("pull_request.opened.json"))
        .await;
    assert_eq!(status, 200, "{answer}");
    let (group, ids, scopes) = created(&answer);
    assert!(
        scopes.contains(&"queue:route:checks".to_string()),
        "{scopes:?}"
    );
    assert_eq!(s.task(&ids[0]).await["routes"], json!(["checks"]));
    // Both tasks are defined at once: two queued check runs.
    let runs =
        s.gh.wait_for("two check runs", |gh| {
            let runs = gh.check_runs();
            (runs.len() >= 2).then_some(runs)
        })
        .await;
    assert_eq!(runs.len(), 2, "{runs:?}");
    let build = s.gh.check_run("build").expect("build's check run");
    assert_eq!(build["external_id"], ids[0]);
    assert_eq!(build["head_sha"], PR_SHA);
    assert_eq!(build["status"], "queued");
    assert_eq!(build["output"]["title"], "Taskcluster (pull_request)");
    assert_eq!(build["output"]["summary"], "builds relyard-ci/hello");
    assert_eq!(
        build["details_url"],
        format!("{}/tasks/{}", s.tc.root_url, ids[0])
    );
    assert_eq!(
        s.gh.check_run("test").expect("test's")["external_id"],
        ids[1]
    );

    // build: in_progress while claimed, then success.
    let run = s.claim(&ids[0]).await;
    s.gh.wait_for("build in progress", |gh| {
        gh.check_run("build")
            .filter(|c| c["status"] == "in_progress")
    })
    .await;
    s.queue()
        .reportCompleted(&ids[0], &run.to_string())
        .await
        .expect("reportCompleted");
    let build =
        s.gh.wait_for("build completed", |gh| {
            gh.check_run("build").filter(|c| c["status"] == "completed")
        })
        .await;
    assert_eq!(build["conclusion"], "success");
    // test fails: failure.
    s.fail(&ids[1]).await;
    let test =
        s.gh.wait_for("test completed", |gh| {
            gh.check_run("test").filter(|c| c["status"] == "completed")
        })
        .await;
    assert_eq!(test["conclusion"], "failure");
    assert_eq!(s.gh.check_runs().len(), 2, "one check run per task");
    assert!(s.gh.statuses().is_empty(), "checks builds post no statuses");
    let builds = pull_request_7_builds(&s).await;
    assert_eq!(builds["builds"][0]["taskGroupId"], group);
    assert_eq!(builds["builds"][0]["pullRequestNumber"], 7);
    assert_eq!(builds["builds"][0]["eventType"], "pull_request.opened");
}

#[test]
fn conclusions_are_taskcluster_githubs() {
    use relyard_github::report::conclusion;
    for (reason, expected) in [
        ("completed", "success"),
        ("failed", "failure"),
        ("deadline-exceeded", "timed_out"),
        ("canceled", "cancelled"),
        ("worker-shutdown", "neutral"),
        ("intermittent-task", "neutral"),
        ("malformed-payload", "action_required"),
        ("claim-expired", "failure"),
        ("internal-error", "failure"),
    ] {
        assert_eq!(conclusion(reason, Some(3)), expected, "{reason}");
    }
    assert_eq!(conclusion("intermittent-task", Some(0)), "failure");
}

#[tokio::test]
async fn a_new_push_to_a_pull_request_cancels_the_previous_build() {
    let s = setup().await;
    let opened = fixture("pull_request.opened.json");
    let (_, answer) = s
        .deliver_signed_as("pull_request", "delivery-1", &opened)
        .await;
    let (old_group, old_ids, _) = created(&answer);
    let new_sha = "c0ffee0000000000000000000000000000000001";
    s.gh.set_file(new_sha, TASKCLUSTER_YML);
    let mut sync = opened.clone();
    sync["action"] = json!("synchronize");
    sync["pull_request"]["head"]["sha"] = json!(new_sha);
    let (_, answer) = s
        .deliver_signed_as("pull_request", "delivery-2", &sync)
        .await;
    let (new_group, new_ids, _) = created(&answer);
    for id in &old_ids {
        let status = s.queue().status(id).await.expect("status");
        assert_eq!(status["status"]["state"], "exception", "{status}");
        assert_eq!(
            status["status"]["runs"][0]["reasonResolved"], "canceled",
            "{status}"
        );
    }
    let status = s.queue().status(&new_ids[0]).await.expect("status");
    assert_eq!(status["status"]["state"], "pending", "{status}");
    let builds = pull_request_7_builds(&s).await;
    let state_of = |g: &str| {
        builds["builds"]
            .as_array()
            .and_then(|b| b.iter().find(|b| b["taskGroupId"] == g))
            .map(|b| b["state"].clone())
    };
    assert_eq!(state_of(&old_group), Some(json!("cancelled")), "{builds}");
    assert_eq!(state_of(&new_group), Some(json!("pending")), "{builds}");
}

#[tokio::test]
async fn auto_cancel_can_be_turned_off_and_never_touches_pushes() {
    let s = setup().await;
    let yml = format!("autoCancelPreviousChecks: false\n{TASKCLUSTER_YML}");
    s.gh.set_file(PR_SHA, &yml);
    let opened = fixture("pull_request.opened.json");
    let (_, answer) = s
        .deliver_signed_as("pull_request", "delivery-1", &opened)
        .await;
    let (_, old_ids, _) = created(&answer);
    let (_, answer) = s
        .deliver_signed_as("pull_request", "delivery-2", &opened)
        .await;
    created(&answer);
    let status = s.queue().status(&old_ids[0]).await.expect("status");
    assert_eq!(status["status"]["state"], "pending", "{status}");
    // Two pushes of the same branch: both keep running (Taskcluster-GitHub cancels only PRs).
    let (_, first) = push(&s).await;
    push(&s).await;
    let status = s.queue().status(&first[0]).await.expect("status");
    assert_eq!(status["status"]["state"], "pending", "{status}");
}

#[tokio::test]
async fn builds_badge_and_latest_answer_for_unknown_things() {
    let s = setup().await;
    let (status, err) = s
        .builds((None, None, None, Some("hello"), None, None))
        .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (400, Some("InputError")),
        "{err}"
    );
    let builds = s
        .builds((None, None, Some("nobody"), None, None, None))
        .await
        .1;
    assert_eq!(builds, json!({"builds": []}));
    let (status, headers, _) = badge(&s, "nope").await;
    assert_eq!(
        (status, &headers["x-taskcluster-status"]),
        (
            200,
            &"newrepo"
                .parse::<reqwest::header::HeaderValue>()
                .expect("value")
        )
    );
    let latest = s
        .github()
        .latest_signed_url(
            "relyard-ci",
            "hello",
            "nope",
            std::time::Duration::from_secs(60),
        )
        .expect("url");
    assert_eq!(s.fetch(&latest).await.0, 404);
    // Without credentials the anonymous role lacks github:list-builds.
    let anonymous =
        taskcluster::Github::new(taskcluster::ClientBuilder::new(&s.tc.root_url)).expect("client");
    let err = anonymous
        .builds(None, None, None, None, None, None)
        .await
        .expect_err("anonymous");
    assert_eq!(
        taskcluster::err_status_code(&err),
        Some(taskcluster::StatusCode::FORBIDDEN)
    );
}

#[tokio::test]
async fn builds_are_paged() {
    let s = setup().await;
    for _ in 0..3 {
        push(&s).await;
    }
    let first = s
        .builds((None, Some("2"), Some("relyard-ci"), None, None, None))
        .await
        .1;
    assert_eq!(first["builds"].as_array().map(Vec::len), Some(2), "{first}");
    let token = first["continuationToken"].as_str().expect("token");
    let second = s
        .builds((Some(token), Some("2"), Some("relyard-ci"), None, None, None))
        .await
        .1;
    assert_eq!(
        second["builds"].as_array().map(Vec::len),
        Some(1),
        "{second}"
    );
    assert!(second.get("continuationToken").is_none(), "{second}");
    let mut groups: Vec<Value> = first["builds"]
        .as_array()
        .into_iter()
        .chain(second["builds"].as_array())
        .flatten()
        .map(|b| b["taskGroupId"].clone())
        .collect();
    groups.dedup();
    assert_eq!(groups.len(), 3);
}

#[tokio::test]
async fn render_taskcluster_yml_answers_tasks_and_scopes() {
    let s = setup().await;
    let input = json!({
        "body": TASKCLUSTER_YML,
        "organization": "octo",
        "repository": "widgets",
        "fakeEvent": {"type": "github-push", "overrides": {"after": "abc123"}},
    });
    let out = s
        .github()
        .renderTaskclusterYml(&input)
        .await
        .expect("render");
    assert_eq!(
        out["scopes"],
        json!([
            "assume:repo:github.com/octo/widgets:branch:main",
            "queue:route:statuses",
            "queue:scheduler-id:taskcluster-github"
        ])
    );
    let tasks = out["tasks"].as_array().expect("tasks");
    assert_eq!(tasks.len(), 2);
    assert_eq!(
        tasks[0]["task"]["payload"]["command"],
        json!(["echo", "github-push", "abc123"])
    );
    assert_eq!(
        tasks[0]["task"]["metadata"]["description"],
        "builds octo/widgets"
    );
    assert_eq!(tasks[0]["taskId"].as_str().map(str::len), Some(22), "{out}");
    // No scopes needed; a broken file is a 400 naming the problem.
    let anonymous =
        taskcluster::Github::new(taskcluster::ClientBuilder::new(&s.tc.root_url)).expect("client");
    let broken = json!({"body": "version: 2\ntasks: []", "fakeEvent": {"type": "github-push"}});
    let err = anonymous
        .renderTaskclusterYml(&broken)
        .await
        .expect_err("bad version");
    assert_eq!(
        taskcluster::err_status_code(&err),
        Some(taskcluster::StatusCode::BAD_REQUEST)
    );
    assert!(format!("{err:#}").contains("version 2"), "{err:#}");
}

/// A server with the GitHub service on `db`, as `relyard serve` would start one.
async fn server_on(
    db: &relyard_testing::TestDb,
    root_access_token: &str,
    github: relyard::config::GitHubConfig,
    data: &std::path::Path,
) -> relyard::server::Server {
    let config = relyard::config::ServerConfig {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        root_url: None,
        database_url: db.url.clone(),
        amqp_url: None,
        data_dir: data.to_path_buf(),
        artifact_s3: None,
        root_access_token: root_access_token.to_string(),
        encryption_keys: vec![("test".into(), "a test encryption key".into())],
        claim_timeout_secs: relyard::config::DEFAULT_CLAIM_TIMEOUT_SECS,
        reaper_interval: relyard::config::DEFAULT_REAPER_INTERVAL,
        tls: None,
        updates: Default::default(),
        github: Some(github),
    };
    relyard::server::Server::start(config)
        .await
        .expect("server starts")
}

#[tokio::test]
async fn a_restarted_server_reports_the_builds_it_did_not_start() {
    let s = setup().await;
    let (group, ids) = push(&s).await;
    let github = s.github.clone();
    let token = s.tc.root_access_token.clone();
    let relyard_testing::TestServer { server, db, .. } = s.tc;
    server.stop().await.expect("first server stops");
    // Nothing about the build is left in memory: a new server finds it in the builds table.
    let data = tempfile::tempdir().expect("temp dir");
    let server = server_on(&db, &token, github, data.path()).await;
    let creds = taskcluster::Credentials::new(relyard_auth::ROOT_CLIENT_ID, &token);
    let queue = taskcluster::Queue::new(
        taskcluster::ClientBuilder::new(&server.root_url).credentials(creds),
    )
    .expect("queue");
    let claim = json!({"workerGroup": "tests", "workerId": "w2", "tasks": 1});
    for id in &ids {
        let answer = queue
            .claimWork(common::setup::TASK_QUEUE, &claim)
            .await
            .expect("claimWork");
        assert_eq!(
            answer["tasks"][0]["status"]["taskId"],
            id.as_str(),
            "{answer}"
        );
        queue
            .reportCompleted(id, "0")
            .await
            .expect("reportCompleted");
    }
    let statuses = second_status(&s.gh, "the success status").await;
    assert_eq!(states(&statuses, PUSH_SHA), ["pending", "success"]);
    // Links point at the server's root URL (now the second one's).
    assert_eq!(
        statuses[1].1["target_url"],
        format!("{}/tasks/groups/{group}", server.root_url)
    );
    server.stop().await.expect("stops");
}
