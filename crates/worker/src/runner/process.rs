//! Running one child program (a step, the halt step, the hook, the reboot command) the same way
//! everywhere: in a process group of its own, with its output forwarded to the log, optionally
//! fed a stdin and bounded by a timeout.

use std::io;
use std::process::ExitStatus;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

/// How a child's run ended.
#[derive(Debug)]
pub(crate) enum Finish {
    Exited(ExitStatus),
    /// It overran its timeout; it and everything else in its process group were killed.
    TimedOut,
}

/// Runs `cmd` to its end (or its timeout), writing `input` to its stdin when given.
///
/// Stdout and stderr go to the log line by line, tagged with `label`, so that children do not
/// write into the worker's own stdout (which may carry a protocol to a supervisor).
pub(crate) async fn run(
    mut cmd: Command,
    label: &str,
    input: Option<&[u8]>,
    timeout: Option<Duration>,
) -> io::Result<Finish> {
    cmd.stdin(if input.is_some() {
        std::process::Stdio::piped()
    } else {
        std::process::Stdio::null()
    })
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    // A group of its own lets a timeout kill what a shell script started too (a `sleep` it is
    // waiting on would otherwise outlive it and keep running).
    .process_group(0)
    .kill_on_drop(true);
    let mut child = spawn(&mut cmd).await?;
    let mut group = GroupGuard(
        child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .map(Pid::from_raw),
    );
    if let Some(out) = child.stdout.take() {
        forward(out, label.to_owned(), "stdout");
    }
    if let Some(err) = child.stderr.take() {
        forward(err, label.to_owned(), "stderr");
    }
    let stdin = child.stdin.take();
    let finish = async {
        if let (Some(mut stdin), Some(input)) = (stdin, input) {
            // A program may well exit without reading its input; its exit status says whether
            // that was a failure, so a closed pipe is not an error of ours.
            match stdin.write_all(input).await {
                Err(e) if e.kind() != io::ErrorKind::BrokenPipe => return Err(e),
                _ => {}
            }
            // Dropping stdin here closes it, so the child sees the end of its input.
        }
        child.wait().await
    };
    let result = match timeout {
        None => finish.await.map(Finish::Exited),
        Some(limit) => match tokio::time::timeout(limit, finish).await {
            Ok(status) => status.map(Finish::Exited),
            Err(_) => {
                group.kill();
                child.wait().await.map(|_| Finish::TimedOut)
            }
        },
    };
    if result.is_ok() {
        // Reaped: the id may now be reused, and whatever the child left running in the
        // background (a daemon a start-up step launched) is meant to stay.
        group.0 = None;
    }
    result
}

/// Spawns `cmd`, trying again briefly while the kernel says the file is busy.
///
/// ETXTBSY happens when another thread of this process forked while the program file was open
/// for writing (e.g. just written by configuration management); the fork's copy of the descriptor
/// goes away at its exec a moment later, and there is nothing to wait on, hence the short sleeps.
async fn spawn(cmd: &mut Command) -> io::Result<Child> {
    const ATTEMPTS: u32 = 20;
    let mut attempt = 1;
    loop {
        match cmd.spawn() {
            Err(e) if e.raw_os_error() == Some(Errno::ETXTBSY as i32) && attempt < ATTEMPTS => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            other => return other,
        }
    }
}

/// Kills the child's whole process group when dropped while armed, so that a caller giving up on
/// the run (a cancelled future) does not leave the program running.
struct GroupGuard(Option<Pid>);

impl GroupGuard {
    fn kill(&mut self) {
        if let Some(pgid) = self.0.take() {
            // ESRCH only means every member has already gone.
            if let Err(e) = killpg(pgid, Signal::SIGKILL) {
                if e != Errno::ESRCH {
                    let pgid = pgid.as_raw();
                    tracing::warn!(pgid, error = %e, "could not kill process group");
                }
            }
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Logs each line of a child's output. Bytes that are not UTF-8 are replaced rather than ending
/// the forwarding: a reader that stopped would let the pipe fill and block the child.
fn forward<R: AsyncRead + Unpin + Send + 'static>(reader: R, label: String, stream: &'static str) {
    tokio::spawn(async move {
        let mut reader = BufReader::new(reader);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&line);
                    let text = text.trim_end_matches(['\n', '\r']);
                    tracing::info!(program = %label, stream, "{text}");
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::testutil::{read_lines, write_script};

    #[tokio::test]
    async fn stdin_is_delivered_and_closed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("out");
        let prog = write_script(dir.path(), "echo-in", &format!("cat > '{}'", out.display()));
        let finish = run(Command::new(&prog), "t", Some(b"hello\n"), None)
            .await
            .expect("runs");
        assert!(
            matches!(finish, Finish::Exited(s) if s.success()),
            "{finish:?}"
        );
        assert_eq!(read_lines(&out), vec!["hello"]);
    }

    #[tokio::test]
    async fn timeout_kills_the_whole_group() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pidfile = dir.path().join("pid");
        // The shell waits on a background child: only a group kill reaches that child.
        let body = format!("sleep 30 &\necho $! > '{}'\nwait", pidfile.display());
        let prog = write_script(dir.path(), "slow", &body);
        let started = std::time::Instant::now();
        let finish = run(
            Command::new(&prog),
            "t",
            None,
            Some(Duration::from_millis(300)),
        )
        .await
        .expect("runs");
        assert!(matches!(finish, Finish::TimedOut), "{finish:?}");
        assert!(started.elapsed() < Duration::from_secs(10));
        let pid: i32 = read_lines(&pidfile)
            .first()
            .and_then(|l| l.parse().ok())
            .expect("pid written");
        // The grandchild is not ours to wait for; its /proc entry goes (or turns into a zombie
        // of its new parent) once the kernel has delivered the SIGKILL.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|s| s.split_whitespace().next());
            if matches!(state, None | Some("Z") | Some("X")) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "grandchild {pid} survived: {stat}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
