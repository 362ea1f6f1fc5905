//! Start-up steps: the executables `NN-name` of a directory, run once each in numeric order of
//! `NN` before the worker claims anything, each retried until it succeeds or its tries run out.
//!
//! Two build-runner bugs are fixed on purpose: its order was lexicographic (`10-x` before `2-y`),
//! and after a failed try it went on with the next task, so the failed one was skipped.

use std::collections::BTreeMap;
use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::process::Command;

use super::hook::{Hook, StepResult};
use super::process::{self, Finish};
use super::RunnerError;

/// The wait before try `n + 1` of a step, given `n`, the number of the try that just failed
/// (from 1). The caller plugs its retry policy in here.
pub type Delay = Arc<dyn Fn(u32) -> Duration + Send + Sync>;

/// The exit code with which a step asks the worker to halt.
pub const HALT_EXIT_CODE: i32 = 2;

/// The environment variable that tells the halt step which step halted.
pub const HALTED_STEP_ENV: &str = "RELYARD_HALTED_STEP";

#[derive(Clone)]
pub struct StartupConfig {
    pub steps_dir: PathBuf,
    /// Run when a step halts or runs out of tries. If it lies in `steps_dir` it is not a step.
    pub halt_step: Option<PathBuf>,
    /// Tries per step, at least 1.
    pub max_tries: u32,
    /// A try that runs longer is killed (with whatever it started) and counts as failed.
    pub step_timeout: Option<Duration>,
    /// Set for the steps and the halt step, on top of the worker's own environment.
    pub env: BTreeMap<String, String>,
    /// Asked for the wait after each failed try but the last.
    pub delay: Delay,
}

impl StartupConfig {
    /// build-runner's defaults: 5 tries, 600 s per try, 1 s between tries (its `sleep_time`),
    /// no halt step.
    pub fn new(steps_dir: impl Into<PathBuf>) -> Self {
        StartupConfig {
            steps_dir: steps_dir.into(),
            halt_step: None,
            max_tries: 5,
            step_timeout: Some(Duration::from_secs(600)),
            env: BTreeMap::new(),
            delay: Arc::new(|_| Duration::from_secs(1)),
        }
    }
}

impl fmt::Debug for StartupConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StartupConfig")
            .field("steps_dir", &self.steps_dir)
            .field("halt_step", &self.halt_step)
            .field("max_tries", &self.max_tries)
            .field("step_timeout", &self.step_timeout)
            .field("env", &self.env)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartupOutcome {
    /// Every step succeeded: the worker may claim tasks.
    Ready,
    /// The worker must not claim tasks; the halt step (if any) has run.
    Halted { step: String, reason: HaltReason },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HaltReason {
    /// The step exited with [`HALT_EXIT_CODE`].
    Requested,
    /// Every try failed; `last` is how the last one did.
    TriesExhausted { tries: u32, last: Failure },
}

/// Why a try failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    Exit(i32),
    Signal(i32),
    Timeout(Duration),
    /// The step could not be started (e.g. its interpreter is missing).
    Spawn(String),
}

impl fmt::Display for HaltReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HaltReason::Requested => write!(f, "the step exited with {HALT_EXIT_CODE} (halt)"),
            HaltReason::TriesExhausted { tries, last } => {
                write!(f, "all {tries} tries failed, the last: {last}")
            }
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Exit(code) => write!(f, "exit code {code}"),
            Failure::Signal(sig) => write!(f, "killed by signal {sig}"),
            Failure::Timeout(limit) => write!(f, "timed out after {limit:?}"),
            Failure::Spawn(e) => write!(f, "could not start: {e}"),
        }
    }
}

/// One start-up step: `order` is the number of its `NN-` prefix, `name` its file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub order: u64,
    pub name: String,
    pub path: PathBuf,
}

