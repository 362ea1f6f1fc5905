//! Signature formats behind one [`Signer`] trait.
//!
//! `gpg`, `minisign` and `sha256sums` are *detached*: the signature is a separate file written
//! beside the input (`Format::detached_suffix`). `mar` and `authenticode` are *embedded*
//! (`Format::is_embedded`): their output is the whole signed file, which takes the input's place.

pub mod authenticode;
pub mod gpg;
pub mod mar;
pub mod marfile;
pub mod minisign;
pub mod pe;
mod spc;
pub mod sums;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{SigningError, SigningResult};

/// What the start-up proof signs. Fixed, so that a proof failure is reproducible.
pub const PROOF_INPUT: &[u8] = b"relyard signing start-up proof\n";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Gpg,
    Minisign,
    Sha256sums,
    Mar,
    Authenticode,
}

impl Format {
    pub const ALL: [Format; 5] = [
        Format::Gpg,
        Format::Minisign,
        Format::Sha256sums,
        Format::Mar,
        Format::Authenticode,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Gpg => "gpg",
            Format::Minisign => "minisign",
            Format::Sha256sums => "sha256sums",
            Format::Mar => "mar",
            Format::Authenticode => "authenticode",
        }
    }

    /// Whether [`Signed::signature`] is the whole signed file rather than a detached signature.
    pub fn is_embedded(self) -> bool {
        matches!(self, Format::Mar | Format::Authenticode)
    }

    /// What is appended to the input's file name to name the signature file; empty for embedded
    /// formats, whose output replaces the input (callers choose where it goes).
    pub fn detached_suffix(self) -> &'static str {
        match self {
            Format::Gpg | Format::Sha256sums => ".asc",
            Format::Minisign => ".minisig",
            Format::Mar | Format::Authenticode => "",
        }
    }

    /// The kind of key that signs this format.
    pub fn key_kind(self) -> KeyKind {
        match self {
            Format::Gpg | Format::Sha256sums => KeyKind::Gpg,
            Format::Minisign => KeyKind::Minisign,
            Format::Mar => KeyKind::Rsa,
            Format::Authenticode => KeyKind::Authenticode,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = SigningError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| SigningError::InvalidInput {
                format: "format",
                reason: format!(
                    "unknown format `{s}` (known: gpg, minisign, sha256sums, mar, authenticode)"
                ),
            })
    }
}

/// The kind of key material a key file holds. One OpenPGP key can serve both `gpg` and
/// `sha256sums`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    Gpg,
    Minisign,
    /// 4096-bit RSA, for `mar`.
    Rsa,
    /// RSA (2048-4096 bits) with its X.509 certificate chain, for `authenticode`.
    Authenticode,
}

impl KeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Gpg => "gpg",
            KeyKind::Minisign => "minisign",
            KeyKind::Rsa => "rsa",
            KeyKind::Authenticode => "authenticode",
        }
    }
}

/// A signature produced by a [`Signer`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signed {
    pub format: Format,
    pub key_id: String,
    /// The detached signature file's bytes (armored OpenPGP, or minisign's text format), or for
    /// an embedded format the whole signed file (a signed MAR).
    pub signature: Vec<u8>,
}

pub trait Signer: Send + Sync + fmt::Debug {
    fn format(&self) -> Format;

    fn key_id(&self) -> &str;

    fn sign(&self, input: &[u8]) -> SigningResult<Signed>;

    /// Checks `signature` over `input` with this key's public half. For an embedded format,
    /// `signature` is the signed file, and it must be `input` apart from its signatures.
    fn verify(&self, input: &[u8], signature: &[u8]) -> SigningResult<()>;

    /// An input this format accepts, for [`Signer::prove`].
    fn proof_input(&self) -> Vec<u8> {
        PROOF_INPUT.to_vec()
    }

    /// `input` changed so that it stays parseable and the signature check has to reject it.
    fn altered_input(&self, input: &[u8]) -> Vec<u8> {
        let mut altered = input.to_vec();
        // Change the first byte to another of its class, so that a manifest stays well-formed
        // and the signature check, not the parser, has to reject it.
        if let Some(b) = altered.first_mut() {
            *b = tamper_byte(*b);
        }
        altered
    }

