//! Signing jobs in flight, by result key: a second upload of an input already being signed
//! joins that job, and long-polling readers wait on its `watch` channel (woken when it
//! finishes, never by polling).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::watch;

use crate::results::{FastMap, ResultKey};
use crate::Sha256Digest;

/// How long a failure stays readable after its job ended.
const FAILURE_KEPT: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    Pending,
    /// Signed: the output (also in the result store) and its sha256, handed to the waiters
    /// directly.
    Done {
        output: Bytes,
        sha256: Sha256Digest,
    },
    /// `bad_input`: the input was refused by the format (answered 400), else a server fault.
    Failed {
        bad_input: bool,
        message: String,
    },
}

#[derive(Debug, Default)]
pub struct Jobs {
    running: Mutex<FastMap<ResultKey, watch::Sender<JobState>>>,
    failed: Mutex<FastMap<ResultKey, (Instant, JobState)>>,
}

/// What [`Jobs::start`] found; either way the caller can wait for the job's end.
pub enum Started {
    /// A new job: the caller runs it and ends it with [`Jobs::finish`] or
    /// [`Jobs::finish_all`].
    New(Waiter),
    /// The same input is being signed already.
    Joined(Waiter),
}

/// Subscribed to one job: its end is seen even when it came before the wait.
pub struct Waiter(watch::Receiver<JobState>);

impl Waiter {
    /// The job's final state, or `Pending` if it did not end within `timeout`.
    pub async fn wait(mut self, timeout: Duration) -> JobState {
        let ended = self.0.wait_for(|s| *s != JobState::Pending);
        match tokio::time::timeout(timeout, ended).await {
            Err(_elapsed) => JobState::Pending,
            Ok(ended) => final_state(ended.map(|s| s.clone())),
        }
    }
}

/// The sender went away without a final state: the job's thread died.
fn final_state(ended: Result<JobState, watch::error::RecvError>) -> JobState {
    ended.unwrap_or_else(|_| JobState::Failed {
        bad_input: false,
        message: "the signing job ended without a result".into(),
    })
}

/// Waits for every job under one deadline (a batch's inputs end at about the same time, so
/// one timer rather than one per input); `None` stays `None`, and a job still running at the
/// deadline is `Pending`.
pub async fn wait_all(waiters: Vec<Option<Waiter>>, timeout: Duration) -> Vec<Option<JobState>> {
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let mut states = Vec::with_capacity(waiters.len());
    for waiter in waiters {
        let Some(Waiter(mut rx)) = waiter else {
            states.push(None);
            continue;
        };
        // Biased: a job that has ended is taken even once the deadline has passed.
        let state = tokio::select! {
            biased;
            ended = rx.wait_for(|s| *s != JobState::Pending) => final_state(ended.map(|s| s.clone())),
            () = &mut deadline => JobState::Pending,
        };
        states.push(Some(state));
    }
    states
}

impl Jobs {
    fn running(&self) -> std::sync::MutexGuard<'_, FastMap<ResultKey, watch::Sender<JobState>>> {
        // Every change is one insert or remove, so a poisoned map is still consistent.
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn failed(&self) -> std::sync::MutexGuard<'_, FastMap<ResultKey, (Instant, JobState)>> {
        self.failed.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn start(&self, key: &ResultKey) -> Started {
        let mut running = self.running();
        if let Some(tx) = running.get(key) {
            return Started::Joined(Waiter(tx.subscribe()));
        }
        let (tx, rx) = watch::channel(JobState::Pending);
        running.insert(key.clone(), tx);
        drop(running);
        let mut failed = self.failed();
        if !failed.is_empty() {
            failed.remove(key);
        }
        Started::New(Waiter(rx))
    }

    /// Ends the job: wakes its waiters with `state` and forgets it (a `Done` result is read from
    /// the store by later readers; a failure is kept for a while for them).
    pub fn finish(&self, key: &ResultKey, state: JobState) {
        self.finish_all([(key.clone(), state)]);
    }

