//! Identifiers: slugids and the identifier patterns of Taskcluster's schemas.

use once_cell::sync::Lazy;
use regex::Regex;

/// A new v4 slugid whose first character is a letter-like one (`nice`), as Taskcluster clients make.
pub fn slugid() -> String {
    slugid::nice()
}

static SLUGID: Lazy<Regex> = Lazy::new(|| {
    Regex::new(r"^[A-Za-z0-9_-]{8}[Q-T][A-Za-z0-9_-][CGKOSWaeimquy26-][A-Za-z0-9_-]{10}[AQgw]$")
        .expect("slugid pattern")
});
static PROVISIONER_ID: Lazy<Regex> =
    Lazy::new(|| Regex::new(r"^[a-zA-Z0-9_-]{1,38}$").expect("provisionerId pattern"));
static WORKER_TYPE: Lazy<Regex> =
    Lazy::new(|| Regex::new(r"^[a-z]([-a-z0-9]{0,36}[a-z0-9])?$").expect("workerType pattern"));
static IDENTIFIER: Lazy<Regex> =
    Lazy::new(|| Regex::new(r"^[a-zA-Z0-9_-]{1,38}$").expect("identifier pattern"));
static CLIENT_ID: Lazy<Regex> =
    Lazy::new(|| Regex::new(r"^[A-Za-z0-9!@/:.+|_-]+$").expect("clientId pattern"));

pub fn is_slugid(s: &str) -> bool {
    SLUGID.is_match(s)
}
pub fn is_provisioner_id(s: &str) -> bool {
    PROVISIONER_ID.is_match(s)
}
pub fn is_worker_type(s: &str) -> bool {
    WORKER_TYPE.is_match(s)
}
/// workerGroup, workerId, schedulerId, projectId: `[a-zA-Z0-9-_]{1,38}`.
pub fn is_identifier(s: &str) -> bool {
    IDENTIFIER.is_match(s)
}
pub fn is_client_id(s: &str) -> bool {
    CLIENT_ID.is_match(s)
}
/// `provisionerId/workerType`.
pub fn is_task_queue_id(s: &str) -> bool {
    match s.split_once('/') {
        Some((p, w)) => is_provisioner_id(p) && is_worker_type(w),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_slugids_match_the_pattern() {
        for _ in 0..1000 {
            let id = slugid();
            assert!(is_slugid(&id), "{id}");
        }
        assert!(!is_slugid("not-a-slug"));
        assert!(!is_slugid("fN1SbArXTPSVFNUvaOlinQX")); // one char short
    }

    #[test]
    fn task_queue_ids() {
        assert!(is_task_queue_id("proj-local/default"));
        assert!(!is_task_queue_id("proj-local/Default"));
        assert!(!is_task_queue_id("proj-local"));
    }
}
