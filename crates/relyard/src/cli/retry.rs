//! `relyard retry`: run a command until it succeeds, with the options, back-off schedule and exit
//! codes of Mozilla redo's `retry` command.

use std::cell::Cell;
use std::ffi::{OsStr, OsString};
use std::process::ExitStatus;
use std::time::Duration;

use clap::Args;
use relyard_core::retry::{retry_async_with_sleeper, Failure, RetryPolicy};
use tokio_util::sync::CancellationToken;

/// Exit status for anything but the command's own failure (redo's `sys.exit(-2)`).
const EXIT_ERROR: i32 = 254;
/// Exit status after SIGINT (redo's `sys.exit(-1)` on KeyboardInterrupt).
const EXIT_INTERRUPTED: i32 = 255;
/// After SIGINT, how long the running command may take to exit before it is killed. A Ctrl-C in a
/// terminal reaches the command too, which may want a moment to clean up (Python's subprocess,
/// under redo, waits 0.25 s the same way); killing it afterwards keeps it from running on after
/// `retry` has reported the interruption.
const CHILD_GRACE: Duration = Duration::from_millis(500);

#[derive(Args)]
#[command(after_help = "\
Sleeps grow by --sleepscale from --sleeptime, each ± --jitter (which grows alike), capped at \
--max-sleeptime. Seconds may be fractional.

Exit status: 0 once the command succeeds; the command's own status when every attempt failed \
(128+N if a signal N killed it); 254 for other errors (the command cannot be started, an invalid \
schedule such as --jitter above --sleeptime); 255 on SIGINT.")]
pub struct RetryArgs {
    /// How many times to run the command at most.
    #[arg(short, long, default_value_t = 5)]
    attempts: u32,
    /// Seconds to sleep after the first failure.
    #[arg(short, long, default_value = "60", value_parser = parse_seconds)]
    sleeptime: Duration,
    /// Longest sleep between attempts, in seconds.
    #[arg(short = 'm', long, default_value = "300", value_parser = parse_seconds)]
    max_sleeptime: Duration,
    /// Factor each sleep grows by.
    #[arg(long, default_value_t = 1.5)]
    sleepscale: f64,
    /// Seconds of random spread around the first sleep, scaled with it; at most --sleeptime.
    #[arg(long, default_value = "1", value_parser = parse_seconds)]
    jitter: Duration,
    /// Print each attempt and sleep on stderr.
    #[arg(short, long)]
    verbose: bool,
    /// The command and its arguments (`--` before it is optional).
    #[arg(required = true, trailing_var_arg = true, value_name = "CMD")]
    cmd: Vec<OsString>,
}

/// Seconds as redo takes them (integers), or fractions of them.
fn parse_seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if secs < 0.0 {
        return Err(format!("{s} is negative"));
    }
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{s}: {e}"))
}

/// Returns only on success; any other outcome ends the process with its exit status, since
/// callers (shell scripts, task payloads) act on that status.
pub async fn run(args: RetryArgs) -> anyhow::Result<()> {
    match execute(args).await {
        0 => Ok(()),
        code => std::process::exit(code),
    }
}

async fn execute(args: RetryArgs) -> i32 {
    let policy = match RetryPolicy::new(
        args.attempts,
        args.sleeptime,
        args.max_sleeptime,
        args.sleepscale,
        args.jitter,
    ) {
        Ok(policy) => policy,
        Err(e) => {
            eprintln!("relyard retry: {e}");
            return EXIT_ERROR;
        }
    };
    let Some((program, program_args)) = args.cmd.split_first() else {
        eprintln!("relyard retry: no command given");
        return EXIT_ERROR;
    };
    let interrupt = CancellationToken::new();
    // Listening starts before the first command does, so that an early SIGINT is ours to handle
    // rather than the default disposition's (which would end the process with no status of ours).
    if let Err(e) = watch_sigint(interrupt.clone()) {
        eprintln!("relyard retry: cannot listen for SIGINT: {e}");
        return EXIT_ERROR;
    }
    let runner = Runner {
        program,
        args: program_args,
        shown: shown(&args.cmd),
        attempts: policy.attempts(),
        verbose: args.verbose,
        interrupt: interrupt.clone(),
    };
    // A SIGINT ends the sleep early; the attempt after it sees the token and stops the run.
    let sleeper = move |d: Duration| {
        let interrupt = interrupt.clone();
        async move {
            tokio::select! {
                _ = tokio::time::sleep(d) => {}
                _ = interrupt.cancelled() => {}
            }
        }
    };
    let started = Cell::new(0);
    let result = retry_async_with_sleeper(
        policy.delays(),
        sleeper,
        || {
            started.set(started.get() + 1);
            runner.attempt(started.get())
        },
        // redo retries only CalledProcessError: the command ran and exited non-zero.
        |e| matches!(e, AttemptError::Failed(_)),
        |e, failure| runner.report(e, failure),
    )
    .await;
    match result {
        Ok(()) => 0,
        Err(AttemptError::Failed(status)) => {
            let n = runner.attempts;
            eprintln!(
                "relyard retry: giving up on `{}` after {n} attempt{}: {status}",
                runner.shown,
                if n == 1 { "" } else { "s" }
            );
            exit_code(status)
        }
        Err(AttemptError::Spawn(e)) => {
            eprintln!(
                "relyard retry: cannot run `{}`: {e}",
                program.to_string_lossy()
            );
            EXIT_ERROR
        }
        Err(AttemptError::Wait(e)) => {
            eprintln!("relyard retry: lost track of `{}`: {e}", runner.shown);
            EXIT_ERROR
        }
        Err(AttemptError::Interrupted) => {
            eprintln!("relyard retry: interrupted");
            EXIT_INTERRUPTED
        }
    }
}

