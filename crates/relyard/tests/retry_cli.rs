//! `relyard retry` as a process: attempts, exit statuses, `--`, verbose schedule, SIGINT.
//! Sleeps are centiseconds (`-s 0.01`), so the whole file takes about a second.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn relyard_retry(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_relyard"))
        .arg("retry")
        .args(args)
        .output()
        .expect("run relyard")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A command that appends a line to a log in a tempdir on every run, then runs `script`.
struct Counted {
    dir: tempfile::TempDir,
}

impl Counted {
    fn new() -> Self {
        Counted {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("runs")
    }

    /// `relyard retry options… sh -c 'echo run >> log; script'`.
    fn retry(&self, options: &[&str], script: &str) -> Output {
        let script = format!(r#"echo run >> "$1"; {script}"#);
        let log = self.log();
        let mut args = options.to_vec();
        args.extend(["sh", "-c", &script, "sh", path(&log)]);
        relyard_retry(&args)
    }

    fn runs(&self) -> usize {
        std::fs::read_to_string(self.log())
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// The durations of the `sleeping …` lines of `-v`.
fn printed_sleeps(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter_map(|l| l.split("sleeping ").nth(1))
        .collect()
}

#[test]
fn fails_twice_then_succeeds() {
    let cmd = Counted::new();
    // Succeeds on the third run, when the log has three lines.
    let out = cmd.retry(
        &["-a", "5", "-s", "0.01", "--jitter", "0"],
        r#"[ "$(wc -l < "$1")" -ge 3 ]"#,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(cmd.runs(), 3);
}

#[test]
fn final_failure_exits_with_the_commands_status() {
    let cmd = Counted::new();
    let out = cmd.retry(&["-a", "3", "-s", "0.01", "--jitter", "0"], "exit 7");
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    assert_eq!(cmd.runs(), 3);
    assert!(
        stderr(&out).contains("after 3 attempts"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn missing_command_is_254_and_not_retried() {
    let started = Instant::now();
    let out = relyard_retry(&["-s", "5", "--", "/nonexistent/relyard-test-command"]);
    assert_eq!(out.status.code(), Some(254));
    assert!(
        stderr(&out).contains("cannot run `/nonexistent/relyard-test-command`"),
        "{}",
        stderr(&out)
    );
    // A retry would have slept 5 s first.
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[test]
fn jitter_above_sleeptime_is_254_before_running_anything() {
    let cmd = Counted::new();
    // redo's `-s 0` with its default jitter of 1 fails the same way.
    let out = cmd.retry(&["-s", "0"], "true");
    assert_eq!(out.status.code(), Some(254));
    assert!(stderr(&out).contains("jitter"), "{}", stderr(&out));
    assert_eq!(cmd.runs(), 0);
}

#[test]
fn double_dash_is_accepted() {
    let out = relyard_retry(&["-a", "1", "--", "true"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = relyard_retry(&[
        "-a", "2", "-s", "0", "--jitter", "0", "--", "sh", "-c", "exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
}

#[test]
fn options_after_the_command_belong_to_it() {
    // `-v` here is sh's, not ours: nothing of retry's verbose output may appear.
    let out = relyard_retry(&["-a", "1", "sh", "-v", "-c", "exit 0"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("relyard retry: attempt"));
}

#[test]
fn verbose_shows_attempts_and_the_schedule() {
    let out = relyard_retry(&[
        "-v", "-a", "4", "-s", "0.01", "--jitter", "0", "--", "sh", "-c", "exit 1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(
        printed_sleeps(&err),
        vec!["0.01s", "0.015s", "0.0225s"],
        "{err}"
    );
    for n in 1..=4 {
        assert!(
            err.contains(&format!("attempt {n}/4: sh -c exit 1")),
            "{err}"
        );
    }
}

#[test]
fn max_sleeptime_caps_the_printed_sleeps() {
    let out = relyard_retry(&[
        "-v", "-a", "4", "-s", "0.01", "-m", "0.012", "--jitter", "0", "false",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(
        printed_sleeps(&err),
        vec!["0.01s", "0.012s", "0.012s"],
        "{err}"
    );
}

#[test]
fn death_by_signal_exits_128_plus_n() {
    let out = relyard_retry(&["-a", "1", "sh", "-c", "kill -9 $$"]);
    assert_eq!(out.status.code(), Some(128 + 9), "{}", stderr(&out));
}

#[test]
fn command_dying_of_sigint_is_an_interruption() {
    let cmd = Counted::new();
    let out = cmd.retry(&["-a", "3", "-s", "0.01", "--jitter", "0"], "kill -INT $$");
    assert_eq!(out.status.code(), Some(255), "{}", stderr(&out));
    assert_eq!(cmd.runs(), 1);
}

/// Starts `relyard retry -v args…` and returns it once a line of its stderr contains `ready`.
fn spawn_until(args: &[&str], ready: &str) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_relyard"))
        .arg("retry")
        .arg("-v")
        .args(args)
        .stderr(Stdio::piped())
        .spawn()
        .expect("run relyard");
    let pipe = child.stderr.take().expect("piped stderr");
    let mut lines = BufReader::new(pipe).lines();
    loop {
        match lines.next() {
            Some(Ok(line)) if line.contains(ready) => break,
            Some(Ok(_)) => continue,
            other => panic!("relyard ended before {ready:?}: {other:?}"),
        }
    }
    // Keep draining so that relyard never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    child
}

fn sigint(child: &Child) {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
}

#[test]
fn sigint_during_a_sleep_exits_255_at_once() {
    let mut child = spawn_until(&["-s", "30", "--jitter", "0", "false"], "sleeping 30s");
    let started = Instant::now();
    sigint(&child);
    let status = child.wait().expect("wait relyard");
    assert_eq!(status.code(), Some(255));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn sigint_during_a_run_exits_255_and_ends_the_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pidfile = dir.path().join("pid");
    // The command never exits by itself; `exec` gives sleep the pid written down.
    let script = r#"echo $$ > "$1.tmp"; mv "$1.tmp" "$1"; exec sleep 30"#;
    let mut child = spawn_until(&["sh", "-c", script, "sh", path(&pidfile)], "attempt 1/5");
    let deadline = Instant::now() + Duration::from_secs(5);
    let pid = loop {
        if let Ok(pid) = std::fs::read_to_string(&pidfile) {
            break pid.trim().to_string();
        }
        assert!(Instant::now() < deadline, "the command never started");
        std::thread::sleep(Duration::from_millis(10));
    };
    let started = Instant::now();
    sigint(&child);
    let status = child.wait().expect("wait relyard");
    assert_eq!(status.code(), Some(255));
    // Only our relyard got SIGINT (no terminal), so the command outlived the grace period and
    // was killed and reaped before relyard exited.
    assert!(started.elapsed() < Duration::from_secs(5));
    let alive = Command::new("kill")
        .args(["-0", &pid])
        .stderr(Stdio::null())
        .status()
        .expect("run kill");
    assert!(!alive.success(), "command {pid} still running");
}
