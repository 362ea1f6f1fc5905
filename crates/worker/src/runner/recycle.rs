//! The recycle policy: after each task, whether the worker goes on, restarts itself or reboots
//! the machine, from rules on the hostname, the task's name, its result and how many tasks the
//! worker has run.
//!
//! ```json
//! {
//!   "rebootCommand": ["sudo", "reboot"],
//!   "rules": [
//!     {"hostname": ["^talos-"], "taskName": ["^talos"], "results": ["failed"],
//!      "action": "reboot"},
//!     {"afterTasks": 50, "action": "restart"}
//!   ],
//!   "default": "continue"
//! }
//! ```

use std::path::Path;
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;
use tokio::process::Command;

use super::process::{self, Finish};
use super::RunnerError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecycleAction {
    Continue,
    /// The worker exits so that its supervisor starts it afresh.
    Restart,
    /// The worker runs [`RecyclePolicy::reboot_command`].
    Reboot,
}

/// Why a policy could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// Bad JSON, an unknown action, or an unknown key (a misspelt condition must not silently
    /// become "matches anything").
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    #[error("rule {rule}: {field} pattern {pattern:?}: {source}")]
    Regex {
        rule: usize,
        field: &'static str,
        pattern: String,
        source: regex::Error,
    },
    #[error("a rule or the default reboots, but rebootCommand is missing or empty")]
    NoRebootCommand,
}

/// The policy file as written.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    reboot_command: Vec<String>,
    #[serde(default)]
    rules: Vec<RuleFile>,
    #[serde(default = "continue_action")]
    default: RecycleAction,
}

fn continue_action() -> RecycleAction {
    RecycleAction::Continue
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    hostname: Vec<String>,
    #[serde(default)]
    task_name: Vec<String>,
    #[serde(default)]
    results: Vec<String>,
    after_tasks: Option<u64>,
    action: RecycleAction,
}

/// One rule. Each condition that is empty (or absent) matches anything; a regex list matches when
/// any of its patterns is found (unanchored: anchor with `^`/`$`).
#[derive(Debug, Clone)]
struct Rule {
    hostname: Vec<Regex>,
    task_name: Vec<Regex>,
    results: Vec<String>,
    after_tasks: Option<u64>,
    action: RecycleAction,
}

impl Rule {
    fn matches(&self, task: &FinishedTask<'_>) -> bool {
        let any = |patterns: &[Regex], text: &str| {
            patterns.is_empty() || patterns.iter().any(|re| re.is_match(text))
        };
        any(&self.hostname, task.hostname)
            && any(&self.task_name, task.task_name)
            && (self.results.is_empty() || self.results.iter().any(|r| r == task.result))
            && self.after_tasks.is_none_or(|n| task.tasks_done >= n)
    }
}

/// What the policy decides on: the task that just ended, and where.
#[derive(Debug, Clone, Copy)]
pub struct FinishedTask<'a> {
    pub hostname: &'a str,
    /// The task's `metadata.name`.
    pub task_name: &'a str,
    /// Its result: `completed`, `failed`, `exception`, ... (compared exactly).
    pub result: &'a str,
    /// How many tasks this worker process has run, this one included.
    pub tasks_done: u64,
}

/// How long the reboot command may run: one that hangs (e.g. `sudo` wanting a password) must not
/// hold the worker forever; told of the failure, the caller can exit instead.
pub const REBOOT_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, Clone)]
pub struct RecyclePolicy {
    reboot_command: Vec<String>,
    rules: Vec<Rule>,
    default: RecycleAction,
}

impl Default for RecyclePolicy {
    /// Always continue; no reboot command.
    fn default() -> Self {
        RecyclePolicy {
            reboot_command: Vec::new(),
            rules: Vec::new(),
            default: RecycleAction::Continue,
        }
    }
}

impl RecyclePolicy {
    pub fn load(path: &Path) -> Result<Self, RunnerError> {
        let text = std::fs::read_to_string(path).map_err(|source| RunnerError::PolicyRead {
            path: path.to_owned(),
            source,
        })?;
        Self::from_json(&text).map_err(|source| RunnerError::Policy {
            path: path.to_owned(),
            source,
        })
    }

