//! Clean slate: everything a task started is killed when the task ends, including daemons that
//! double-forked out of its process group and session.
//!
//! Two ways of knowing what a task started:
//! - **cgroup v2** (where the worker may create cgroups): each task's processes are put in a cgroup
//!   of their own before they exec, so nothing they fork can leave it; `cgroup.kill` ends them all.
//! - **process snapshot** (elsewhere), as cleanslate does: the worker is made a child subreaper, so
//!   orphans of a task are re-parented to the worker rather than to init; at the end every
//!   descendant of the worker that did not exist before the task started, and that carries the
//!   task's marker in its environment (or any such descendant when the worker runs one task at a
//!   time), is sent TERM, given a short grace, then KILL.

use std::collections::HashSet;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;

/// The environment variable that marks a task's processes (inherited by everything they start).
pub const MARKER_VAR: &str = "RELYARD_TASK_RUN";

/// How a worker tracks its tasks' processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// cgroup v2 when the worker can create cgroups, else snapshots.
    Auto,
    Cgroup,
    Snapshot,
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Mode::Auto),
            "cgroup" => Ok(Mode::Cgroup),
            "snapshot" => Ok(Mode::Snapshot),
            other => Err(format!("{other:?}: expected auto, cgroup or snapshot")),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CleanSlateError {
    #[error("cgroup v2 is not usable here: {0}")]
    NoCgroup(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Makes this process the reaper of its descendants' orphans, so a double-forked daemon stays a
/// descendant of the worker (and can be found and killed) instead of moving to init.
pub fn become_subreaper() {
    if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
        tracing::warn!(error = %e, "could not become a child subreaper; orphans of tasks go to init");
    }
}

/// Prefix of the cgroups the worker makes: `relyard-<worker pid>-<run marker>`.
const CGROUP_PREFIX: &str = "relyard-";

/// Ends what the tasks of a worker that died (SIGKILL, a crash, a power cut of its container)
/// left in their cgroups, and removes those cgroups: a worker that starts here finds the machine
/// as clean as if the dead one had finished. Cgroups of live workers are left alone. Returns how
/// many processes were killed.
pub async fn sweep_orphaned_cgroups(grace: Duration) -> usize {
    let Some(base) = own_cgroup_dir() else {
        return 0;
    };
    let Ok(entries) = std::fs::read_dir(&base) else {
        return 0;
    };
    let mut killed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(owner) = name
            .strip_prefix(CGROUP_PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<i32>().ok())
        else {
            continue;
        };
        // A live owner (or a pid taken again by another process) keeps its cgroups.
        if owner == std::process::id() as i32 || read_stat(owner).is_some() {
            continue;
        }
        let Ok(cgroup) = Cgroup::open(entry.path()) else {
            continue;
        };
        let report = cgroup.kill_all(grace).await;
        if report.killed > 0 {
            tracing::warn!(cgroup = %name, killed = report.killed, "killed what a dead worker's task left behind");
        }
        killed += report.killed;
    }
    killed
}

/// What a kill found.
#[derive(Debug, Default)]
pub struct KillReport {
    pub killed: usize,
    /// Processes still alive after KILL (should never happen; reported in the task log).
    pub survivors: Vec<i32>,
}

/// The processes of one task run.
pub struct Tracker {
    marker: String,
    cgroup: Option<Cgroup>,
    before: HashSet<ProcId>,
    exclusive: bool,
}

impl Tracker {
    /// Starts tracking before the task's first process. `exclusive` says no other task runs on
    /// this worker at the same time, so every new descendant belongs to this task.
    pub fn start(mode: Mode, marker: String, exclusive: bool) -> Result<Tracker, CleanSlateError> {
        let cgroup = match mode {
            Mode::Snapshot => None,
            Mode::Cgroup => Some(Cgroup::create(&marker)?),
            Mode::Auto => Cgroup::create(&marker).ok(),
        };
        let before = if cgroup.is_none() {
            all_processes().into_iter().map(|p| p.id).collect()
        } else {
            HashSet::new()
        };
        Ok(Tracker {
            marker,
            cgroup,
            before,
            exclusive,
        })
    }

    pub fn uses_cgroup(&self) -> bool {
        self.cgroup.is_some()
    }

