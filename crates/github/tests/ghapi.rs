//! The REST client's calls as the stand-in for GitHub records them.

mod common;

use common::fake_github::{FakeGitHub, TOKEN};
use relyard_github::ghapi::{CommitStatus, GhError, GitHubAuth, GitHubClient};
use serde_json::json;

#[tokio::test]
async fn calls_reach_githubs_paths_with_githubs_bodies() {
    let gh = FakeGitHub::default();
    gh.set_file(
        "feature/ü",
        "version: 1\n# a comment long enough to be wrapped over more than one base64 line\n",
    );
    gh.repo
        .lock()
        .expect("lock")
        .collaborators
        .insert("alice".into());
    let url = gh.clone().start().await;
    let client = GitHubClient::new(&url, GitHubAuth::Token(TOKEN.into())).expect("client");
    let api = client.installation(None);

    let text = api
        .file_contents("o", "r", ".taskcluster.yml", "feature/ü")
        .await
        .expect("call");
    assert!(text.expect("file").ends_with("base64 line\n"));
    assert_eq!(
        api.file_contents("o", "r", ".taskcluster.yml", "nope")
            .await
            .expect("call"),
        None
    );
    assert!(api.is_collaborator("o", "r", "alice").await.expect("call"));
    assert!(!api
        .is_collaborator("o", "r", "mallory")
        .await
        .expect("call"));
    let status = CommitStatus {
        state: "pending".into(),
        target_url: Some("https://tc.example.com/tasks/groups/G".into()),
        description: Some("tasks are running".into()),
        context: "relyard (push)".into(),
    };
    api.create_status("o", "r", "abc", &status)
        .await
        .expect("call");
    let run = json!({"name": "build", "head_sha": "abc", "status": "queued", "external_id": "T"});
    api.create_check_run("o", "r", run.clone())
        .await
        .expect("call");
    api.create_commit_comment("o", "r", "abc", "on the commit")
        .await
        .expect("call");
    api.create_issue_comment("o", "r", 7, "on the PR")
        .await
        .expect("call");

    let posts: Vec<_> = gh
        .calls()
        .into_iter()
        .filter(|c| c.method == "POST")
        .map(|c| (c.path, c.body))
        .collect();
    assert_eq!(
        posts,
        [
            (
                "/repos/o/r/statuses/abc".to_string(),
                json!({"state": "pending", "target_url": "https://tc.example.com/tasks/groups/G",
            "description": "tasks are running", "context": "relyard (push)"})
            ),
            ("/repos/o/r/check-runs".to_string(), run),
            (
                "/repos/o/r/commits/abc/comments".to_string(),
                json!({"body": "on the commit"})
            ),
            (
                "/repos/o/r/issues/7/comments".to_string(),
                json!({"body": "on the PR"})
            ),
        ]
    );

    // A wrong token is an error naming the call, not a silent "no file".
    let bad = GitHubClient::new(&url, GitHubAuth::Token("wrong".into())).expect("client");
    let err = bad
        .installation(None)
        .file_contents("o", "r", ".taskcluster.yml", "main")
        .await;
    assert!(
        matches!(err, Err(GhError::Status { status: 401, .. })),
        "{err:?}"
    );
}
