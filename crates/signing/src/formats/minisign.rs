//! `minisign`: signatures that `minisign -V` (Frank Denis' tool, Debian's 0.11) accepts, made with
//! ed25519-dalek.
//!
//! Byte layouts relied on (minisign's documented format; all base64 is standard, padded):
//! - public key file, two lines:
//!   `untrusted comment: minisign public key <KEYID>` and
//!   `base64("Ed" || key_num[8] || ed25519_public[32])`;
//! - signature file (`<file>.minisig`), four lines:
//!   1. `untrusted comment: <free text>`
//!   2. `base64(alg[2] || key_num[8] || signature[64])`, where alg `ED` means the signature is
//!      Ed25519 over BLAKE2b-512(file) ("prehashed"; minisign's default since 0.10) and `Ed` the
//!      legacy Ed25519 over the file itself. Only `ED` is produced here: it is what current
//!      minisign writes and what it accepts without extra flags.
//!   3. `trusted comment: <text>`
//!   4. `base64(global_signature[64])`, Ed25519 over `signature[64] || <text>` (the trusted
//!      comment's text without its prefix or newline), so the comment cannot be swapped.
//! - `key_num` is 8 random bytes; minisign prints the key id as those bytes read as a
//!   little-endian u64, in upper-case hex (`%016llX`).
//! - Lines end in `\n`.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use blake2::{Blake2b512, Digest as _};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use rand::RngCore as _;
use zeroize::Zeroizing;

use super::{Format, Signed, Signer};
use crate::error::{material, SigningError, SigningResult};

const PUBLIC_ALG: &[u8; 2] = b"Ed";
const PREHASHED_ALG: &[u8; 2] = b"ED";
const UNTRUSTED: &str = "untrusted comment: ";
const TRUSTED: &str = "trusted comment: ";

/// An unlocked minisign key (shared, like [`super::gpg::GpgKey`], so clones hold one copy of
/// the secret).
#[derive(Clone)]
pub struct MinisignKey {
    id: String,
    key_num: [u8; 8],
    signing: Arc<SigningKey>,
}

impl std::fmt::Debug for MinisignKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MinisignKey")
            .field("id", &self.id)
            .field("minisign_key_id", &self.minisign_key_id())
            .finish_non_exhaustive()
    }
}

/// `(key_num, public key)` from a public key file's text.
fn parse_public(text: &str) -> Result<([u8; 8], VerifyingKey), String> {
    let mut lines = text.lines();
    let comment = lines.next().unwrap_or_default();
    if !comment.starts_with(UNTRUSTED) {
        return Err("the first line is not an untrusted comment".into());
    }
    let raw = B64
        .decode(lines.next().unwrap_or_default().trim())
        .map_err(|e| format!("public key base64: {e}"))?;
    if raw.len() != 42 || &raw[..2] != PUBLIC_ALG {
        return Err("not an Ed25519 minisign public key".into());
    }
    let mut key_num = [0u8; 8];
    key_num.copy_from_slice(&raw[2..10]);
    let mut pk = [0u8; 32];
    pk.copy_from_slice(&raw[10..42]);
    let pk = VerifyingKey::from_bytes(&pk).map_err(|e| format!("public key: {e}"))?;
    Ok((key_num, pk))
}

impl MinisignKey {
    pub(crate) fn generate(id: &str) -> Self {
        let mut rng = rand::thread_rng();
        let mut key_num = [0u8; 8];
        rng.fill_bytes(&mut key_num);
        Self {
            id: id.to_string(),
            key_num,
            signing: Arc::new(SigningKey::generate(&mut rng)),
        }
    }

    /// Rebuilds the key from the sealed `seed[32] || key_num[8]` and checks it against the
    /// stored public key file.
    pub(crate) fn from_parts(id: &str, secret: &[u8], public: &str) -> SigningResult<Self> {
        let (seed, key_num) = match secret.len() {
            40 => secret.split_at(32),
            n => {
                return Err(material(
                    id,
                    format!("minisign secret is {n} bytes, not 40"),
                ))
            }
        };
        let mut seed_arr = Zeroizing::new([0u8; 32]);
        seed_arr.copy_from_slice(seed);
        let mut num = [0u8; 8];
        num.copy_from_slice(key_num);
        let key = Self {
            id: id.to_string(),
            key_num: num,
            signing: Arc::new(SigningKey::from_bytes(&seed_arr)),
        };
        let (stored_num, stored_pk) = parse_public(public).map_err(|e| material(id, e))?;
        if stored_num != key.key_num || stored_pk != key.signing.verifying_key() {
            return Err(material(
                id,
                "the stored public key is not the secret key's",
            ));
        }
        Ok(key)
    }

