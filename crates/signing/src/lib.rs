//! relyard signing, library core: key files encrypted at rest; the detached signature formats
//! `gpg`, `minisign` and `sha256sums` and the embedded `mar` behind one [`Signer`] trait; and
//! the access checks ([`Access`]: allowed networks and short-lived signing tokens).
//!
//! Flow at server start (the server itself comes later): read each [`KeyFile`], unlock it with
//! its passphrase ([`KeyFile::unlock`]), make the [`Signer`] of each configured format
//! ([`UnlockedKey::signer`]), put them in a [`Keyring`] and call [`Keyring::prove`]; any failure
//! means the server must not start.

pub mod access;
pub mod audit;
pub mod bench;
pub mod client;
pub mod config;
pub mod digest;
mod error;
pub mod formats;
pub mod keystore;
pub mod passphrases;
pub mod results;
pub mod server;

pub use access::{Access, AccessError};
pub use digest::Sha256Digest;
pub use error::{SigningError, SigningResult};
pub use formats::authenticode::AuthenticodeKey;
pub use formats::gpg::GpgKey;
pub use formats::mar::RsaKey;
pub use formats::marfile::build_unsigned as build_unsigned_mar;
pub use formats::minisign::MinisignKey;
pub use formats::pe::build_minimal_pe;
pub use formats::sums::{
    manifest, manifest_from_digests, parse_manifest, SumsSigner, MANIFEST_NAME,
};
pub use formats::{Format, KeyKind, Signed, Signer, UnlockedKey, PROOF_INPUT};
pub use keystore::{generate, validate_key_id, KdfParams, KeyFile};

/// Lowercase hex sha256 of `bytes`, as the API, the audit log and the result store name inputs
/// and outputs.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256Digest::of(bytes).to_hex()
}

/// The signers a server serves with, one or more per format.
#[derive(Debug, Default)]
pub struct Keyring {
    signers: Vec<Box<dyn Signer>>,
}

impl Keyring {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, signer: Box<dyn Signer>) {
        self.signers.push(signer);
    }

    /// The signer for `format`: the one with `key_id` if given, else the first added.
    pub fn signer(&self, format: Format, key_id: Option<&str>) -> Option<&dyn Signer> {
        self.signers
            .iter()
            .find(|s| s.format() == format && key_id.is_none_or(|id| s.key_id() == id))
            .map(|s| s.as_ref())
    }

    pub fn signers(&self) -> impl Iterator<Item = &dyn Signer> {
        self.signers.iter().map(|s| s.as_ref())
    }

    /// Runs [`Signer::prove`] for every signer and returns every failure, not just the first, so
    /// an operator fixing passphrases sees them all at once. An empty keyring proves trivially:
    /// checking that every configured format has a key is the server's job.
    pub fn prove(&self) -> Result<(), Vec<SigningError>> {
        let failures: Vec<SigningError> = self
            .signers
            .iter()
            .filter_map(|s| s.prove().err())
            .collect();
        if failures.is_empty() {
            Ok(())
        } else {
            Err(failures)
        }
    }
}