    pub fn from_json(text: &str) -> Result<Self, PolicyError> {
        let file: PolicyFile = serde_json::from_str(text)?;
        let rules = file
            .rules
            .into_iter()
            .enumerate()
            .map(|(i, rule)| {
                Ok(Rule {
                    hostname: compile(i, "hostname", rule.hostname)?,
                    task_name: compile(i, "taskName", rule.task_name)?,
                    results: rule.results,
                    after_tasks: rule.after_tasks,
                    action: rule.action,
                })
            })
            .collect::<Result<Vec<_>, PolicyError>>()?;
        let reboots = file.default == RecycleAction::Reboot
            || rules.iter().any(|r| r.action == RecycleAction::Reboot);
        // Caught here rather than after a task, when the worker could no longer do what it decided.
        if reboots && file.reboot_command.is_empty() {
            return Err(PolicyError::NoRebootCommand);
        }
        Ok(RecyclePolicy {
            reboot_command: file.reboot_command,
            rules,
            default: file.default,
        })
    }

    /// The action of the first rule that matches `task`, or the default.
    pub fn decide(&self, task: &FinishedTask<'_>) -> RecycleAction {
        self.rules
            .iter()
            .find(|rule| rule.matches(task))
            .map_or(self.default, |rule| rule.action)
    }

    /// The program and its arguments; empty when the policy never reboots.
    pub fn reboot_command(&self) -> &[String] {
        &self.reboot_command
    }

    /// Runs the reboot command and waits for it. Success means the command accepted the reboot;
    /// the caller should then stop taking work and wait to be taken down.
    pub async fn reboot(&self) -> Result<(), RunnerError> {
        let Some((program, args)) = self.reboot_command.split_first() else {
            return Err(RunnerError::NoRebootCommand);
        };
        let command = self.reboot_command.join(" ");
        let mut cmd = Command::new(program);
        cmd.args(args);
        match process::run(cmd, "reboot", None, Some(REBOOT_TIMEOUT)).await {
            Ok(Finish::Exited(status)) if status.success() => Ok(()),
            Ok(Finish::Exited(status)) => Err(RunnerError::RebootFailed {
                command,
                reason: status.to_string(),
            }),
            Ok(Finish::TimedOut) => Err(RunnerError::RebootFailed {
                command,
                reason: format!("still running after {REBOOT_TIMEOUT:?}; killed"),
            }),
            Err(e) => Err(RunnerError::RebootFailed {
                command,
                reason: e.to_string(),
            }),
        }
    }
}

