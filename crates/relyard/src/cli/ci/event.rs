//! The webhook body a local run renders `.taskcluster.yml` with: GitHub's documented `push` and
//! `pull_request` payloads, filled from git, with a `clone_url` the local workers can clone.

use serde_json::{json, Value};

use super::git::Checkout;

/// The repository as GitHub names it.
#[derive(Debug, Clone, PartialEq)]
pub struct Repository {
    pub owner: String,
    pub name: String,
    /// `https://github.com/<owner>/<name>` for a GitHub remote.
    pub html_url: String,
    /// What tasks clone: the local checkout unless told otherwise.
    pub clone_url: String,
}

impl Repository {
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    /// From the remote when it is on GitHub; otherwise `local/<directory name>`.
    pub fn describe(checkout: &Checkout, clone_url: String) -> Repository {
        if let Some((owner, name)) = checkout.remote_url.as_deref().and_then(github_repo) {
            return Repository {
                html_url: format!("https://github.com/{owner}/{name}"),
                owner,
                name,
                clone_url,
            };
        }
        let name = checkout
            .top
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "repository".into());
        Repository {
            // metadata.source must be an http(s) URL for the queue; this one says "not GitHub".
            html_url: format!("http://localhost/local/{name}"),
            owner: "local".into(),
            name,
            clone_url,
        }
    }

    /// GitHub's repository object (the fields templates read, with GitHub's spelling).
    fn to_json(&self, default_branch: &str) -> Value {
        let full = self.full_name();
        json!({
            "name": self.name,
            "full_name": full,
            "private": false,
            "owner": { "login": self.owner, "name": self.owner, "type": "User" },
            "html_url": self.html_url,
            "url": format!("https://api.github.com/repos/{full}"),
            "clone_url": self.clone_url,
            "git_url": format!("git://github.com/{full}.git"),
            "ssh_url": format!("git@github.com:{full}.git"),
            "default_branch": default_branch,
            "master_branch": default_branch,
        })
    }
}

/// `owner/name` of a GitHub remote URL (https, ssh, scp-like or git://), else `None`.
pub fn github_repo(url: &str) -> Option<(String, String)> {
    let rest = ["https://", "http://", "ssh://", "git://"]
        .iter()
        .find_map(|scheme| url.strip_prefix(scheme))
        .map(|r| r.rsplit_once('@').map_or(r, |(_, host)| host))
        .and_then(|r| r.strip_prefix("github.com/"))
        .or_else(|| url.strip_prefix("git@github.com:"))?;
    let rest = rest.trim_end_matches('/');
    let rest = rest.strip_suffix(".git").unwrap_or(rest);
    let (owner, name) = rest.split_once('/')?;
    if owner.is_empty() || name.is_empty() || name.contains('/') {
        return None;
    }
    Some((owner.to_string(), name.to_string()))
}

/// Everything an event is made of.
pub struct EventInput<'a> {
    pub checkout: &'a Checkout,
    pub repository: &'a Repository,
    pub branch: &'a str,
    /// The login of whoever pushes or opens the pull request.
    pub login: &'a str,
}

impl EventInput<'_> {
    fn commit_json(&self) -> Value {
        let c = &self.checkout.head;
        let (name, email) = (&c.author_name, &c.author_email);
        json!({
            "id": c.sha,
            "tree_id": c.tree,
            "distinct": true,
            "message": c.message,
            "timestamp": c.timestamp,
            "url": format!("{}/commit/{}", self.repository.html_url, c.sha),
            "author": { "name": name, "email": email, "username": self.login },
            "committer": { "name": c.committer_name, "email": c.committer_email },
            "added": [], "removed": [], "modified": [],
        })
    }

    fn sender(&self) -> Value {
        json!({ "login": self.login, "type": "User" })
    }

    /// A `push` of HEAD to its branch.
    pub fn push(&self, default_branch: &str) -> Value {
        let c = &self.checkout.head;
        let before = self
            .checkout
            .parent
            .clone()
            .unwrap_or_else(|| "0".repeat(40));
        json!({
            "ref": format!("refs/heads/{}", self.branch),
            "before": before,
            "after": c.sha,
            "created": false,
            "deleted": false,
            "forced": false,
            "base_ref": null,
            "compare": format!("{}/compare/{}...{}", self.repository.html_url, &before[..12.min(before.len())], &c.sha[..12.min(c.sha.len())]),
            "commits": [self.commit_json()],
            "head_commit": self.commit_json(),
            "repository": self.repository.to_json(default_branch),
            "pusher": { "name": self.login, "email": c.author_email },
            "sender": self.sender(),
        })
    }

    /// A pull request `opened` from HEAD's branch into `base` (at `base_sha`), same repository.
    pub fn pull_request(&self, default_branch: &str, base: &str, base_sha: &str) -> Value {
        let c = &self.checkout.head;
        let repo = self.repository.to_json(default_branch);
        let number = 1;
        let html = format!("{}/pull/{number}", self.repository.html_url);
        let title = c.message.lines().next().unwrap_or_default();
        let user = self.sender();
        let side = |branch: &str, sha: &str| {
            json!({
                "label": format!("{}:{branch}", self.repository.owner),
                "ref": branch,
                "sha": sha,
                "user": { "login": self.repository.owner },
                "repo": repo,
            })
        };
        json!({
            "action": "opened",
            "number": number,
            "pull_request": {
                "url": format!("https://api.github.com/repos/{}/pulls/{number}", self.repository.full_name()),
                "html_url": html,
                "number": number,
                "state": "open",
                "locked": false,
                "title": title,
                "body": c.message.split_once('\n').map(|(_, b)| b.trim()).unwrap_or_default(),
                "user": user,
                "draft": false,
                "merged": false,
                "head": side(self.branch, &c.sha),
                "base": side(base, base_sha),
                "author_association": "OWNER",
            },
            "repository": repo,
            "sender": self.sender(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_remotes_are_recognized() {
        let want = Some(("taskcluster".to_string(), "taskgraph".to_string()));
        for url in [
            "https://github.com/taskcluster/taskgraph",
            "https://github.com/taskcluster/taskgraph.git",
            "https://user@github.com/taskcluster/taskgraph/",
            "git@github.com:taskcluster/taskgraph.git",
            "ssh://git@github.com/taskcluster/taskgraph.git",
            "git://github.com/taskcluster/taskgraph.git",
        ] {
            assert_eq!(github_repo(url), want, "{url}");
        }
        for url in [
            "https://gitlab.com/taskcluster/taskgraph.git",
            "/srv/git/taskgraph",
            "https://github.com/taskcluster",
            "https://github.com/a/b/c",
        ] {
            assert_eq!(github_repo(url), None, "{url}");
        }
    }
}
