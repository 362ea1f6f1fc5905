//! `relyard ci run` with its own server and workers.

use crate::common::{both, git, relyard, repo, stderr, stdout};

#[test]
fn a_passing_graph_exits_zero() {
    let repo = repo("passing");
    let out = relyard(repo.path(), &["ci", "run"]);
    assert!(out.status.success(), "{}", both(&out));
    let text = stdout(&out);
    assert!(text.contains("2 completed in"), "{text}");
    assert!(!stderr(&out).contains("──── log of"), "{}", both(&out));
}

#[test]
fn a_failing_test_exits_non_zero_and_prints_its_log() {
    let repo = repo("failing");
    let out = relyard(repo.path(), &["ci", "run"]);
    assert!(!out.status.success(), "{}", both(&out));
    let err = stderr(&out);
    let header = err
        .find(r#"──── log of "test""#)
        .expect("a header naming the task");
    let line = err
        .find("FAIL: 2 + 2 gave 4, not 5")
        .expect("the task's own output");
    assert!(header < line, "{err}");
    assert!(
        err.contains("1 of 2 task(s) did not complete: test (failed)"),
        "{err}"
    );
    let summary = stdout(&out);
    assert!(summary.contains("1 completed, 1 failed"), "{summary}");
}

#[test]
fn twenty_no_op_tasks_pass() {
    let repo = repo("noop20");
    let out = relyard(repo.path(), &["ci", "run"]);
    assert!(out.status.success(), "{}", both(&out));
    assert!(stdout(&out).contains("20 completed in"), "{}", both(&out));
}

/// Tasks check out the pull request's head (not the base), and only what is committed.
#[test]
fn a_pull_request_runs_its_head_commit_and_uncommitted_changes_are_left_out() {
    let repo = repo("passing");
    git(repo.path(), &["checkout", "-q", "-b", "feature"]);
    let failing = std::fs::read(crate::common::fixture("failing").join("test.sh")).expect("read");
    std::fs::write(repo.path().join("test.sh"), &failing).expect("write");
    git(repo.path(), &["commit", "-q", "-am", "break the test"]);

    let out = relyard(repo.path(), &["ci", "run", "--event", "pull-request"]);
    assert!(!out.status.success(), "{}", both(&out));
    assert!(
        stdout(&out).contains("for github-pull-request of feature"),
        "{}",
        both(&out)
    );
    assert!(
        stderr(&out).contains("FAIL: 2 + 2 gave 4, not 5"),
        "{}",
        both(&out)
    );

    // Fixed in the work tree only: CI would still see the broken commit.
    let passing = std::fs::read(crate::common::fixture("passing").join("test.sh")).expect("read");
    std::fs::write(repo.path().join("test.sh"), &passing).expect("write");
    let out = relyard(repo.path(), &["ci", "run", "--event", "pull-request"]);
    assert!(!out.status.success(), "{}", both(&out));
    assert!(
        stderr(&out).contains("warning: 1 uncommitted change(s)"),
        "{}",
        both(&out)
    );

    git(repo.path(), &["commit", "-q", "-am", "fix the test"]);
    let out = relyard(repo.path(), &["ci", "run", "--event", "pull-request"]);
    assert!(out.status.success(), "{}", both(&out));
    assert!(!stderr(&out).contains("uncommitted"), "{}", both(&out));
}
