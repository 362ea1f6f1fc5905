//! A task reaches services through the worker's proxy, limited to its own scopes, and never
//! holds a credential.

use serde_json::json;

use crate::common::Env;

#[tokio::test]
async fn a_task_reads_the_secrets_its_scopes_allow_through_the_proxy_and_holds_no_token() {
    let env = Env::new().await;
    env.set_secret("proj/allowed", json!({"password": "open-sesame"}))
        .await;
    env.set_secret("proj/denied", json!({"password": "keep-out"}))
        .await;
    let _worker = env.worker("proxy", &["--keep-task-dirs"]);
    let script = r#"
        set -e
        mkdir out
        curl -s -o out/allowed.json -w '%{http_code}' "$TASKCLUSTER_PROXY_URL/api/secrets/v1/secret/proj/allowed" > out/allowed.code
        curl -s -o out/denied.json -w '%{http_code}' "$TASKCLUSTER_PROXY_URL/api/secrets/v1/secret/proj/denied" > out/denied.code
        env > out/env.txt
        cat /proc/$$/cmdline | tr '\0' ' ' > out/cmdline.txt
    "#;
    let def = env.proxy_task("proxy", script, &["secrets:get:proj/allowed"]);
    let id = env.create(&def).await;
    let status = env.wait_resolved(&id).await;
    assert_eq!(
        status["state"],
        "completed",
        "{status:#}\n{}",
        env.log(&id).await
    );

    let text = |name: &str| {
        let env = &env;
        let id = id.clone();
        let name = name.to_string();
        async move {
            String::from_utf8_lossy(&env.artifact(&id, &format!("public/out/{name}")).await)
                .into_owned()
        }
    };
    assert_eq!(text("allowed.code").await, "200");
    assert!(text("allowed.json").await.contains("open-sesame"));
    assert_eq!(text("denied.code").await, "403");
    let denied = text("denied.json").await;
    assert!(
        denied.contains("InsufficientScopes") && !denied.contains("keep-out"),
        "{denied}"
    );

    // Nothing the task could see holds a credential: its environment, its command line, every
    // file left in its directory.
    let mut seen = vec![text("env.txt").await, text("cmdline.txt").await];
    let work = env.path("work-proxy").join("tasks");
    for entry in walk(&work) {
        seen.push(String::from_utf8_lossy(&std::fs::read(&entry).unwrap_or_default()).into_owned());
    }
    assert!(
        seen[0].contains("TASKCLUSTER_PROXY_URL=http://127.0.0.1:"),
        "{}",
        seen[0]
    );
    let token_like = regex::Regex::new(r"(^|[^A-Za-z0-9_-])[A-Za-z0-9_-]{43,44}([^A-Za-z0-9_-]|$)")
        .expect("regex");
    for text in &seen {
        for needle in [
            env.server.root_access_token.as_str(),
            "TASKCLUSTER_ACCESS_TOKEN",
            "TASKCLUSTER_CLIENT_ID",
            "TASKCLUSTER_CERTIFICATE",
            "accessToken",
            "certificate",
        ] {
            assert!(!text.contains(needle), "the task saw {needle:?}");
        }
        assert!(
            !token_like.is_match(text),
            "something token-like reached the task: {text}"
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}
