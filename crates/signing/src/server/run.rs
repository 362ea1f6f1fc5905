//! Running signing jobs: `pool_size` signer threads sign chunks of inputs and hand what they
//! signed to one recorder thread, which makes it durable in groups — the audit lines of
//! everything signed since its last round in one write and one fsync, then the result store
//! (no fsync; its reads check hashes) — and only then wakes the waiters with the outputs.
//!
//! Why threads of their own rather than a blocking task per chunk: a signer never waits for
//! the disk (the next chunk is signed while the recorder flushes), a flush covers as many
//! signatures as arrived during the previous one, and no chunk pays a hand-off between the
//! async runtime and the blocking pool.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use bytes::Bytes;
use chrono::Utc;
use crossbeam_channel::{Receiver, Sender};
use tokio::sync::oneshot;

use super::jobs::{JobState, Jobs};
use super::upload::Received;
use crate::access::Claims;
use crate::audit::{audit_time, AuditLog, AuditRecord};
use crate::results::{ResultKey, ResultStore};
use crate::{Keyring, Sha256Digest, SigningError};

/// One input whose job the caller started ([`super::jobs::Started::New`]).
pub struct Work {
    pub key: ResultKey,
    pub input: Received,
}

/// What the signer threads are asked to do.
enum Task {
    Sign {
        work: Vec<Work>,
        claims: Arc<Claims>,
    },
    /// Every key's start-up proof again (the heartbeat), answered on the channel with what
    /// failed.
    Prove(oneshot::Sender<Result<(), Vec<String>>>),
}

/// Signatures of one chunk, on their way to the recorder: each output with its sha256, taken
/// once here for the audit line, the result store and the answer.
struct Signed {
    claims: Arc<Claims>,
    outputs: Vec<(ResultKey, Bytes, Sha256Digest)>,
}

/// The signer threads and the recorder; they stop when the pool is dropped.
pub(super) struct Pool {
    tasks: Sender<Task>,
    size: usize,
    jobs: Arc<Jobs>,
}

/// The recorder takes at most this many chunks per round, so one round's write stays bounded.
const CHUNKS_PER_ROUND: usize = 256;

impl Pool {
    pub fn start(
        size: usize,
        keyring: Arc<Keyring>,
        results: Arc<ResultStore>,
        audit: AuditLog,
        jobs: Arc<Jobs>,
    ) -> std::io::Result<Self> {
        let size = size.max(1);
        let (tasks, queued) = crossbeam_channel::unbounded::<Task>();
        let (signed, to_record) = crossbeam_channel::unbounded::<Signed>();
        for n in 0..size {
            let (queued, signed) = (queued.clone(), signed.clone());
            let (keyring, jobs) = (Arc::clone(&keyring), Arc::clone(&jobs));
            std::thread::Builder::new()
                .name(format!("signer-{n}"))
                .spawn(move || sign_tasks(&keyring, &jobs, &queued, &signed))?;
        }
        drop(signed);
        let recorder_jobs = Arc::clone(&jobs);
        std::thread::Builder::new()
            .name("signing-recorder".into())
            .spawn(move || record_signed(&results, &audit, &recorder_jobs, &to_record))?;
        Ok(Self { tasks, size, jobs })
    }

    /// Signs `work`, split into at most `size` chunks so that one batch can use every signer,
    /// and finishes each job with its outcome.
    pub fn sign(&self, work: Vec<Work>, claims: Claims) {
        if work.is_empty() {
            return;
        }
        let chunk = work.len().div_ceil(self.size);
        let claims = Arc::new(claims);
        let mut work = work.into_iter().peekable();
        while work.peek().is_some() {
            let part: Vec<Work> = work.by_ref().take(chunk).collect();
            let task = Task::Sign {
                work: part,
                claims: Arc::clone(&claims),
            };
            if let Err(crossbeam_channel::SendError(Task::Sign { work, .. })) =
                self.tasks.send(task)
            {
                // Only when every signer thread is gone: nothing will sign these.
                for w in work {
                    fail(&self.jobs, &w.key, fault("the signing pool has stopped"));
                }
            }
        }
    }

    /// Runs every key's proof on a signer thread, so heartbeats share the pool's CPU bound.
    /// `None`: the pool has stopped; `Some(Err)`: what failed, a message per key.
    pub async fn prove(&self) -> Option<Result<(), Vec<String>>> {
        let (tx, rx) = oneshot::channel();
        self.tasks.send(Task::Prove(tx)).ok()?;
        rx.await.ok()
    }
}

fn fault(message: impl Into<String>) -> JobState {
    JobState::Failed {
        bad_input: false,
        message: message.into(),
    }
}

/// Ends a job that produced no signature, with a line in the server's log.
fn fail(jobs: &Jobs, key: &ResultKey, state: JobState) {
    if let JobState::Failed { message, .. } = &state {
        tracing::warn!(format = %key.format, sha256 = %key.input_sha256, %message, "signing failed");
    }
    jobs.finish(key, state);
}

