//! `relyard ci check`: the task list, the queue's refusals, and this repository's own file.

use std::path::Path;

use crate::common::{both, git, relyard, repo, stderr, stdout};

/// The row of the task list naming `name`, split into columns.
fn row<'a>(listing: &'a str, name: &str) -> Vec<&'a str> {
    listing
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|cols| cols.get(1) == Some(&name))
        .unwrap_or_else(|| panic!("no task {name} in:\n{listing}"))
}

fn is_slugid(s: &str) -> bool {
    s.len() == 22
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[test]
fn prints_the_task_list() {
    let repo = repo("passing");
    let out = relyard(repo.path(), &["ci", "check"]);
    assert!(out.status.success(), "{}", both(&out));
    let listing = stdout(&out);
    assert!(
        listing.contains("renders 2 task(s) for github-push of main"),
        "{listing}"
    );
    let build = row(&listing, "build");
    let test = row(&listing, "test");
    assert!(is_slugid(build[0]) && is_slugid(test[0]), "{listing}");
    assert_ne!(build[0], test[0]);
    assert_eq!(&build[2..], ["proj-fixture/ci", "-"]);
    assert_eq!(&test[2..], ["proj-fixture/ci", "build"]);
    let build_line = listing.lines().position(|l| l.contains(build[0]));
    let test_line = listing.lines().position(|l| l.contains(test[0]));
    assert!(build_line < test_line, "dependencies first:\n{listing}");
}

#[test]
fn refuses_a_task_the_queue_would_refuse_naming_it_and_the_field() {
    let repo = repo("invalid");
    let out = relyard(repo.path(), &["ci", "check"]);
    assert!(!out.status.success(), "{}", both(&out));
    let err = stderr(&out);
    assert!(err.contains(r#"task "deploy""#), "{err}");
    assert!(err.contains("`deadline` is required"), "{err}");
    assert!(
        !err.contains(r#"task "lint""#),
        "only the bad task is named: {err}"
    );
}

#[test]
fn refuses_a_template_error_and_a_detached_head_without_a_branch() {
    let repo = repo("passing");
    git(repo.path(), &["checkout", "-q", "--detach"]);
    let out = relyard(repo.path(), &["ci", "check"]);
    assert!(!out.status.success(), "{}", both(&out));
    assert!(stderr(&out).contains("--branch"), "{}", both(&out));
    let out = relyard(repo.path(), &["ci", "check", "--branch", "release"]);
    assert!(out.status.success(), "{}", both(&out));
    assert!(
        stdout(&out).contains("for github-push of release"),
        "{}",
        both(&out)
    );

    std::fs::write(
        repo.path().join(".taskcluster.yml"),
        "version: 1\ntasks:\n  - {$eval: 'event.no_such_field.x'}\n",
    )
    .expect("write");
    let out = relyard(repo.path(), &["ci", "check", "--branch", "release"]);
    assert!(!out.status.success(), "{}", both(&out));
    assert!(stderr(&out).contains("JSON-e error"), "{}", both(&out));
}

/// This repository's own `.taskcluster.yml` (the work tree's), for a push and a pull request.
#[test]
fn renders_this_repositorys_own_file() {
    let top = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for event in [
        &["--event", "push"][..],
        &["--event", "pull-request", "--base", "HEAD"][..],
    ] {
        let mut args = vec!["ci", "check", "--branch", "main"];
        args.extend_from_slice(event);
        let out = relyard(&top, &args);
        assert!(out.status.success(), "{}", both(&out));
        let listing = stdout(&out);
        assert!(listing.contains("renders 3 task(s)"), "{listing}");
        assert_eq!(&row(&listing, "fmt")[2..], ["proj-relyard/ci", "-"]);
        assert_eq!(&row(&listing, "build")[2..], ["proj-relyard/ci", "-"]);
        assert_eq!(&row(&listing, "test")[2..], ["proj-relyard/ci", "build"]);
    }
}
