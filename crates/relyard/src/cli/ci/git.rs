//! What a local run learns from git: the checkout, its HEAD, branch and remote, as GitHub would
//! describe them in a webhook.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

/// One commit as the event describes it.
#[derive(Debug, Clone)]
pub struct Commit {
    pub sha: String,
    pub tree: String,
    pub message: String,
    pub author_name: String,
    pub author_email: String,
    pub committer_name: String,
    pub committer_email: String,
    /// ISO 8601, as GitHub gives `timestamp`.
    pub timestamp: String,
}

/// The local checkout.
#[derive(Debug, Clone)]
pub struct Checkout {
    /// The work tree's top level (absolute).
    pub top: PathBuf,
    pub head: Commit,
    /// HEAD's first parent, if any.
    pub parent: Option<String>,
    /// The branch HEAD is on; `None` when detached.
    pub branch: Option<String>,
    pub remote_url: Option<String>,
    /// `origin/HEAD`'s branch, when the remote says.
    pub remote_default_branch: Option<String>,
}

/// Runs git in `dir` and returns its trimmed stdout, or an error with git's own words.
pub fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .context("running git (is it installed?)")?;
    if !out.status.success() {
        bail!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
}

/// git's answer, or `None` when git says no (an unset config key, an unknown ref).
fn git_opt(dir: &Path, args: &[&str]) -> Option<String> {
    git(dir, args).ok().filter(|s| !s.is_empty())
}

impl Checkout {
    /// The repository holding `path` (a directory inside a work tree).
    pub fn open(path: &Path) -> anyhow::Result<Checkout> {
        let top = git(path, &["rev-parse", "--show-toplevel"])
            .with_context(|| format!("{} is not inside a git work tree", path.display()))?;
        let top = PathBuf::from(top);
        let head = commit(&top, "HEAD").context("the repository has no commit yet")?;
        Ok(Checkout {
            parent: git_opt(&top, &["rev-parse", "--verify", "-q", "HEAD^"]),
            branch: git_opt(&top, &["symbolic-ref", "--short", "-q", "HEAD"]),
            remote_url: git_opt(&top, &["config", "--get", "remote.origin.url"]),
            remote_default_branch: git_opt(
                &top,
                &["symbolic-ref", "--short", "-q", "refs/remotes/origin/HEAD"],
            )
            .map(|b| b.trim_start_matches("origin/").to_string()),
            head,
            top,
        })
    }

    /// The file as committed at HEAD (what CI sees), `None` when HEAD has no such file.
    pub fn committed_file(&self, name: &str) -> anyhow::Result<Option<String>> {
        let spec = format!("HEAD:{name}");
        if git(&self.top, &["cat-file", "-e", &spec]).is_err() {
            return Ok(None);
        }
        git(&self.top, &["show", &spec]).map(Some)
    }

    /// Paths with changes that are not committed (tracked changes and untracked files).
    pub fn uncommitted(&self) -> anyhow::Result<Vec<String>> {
        let out = git(
            &self.top,
            &["status", "--porcelain", "--untracked-files=normal"],
        )?;
        Ok(out
            .lines()
            .filter(|l| l.len() > 3)
            .map(|l| l[3..].to_string())
            .collect())
    }

    /// A commit's sha, `None` for a ref that does not exist here.
    pub fn resolve(&self, rev: &str) -> Option<String> {
        git_opt(
            &self.top,
            &["rev-parse", "--verify", "-q", &format!("{rev}^{{commit}}")],
        )
    }

    pub fn user(&self) -> (Option<String>, Option<String>) {
        (
            git_opt(&self.top, &["config", "--get", "user.name"]),
            git_opt(&self.top, &["config", "--get", "user.email"]),
        )
    }
}

fn commit(top: &Path, rev: &str) -> anyhow::Result<Commit> {
    // NUL-separated so that messages with newlines stay whole.
    let out = git(
        top,
        &[
            "log",
            "-1",
            "--format=%H%x00%T%x00%an%x00%ae%x00%cn%x00%ce%x00%cI%x00%B",
            rev,
        ],
    )?;
    let mut parts = out.splitn(8, '\0');
    let mut next = || parts.next().unwrap_or_default().to_string();
    Ok(Commit {
        sha: next(),
        tree: next(),
        author_name: next(),
        author_email: next(),
        committer_name: next(),
        committer_email: next(),
        timestamp: next(),
        message: next().trim_end().to_string(),
    })
}