/// A signer thread: signs each chunk, finishes the inputs it could not sign at once, and hands
/// the signatures to the recorder. A panic while signing one input fails that input only, so
/// the thread (and the pool's size) survives it and no waiter is left hanging.
fn sign_tasks(keyring: &Keyring, jobs: &Jobs, queued: &Receiver<Task>, signed: &Sender<Signed>) {
    for task in queued {
        let (work, claims) = match task {
            Task::Prove(reply) => {
                let proved = match catch_unwind(AssertUnwindSafe(|| keyring.prove())) {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(failures)) => Err(failures.iter().map(|e| e.to_string()).collect()),
                    Err(_panic) => Err(vec!["a key's proof panicked".to_string()]),
                };
                let _ = reply.send(proved);
                continue;
            }
            Task::Sign { work, claims } => (work, claims),
        };
        let mut outputs = Vec::with_capacity(work.len());
        for Work { key, input } in work {
            let signed = catch_unwind(AssertUnwindSafe(|| sign_one(keyring, &key, input)))
                .unwrap_or_else(|_| Err(fault("the signer panicked on this input")));
            match signed {
                Ok(output) => {
                    let sha256 = Sha256Digest::of(&output);
                    outputs.push((key, output, sha256));
                }
                Err(state) => fail(jobs, &key, state),
            }
        }
        if outputs.is_empty() {
            continue;
        }
        if let Err(crossbeam_channel::SendError(lost)) = signed.send(Signed { claims, outputs }) {
            for (key, ..) in lost.outputs {
                fail(jobs, &key, fault("the signing recorder has stopped"));
            }
        }
    }
}

/// The recorder thread: each round takes every chunk signed so far, records it
/// ([`record_round`]), then wakes its waiters: with the outputs, or, when the audit log or the
/// result store failed (or panicked), with a fault — nothing of that round is handed out.
fn record_signed(
    results: &ResultStore,
    audit: &AuditLog,
    jobs: &Jobs,
    to_record: &Receiver<Signed>,
) {
    while let Ok(first) = to_record.recv() {
        let mut round = vec![first];
        round.extend(to_record.try_iter().take(CHUNKS_PER_ROUND - 1));
        let recorded = catch_unwind(AssertUnwindSafe(|| record_round(results, audit, &round)))
            .unwrap_or_else(|_| Err("recording the signatures panicked".into()));
        let outputs = round.into_iter().flat_map(|chunk| chunk.outputs);
        match recorded {
            Ok(()) => jobs.finish_all(
                outputs.map(|(key, output, sha256)| (key, JobState::Done { output, sha256 })),
            ),
            Err(message) => {
                let ended: Vec<_> = outputs.map(|(key, ..)| (key, fault(&message))).collect();
                tracing::warn!(signatures = ended.len(), %message, "recording a round failed");
                jobs.finish_all(ended);
            }
        }
    }
}

/// The audit lines of a round (one write, one fsync), then its results.
fn record_round(results: &ResultStore, audit: &AuditLog, round: &[Signed]) -> Result<(), String> {
    let time = audit_time(Utc::now());
    let lines: Vec<AuditRecord> = round
        .iter()
        .flat_map(|chunk| {
            let claims = &chunk.claims;
            let time = time.as_str();
            chunk
                .outputs
                .iter()
                .map(move |(key, _, output_sha256)| AuditRecord {
                    time,
                    owner: &claims.owner,
                    token_id: &claims.jti,
                    address: claims.addr,
                    format: key.format,
                    key_id: &key.key_id,
                    input_sha256: key.input_sha256,
                    output_sha256: *output_sha256,
                })
        })
        .collect();
    audit.append_many(&lines).map_err(|e| e.to_string())?;
    let outputs: Vec<(&ResultKey, &[u8], Sha256Digest)> = round
        .iter()
        .flat_map(|chunk| chunk.outputs.iter().map(|(k, o, d)| (k, o.as_ref(), *d)))
        .collect();
    results.put_many(&outputs).map_err(|e| e.to_string())?;
    // The audit log holds every signature; the server's log one line per chunk (a line per
    // signature cost a measurable share of an Ed25519 signature).
    for chunk in round {
        if let Some((key, ..)) = chunk.outputs.first() {
            tracing::info!(format = %key.format, key = %key.key_id, owner = %chunk.claims.owner,
                signatures = chunk.outputs.len(), "signed");
        }
    }
    Ok(())
}

fn sign_one(keyring: &Keyring, key: &ResultKey, input: Received) -> Result<Bytes, JobState> {
    let Some(signer) = keyring.signer(key.format, Some(&key.key_id)) else {
        return Err(fault(format!("no key `{}` for {}", key.key_id, key.format)));
    };
    let bytes = input
        .read()
        .map_err(|e| fault(format!("reading the upload: {e}")))?;
    match signer.sign(&bytes) {
        Ok(s) => Ok(Bytes::from(s.signature)),
        Err(e @ SigningError::InvalidInput { .. }) => Err(JobState::Failed {
            bad_input: true,
            message: e.to_string(),
        }),
        Err(e) => Err(fault(e.to_string())),
    }
}