enum AttemptError {
    /// The command ran and failed: the only outcome worth another attempt.
    Failed(ExitStatus),
    Spawn(std::io::Error),
    Wait(std::io::Error),
    Interrupted,
}

struct Runner<'a> {
    program: &'a OsStr,
    args: &'a [OsString],
    shown: String,
    attempts: u32,
    verbose: bool,
    interrupt: CancellationToken,
}

impl Runner<'_> {
    async fn attempt(&self, n: u32) -> Result<(), AttemptError> {
        if self.interrupt.is_cancelled() {
            return Err(AttemptError::Interrupted);
        }
        if self.verbose {
            eprintln!(
                "relyard retry: attempt {n}/{}: {}",
                self.attempts, self.shown
            );
        }
        let mut child = tokio::process::Command::new(self.program)
            .args(self.args)
            // Should this future ever be dropped mid-run, the command goes with it.
            .kill_on_drop(true)
            .spawn()
            .map_err(AttemptError::Spawn)?;
        let status = tokio::select! {
            status = child.wait() => status.map_err(AttemptError::Wait)?,
            _ = self.interrupt.cancelled() => {
                if tokio::time::timeout(CHILD_GRACE, child.wait()).await.is_err() {
                    // `kill` also reaps it, so it is gone before we exit.
                    let _ = child.kill().await;
                }
                return Err(AttemptError::Interrupted);
            }
        };
        if status.success() {
            Ok(())
        } else if killed_by_sigint(status) {
            // A terminal's Ctrl-C reaches the command and us together, and the command may die
            // of it before our own handler has run: that is an interruption, not a failure to
            // retry (redo sees its KeyboardInterrupt in that case too).
            Err(AttemptError::Interrupted)
        } else {
            Err(AttemptError::Failed(status))
        }
    }

    fn report(&self, e: &AttemptError, failure: Failure) {
        if !self.verbose {
            return;
        }
        // Only failures that will be retried reach here; the last one is reported by `execute`.
        if let (AttemptError::Failed(status), Some(sleep)) = (e, failure.sleep) {
            eprintln!(
                "relyard retry: attempt {}/{} failed ({status}); sleeping {}s",
                failure.attempt,
                failure.attempts,
                seconds(sleep)
            );
        }
    }
}

#[cfg(unix)]
fn watch_sigint(token: CancellationToken) -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut sigint = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        if sigint.recv().await.is_some() {
            token.cancel();
        }
    });
    Ok(())
}

#[cfg(not(unix))]
fn watch_sigint(token: CancellationToken) -> std::io::Result<()> {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            token.cancel();
        }
    });
    Ok(())
}

#[cfg(unix)]
fn killed_by_sigint(status: ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.signal() == Some(tokio::signal::unix::SignalKind::interrupt().as_raw_value())
}

#[cfg(not(unix))]
fn killed_by_sigint(_status: ExitStatus) -> bool {
    false
}

/// The command's status as ours. For a signal, redo would exit with 256 - N, which no shell
/// reads as a signal; 128 + N is what shells report, so scripts keep recognising it.
fn exit_code(status: ExitStatus) -> i32 {
    if let Some(code) = status.code() {
        return code;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return 128 + signal;
        }
    }
    1
}

fn shown(cmd: &[OsString]) -> String {
    cmd.iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Seconds to the microsecond without trailing zeros: 60, 0.015, 0.0225.
fn seconds(d: Duration) -> String {
    let micros = (d.as_nanos() + 500) / 1000;
    let (whole, frac) = (micros / 1_000_000, micros % 1_000_000);
    if frac == 0 {
        whole.to_string()
    } else {
        format!("{whole}.{frac:06}")
            .trim_end_matches('0')
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_parse_as_integers_or_fractions() {
        assert_eq!(parse_seconds("60"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_seconds("0.01"), Ok(Duration::from_millis(10)));
        assert!(parse_seconds("-1").is_err());
        assert!(parse_seconds("soon").is_err());
        assert!(parse_seconds("inf").is_err());
        assert!(parse_seconds("NaN").is_err());
    }

    #[test]
    fn seconds_print_without_noise() {
        assert_eq!(seconds(Duration::from_secs(60)), "60");
        assert_eq!(seconds(Duration::from_secs_f64(0.015)), "0.015");
        assert_eq!(seconds(Duration::from_secs_f64(0.01 * 1.5 * 1.5)), "0.0225");
        assert_eq!(seconds(Duration::from_nanos(1_499_999_999)), "1.5");
    }
}
