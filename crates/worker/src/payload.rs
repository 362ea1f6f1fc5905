//! generic-worker's POSIX task payload: parsing and the checks that make a payload malformed.
//!
//! Field names and defaults follow generic-worker's `multiuser_posix` / `insecure_posix` schema so
//! that task definitions written for Taskcluster run here unchanged. Anything this worker cannot
//! honour (an unknown key, a feature it does not have, a mount kind or archive format it cannot
//! unpack) is reported as `malformed-payload` with a reason, never silently ignored.

use std::collections::BTreeMap;

use serde::Deserialize;

/// generic-worker's upper bound for `maxRunTime`: one day.
pub const MAX_RUN_TIME_SECS: u64 = 86_400;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Payload {
    pub command: Vec<Vec<String>>,
    pub max_run_time: u64,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub artifacts: Vec<ArtifactSpec>,
    #[serde(default)]
    pub features: Features,
    #[serde(default)]
    pub logs: Logs,
    #[serde(default)]
    pub mounts: Vec<Mount>,
    #[serde(default)]
    pub on_exit_status: OnExitStatus,
    #[serde(default)]
    pub os_groups: Vec<String>,
    /// Deprecated in generic-worker and never acted on; accepted so old payloads still validate.
    #[serde(default)]
    pub superseder_url: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum ArtifactKind {
    File,
    Directory,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ArtifactSpec {
    #[serde(rename = "type")]
    pub kind: ArtifactKind,
    /// Relative to the task directory.
    pub path: String,
    /// Defaults to `path`, as in generic-worker.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub expires: Option<String>,
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub content_encoding: Option<String>,
    #[serde(default)]
    pub optional: bool,
}

impl ArtifactSpec {
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.path)
    }
}

/// Missing fields take generic-worker's defaults from `Default` (live and backing logs on).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Features {
    pub live_log: bool,
    pub backing_log: bool,
    pub taskcluster_proxy: bool,
    pub chain_of_trust: bool,
    pub interactive: bool,
    pub loopback_audio: bool,
    pub loopback_video: bool,
    pub resource_monitor: bool,
    pub run_task_as_current_user: bool,
}

