//! The server mounts the GitHub service at /api/github/v1 only when it is configured.

use relyard::config::GitHubConfig;
use relyard_github::ghapi::GitHubAuth;
use relyard_testing::TestServer;

async fn ping(root_url: &str) -> (u16, serde_json::Value) {
    let resp = reqwest::Client::new()
        .post(format!("{root_url}/api/github/v1/github"))
        .header("x-github-event", "ping")
        .header("content-type", "application/json")
        .body(r#"{"zen":"Design for failure."}"#)
        .send()
        .await
        .expect("POST");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("JSON"))
}

#[tokio::test]
async fn github_is_mounted_when_configured() {
    let tc = TestServer::start_with(|c| {
        // Nothing calls GitHub for a ping, so no stand-in is needed.
        c.github = Some(GitHubConfig::new(GitHubAuth::Token("unused".into())));
    })
    .await;
    assert_eq!(
        ping(&tc.root_url).await,
        (200, serde_json::json!({"outcome": "pong"}))
    );
}

#[tokio::test]
async fn github_is_absent_otherwise() {
    let tc = TestServer::start().await;
    let (status, body) = ping(&tc.root_url).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("ResourceNotFound")),
        "{body}"
    );
}
