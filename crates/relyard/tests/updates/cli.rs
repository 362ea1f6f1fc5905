//! `relyard updates …` as a process against a server started here, as the root client.

use std::time::Duration;

use relyard_testing::TestDb;
use relyard_updates::store;

use crate::common::{rule, seed, server_on, ROOT_ACCESS_TOKEN, UPDATE_URL};

async fn relyard(root_url: &str, args: &[&str]) -> (bool, String, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_relyard"))
        .arg("updates")
        .args(args)
        .current_dir(dir.path())
        .env("TASKCLUSTER_ROOT_URL", root_url)
        .env("TASKCLUSTER_CLIENT_ID", relyard_auth::ROOT_CLIENT_ID)
        .env("TASKCLUSTER_ACCESS_TOKEN", ROOT_ACCESS_TOKEN)
        .env_remove("TASKCLUSTER_CERTIFICATE")
        .output()
        .await
        .expect("run relyard");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn rules_history_and_explain() {
    let db = TestDb::new().await;
    let (server, _data) = server_on(&db, |_| {}).await;
    let r = seed(&server.db).await;
    // A rule ranked above the one that applies, ruled out by its channel.
    let mut beta = rule("Firefox-3.0", 500);
    beta.channel = Some("beta".into());
    let beta = store::create_rule(&server.db, "tester", &beta)
        .await
        .expect("rule");
    let mut moved = r.clone();
    moved.comment = Some("second revision".into());
    store::update_rule(&server.db, "mary", &moved)
        .await
        .expect("update");
    server.updates.changed().await.expect("reload");
    let url = &server.root_url;

    let (ok, out, err) = relyard(url, &["rules"]).await;
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("rule_id"), "{out}");
    // Highest priority first.
    assert!(lines[1].starts_with(&beta.rule_id.to_string()), "{out}");
    assert!(out.contains("Firefox-2.0"), "{out}");

    let (ok, out, err) = relyard(url, &["history", &r.rule_id.to_string()]).await;
    assert!(ok, "{err}");
    let mary = out.lines().position(|l| l.contains("mary"));
    let tester = out.lines().position(|l| l.contains("tester"));
    assert!(
        mary.is_some() && tester.is_some() && mary < tester,
        "newest first: {out}"
    );

    let (ok, out, err) = relyard(
        url,
        &["explain", &format!("https://aus5.example.org{UPDATE_URL}")],
    )
    .await;
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!(
            "rule {} (priority 500) does not apply: channel: rule \"beta\" vs \"release\"",
            beta.rule_id
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("Matched rule {} (priority 100)", r.rule_id)),
        "{out}"
    );
    assert!(out.contains("Release served: Firefox-2.0"), "{out}");
    assert!(out.contains(r#"displayVersion="2.0""#), "{out}");

    let (ok, out, err) = relyard(url, &["explain", "--json", UPDATE_URL]).await;
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["rule"]["rule_id"], r.rule_id);
    assert_eq!(v["passedOver"][0]["rule_id"], beta.rule_id);

    // A missing URL is a 400 the CLI reports.
    let (ok, _, err) = relyard(url, &["explain", ""]).await;
    assert!(!ok, "an empty URL must fail");
    assert!(err.contains("400") || err.contains("url"), "{err}");
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn rollout_schedules_the_first_step_above_the_current_rate() {
    let db = TestDb::new().await;
    let (server, _data) = server_on(&db, |_| {}).await;
    let r = seed(&server.db).await;
    let mut off = r.clone();
    off.background_rate = Some(0);
    let off = store::update_rule(&server.db, "tester", &off)
        .await
        .expect("update");
    server.updates.changed().await.expect("reload");
    let id = off.rule_id.to_string();

    let before = relyard_core::Timestamp::now().millis();
    let args = [
        "rollout",
        &id,
        "--steps",
        "12.5,25,50,100",
        "--every",
        "45m",
        "--start",
        "10m",
        "--json",
    ];
    let (ok, out, err) = relyard(&server.root_url, &args).await;
    assert!(ok, "{err}");
    assert!(err.contains("12.5 becomes 13"), "{err}");
    let made: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let sc_id = made["sc_id"].as_i64().expect("sc_id");
    let sc = store::get_scheduled_change(&server.db, sc_id)
        .await
        .expect("read")
        .expect("scheduled");
    assert_eq!(
        sc.new_row.as_ref().and_then(|n| n.background_rate),
        Some(13)
    );
    let ten_minutes = Duration::from_secs(600).as_millis() as i64;
    assert!(
        sc.when >= before + ten_minutes && sc.when < before + ten_minutes + 60_000,
        "{sc:?}"
    );

    // Balrog keeps one pending change per rule: the second step waits for the first.
    let (ok, _, err) = relyard(&server.root_url, &args).await;
    assert!(!ok, "a second pending change of one rule must be refused");
    assert!(!err.is_empty());
    server.stop().await.expect("stops");
}