    /// [`Jobs::finish`] for many jobs (a recorder round), taking each lock once for them all.
    pub fn finish_all(&self, ended: impl IntoIterator<Item = (ResultKey, JobState)>) {
        let ended: Vec<(ResultKey, JobState)> = ended.into_iter().collect();
        // Failures are readable before their jobs leave `running`, so a reader in between
        // waits on the job rather than finding nothing.
        if ended
            .iter()
            .any(|(_, s)| matches!(s, JobState::Failed { .. }))
        {
            let mut failed = self.failed();
            let now = Instant::now();
            failed.retain(|_, (at, _)| now.duration_since(*at) < FAILURE_KEPT);
            for (key, state) in &ended {
                if matches!(state, JobState::Failed { .. }) {
                    failed.insert(key.clone(), (now, state.clone()));
                }
            }
        }
        let senders: Vec<_> = {
            let mut running = self.running();
            ended
                .into_iter()
                .filter_map(|(key, state)| running.remove(&key).map(|tx| (tx, state)))
                .collect()
        };
        // Woken outside the lock, so callers that start or join jobs do not wait for it.
        for (tx, state) in senders {
            tx.send_replace(state);
        }
    }

    /// Waits up to `timeout` for the job of `key` to end. `None`: no such job now (look in the
    /// result store); `Some(Pending)`: still running when the time was up.
    pub async fn wait(&self, key: &ResultKey, timeout: Duration) -> Option<JobState> {
        let rx = self.running().get(key).map(|tx| tx.subscribe());
        let Some(rx) = rx else {
            return self.failed().get(key).map(|(_, s)| s.clone());
        };
        Some(Waiter(rx).wait(timeout).await)
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
            input_sha256: Sha256Digest::default(),
        }
    }

    #[tokio::test]
    async fn waiters_wake_when_the_job_ends() {
        let jobs = std::sync::Arc::new(Jobs::default());
        assert!(matches!(jobs.start(&key()), Started::New(_)));
        assert!(matches!(jobs.start(&key()), Started::Joined(_)));
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
            sha256: Sha256Digest::of(b"signed"),
        };
        jobs.finish(&key(), done.clone());
        assert_eq!(waiter.await.unwrap(), Some(done));
        assert_eq!(jobs.wait(&key(), Duration::from_secs(60)).await, None);

        let failure = JobState::Failed {
            bad_input: true,
            message: "no".into(),
        };
        assert!(matches!(jobs.start(&key()), Started::New(_)));
        jobs.finish(&key(), failure.clone());
        assert_eq!(
            jobs.wait(&key(), Duration::from_secs(60)).await,
            Some(failure)
        );
        // A new upload clears the failure.
        assert!(matches!(jobs.start(&key()), Started::New(_)));
    }

    fn key_of(n: u8) -> ResultKey {
        ResultKey {
            input_sha256: Sha256Digest::from_bytes([n; 32]),
            ..key()
        }
    }

    #[tokio::test]
    async fn a_batch_waits_once_and_sees_jobs_that_ended_before_it_waited() {
        let jobs = Jobs::default();
        let Started::New(early) = jobs.start(&key_of(1)) else {
            panic!("a new job");
        };
        let Started::New(late) = jobs.start(&key_of(2)) else {
            panic!("a new job");
        };
        let Started::Joined(joined) = jobs.start(&key_of(1)) else {
            panic!("joined");
        };
        let output = Bytes::from_static(b"sig");
        let sha256 = Sha256Digest::of(&output);
        let done = JobState::Done { output, sha256 };
        jobs.finish_all([(key_of(1), done.clone())]);
        let states = wait_all(
            vec![Some(early), None, Some(late), Some(joined)],
            Duration::from_millis(20),
        )
        .await;
        assert_eq!(
            states,
            vec![
                Some(done.clone()),
                None,
                Some(JobState::Pending),
                Some(done)
            ]
        );
        // The job that did not end is still running; the one that signed is gone.
        assert!(matches!(jobs.start(&key_of(2)), Started::Joined(_)));
        assert!(matches!(jobs.start(&key_of(1)), Started::New(_)));
    }
}