impl Default for Features {
    fn default() -> Self {
        Features {
            live_log: true,
            backing_log: true,
            taskcluster_proxy: false,
            chain_of_trust: false,
            interactive: false,
            loopback_audio: false,
            loopback_video: false,
            resource_monitor: false,
            run_task_as_current_user: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Logs {
    #[serde(default = "default_live_log")]
    pub live: String,
    #[serde(default = "default_backing_log")]
    pub backing: String,
}

impl Default for Logs {
    fn default() -> Self {
        Logs {
            live: default_live_log(),
            backing: default_backing_log(),
        }
    }
}

fn default_live_log() -> String {
    "public/logs/live.log".into()
}

fn default_backing_log() -> String {
    "public/logs/live_backing.log".into()
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OnExitStatus {
    #[serde(default)]
    pub retry: Vec<i64>,
    #[serde(default)]
    pub purge_caches: Vec<i64>,
}

/// A mount, told apart by its key as in generic-worker's schema (`file`, `directory`, `cacheName`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Mount {
    File(FileMount),
    ReadOnlyDirectory(DirectoryMount),
    Cache(CacheMount),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileMount {
    pub file: String,
    pub content: Content,
    #[serde(default)]
    pub format: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryMount {
    pub directory: String,
    pub content: Content,
    pub format: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CacheMount {
    pub cache_name: String,
    pub directory: String,
    #[serde(default)]
    pub content: Option<Content>,
    #[serde(default)]
    pub format: Option<String>,
}

/// Where a mount's bytes come from.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Artifact {
        #[serde(rename = "taskId")]
        task_id: String,
        artifact: String,
        #[serde(default)]
        sha256: Option<String>,
    },
    Indexed {
        namespace: String,
        artifact: String,
    },
    Url {
        url: String,
        #[serde(default)]
        sha256: Option<String>,
    },
    Raw {
        raw: String,
    },
    Base64 {
        base64: String,
    },
}

/// Archive formats a read-only directory mount can be unpacked from here.
pub const SUPPORTED_ARCHIVES: &[&str] = &["tar", "tar.gz"];

/// Why a payload is malformed, in words for the task log.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub String);

/// Parses and checks a payload; the error names the offending field.
pub fn parse(value: &serde_json::Value) -> Result<Payload, Malformed> {
    let payload: Payload = deserialize(value)?;
    check(&payload)?;
    Ok(payload)
}

/// Deserializes a payload (of any kind of task); the error names the offending field.
pub fn deserialize<T: serde::de::DeserializeOwned>(
    value: &serde_json::Value,
) -> Result<T, Malformed> {
    serde_path_to_error::deserialize(value)
        .map_err(|e| Malformed(format!("payload.{}: {}", e.path(), e.inner())))
}

/// `payload.maxRunTime` of a task the worker runs itself, or its default, within bounds.
pub fn max_run_time(given: Option<u64>, default: u64) -> Result<u64, Malformed> {
    let secs = given.unwrap_or(default);
    if !(1..=MAX_RUN_TIME_SECS).contains(&secs) {
        return Err(Malformed(format!(
            "payload.maxRunTime must be between 1 and {MAX_RUN_TIME_SECS} seconds, not {secs}"
        )));
    }
    Ok(secs)
}

/// The taskIds a task depends on.
pub fn dependencies(task: &serde_json::Value) -> std::collections::BTreeSet<&str> {
    task.get("dependencies")
        .and_then(serde_json::Value::as_array)
        .map(|a| a.iter().filter_map(serde_json::Value::as_str).collect())
        .unwrap_or_default()
}

fn check(p: &Payload) -> Result<(), Malformed> {
    let bad = |msg: String| Err(Malformed(msg));
    if p.command.is_empty() {
        return bad("payload.command must list at least one command".into());
    }
    for (i, argv) in p.command.iter().enumerate() {
        if argv.is_empty() || argv[0].is_empty() {
            return bad(format!(
                "payload.command[{i}] must be a non-empty argv array"
            ));
        }
    }
    if !(1..=MAX_RUN_TIME_SECS).contains(&p.max_run_time) {
        return bad(format!(
            "payload.maxRunTime must be between 1 and {MAX_RUN_TIME_SECS} seconds, not {}",
            p.max_run_time
        ));
    }
    let unsupported = [
        ("chainOfTrust", p.features.chain_of_trust),
        ("interactive", p.features.interactive),
        ("loopbackAudio", p.features.loopback_audio),
        ("loopbackVideo", p.features.loopback_video),
    ];
    for (name, wanted) in unsupported {
        if wanted {
            return bad(format!(
                "payload.features.{name} is not supported by this worker"
            ));
        }
    }
    if !p.os_groups.is_empty() {
        return bad("payload.osGroups is not supported: tasks run as the worker's user".into());
    }
    for (i, a) in p.artifacts.iter().enumerate() {
        check_relative(&a.path, &format!("payload.artifacts[{i}].path"))?;
        if let Some(enc) = &a.content_encoding {
            if enc != "identity" && enc != "gzip" {
                return bad(format!(
                    "payload.artifacts[{i}].contentEncoding must be identity or gzip"
                ));
            }
        }
        if let Some(exp) = &a.expires {
            if chrono::DateTime::parse_from_rfc3339(exp).is_err() {
                return bad(format!(
                    "payload.artifacts[{i}].expires is not a date-time: {exp}"
                ));
            }
        }
    }
    for (i, m) in p.mounts.iter().enumerate() {
        let field = format!("payload.mounts[{i}]");
        match m {
            Mount::File(f) => {
                check_relative(&f.file, &format!("{field}.file"))?;
                check_content(&f.content, &field)?;
                if let Some(format) = &f.format {
                    return bad(format!(
                        "{field}.format {format:?}: compressed file mounts are not supported"
                    ));
                }
            }
            Mount::ReadOnlyDirectory(d) => {
                check_relative(&d.directory, &format!("{field}.directory"))?;
                check_content(&d.content, &field)?;
                if !SUPPORTED_ARCHIVES.contains(&d.format.as_str()) {
                    return bad(format!(
                        "{field}.format {:?} is not supported (supported: {})",
                        d.format,
                        SUPPORTED_ARCHIVES.join(", ")
                    ));
                }
            }
            Mount::Cache(c) => {
                return bad(format!(
                    "{field}: writable cache mounts ({:?}) are not supported by this worker",
                    c.cache_name
                ));
            }
        }
    }
    Ok(())
}

fn check_content(c: &Content, field: &str) -> Result<(), Malformed> {
    match c {
        Content::Indexed { namespace, .. } => Err(Malformed(format!(
            "{field}.content: indexed content ({namespace}) needs the index service, which this deployment does not have"
        ))),
        Content::Artifact { sha256: Some(h), .. } | Content::Url { sha256: Some(h), .. }
            if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            Err(Malformed(format!("{field}.content.sha256 must be 64 hex digits")))
        }
        _ => Ok(()),
    }
}

/// Paths in a payload stay inside the task directory.
fn check_relative(path: &str, field: &str) -> Result<(), Malformed> {
    let p = std::path::Path::new(path);
    let escapes = p
        .components()
        .any(|c| matches!(c, std::path::Component::ParentDir));
    if path.is_empty() || p.is_absolute() || escapes {
        return Err(Malformed(format!(
            "{field} must be a relative path inside the task directory, not {path:?}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn features_given_in_part_keep_the_other_defaults() {
        let p = parse(&json!({"command": [["true"]], "maxRunTime": 30, "features": {"taskclusterProxy": true}}))
            .expect("valid");
        assert!(p.features.taskcluster_proxy);
        assert!(p.features.live_log && p.features.backing_log);
    }

    #[test]
    fn minimal_payload_gets_generic_worker_defaults() {
        let p = parse(&json!({"command": [["true"]], "maxRunTime": 30})).expect("valid");
        assert!(p.features.live_log);
        assert!(!p.features.taskcluster_proxy);
        assert_eq!(p.logs.live, "public/logs/live.log");
        assert_eq!(p.logs.backing, "public/logs/live_backing.log");
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (json!({"maxRunTime": 30}), "command"),
            (json!({"command": [], "maxRunTime": 30}), "payload.command"),
            (
                json!({"command": [["true"]], "maxRunTime": 0}),
                "maxRunTime",
            ),
            (
                json!({"command": [["true"]], "maxRunTime": 30, "bogus": 1}),
                "bogus",
            ),
            (json!({"command": [[1]], "maxRunTime": 30}), "command[0][0]"),
            (
                json!({"command": [["true"]], "maxRunTime": 30, "artifacts": [{"type": "file", "path": "../x"}]}),
                "artifacts[0].path",
            ),
            (
                json!({"command": [["true"]], "maxRunTime": 30, "features": {"interactive": true}}),
                "interactive",
            ),
            (
                json!({"command": [["true"]], "maxRunTime": 30, "mounts": [{"cacheName": "c", "directory": "d"}]}),
                "cache",
            ),
            (
                json!({"command": [["true"]], "maxRunTime": 30, "mounts": [{"directory": "d", "format": "rar", "content": {"raw": "x"}}]}),
                "rar",
            ),
        ];
        for (payload, needle) in cases {
            let err = parse(&payload).expect_err("malformed").to_string();
            assert!(err.contains(needle), "{err:?} should mention {needle:?}");
        }
    }

    #[test]
    fn mounts_and_artifacts_parse() {
        let p = parse(&json!({
            "command": [["ls"]],
            "maxRunTime": 30,
            "artifacts": [{"type": "directory", "path": "out", "name": "public/out", "optional": true}],
            "mounts": [
                {"file": "in.txt", "content": {"url": "http://127.0.0.1/x", "sha256": "a".repeat(64)}},
                {"directory": "tools", "format": "tar.gz", "content": {"taskId": "abc", "artifact": "public/t.tar.gz"}},
            ],
            "onExitStatus": {"retry": [36]},
        }))
        .expect("valid");
        assert_eq!(p.artifacts[0].name(), "public/out");
        assert!(matches!(p.mounts[0], Mount::File(_)));
        assert!(matches!(p.mounts[1], Mount::ReadOnlyDirectory(_)));
        assert_eq!(p.on_exit_status.retry, vec![36]);
    }
}
