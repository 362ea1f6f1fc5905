//! A `relyard serve` child process for benchmarks, so that its memory is measured apart from the
//! load generator's.

use std::process::Stdio;

use anyhow::Context;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub struct ChildServer {
    pub root_url: String,
    pub root_access_token: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl ChildServer {
    /// Starts `relyard serve` on a free port; SQLite in a temp dir unless `database_url` is given.
    pub async fn start(database_url: Option<&str>) -> anyhow::Result<ChildServer> {
        let dir = tempfile::tempdir()?;
        let db = match database_url {
            Some(u) => u.to_string(),
            None => format!("sqlite:{}", dir.path().join("bench.db").display()),
        };
        let token = format!(
            "{}{}",
            relyard_core::ids::slugid(),
            relyard_core::ids::slugid()
        );
        let mut child = Command::new(std::env::current_exe()?)
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--database-url", &db])
            .arg(format!("--data-dir={}", dir.path().join("data").display()))
            .arg(format!("--root-access-token={token}"))
            .arg("--encryption-keys=bench:a benchmark encryption key")
            .env("RUST_LOG", "warn")
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting relyard serve")?;
        let stderr = child.stderr.take().context("no stderr")?;
        let mut lines = BufReader::new(stderr).lines();
        let root_url = loop {
            let line = lines
                .next_line()
                .await?
                .context("relyard serve exited before serving")?;
            if let Some(url) = line.strip_prefix("relyard serving at ") {
                break url.trim().to_string();
            }
        };
        // Keep reading so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(ChildServer {
            root_url,
            root_access_token: token,
            child,
            _dir: dir,
        })
    }

    /// Peak resident memory of the server process so far (`VmHWM`), in bytes.
    pub fn peak_rss(&self) -> Option<u64> {
        peak_rss_of(self.child.id()?)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    pub async fn stop(self) {
        stop_child(self.child).await;
    }
}

/// Peak resident memory of a process so far (`VmHWM`), in bytes.
pub fn peak_rss_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// CPU time (user + system) a process has used so far.
pub fn cpu_time_of(pid: u32) -> Option<std::time::Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised name: utime and stime are the 12th and 13th.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let per_sec = unsafe { nix::libc::sysconf(nix::libc::_SC_CLK_TCK) };
    (per_sec > 0).then(|| std::time::Duration::from_secs_f64(ticks as f64 / per_sec as f64))
}

/// SIGTERM for a graceful stop, then waits (bounded); kill_on_drop covers the rest.
pub async fn stop_child(mut child: Child) {
    if let Some(pid) = child.id() {
        let _ = std::process::Command::new("kill")
            .arg(pid.to_string())
            .status();
    }
    let _ = tokio::time::timeout(std::time::Duration::from_secs(40), child.wait()).await;
}
