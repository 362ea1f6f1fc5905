//! Running a payload's commands in order in the task directory, each in its own session, with
//! their output going to the task log through one pipe.

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use tokio::io::AsyncReadExt;
use tokio::sync::watch;

use crate::cleanslate::Tracker;
use crate::livelog::LiveLog;

/// Why the commands stopped before the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Abort {
    /// The queue no longer has this run as ours (canceled, deadline, claim expired): stop, report nothing.
    Lost(String),
    /// The worker is shutting down: stop and report `exception` / `worker-shutdown`.
    Shutdown,
}

/// How the commands ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// Every command exited 0.
    Succeeded,
    /// A command exited with this code (None: killed by a signal), or could not start.
    Failed {
        code: Option<i32>,
    },
    MaxRunTimeExceeded,
    Aborted(Abort),
}

/// The task's output pipe: every command writes to it; one reader copies it into the log until
/// every holder of the write end (the task's processes, daemons included) is gone.
pub struct OutputPipe {
    writer: Option<std::io::PipeWriter>,
    reader: Option<tokio::task::JoinHandle<()>>,
}

impl OutputPipe {
    pub fn open(log: Arc<LiveLog>) -> std::io::Result<OutputPipe> {
        let (reader, writer) = std::io::pipe()?;
        // Only the read end becomes non-blocking (it is its own open file description): the
        // task's processes write to a plain blocking pipe, as they expect.
        let mut reader = tokio::net::unix::pipe::Receiver::from_owned_fd(OwnedFd::from(reader))?;
        let join = tokio::spawn(async move {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                match reader.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => log.write(&buf[..n]),
                }
            }
        });
        Ok(OutputPipe {
            writer: Some(writer),
            reader: Some(join),
        })
    }

    fn stdio(&self) -> std::io::Result<(std::process::Stdio, std::process::Stdio)> {
        let w = self
            .writer
            .as_ref()
            .ok_or_else(|| std::io::Error::other("the task's output pipe is closed"))?;
        Ok((w.try_clone()?.into(), w.try_clone()?.into()))
    }

    /// Closes the worker's write end and waits (bounded) for the reader to drain what is left.
    pub async fn finish(&mut self, limit: std::time::Duration) {
        self.writer = None;
        if let Some(reader) = self.reader.take() {
            let _ = tokio::time::timeout(limit, reader).await;
        }
    }
}

pub struct CommandRun<'a> {
    pub commands: &'a [Vec<String>],
    pub task_dir: &'a Path,
    pub env: &'a BTreeMap<String, String>,
    pub tracker: &'a Tracker,
    pub log: &'a LiveLog,
    pub pipe: &'a OutputPipe,
    pub deadline: Instant,
    /// Set by run control when the task must stop.
    pub abort: watch::Receiver<Option<Abort>>,
    /// Called once, just before the first process starts.
    pub on_first_start: &'a (dyn Fn() + Send + Sync),
}

impl CommandRun<'_> {
    pub async fn run(mut self) -> Ended {
        for (i, argv) in self.commands.iter().enumerate() {
            self.log
                .worker_line(&format!("Executing command {i}: {}", shell_words(argv)));
            let mut cmd = tokio::process::Command::new(&argv[0]);
            cmd.args(&argv[1..])
                .current_dir(self.task_dir)
                .env_clear()
                .envs(self.env)
                .stdin(std::process::Stdio::null())
                .kill_on_drop(true);
            match self.pipe.stdio() {
                Ok((out, err)) => {
                    cmd.stdout(out).stderr(err);
                }
                Err(e) => {
                    self.log.worker_line(&format!("cannot attach output: {e}"));
                    return Ended::Failed { code: None };
                }
            }
            self.tracker.prepare(&mut cmd);
            if i == 0 {
                (self.on_first_start)();
            }
            let mut child = match cmd.spawn() {
                Ok(c) => c,
                Err(e) => {
                    self.log
                        .worker_line(&format!("Failed to start command {i} ({}): {e}", argv[0]));
                    return Ended::Failed { code: None };
                }
            };
            // The Command holds copies of the pipe's write end: drop them now, or the reader
            // would never see the end of the output.
            drop(cmd);
            let started = Instant::now();
            let outcome = tokio::select! {
                status = child.wait() => Some(status),
                _ = tokio::time::sleep_until(self.deadline.into()) => None,
                abort = wait_abort(&mut self.abort) => {
                    return Ended::Aborted(abort);
                }
            };
            match outcome {
                None => return Ended::MaxRunTimeExceeded,
                Some(Err(e)) => {
                    self.log
                        .worker_line(&format!("waiting for command {i}: {e}"));
                    return Ended::Failed { code: None };
                }
                Some(Ok(status)) => {
                    let took = started.elapsed();
                    match status.code() {
                        Some(0) => {
                            self.log
                                .worker_line(&format!("Exit Code: 0 ({:.3}s)", took.as_secs_f64()));
                        }
                        code => {
                            let what = match code {
                                Some(c) => format!("Exit Code: {c}"),
                                None => format!("Killed by signal {:?}", signal_of(&status)),
                            };
                            self.log
                                .worker_line(&format!("{what} ({:.3}s)", took.as_secs_f64()));
                            return Ended::Failed { code };
                        }
                    }
                }
            }
        }
        Ended::Succeeded
    }
}

fn signal_of(status: &std::process::ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.signal()
}

async fn wait_abort(rx: &mut watch::Receiver<Option<Abort>>) -> Abort {
    loop {
        if let Some(a) = rx.borrow_and_update().clone() {
            return a;
        }
        if rx.changed().await.is_err() {
            // Run control is gone: nothing can abort us any more.
            std::future::pending::<()>().await;
        }
    }
}

/// An argv as a person would type it, for the log.
fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_is_quoted_for_the_log() {
        let argv = vec!["sh".to_string(), "-c".into(), "echo 'hi' there".into()];
        assert_eq!(shell_words(&argv), "sh -c 'echo '\\''hi'\\'' there'");
    }
}