/// The steps of `dir` in the order they run: by number, then by name for equal numbers.
///
/// Dot files are ignored; other names without an `NN-name` form, and directories, are ignored
/// with a warning. A step file that is not executable is an error: ignoring it would skip a step
/// someone meant to run, and running it could only fail.
pub fn discover_steps(dir: &Path, halt_step: Option<&Path>) -> Result<Vec<Step>, RunnerError> {
    let dir_err = |source| RunnerError::StepsDir {
        path: dir.to_owned(),
        source,
    };
    let halt = halt_step.and_then(|p| p.canonicalize().ok());
    let mut steps = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(dir_err)? {
        let path = entry.map_err(dir_err)?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            let path = path.display();
            tracing::warn!(%path, "ignoring a start-up file whose name is not UTF-8");
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        if halt.is_some() && path.canonicalize().ok() == halt {
            continue;
        }
        let Some(order) = step_order(&name) else {
            tracing::warn!(file = %name, "ignoring a start-up file not named NN-name");
            continue;
        };
        // Following symlinks: a step may be a link to a shared script.
        let meta = std::fs::metadata(&path).map_err(|source| RunnerError::StepsDir {
            path: path.clone(),
            source,
        })?;
        if !meta.is_file() {
            tracing::warn!(file = %name, "ignoring a start-up entry that is not a file");
            continue;
        }
        if meta.permissions().mode() & 0o111 == 0 {
            return Err(RunnerError::NotExecutable { path });
        }
        steps.push(Step { order, name, path });
    }
    steps.sort_by(|a, b| (a.order, &a.name).cmp(&(b.order, &b.name)));
    Ok(steps)
}

/// The `NN` of `NN-name`, if the name has that form (digits, a dash, something).
fn step_order(name: &str) -> Option<u64> {
    let (number, rest) = name.split_once('-')?;
    if number.is_empty() || rest.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    number.parse().ok()
}

/// Runs the start-up steps of `config`, telling `hook` about each try.
///
/// Errors are for a configuration that cannot run at all (unreadable directory, a step that is
/// not executable, zero tries); a step that halts or keeps failing is a [`StartupOutcome::Halted`].
pub async fn run_startup(
    config: &StartupConfig,
    hook: &Hook,
) -> Result<StartupOutcome, RunnerError> {
    if config.max_tries == 0 {
        return Err(RunnerError::ZeroTries);
    }
    let steps = discover_steps(&config.steps_dir, config.halt_step.as_deref())?;
    let dir = config.steps_dir.display();
    tracing::info!(count = steps.len(), %dir, "running start-up steps");
    for step in &steps {
        if let Some(reason) = run_step(config, hook, step).await {
            tracing::warn!(step = %step.name, %reason, "start-up halted");
            run_halt_step(config, &step.name).await;
            return Ok(StartupOutcome::Halted {
                step: step.name.clone(),
                reason,
            });
        }
    }
    Ok(StartupOutcome::Ready)
}

/// Tries `step` until it succeeds (None) or the worker must halt (the reason).
async fn run_step(config: &StartupConfig, hook: &Hook, step: &Step) -> Option<HaltReason> {
    let max = config.max_tries;
    let mut try_num = 1;
    loop {
        hook.step_started(&step.name, try_num, max).await;
        let started = Instant::now();
        let outcome = try_step(config, step).await;
        hook.step_finished(
            &step.name,
            try_num,
            max,
            outcome.hook_result(),
            started.elapsed(),
        )
        .await;
        let last = match outcome {
            TryOutcome::Ok => return None,
            TryOutcome::Halt => return Some(HaltReason::Requested),
            TryOutcome::Failed(failure) => failure,
        };
        if try_num >= max {
            return Some(HaltReason::TriesExhausted { tries: max, last });
        }
        let wait = (config.delay)(try_num);
        let name = &step.name;
        tracing::warn!(step = %name, try_num, max, failure = %last, ?wait, "step failed; retrying");
        tokio::time::sleep(wait).await;
        try_num += 1;
    }
}

enum TryOutcome {
    Ok,
    Halt,
    Failed(Failure),
}

impl TryOutcome {
    fn hook_result(&self) -> StepResult {
        match self {
            TryOutcome::Ok => StepResult::Ok,
            TryOutcome::Halt => StepResult::Halt,
            TryOutcome::Failed(Failure::Timeout(_)) => StepResult::Timeout,
            TryOutcome::Failed(_) => StepResult::Retry,
        }
    }
}

