//! CI from a repository's own `.taskcluster.yml`, as Taskcluster-GitHub does it: the GitHub
//! webhook, JSON-e rendering, the pull-request policy and the repository's scopes; builds kept
//! in the database; results reported back as commit statuses or check runs.

pub mod api;
pub mod cancel;
pub mod ghapi;
pub mod policy;
pub mod report;
pub mod service_queue;
pub mod signature;
pub mod store;
pub mod tasks;
pub mod tcyml;
pub mod webhook;

pub use api::router;
pub use store::migrations;
pub use webhook::GitHubState;
