//! Running signing jobs: inputs are signed in pool slots, then recorded — audit lines first
//! (one write and one fsync for a chunk of inputs), then the result store (no fsync; its reads
//! check hashes) — and only then are the waiters woken with the outputs.

use std::sync::Arc;

use bytes::Bytes;
use chrono::Utc;

use super::jobs::JobState;
use super::upload::Received;
use super::State;
use crate::access::Claims;
use crate::audit::{AuditEntry, AuditLog};
use crate::results::{ResultKey, ResultStore};
use crate::{Keyring, SigningError};

/// One input whose job the caller started ([`super::jobs::Started::New`]).
pub struct Work {
    pub key: ResultKey,
    pub input: Received,
}

impl State {
    /// Signs `work` in the pool, split into at most `pool_size` chunks so that one batch can
    /// use every slot, and finishes each job with its outcome.
    pub(super) fn spawn_jobs(&self, work: Vec<Work>, claims: Claims) {
        if work.is_empty() {
            return;
        }
        let chunk = work.len().div_ceil(self.pool_size.max(1));
        let claims = Arc::new(claims);
        let mut work = work.into_iter().peekable();
        while work.peek().is_some() {
            let part: Vec<Work> = work.by_ref().take(chunk).collect();
            self.spawn_chunk(part, Arc::clone(&claims));
        }
    }

    fn spawn_chunk(&self, work: Vec<Work>, claims: Arc<Claims>) {
        let pool = Arc::clone(&self.pool);
        let keyring = Arc::clone(&self.keyring);
        let results = Arc::clone(&self.results);
        let jobs = Arc::clone(&self.jobs);
        let audit = self.audit.clone();
        let keys: Vec<ResultKey> = work.iter().map(|w| w.key.clone()).collect();
        tokio::spawn(async move {
            let outcomes = match pool.acquire_owned().await {
                Err(_closed) => vec![fault("the server is shutting down".into()); keys.len()],
                Ok(permit) => {
                    let ran = tokio::task::spawn_blocking(move || {
                        sign_and_record(&keyring, &results, &audit, work, &claims, permit)
                    })
                    .await;
                    match ran {
                        Ok(outcomes) => outcomes,
                        Err(e) => vec![fault(format!("the signing job failed: {e}")); keys.len()],
                    }
                }
            };
            for (key, state) in keys.iter().zip(outcomes) {
                if let JobState::Failed { message, .. } = &state {
                    tracing::warn!(format = %key.format, sha256 = %key.input_sha256, %message, "signing failed");
                }
                jobs.finish(key, state);
            }
        });
    }
}

fn fault(message: String) -> JobState {
    JobState::Failed {
        bad_input: false,
        message,
    }
}

/// Signs each input, then records the signatures; one outcome per input, in order.
///
/// `permit` is the pool slot: it bounds the CPU work (reading and signing) and is given back
/// before the audit lines and results are written, so the next chunk signs while this one
/// waits for the disk. A failing audit log or result store hands out nothing.
fn sign_and_record(
    keyring: &Keyring,
    results: &ResultStore,
    audit: &AuditLog,
    work: Vec<Work>,
    claims: &Claims,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> Vec<JobState> {
    let mut outcomes = Vec::with_capacity(work.len());
    let mut signed: Vec<(usize, ResultKey, Bytes)> = Vec::new();
    for (i, Work { key, input }) in work.into_iter().enumerate() {
        match sign_one(keyring, &key, input) {
            Ok(output) => {
                signed.push((i, key, output));
                outcomes.push(JobState::Pending);
            }
            Err(state) => outcomes.push(state),
        }
    }
    drop(permit);
    if signed.is_empty() {
        return outcomes;
    }
    let now = Utc::now();
    let entries: Vec<AuditEntry> = signed
        .iter()
        .map(|(_, key, output)| AuditEntry {
            time: now,
            owner: claims.owner.clone(),
            token_id: claims.jti.clone(),
            address: claims.addr,
            format: key.format,
            key_id: key.key_id.clone(),
            input_sha256: key.input_sha256.clone(),
            output_sha256: crate::sha256_hex(output),
        })
        .collect();
    let recorded = audit.append_many(&entries).map_err(|e| e.to_string());
    let recorded = recorded.and_then(|()| {
        let outputs: Vec<(&ResultKey, &[u8])> =
            signed.iter().map(|(_, k, o)| (k, o.as_ref())).collect();
        results.put_many(&outputs).map_err(|e| e.to_string())
    });
    if recorded.is_ok() {
        // The audit log holds every signature; the server's log one line per chunk (a line per
        // signature cost a measurable share of an Ed25519 signature).
        tracing::info!(format = %entries[0].format, key = %entries[0].key_id, owner = %claims.owner,
            signatures = entries.len(), "signed");
    }
    for ((i, _, output), entry) in signed.into_iter().zip(&entries) {
        outcomes[i] = match &recorded {
            Ok(()) => {
                tracing::debug!(format = %entry.format, input = %entry.input_sha256,
                    output = %entry.output_sha256, "signed");
                JobState::Done { output }
            }
            Err(message) => fault(message.clone()),
        };
    }
    outcomes
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