async fn try_step(config: &StartupConfig, step: &Step) -> TryOutcome {
    let mut cmd = Command::new(&step.path);
    cmd.envs(&config.env);
    let finish = process::run(cmd, &step.name, None, config.step_timeout).await;
    let failure = match finish {
        Ok(Finish::Exited(status)) => match status.code() {
            Some(0) => return TryOutcome::Ok,
            Some(HALT_EXIT_CODE) => return TryOutcome::Halt,
            Some(code) => Failure::Exit(code),
            // No code means a signal ended it.
            None => Failure::Signal(status.signal().unwrap_or(0)),
        },
        Ok(Finish::TimedOut) => Failure::Timeout(config.step_timeout.unwrap_or_default()),
        Err(e) => Failure::Spawn(e.to_string()),
    };
    TryOutcome::Failed(failure)
}

/// Runs the halt step, if one is configured. Its failure is only logged: the worker is halting
/// either way.
async fn run_halt_step(config: &StartupConfig, halted_step: &str) {
    let Some(program) = &config.halt_step else {
        return;
    };
    let mut cmd = Command::new(program);
    cmd.envs(&config.env).env(HALTED_STEP_ENV, halted_step);
    match process::run(cmd, "halt step", None, config.step_timeout).await {
        Ok(Finish::Exited(status)) if status.success() => {}
        Ok(Finish::Exited(status)) => tracing::warn!(%status, "halt step failed"),
        Ok(Finish::TimedOut) => tracing::warn!("halt step overran the step timeout and was killed"),
        Err(e) => {
            tracing::warn!(program = %program.display(), error = %e, "could not run halt step")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::hook::tests::{hook_events, recording_hook};
    use crate::runner::testutil::{read_lines, write_script};
    use serde_json::Value;
    use std::sync::Mutex;

    /// A steps directory, a file the steps append their names to, and a config with no waits.
    struct Fixture {
        dir: tempfile::TempDir,
        steps: PathBuf,
        log: PathBuf,
        delays: Arc<Mutex<Vec<u32>>>,
    }

    impl Fixture {
        fn new() -> Self {
            let dir = tempfile::tempdir().expect("tempdir");
            let steps = dir.path().join("steps");
            std::fs::create_dir(&steps).expect("mkdir");
            let log = dir.path().join("order");
            Fixture {
                dir,
                steps,
                log,
                delays: Arc::default(),
            }
        }

        /// A step that logs its name, then runs `then` (e.g. `exit 1`).
        fn step(&self, name: &str, then: &str) -> PathBuf {
            let body = format!("echo {name} >> '{}'\n{then}", self.log.display());
            write_script(&self.steps, name, &body)
        }

        /// A step that fails (exit 1) the first time only.
        fn flaky_step(&self, name: &str) -> PathBuf {
            let marker = self.dir.path().join(format!("{name}.failed"));
            let m = marker.display();
            self.step(name, &format!("[ -e '{m}' ] || {{ touch '{m}'; exit 1; }}"))
        }

        fn halt_step(&self) -> PathBuf {
            let body = format!(
                "echo \"halt ${HALTED_STEP_ENV}\" >> '{}'",
                self.log.display()
            );
            write_script(self.dir.path(), "halt.sh", &body)
        }

        fn config_with_halt_step(&self) -> StartupConfig {
            StartupConfig {
                halt_step: Some(self.halt_step()),
                ..self.config()
            }
        }

        fn config(&self) -> StartupConfig {
            let delays = self.delays.clone();
            StartupConfig {
                max_tries: 3,
                step_timeout: Some(Duration::from_secs(30)),
                delay: Arc::new(move |n| {
                    delays.lock().expect("lock").push(n);
                    Duration::ZERO
                }),
                ..StartupConfig::new(&self.steps)
            }
        }

        fn order(&self) -> Vec<String> {
            read_lines(&self.log)
        }

        fn delays(&self) -> Vec<u32> {
            self.delays.lock().expect("lock").clone()
        }
    }

    fn halted(step: &str, reason: HaltReason) -> StartupOutcome {
        let step = step.to_owned();
        StartupOutcome::Halted { step, reason }
    }

    async fn run(config: &StartupConfig) -> StartupOutcome {
        run_startup(config, &Hook::default())
            .await
            .expect("startup runs")
    }

    #[tokio::test]
    async fn steps_run_in_numeric_order_and_other_files_are_ignored() {
        let f = Fixture::new();
        for name in ["10-x", "2-y", "1-b", "1-a", "02-z"] {
            f.step(name, "");
        }
        write_script(&f.steps, "README", "exit 1");
        write_script(&f.steps, ".hidden", "exit 1");
        write_script(&f.steps, "x-3", "exit 1");
        std::fs::create_dir(f.steps.join("5-dir")).expect("mkdir");
        assert_eq!(run(&f.config()).await, StartupOutcome::Ready);
        assert_eq!(f.order(), ["1-a", "1-b", "02-z", "2-y", "10-x"]);
        assert!(f.delays().is_empty());
    }

    #[tokio::test]
    async fn a_failed_step_is_retried_before_the_next_one() {
        let f = Fixture::new();
        f.step("0-a", "");
        f.flaky_step("1-b");
        f.step("2-c", "");
        assert_eq!(run(&f.config()).await, StartupOutcome::Ready);
        assert_eq!(f.order(), ["0-a", "1-b", "1-b", "2-c"]);
        assert_eq!(f.delays(), [1]);
    }

    #[tokio::test]
    async fn exit_2_halts_and_runs_the_halt_step() {
        let f = Fixture::new();
        f.step("1-a", "");
        f.step("2-b", "exit 2");
        f.step("3-c", "");
        let outcome = run(&f.config_with_halt_step()).await;
        assert_eq!(outcome, halted("2-b", HaltReason::Requested));
        assert_eq!(f.order(), ["1-a", "2-b", "halt 2-b"]);
        assert!(f.delays().is_empty(), "a halt is not retried");
    }

    #[tokio::test]
    async fn running_out_of_tries_halts() {
        let f = Fixture::new();
        f.step("1-a", "exit 7");
        f.step("2-b", "");
        let outcome = run(&f.config_with_halt_step()).await;
        let last = Failure::Exit(7);
        let reason = HaltReason::TriesExhausted { tries: 3, last };
        assert_eq!(outcome, halted("1-a", reason));
        assert_eq!(f.order(), ["1-a", "1-a", "1-a", "halt 1-a"]);
        assert_eq!(f.delays(), [1, 2]);
    }

    #[tokio::test]
    async fn a_step_over_its_timeout_is_killed_and_retried() {
        let f = Fixture::new();
        let marker = f.dir.path().join("slow.once");
        let m = marker.display();
        f.step(
            "1-slow",
            &format!("[ -e '{m}' ] || {{ touch '{m}'; sleep 30; }}"),
        );
        f.step("2-next", "");
        let config = StartupConfig {
            step_timeout: Some(Duration::from_millis(300)),
            ..f.config()
        };
        let started = Instant::now();
        assert_eq!(run(&config).await, StartupOutcome::Ready);
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(f.order(), ["1-slow", "1-slow", "2-next"]);
        assert_eq!(f.delays(), [1]);
    }

    #[tokio::test]
    async fn steps_get_the_config_env_and_the_workers_env() {
        let f = Fixture::new();
        let out = f.dir.path().join("env");
        let body = format!(
            "echo \"$RELYARD_TEST_STEP_VAR\" > '{0}'\necho \"$PATH\" >> '{0}'",
            out.display()
        );
        write_script(&f.steps, "1-env", &body);
        let mut config = f.config();
        config
            .env
            .insert("RELYARD_TEST_STEP_VAR".into(), "it's set".into());
        assert_eq!(run(&config).await, StartupOutcome::Ready);
        let path = std::env::var("PATH").unwrap_or_default();
        assert_eq!(read_lines(&out), ["it's set".to_owned(), path]);
    }

    #[tokio::test]
    async fn the_hook_hears_before_and_after_every_try() {
        let f = Fixture::new();
        f.step("1-a", "");
        f.flaky_step("2-b");
        let hook_log = f.dir.path().join("hook.log");
        let hook = recording_hook(f.dir.path(), &hook_log);
        let outcome = run_startup(&f.config(), &hook).await.expect("runs");
        assert_eq!(outcome, StartupOutcome::Ready);
        let events = hook_events(&hook_log);
        let seen: Vec<(String, u64, String)> = events
            .iter()
            .map(|e| {
                let mut keys: Vec<&str> = e
                    .as_object()
                    .expect("object")
                    .keys()
                    .map(|k| k.as_str())
                    .collect();
                keys.sort_unstable();
                let mut expected = [
                    "kind",
                    "name",
                    "try",
                    "maxTries",
                    "result",
                    "taskId",
                    "runId",
                    "durationMs",
                ];
                expected.sort_unstable();
                assert_eq!(keys, expected, "{e}");
                assert_eq!(e["kind"], "step");
                assert_eq!(e["maxTries"], 3);
                assert_eq!(e["taskId"], Value::Null);
                assert_eq!(e["runId"], Value::Null);
                let before = e["result"] == "running";
                assert_eq!(e["durationMs"].is_null(), before, "{e}");
                assert_eq!(e["durationMs"].is_u64(), !before, "{e}");
                let name = e["name"].as_str().expect("name").to_owned();
                let try_num = e["try"].as_u64().expect("try");
                (
                    name,
                    try_num,
                    e["result"].as_str().expect("result").to_owned(),
                )
            })
            .collect();
        let expected = [
            ("1-a", 1, "running"),
            ("1-a", 1, "ok"),
            ("2-b", 1, "running"),
            ("2-b", 1, "retry"),
            ("2-b", 2, "running"),
            ("2-b", 2, "ok"),
        ]
        .map(|(n, t, r)| (n.to_owned(), t, r.to_owned()));
        assert_eq!(seen, expected);
    }

    #[test]
    fn start_up_can_be_spawned() {
        // The worker runs start-up on its runtime next to its signal handling.
        fn assert_send<T: Send + 'static>(_: T) {}
        let config = StartupConfig::new("/nonexistent");
        assert_send(async move { run_startup(&config, &Hook::default()).await });
    }

    #[tokio::test]
    async fn a_broken_hook_does_not_stop_start_up() {
        let f = Fixture::new();
        f.step("1-a", "");
        let hook = Hook::new(Some(f.dir.path().join("no-such-hook")));
        let outcome = run_startup(&f.config(), &hook).await.expect("runs");
        assert_eq!(outcome, StartupOutcome::Ready);
        assert_eq!(f.order(), ["1-a"]);
    }

    #[tokio::test]
    async fn the_halt_step_in_the_steps_dir_is_not_a_step() {
        let f = Fixture::new();
        f.step("1-a", "");
        let halt = f.step("99-halt", "");
        let config = StartupConfig {
            halt_step: Some(halt),
            ..f.config()
        };
        assert_eq!(run(&config).await, StartupOutcome::Ready);
        assert_eq!(f.order(), ["1-a"]);
    }

    #[tokio::test]
    async fn configurations_that_cannot_run_are_errors() {
        let f = Fixture::new();
        let step = f.step("1-a", "");
        let zero = StartupConfig {
            max_tries: 0,
            ..f.config()
        };
        let err = run_startup(&zero, &Hook::default()).await;
        assert!(matches!(err, Err(RunnerError::ZeroTries)), "{err:?}");

        std::fs::set_permissions(&step, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = run_startup(&f.config(), &Hook::default()).await;
        assert!(matches!(err, Err(RunnerError::NotExecutable { path }) if path == step));

        let missing = StartupConfig::new(f.dir.path().join("nope"));
        let err = run_startup(&missing, &Hook::default()).await;
        assert!(matches!(err, Err(RunnerError::StepsDir { .. })), "{err:?}");
        assert!(f.order().is_empty(), "nothing ran");
    }
}
