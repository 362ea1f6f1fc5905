//! The audit log: one JSON line per signature, appended and fsync'd before the signature is
//! handed out, so a signature that left the server is always on record.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::formats::Format;
use crate::Sha256Digest;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub time: DateTime<Utc>,
    /// The clientId the signing token was issued to.
    pub owner: String,
    /// The token's `jti`, which names the token without being usable as one.
    pub token_id: String,
    pub address: IpAddr,
    pub format: Format,
    pub key_id: String,
    pub input_sha256: String,
    pub output_sha256: String,
}

/// The line of an [`AuditEntry`] as the signing server writes it: borrowing what the signature
/// already holds, with the time formatted once for everything recorded together.
#[derive(Debug, Serialize)]
pub struct AuditRecord<'a> {
    /// RFC 3339, UTC.
    pub time: &'a str,
    pub owner: &'a str,
    pub token_id: &'a str,
    pub address: IpAddr,
    pub format: Format,
    pub key_id: &'a str,
    pub input_sha256: Sha256Digest,
    pub output_sha256: Sha256Digest,
}

/// The audit log's time format for [`AuditRecord::time`].
pub fn audit_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

#[derive(Debug, thiserror::Error)]
#[error("audit log {path}: {source}")]
pub struct AuditError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

/// An append-only file of [`AuditEntry`] lines.
///
/// The signing server's recorder thread is its one writer and already gathers every signature
/// made during a flush into its next append, so an append is simply a write and an fsync under
/// one lock (which keeps concurrent callers' lines whole and in order).
#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
    file: Arc<Mutex<File>>,
}

impl AuditLog {
    /// Opens (creating if needed, owner-only) the log for appending.
    pub fn open(path: &Path) -> Result<Self, AuditError> {
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let file = options.open(path).map_err(|source| AuditError {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            file: Arc::new(Mutex::new(file)),
        })
    }

    /// Appends one line and waits for it to reach the disk. Blocking: call it off the async
    /// runtime.
    pub fn append(&self, entry: &AuditEntry) -> Result<(), AuditError> {
        self.append_many(std::slice::from_ref(entry))
    }

    /// Appends one line per entry in a single write and waits until they are on disk (one
    /// fsync). Blocking.
    pub fn append_many<E: Serialize>(&self, entries: &[E]) -> Result<(), AuditError> {
        let err = |source| AuditError {
            path: self.path.clone(),
            source,
        };
        if entries.is_empty() {
            return Ok(());
        }
        let mut lines = Vec::with_capacity(entries.len() * 320);
        for entry in entries {
            serde_json::to_writer(&mut lines, entry).map_err(|e| err(std::io::Error::other(e)))?;
            lines.push(b'\n');
        }
        // A poisoned lock only means another append panicked; the file itself is still usable.
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        file.write_all(&lines).map_err(err)?;
        file.sync_data().map_err(err)
    }

    /// Every entry in the log at `path` (for tests and audits).
    pub fn read(path: &Path) -> Result<Vec<AuditEntry>, AuditError> {
        let err = |source| AuditError {
            path: path.to_path_buf(),
            source,
        };
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(err(e)),
        };
        text.lines()
            .map(|l| serde_json::from_str(l).map_err(|e| err(std::io::Error::other(e))))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_appended_as_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let entry = AuditEntry {
            time: Utc::now(),
            owner: "builder".into(),
            token_id: "jti".into(),
            address: "10.0.0.1".parse().unwrap(),
            format: Format::Gpg,
            key_id: "release".into(),
            input_sha256: "aa".into(),
            output_sha256: "bb".into(),
        };
        AuditLog::open(&path).unwrap().append(&entry).unwrap();
        // A second open (a restart) appends rather than truncating.
        AuditLog::open(&path).unwrap().append(&entry).unwrap();
        assert_eq!(AuditLog::read(&path).unwrap(), vec![entry.clone(), entry]);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.contains("\"input_sha256\":\"aa\""));
    }

    #[test]
    fn records_read_back_as_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let now = Utc::now();
        let time = audit_time(now);
        let (input, output) = (Sha256Digest::of(b"in"), Sha256Digest::of(b"out"));
        let record = AuditRecord {
            time: &time,
            owner: "builder",
            token_id: "jti",
            address: "10.0.0.1".parse().unwrap(),
            format: Format::Sha256sums,
            key_id: "release",
            input_sha256: input,
            output_sha256: output,
        };
        AuditLog::open(&path)
            .unwrap()
            .append_many(&[record])
            .unwrap();
        let entries = AuditLog::read(&path).unwrap();
        assert_eq!(
            entries,
            vec![AuditEntry {
                time: now,
                owner: "builder".into(),
                token_id: "jti".into(),
                address: "10.0.0.1".parse().unwrap(),
                format: Format::Sha256sums,
                key_id: "release".into(),
                input_sha256: input.to_hex(),
                output_sha256: output.to_hex(),
            }]
        );
    }

    #[test]
    fn concurrent_appends_all_land_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let log = AuditLog::open(&path).unwrap();
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let log = log.clone();
                std::thread::spawn(move || {
                    let entry = |i: usize| AuditEntry {
                        time: Utc::now(),
                        owner: format!("thread-{t}"),
                        token_id: "jti".into(),
                        address: "10.0.0.1".parse().unwrap(),
                        format: Format::Minisign,
                        key_id: "k".into(),
                        input_sha256: format!("{t}-{i}"),
                        output_sha256: "bb".into(),
                    };
                    if t % 2 == 0 {
                        for i in 0..50 {
                            log.append(&entry(i)).unwrap();
                        }
                    } else {
                        // Batches: ten lines per write and fsync.
                        for first in (0..50).step_by(10) {
                            let batch: Vec<AuditEntry> = (first..first + 10).map(entry).collect();
                            log.append_many(&batch).unwrap();
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let entries = AuditLog::read(&path).unwrap();
        assert_eq!(entries.len(), 400);
        let mut inputs: Vec<_> = entries.iter().map(|e| e.input_sha256.clone()).collect();
        inputs.sort();
        inputs.dedup();
        assert_eq!(inputs.len(), 400);
    }
}
