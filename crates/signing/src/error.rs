//! The one error type of the signing crate.
//!
//! Messages name the key id and say what the operator can do, because the server prints them as
//! its reason for refusing to start.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// The passphrase did not open the key file. AES-GCM cannot tell a wrong passphrase from a
    /// file whose sealed bytes or header were altered, so the message mentions both.
    #[error("key `{key_id}`: wrong passphrase (or the key file was altered)")]
    WrongPassphrase { key_id: String },

    /// Sealing with an empty passphrase would leave the key as good as plaintext.
    #[error("key `{key_id}`: the passphrase is empty")]
    EmptyPassphrase { key_id: String },

    #[error("key file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The key file is not one this crate wrote, or not a version it reads.
    #[error("key file {path}: {reason}")]
    BadKeyFile { path: PathBuf, reason: String },

    #[error(
        "invalid key id `{0}`: use 1-64 of A-Z a-z 0-9 . _ - (it is written as KEY_ID=passphrase)"
    )]
    InvalidKeyId(String),

    #[error("key `{key_id}` is a {kind} key and cannot sign {format}")]
    WrongKeyKind {
        key_id: String,
        kind: &'static str,
        format: &'static str,
    },

    /// The decrypted key material does not form a key of its kind, or does not match the public
    /// key stored beside it.
    #[error("key `{key_id}`: {reason}")]
    BadKeyMaterial { key_id: String, reason: String },

    #[error("key derivation: {0}")]
    Kdf(String),

    #[error("{format} signing with key `{key_id}` failed: {reason}")]
    Sign {
        format: &'static str,
        key_id: String,
        reason: String,
    },

    #[error("{format} signature by key `{key_id}` does not verify: {reason}")]
    Verify {
        format: &'static str,
        key_id: String,
        reason: String,
    },

    /// Input refused before signing (e.g. a SHA256SUMS manifest with a malformed line).
    #[error("invalid {format} input: {reason}")]
    InvalidInput {
        format: &'static str,
        reason: String,
    },

    /// The start-up proof failed for one key; the server refuses to start.
    #[error("start-up proof of key `{key_id}` ({format}) failed: {reason}")]
    ProofFailed {
        key_id: String,
        format: &'static str,
        reason: String,
    },
}

pub type SigningResult<T> = Result<T, SigningError>;

/// [`SigningError::BadKeyMaterial`] for key `id`.
pub(crate) fn material(id: &str, reason: impl std::fmt::Display) -> SigningError {
    SigningError::BadKeyMaterial {
        key_id: id.to_string(),
        reason: reason.to_string(),
    }
}