    /// Prepares a task command: own session (hence own process group), the marker in its
    /// environment, and in cgroup mode the move into the task's cgroup before exec.
    pub fn prepare(&self, cmd: &mut tokio::process::Command) {
        cmd.env(MARKER_VAR, &self.marker);
        let procs_fd = self.cgroup.as_ref().map(|c| c.procs.as_raw_fd());
        // SAFETY: the closure runs in the forked child before exec and only makes
        // async-signal-safe system calls (setsid, write); it allocates nothing.
        unsafe {
            cmd.pre_exec(move || {
                if let Some(fd) = procs_fd {
                    // "0" moves the writing process itself into the cgroup.
                    if nix::libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                if nix::libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }

    /// Kills every process of the task: TERM, up to `grace` to exit, then KILL.
    pub async fn kill_all(&self, grace: Duration) -> KillReport {
        match &self.cgroup {
            Some(cg) => cg.kill_all(grace).await,
            None => self.kill_snapshot(grace).await,
        }
    }

    fn snapshot_targets(&self) -> Vec<ProcId> {
        let me = std::process::id() as i32;
        let procs = all_processes();
        procs
            .into_iter()
            .filter(|p| p.id.pid != me && !self.before.contains(&p.id) && !p.zombie)
            .filter(|p| descends_from(p.id.pid, me))
            .filter(|p| self.exclusive || has_marker(p.id.pid, &self.marker))
            .map(|p| p.id)
            .collect()
    }

    async fn kill_snapshot(&self, grace: Duration) -> KillReport {
        end_processes(
            || self.snapshot_targets(),
            grace,
            |targets| signal_all(targets, Signal::SIGKILL),
        )
        .await
    }
}

/// The kill sequence of both ways of tracking: TERM to what `list` finds, up to `grace` for it
/// to go, then `kill` on everything found in either look, until nothing listed is left (bounded).
async fn end_processes(
    list: impl Fn() -> Vec<ProcId>,
    grace: Duration,
    kill: impl Fn(&[ProcId]),
) -> KillReport {
    let first = list();
    if first.is_empty() {
        return KillReport::default();
    }
    signal_all(&first, Signal::SIGTERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && !list().is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Whatever the task started while we waited is in the second look too.
    let mut seen = first;
    for p in list() {
        if !seen.contains(&p) {
            seen.push(p);
        }
    }
    kill(&seen);
    let limit = Instant::now() + Duration::from_secs(5);
    loop {
        let left = list();
        if left.is_empty() || Instant::now() >= limit {
            break;
        }
        signal_all(&left, Signal::SIGKILL);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let survivors = wait_gone(&seen, Duration::from_millis(100)).await;
    KillReport {
        killed: seen.len(),
        survivors,
    }
}

/// A process, told apart from a later one with the same pid by its start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ProcId {
    pid: i32,
    start_ticks: u64,
}

impl ProcId {
    fn alive(&self) -> bool {
        match read_stat(self.pid) {
            Some(s) => s.id.start_ticks == self.start_ticks && !s.zombie,
            None => false,
        }
    }
}

struct ProcStat {
    id: ProcId,
    ppid: i32,
    zombie: bool,
}

fn all_processes() -> Vec<ProcStat> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(read_stat)
        .collect()
}

/// `/proc/<pid>/stat`: the command name is in parentheses and may hold spaces, so fields are
/// counted from the last `)`.
fn read_stat(pid: i32) -> Option<ProcStat> {
    let raw = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &raw[raw.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(3) ppid(4) … starttime(22), i.e. indices 0, 1 and 19 here.
    Some(ProcStat {
        id: ProcId {
            pid,
            start_ticks: fields.get(19)?.parse().ok()?,
        },
        ppid: fields.get(1)?.parse().ok()?,
        zombie: matches!(fields.first(), Some(&"Z") | Some(&"X")),
    })
}

/// Whether `pid` descends from `ancestor`, reading each parent live: a snapshot of all parents
/// taken at once can miss a shell that exits mid-scan, whose children are then being re-parented
/// to the worker. When a link of the chain vanishes, the walk starts again from `pid`, whose new
/// parent is by then recorded.
fn descends_from(pid: i32, ancestor: i32) -> bool {
    for _attempt in 0..8 {
        let mut cur = pid;
        let mut vanished = false;
        for _ in 0..4096 {
            match read_stat(cur) {
                Some(s) if s.ppid == ancestor => return true,
                Some(s) if s.ppid > 1 => cur = s.ppid,
                Some(_) => return false,
                None if cur == pid => return false,
                None => {
                    vanished = true;
                    break;
                }
            }
        }
        if !vanished {
            return false;
        }
    }
    false
}

fn has_marker(pid: i32, marker: &str) -> bool {
    let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
        return false;
    };
    let wanted = format!("{MARKER_VAR}={marker}");
    env.split(|b| *b == 0).any(|kv| kv == wanted.as_bytes())
}

fn signal_all(targets: &[ProcId], sig: Signal) {
    for p in targets {
        if p.alive() {
            let _ = kill(Pid::from_raw(p.pid), sig);
        }
    }
}

/// Waits for the processes to die, reaping those re-parented to the worker; returns survivors.
async fn wait_gone(targets: &[ProcId], limit: Duration) -> Vec<i32> {
    let deadline = Instant::now() + limit;
    loop {
        reap(targets.iter().map(|p| p.pid));
        let alive: Vec<i32> = targets
            .iter()
            .filter(|p| p.alive())
            .map(|p| p.pid)
            .collect();
        if alive.is_empty() || Instant::now() >= deadline {
            return alive;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Collects the exit status of orphans the worker adopted as subreaper, so no zombie is left.
/// Only pids the task's own clean-up killed are waited for: the worker's direct children belong
/// to tokio, which waits for them itself.
fn reap(pids: impl Iterator<Item = i32>) {
    for pid in pids {
        let _ = waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG));
    }
}

/// A cgroup v2 of one task run, below the worker's own cgroup.
struct Cgroup {
    dir: PathBuf,
    procs: OwnedFd,
}

impl Cgroup {
    fn create(marker: &str) -> Result<Cgroup, CleanSlateError> {
        let base = own_cgroup_dir().ok_or_else(|| {
            CleanSlateError::NoCgroup("no cgroup2 mount holds this process".into())
        })?;
        let name: String = marker
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let dir = base.join(format!("{CGROUP_PREFIX}{}-{name}", std::process::id()));
        std::fs::create_dir(&dir)
            .map_err(|e| CleanSlateError::NoCgroup(format!("{}: {e}", dir.display())))?;
        Self::open(dir)
    }

    /// A cgroup that exists, ready to have processes moved in or killed; removed when dropped.
    fn open(dir: PathBuf) -> Result<Cgroup, CleanSlateError> {
        let procs = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join("cgroup.procs"))
            .map_err(|source| {
                let _ = std::fs::remove_dir(&dir);
                CleanSlateError::Io {
                    path: dir.join("cgroup.procs"),
                    source,
                }
            })?;
        Ok(Cgroup {
            dir,
            procs: procs.into(),
        })
    }

    fn members(&self) -> Vec<ProcId> {
        std::fs::read_to_string(self.dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse::<i32>().ok())
            .filter_map(read_stat)
            .filter(|s| !s.zombie)
            .map(|s| s.id)
            .collect()
    }

    async fn kill_all(&self, grace: Duration) -> KillReport {
        end_processes(
            || self.members(),
            grace,
            |seen| {
                // cgroup.kill (Linux 5.14+) kills even what forks meanwhile; else one by one.
                if std::fs::write(self.dir.join("cgroup.kill"), "1").is_err() {
                    signal_all(seen, Signal::SIGKILL);
                }
            },
        )
        .await
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir(&self.dir) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "could not remove a task's cgroup");
        }
    }
}

/// The directory of this process's cgroup v2: the cgroup2 mount from mountinfo joined with the
/// `0::<path>` line of /proc/self/cgroup.
fn own_cgroup_dir() -> Option<PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mount = mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        if !right.starts_with("cgroup2 ") {
            return None;
        }
        left.split_whitespace().nth(4).map(PathBuf::from)
    })?;
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let rel = own.lines().find_map(|l| l.strip_prefix("0::"))?;
    let dir = mount.join(rel.trim_start_matches('/'));
    Path::new(&dir).is_dir().then_some(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A shell that starts a double-forked `sleep`, whose pid it writes to `pidfile`, and exits.
    async fn start_daemon(tracker: &Tracker, pidfile: &Path) {
        let mut cmd = tokio::process::Command::new("sh");
        cmd.arg("-c").arg(format!(
            "(sh -c 'sleep 1000 & echo $! > {}' &) ; exit 0",
            pidfile.display()
        ));
        tracker.prepare(&mut cmd);
        let status = cmd.status().await.expect("sh runs");
        assert!(status.success());
        for _ in 0..500 {
            if std::fs::read_to_string(pidfile).is_ok_and(|s| s.trim().parse::<i32>().is_ok()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the daemon never wrote its pid");
    }

    fn pid_in(pidfile: &Path) -> i32 {
        std::fs::read_to_string(pidfile)
            .expect("pidfile")
            .trim()
            .parse()
            .expect("pid")
    }

    async fn daemon_is_killed(mode: Mode) {
        become_subreaper();
        let dir = tempfile::tempdir().expect("tempdir");
        let pidfile = dir.path().join("pid");
        let marker = format!("test-{}", relyard_core::ids::slugid());
        let tracker = Tracker::start(mode, marker, false).expect("tracker");
        start_daemon(&tracker, &pidfile).await;
        let pid = pid_in(&pidfile);
        let daemon = read_stat(pid).expect("daemon runs").id;
        assert!(daemon.alive());
        let report = tracker.kill_all(Duration::from_millis(200)).await;
        assert!(report.killed >= 1, "{report:?}");
        assert!(report.survivors.is_empty(), "{report:?}");
        assert!(!daemon.alive(), "the double-forked sleep survived");
    }

    #[tokio::test]
    async fn snapshot_mode_kills_a_double_forked_daemon() {
        daemon_is_killed(Mode::Snapshot).await;
    }

    #[tokio::test]
    async fn cgroup_mode_kills_a_double_forked_daemon() {
        if own_cgroup_dir().is_none() || Cgroup::create("probe").is_err() {
            eprintln!("cgroup v2 is not writable here; the snapshot test covers this machine");
            return;
        }
        daemon_is_killed(Mode::Cgroup).await;
    }

    #[tokio::test]
    async fn a_dead_workers_cgroups_are_swept_and_a_live_ones_kept() {
        let Some(base) = own_cgroup_dir() else {
            eprintln!("no cgroup v2 here; the sweep has nothing to do");
            return;
        };
        // A pid that no process has now: that of a child that has exited and been reaped.
        let mut gone = std::process::Command::new("true")
            .spawn()
            .expect("true runs");
        let dead = gone.id();
        gone.wait().expect("wait");
        let orphaned = base.join(format!(
            "{CGROUP_PREFIX}{dead}-test-{}",
            relyard_core::ids::slugid()
        ));
        if std::fs::create_dir(&orphaned).is_err() {
            eprintln!("cgroup v2 is not writable here; the snapshot tests cover this machine");
            return;
        }
        let sleeper = std::process::Command::new("sleep")
            .arg("1000")
            .spawn()
            .expect("sleep runs");
        let pid = sleeper.id() as i32;
        std::fs::write(orphaned.join("cgroup.procs"), pid.to_string()).expect("move the sleep");
        let ours = Tracker::start(
            Mode::Cgroup,
            format!("kept-{}", relyard_core::ids::slugid()),
            false,
        )
        .expect("a cgroup of our own");

        // Other dead workers' cgroups on this machine may be swept too; ours holds one process.
        let killed = sweep_orphaned_cgroups(Duration::from_millis(100)).await;
        assert!(killed >= 1, "{killed}");
        // The sweep reaped it (it waits for what it killed), so it is gone, not a zombie.
        assert!(
            read_stat(pid).is_none(),
            "the sleep in the dead worker's cgroup survived"
        );
        drop(sleeper);
        assert!(
            !orphaned.exists(),
            "the dead worker's cgroup was not removed"
        );
        assert!(ours.uses_cgroup());
        let our_dir = ours.cgroup.as_ref().map(|c| c.dir.clone()).expect("dir");
        assert!(our_dir.exists(), "a live worker's cgroup was swept");
    }

    #[tokio::test]
    async fn processes_of_other_tasks_are_left_alone() {
        become_subreaper();
        let dir = tempfile::tempdir().expect("tempdir");
        let ours = Tracker::start(
            Mode::Snapshot,
            format!("a-{}", relyard_core::ids::slugid()),
            false,
        )
        .expect("tracker");
        let theirs = Tracker::start(
            Mode::Snapshot,
            format!("b-{}", relyard_core::ids::slugid()),
            false,
        )
        .expect("tracker");
        start_daemon(&ours, &dir.path().join("ours")).await;
        start_daemon(&theirs, &dir.path().join("theirs")).await;
        let other = read_stat(pid_in(&dir.path().join("theirs")))
            .expect("runs")
            .id;
        ours.kill_all(Duration::from_millis(200)).await;
        assert!(other.alive(), "another task's process was killed");
        theirs.kill_all(Duration::from_millis(200)).await;
        assert!(!other.alive());
    }
}