    /// For embedded formats: a changed signed file that must not verify for the same input
    /// (checks the cryptographic verification, where `altered_input` checks the contents).
    fn altered_signature(&self, _signature: &[u8]) -> Option<Vec<u8>> {
        None
    }

    /// Signs a test input and verifies the result, and checks that the same signature does not
    /// verify for an altered input (a verifier that accepts anything would prove nothing). The
    /// server runs this for every unlocked key and refuses to start if any fails.
    fn prove(&self) -> SigningResult<()> {
        let failed = |reason: String| SigningError::ProofFailed {
            key_id: self.key_id().to_string(),
            format: self.format().as_str(),
            reason,
        };
        let input = self.proof_input();
        let signed = self.sign(&input).map_err(|e| failed(e.to_string()))?;
        self.verify(&input, &signed.signature)
            .map_err(|e| failed(e.to_string()))?;
        if self
            .verify(&self.altered_input(&input), &signed.signature)
            .is_ok()
        {
            return Err(failed("a signature verified for altered input".to_string()));
        }
        if let Some(forged) = self.altered_signature(&signed.signature) {
            if self.verify(&input, &forged).is_ok() {
                return Err(failed("an altered signed file verified".to_string()));
            }
        }
        Ok(())
    }
}

/// A different byte of the same class (hex digit stays a hex digit, letter a letter), so that
/// a structured input stays parseable after tampering.
fn tamper_byte(b: u8) -> u8 {
    match b {
        b'0'..=b'8' | b'a'..=b'e' => b + 1,
        b'9' => b'0',
        b'f' => b'a',
        other => other ^ 0x01,
    }
}

/// An unlocked key, ready to become the [`Signer`] of a format of its kind.
#[derive(Clone, Debug)]
pub enum UnlockedKey {
    Gpg(gpg::GpgKey),
    Minisign(minisign::MinisignKey),
    Rsa(mar::RsaKey),
    Authenticode(authenticode::AuthenticodeKey),
}

impl UnlockedKey {
    pub fn id(&self) -> &str {
        match self {
            UnlockedKey::Gpg(k) => k.id(),
            UnlockedKey::Minisign(k) => k.key_id(),
            UnlockedKey::Rsa(k) => k.id(),
            UnlockedKey::Authenticode(k) => k.id(),
        }
    }

    pub fn kind(&self) -> KeyKind {
        match self {
            UnlockedKey::Gpg(_) => KeyKind::Gpg,
            UnlockedKey::Minisign(_) => KeyKind::Minisign,
            UnlockedKey::Rsa(_) => KeyKind::Rsa,
            UnlockedKey::Authenticode(_) => KeyKind::Authenticode,
        }
    }

    /// The public key in the form the format's verifier takes: an armored OpenPGP public key
    /// for `gpg --import`, a minisign public key file for `minisign -p`, or an RSA
    /// SubjectPublicKeyInfo PEM for `mar -k`, or the certificate chain PEM (leaf first) of an
    /// Authenticode key.
    pub fn public_key(&self) -> SigningResult<String> {
        match self {
            UnlockedKey::Gpg(k) => k.public_armored(),
            UnlockedKey::Minisign(k) => Ok(k.public_key_file()),
            UnlockedKey::Rsa(k) => k.public_pem(),
            UnlockedKey::Authenticode(k) => Ok(k.chain_pem().to_string()),
        }
    }

    /// The signer of `format` with this key.
    pub fn signer(&self, format: Format) -> SigningResult<Box<dyn Signer>> {
        match (self, format) {
            (UnlockedKey::Gpg(k), Format::Gpg) => Ok(Box::new(k.clone())),
            (UnlockedKey::Gpg(k), Format::Sha256sums) => {
                Ok(Box::new(sums::SumsSigner::new(k.clone())))
            }
            (UnlockedKey::Minisign(k), Format::Minisign) => Ok(Box::new(k.clone())),
            (UnlockedKey::Rsa(k), Format::Mar) => Ok(Box::new(k.clone())),
            (UnlockedKey::Authenticode(k), Format::Authenticode) => Ok(Box::new(k.clone())),
            _ => Err(SigningError::WrongKeyKind {
                key_id: self.id().to_string(),
                kind: self.kind().as_str(),
                format: format.as_str(),
            }),
        }
    }
}
