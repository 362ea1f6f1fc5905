//! CI from a repository's own `.taskcluster.yml`, as Taskcluster-GitHub does it: the GitHub
//! webhook, JSON-e rendering, the pull-request policy and the repository's scopes.

pub mod ghapi;
pub mod policy;
pub mod signature;
pub mod tasks;
pub mod tcyml;
pub mod webhook;

pub use webhook::{router, GitHubState};
