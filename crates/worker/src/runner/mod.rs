//! The runner lifecycle of the worker: start-up steps run before anything is claimed
//! ([`run_startup`]), a hook told about every step and task ([`Hook`]), and the recycle policy
//! deciding after each task whether to go on, restart or reboot ([`RecyclePolicy`]).

use std::path::PathBuf;

pub mod hook;
mod process;
pub mod recycle;
pub mod steps;
#[cfg(test)]
mod testutil;

pub use hook::{Hook, HookEvent, HookKind, StepResult};
pub use recycle::{FinishedTask, PolicyError, RecycleAction, RecyclePolicy};
pub use steps::{
    discover_steps, run_startup, Delay, Failure, HaltReason, StartupConfig, StartupOutcome, Step,
};

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("start-up steps: {}: {source}", path.display())]
    /// The steps directory, or an entry of it, could not be read.
    StepsDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("start-up step {} is not executable", path.display())]
    NotExecutable { path: PathBuf },
    #[error("max_tries is 0: every step needs at least one try")]
    ZeroTries,
    #[error("recycle policy {}: {source}", path.display())]
    PolicyRead {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("recycle policy {}: {source}", path.display())]
    Policy { path: PathBuf, source: PolicyError },
    #[error("reboot requested but the recycle policy has no rebootCommand")]
    NoRebootCommand,
    #[error("reboot command `{command}` failed: {reason}")]
    RebootFailed { command: String, reason: String },
}