    /// `seed[32] || key_num[8]`, for sealing.
    pub(crate) fn secret_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(40));
        out.extend_from_slice(self.signing.as_bytes());
        out.extend_from_slice(&self.key_num);
        out
    }

    /// The key id as minisign prints it.
    pub fn minisign_key_id(&self) -> String {
        format!("{:016X}", u64::from_le_bytes(self.key_num))
    }

    /// The public key file (`minisign -V -p <this file>`).
    pub fn public_key_file(&self) -> String {
        let mut raw = Vec::with_capacity(42);
        raw.extend_from_slice(PUBLIC_ALG);
        raw.extend_from_slice(&self.key_num);
        raw.extend_from_slice(self.signing.verifying_key().as_bytes());
        format!(
            "{UNTRUSTED}minisign public key {}\n{}\n",
            self.minisign_key_id(),
            B64.encode(raw)
        )
    }

    fn verify_err(&self, reason: impl std::fmt::Display) -> SigningError {
        SigningError::Verify {
            format: Format::Minisign.as_str(),
            key_id: self.id.clone(),
            reason: reason.to_string(),
        }
    }
}

impl Signer for MinisignKey {
    fn format(&self) -> Format {
        Format::Minisign
    }

    fn key_id(&self) -> &str {
        &self.id
    }

    fn sign(&self, input: &[u8]) -> SigningResult<Signed> {
        let digest = Blake2b512::digest(input);
        let sig = self.signing.sign(&digest);
        let mut line2 = Vec::with_capacity(74);
        line2.extend_from_slice(PREHASHED_ALG);
        line2.extend_from_slice(&self.key_num);
        line2.extend_from_slice(&sig.to_bytes());
        // The trusted comment is covered by the global signature; a timestamp and the relyard
        // key id tell a reader when and with what it was signed. Tabs separate fields as in
        // minisign's own default comment; key ids never contain tabs or newlines.
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let trusted = format!("timestamp:{secs}\tkey:{}\thashed", self.id);
        let mut global_input = sig.to_bytes().to_vec();
        global_input.extend_from_slice(trusted.as_bytes());
        let global = self.signing.sign(&global_input);
        let text = format!(
            "{UNTRUSTED}signature from relyard key {}\n{}\n{TRUSTED}{trusted}\n{}\n",
            self.id,
            B64.encode(line2),
            B64.encode(global.to_bytes())
        );
        Ok(Signed {
            format: Format::Minisign,
            key_id: self.id.clone(),
            signature: text.into_bytes(),
        })
    }

    fn verify(&self, input: &[u8], signature: &[u8]) -> SigningResult<()> {
        let text = std::str::from_utf8(signature).map_err(|_| self.verify_err("not UTF-8"))?;
        let lines: Vec<&str> = text.lines().collect();
        let [untrusted, sig_b64, trusted, global_b64] = lines[..] else {
            return Err(self.verify_err("a signature file has four lines"));
        };
        let trusted = trusted
            .strip_prefix(TRUSTED)
            .filter(|_| untrusted.starts_with(UNTRUSTED))
            .ok_or_else(|| self.verify_err("missing comment line prefixes"))?;
        let raw = B64
            .decode(sig_b64)
            .map_err(|e| self.verify_err(format!("signature base64: {e}")))?;
        if raw.len() != 74 || &raw[..2] != PREHASHED_ALG {
            return Err(self.verify_err("not a prehashed (ED) Ed25519 signature"));
        }
        if raw[2..10] != self.key_num {
            return Err(self.verify_err("signed by another key"));
        }
        let sig = Signature::from_slice(&raw[10..])
            .map_err(|e| self.verify_err(format!("signature: {e}")))?;
        let pk = self.signing.verifying_key();
        pk.verify_strict(&Blake2b512::digest(input), &sig)
            .map_err(|_| self.verify_err("signature does not match the input"))?;
        let global = B64
            .decode(global_b64)
            .ok()
            .and_then(|g| Signature::from_slice(&g).ok())
            .ok_or_else(|| self.verify_err("malformed global signature"))?;
        let mut global_input = raw[10..].to_vec();
        global_input.extend_from_slice(trusted.as_bytes());
        pk.verify_strict(&global_input, &global)
            .map_err(|_| self.verify_err("trusted comment does not match its signature"))
    }
}