fn compile(
    rule: usize,
    field: &'static str,
    patterns: Vec<String>,
) -> Result<Vec<Regex>, PolicyError> {
    patterns
        .into_iter()
        .map(|pattern| {
            Regex::new(&pattern).map_err(|source| PolicyError::Regex {
                rule,
                field,
                pattern,
                source,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::testutil::{read_lines, write_script};

    fn task<'a>(hostname: &'a str, task_name: &'a str, result: &'a str) -> FinishedTask<'a> {
        FinishedTask {
            hostname,
            task_name,
            result,
            tasks_done: 1,
        }
    }

    const POLICY: &str = r#"{
        "rebootCommand": ["sudo", "reboot"],
        "rules": [
            {"hostname": ["^talos-", "^perf-"], "taskName": ["^talos"], "results": ["failed"],
             "action": "reboot"},
            {"results": ["exception"], "action": "restart"},
            {"hostname": ["^talos-"], "action": "continue"},
            {"afterTasks": 3, "action": "restart"}
        ],
        "default": "continue"
    }"#;

    #[test]
    fn first_matching_rule_wins() {
        let p = RecyclePolicy::from_json(POLICY).expect("valid");
        use RecycleAction::*;
        let cases = [
            // Every condition of the first rule holds (either hostname pattern will do).
            ("talos-linux-1", "talos-tp5", "failed", Reboot),
            ("perf-2", "talos-g1", "failed", Reboot),
            // One of its conditions fails each time: hostname, task name, result.
            ("b-linux-1", "talos-tp5", "failed", Continue),
            ("talos-linux-1", "build", "failed", Continue),
            ("talos-linux-1", "talos-tp5", "completed", Continue),
            // Patterns are searched, so "^" matters: "xtalos-1" does not start with "talos-".
            ("xtalos-1", "talos-tp5", "failed", Continue),
            // The second rule has only a result list; it comes before the third.
            ("talos-linux-1", "build", "exception", Restart),
            ("b-1", "build", "exception", Restart),
        ];
        for (hostname, name, result, action) in cases {
            let t = task(hostname, name, result);
            assert_eq!(p.decide(&t), action, "{t:?}");
        }
    }

    #[test]
    fn after_tasks_counts_the_tasks_done() {
        let p = RecyclePolicy::from_json(POLICY).expect("valid");
        let mut t = task("b-1", "build", "completed");
        t.tasks_done = 2;
        assert_eq!(p.decide(&t), RecycleAction::Continue);
        t.tasks_done = 3;
        assert_eq!(p.decide(&t), RecycleAction::Restart);
        // An earlier rule still wins: talos hosts continue whatever the count.
        t.hostname = "talos-1";
        assert_eq!(p.decide(&t), RecycleAction::Continue);
    }

    #[test]
    fn the_default_applies_when_nothing_matches() {
        let p = RecyclePolicy::from_json(r#"{"rebootCommand": ["r"], "default": "reboot"}"#)
            .expect("valid");
        assert_eq!(
            p.decide(&task("h", "n", "completed")),
            RecycleAction::Reboot
        );
        let p = RecyclePolicy::from_json("{}").expect("valid");
        assert_eq!(p.decide(&task("h", "n", "failed")), RecycleAction::Continue);
        let p = RecyclePolicy::default();
        assert_eq!(
            p.decide(&task("h", "n", "exception")),
            RecycleAction::Continue
        );
        assert!(p.reboot_command().is_empty());
    }

    #[test]
    fn bad_policies_are_rejected_at_load() {
        let bad_regex = r#"{"rules": [
            {"action": "continue"},
            {"taskName": ["ok", "(open"], "action": "restart"}
        ]}"#;
        match RecyclePolicy::from_json(bad_regex) {
            Err(PolicyError::Regex {
                rule,
                field,
                pattern,
                ..
            }) => {
                assert_eq!((rule, field, pattern.as_str()), (1, "taskName", "(open"));
            }
            other => panic!("{other:?}"),
        }
        let unknown_action = r#"{"rules": [{"action": "rebot"}]}"#;
        let err = RecyclePolicy::from_json(unknown_action).expect_err("unknown action");
        assert!(err.to_string().contains("rebot"), "{err}");
        // A misspelt condition must not turn into "matches anything".
        let unknown_key = r#"{"rules": [{"hostnames": ["^x"], "action": "restart"}]}"#;
        let err = RecyclePolicy::from_json(unknown_key).expect_err("unknown key");
        assert!(err.to_string().contains("hostnames"), "{err}");
        let no_command = r#"{"rules": [{"action": "reboot"}]}"#;
        let err = RecyclePolicy::from_json(no_command);
        assert!(matches!(err, Err(PolicyError::NoRebootCommand)), "{err:?}");
    }

    #[test]
    fn load_reads_a_file_and_names_it_in_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("recycle.json");
        std::fs::write(&path, POLICY).expect("write");
        let p = RecyclePolicy::load(&path).expect("loads");
        assert_eq!(p.reboot_command(), ["sudo", "reboot"]);
        std::fs::write(&path, "{").expect("write");
        let err = RecyclePolicy::load(&path).expect_err("bad json");
        assert!(matches!(err, RunnerError::Policy { .. }), "{err:?}");
        assert!(err.to_string().contains("recycle.json"), "{err}");
        let err = RecyclePolicy::load(&dir.path().join("absent.json")).expect_err("missing");
        assert!(matches!(err, RunnerError::PolicyRead { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn reboot_runs_the_command_and_reports_its_failure() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("rebooted");
        let script = write_script(
            dir.path(),
            "reboot",
            &format!("echo \"$@\" > '{}'", out.display()),
        );
        let json = serde_json::json!({"rebootCommand": [script, "now", "it's time"]}).to_string();
        let p = RecyclePolicy::from_json(&json).expect("valid");
        p.reboot().await.expect("reboot command succeeds");
        assert_eq!(read_lines(&out), ["now it's time"]);

        let failing = write_script(dir.path(), "fail", "exit 1");
        let json = serde_json::json!({"rebootCommand": [failing]}).to_string();
        let err = RecyclePolicy::from_json(&json)
            .expect("valid")
            .reboot()
            .await;
        assert!(
            matches!(err, Err(RunnerError::RebootFailed { .. })),
            "{err:?}"
        );
        let err = RecyclePolicy::default().reboot().await;
        assert!(matches!(err, Err(RunnerError::NoRebootCommand)), "{err:?}");
    }
}
