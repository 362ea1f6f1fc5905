//! Signing jobs in flight, by result key: a second upload of an input already being signed
//! joins that job, and long-polling readers wait on its `watch` channel (woken when it
//! finishes, never by polling).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::watch;

use crate::results::ResultKey;

/// How long a failure stays readable after its job ended.
const FAILURE_KEPT: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    Pending,
    /// Signed: the output (also in the result store), handed to the waiters directly.
    Done {
        output: Bytes,
    },
    /// `bad_input`: the input was refused by the format (answered 400), else a server fault.
    Failed {
        bad_input: bool,
        message: String,
    },
}

#[derive(Debug, Default)]
pub struct Jobs {
    running: Mutex<HashMap<ResultKey, watch::Sender<JobState>>>,
    failed: Mutex<HashMap<ResultKey, (Instant, JobState)>>,
}

/// What [`Jobs::start`] found.
pub enum Started {
    /// A new job: the caller runs it and calls [`Jobs::finish`].
    New,
    /// The same input is being signed already.
    Joined,
}

impl Jobs {
    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<ResultKey, watch::Sender<JobState>>> {
        // Every change is one insert or remove, so a poisoned map is still consistent.
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn failed(&self) -> std::sync::MutexGuard<'_, HashMap<ResultKey, (Instant, JobState)>> {
        self.failed.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn start(&self, key: &ResultKey) -> Started {
        let mut running = self.running();
        if running.contains_key(key) {
            return Started::Joined;
        }
        running.insert(key.clone(), watch::channel(JobState::Pending).0);
        self.failed().remove(key);
        Started::New
    }

    /// Ends the job: wakes its waiters with `state` and forgets it (a `Done` result is read from
    /// the store by later readers; a failure is kept for a while for them).
    pub fn finish(&self, key: &ResultKey, state: JobState) {
        if let Some(tx) = self.running().remove(key) {
            tx.send_replace(state.clone());
        }
        if matches!(state, JobState::Failed { .. }) {
            let mut failed = self.failed();
            let now = Instant::now();
            failed.retain(|_, (at, _)| now.duration_since(*at) < FAILURE_KEPT);
            failed.insert(key.clone(), (now, state));
        }
    }

    /// Waits up to `timeout` for the job of `key` to end. `None`: no such job now (look in the
    /// result store); `Some(Pending)`: still running when the time was up.
    pub async fn wait(&self, key: &ResultKey, timeout: Duration) -> Option<JobState> {
        let rx = self.running().get(key).map(|tx| tx.subscribe());
        let Some(mut rx) = rx else {
            return self.failed().get(key).map(|(_, s)| s.clone());
        };
        let waited = tokio::time::timeout(timeout, rx.wait_for(|s| *s != JobState::Pending)).await;
        match waited {
            Err(_elapsed) => Some(JobState::Pending),
            Ok(Ok(state)) => Some(state.clone()),
            // The sender went away without a final state: the job task died.
            Ok(Err(_)) => Some(JobState::Failed {
                bad_input: false,
                message: "the signing job ended without a result".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::Format;

    fn key() -> ResultKey {
        ResultKey {
            format: Format::Gpg,
            key_id: "k".into(),
            input_sha256: "00".into(),
        }
    }

    #[tokio::test]
    async fn waiters_wake_when_the_job_ends() {
        let jobs = std::sync::Arc::new(Jobs::default());
        assert!(matches!(jobs.start(&key()), Started::New));
        assert!(matches!(jobs.start(&key()), Started::Joined));
        assert_eq!(
            jobs.wait(&key(), Duration::from_millis(1)).await,
            Some(JobState::Pending)
        );
        let waiter = {
            let jobs = jobs.clone();
            tokio::spawn(async move { jobs.wait(&key(), Duration::from_secs(60)).await })
        };
        tokio::task::yield_now().await;
        let done = JobState::Done {
            output: Bytes::from_static(b"signed"),
        };
        jobs.finish(&key(), done.clone());
        assert_eq!(waiter.await.unwrap(), Some(done));
        assert_eq!(jobs.wait(&key(), Duration::from_secs(60)).await, None);

        let failure = JobState::Failed {
            bad_input: true,
            message: "no".into(),
        };
        assert!(matches!(jobs.start(&key()), Started::New));
        jobs.finish(&key(), failure.clone());
        assert_eq!(
            jobs.wait(&key(), Duration::from_secs(60)).await,
            Some(failure)
        );
        // A new upload clears the failure.
        assert!(matches!(jobs.start(&key()), Started::New));
    }
}
