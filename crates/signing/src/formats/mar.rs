//! `mar`: Mozilla ARchive signatures, RSA-PKCS#1 v1.5 with SHA-384 (algorithm id 2), written
//! into the archive's signature block (layout in [`super::marfile`]). The output is the whole
//! signed MAR; any signatures the input had are replaced by this key's.
//!
//! Keys are 4096-bit RSA: libmar expects a 512-byte signature for algorithm 2, and Mozilla's
//! tools pick SHA-384 by that key size. The sealed secret is the PKCS#8 DER private key; the
//! public half is a SubjectPublicKeyInfo PEM, which `mar -k pub.pem -v` and signmar read.

use std::sync::Arc;

use rsa::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _, EncodePrivateKey as _};
use rsa::pkcs8::{EncodePublicKey as _, LineEnding};
use rsa::traits::PublicKeyParts as _;
use rsa::{Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use sha2::{Digest as _, Sha384};
use zeroize::Zeroizing;

use super::marfile::{first_content_byte, Mar};
use super::{Format, Signed, Signer};
use crate::error::{material, SigningError, SigningResult};

/// MAR signature algorithm id of RSA-PKCS#1 v1.5 with SHA-384.
pub const ALG_RSA_PKCS1_SHA384: u32 = 2;
pub const KEY_BITS: usize = 4096;
const SIG_LEN: usize = KEY_BITS / 8;

/// An unlocked RSA key (shared, so clones hold one copy of the secret).
#[derive(Clone)]
pub struct RsaKey {
    id: String,
    key: Arc<RsaPrivateKey>,
}

impl std::fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaKey")
            .field("id", &self.id)
            .field("bits", &(self.key.size() * 8))
            .finish_non_exhaustive()
    }
}

impl RsaKey {
    pub(crate) fn generate(id: &str) -> SigningResult<Self> {
        let key = RsaPrivateKey::new(&mut rand::thread_rng(), KEY_BITS)
            .map_err(|e| material(id, format!("RSA key generation: {e}")))?;
        Ok(Self {
            id: id.to_string(),
            key: Arc::new(key),
        })
    }

    /// Rebuilds the key from its sealed PKCS#8 DER and checks it against the stored public PEM.
    pub(crate) fn from_parts(id: &str, secret: &[u8], public: &str) -> SigningResult<Self> {
        let key = RsaPrivateKey::from_pkcs8_der(secret)
            .map_err(|e| material(id, format!("RSA private key: {e}")))?;
        if key.size() != SIG_LEN {
            return Err(material(
                id,
                format!("a {}-bit RSA key, not {KEY_BITS}", key.size() * 8),
            ));
        }
        let stored = RsaPublicKey::from_public_key_pem(public)
            .map_err(|e| material(id, format!("RSA public key: {e}")))?;
        if stored != key.to_public_key() {
            return Err(material(
                id,
                "the stored public key is not the secret key's",
            ));
        }
        Ok(Self {
            id: id.to_string(),
            key: Arc::new(key),
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// PKCS#8 DER, for sealing.
    pub(crate) fn secret_bytes(&self) -> SigningResult<Zeroizing<Vec<u8>>> {
        let doc = self
            .key
            .to_pkcs8_der()
            .map_err(|e| material(&self.id, format!("RSA private key encoding: {e}")))?;
        Ok(Zeroizing::new(doc.as_bytes().to_vec()))
    }

    /// The SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn public_pem(&self) -> SigningResult<String> {
        self.key
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| material(&self.id, format!("RSA public key encoding: {e}")))
    }

    fn err(&self, verify: bool, reason: impl std::fmt::Display) -> SigningError {
        let (format, key_id, reason) = ("mar", self.id.clone(), reason.to_string());
        if verify {
            SigningError::Verify {
                format,
                key_id,
                reason,
            }
        } else {
            SigningError::Sign {
                format,
                key_id,
                reason,
            }
        }
    }
}

fn invalid(reason: String) -> SigningError {
    SigningError::InvalidInput {
        format: "mar",
        reason,
    }
}

fn sha384_of(mar: &Mar<'_>) -> Vec<u8> {
    let (head, rest) = mar.signed_parts();
    let mut h = Sha384::new();
    h.update(&head);
    h.update(rest);
    h.finalize().to_vec()
}

/// What a signature must not change: the archive with its signatures blanked out, so an
/// unsigned input and its signed output compare equal.
fn unsigned_form(mar: &Mar<'_>) -> Result<Vec<u8>, String> {
    mar.with_signature_slot(ALG_RSA_PKCS1_SHA384, 0)
        .map(|(bytes, _)| bytes)
}

impl Signer for RsaKey {
    fn format(&self) -> Format {
        Format::Mar
    }

    fn key_id(&self) -> &str {
        &self.id
    }

    fn sign(&self, input: &[u8]) -> SigningResult<Signed> {
        let mar = Mar::parse(input).map_err(invalid)?;
        let (mut out, sig_at) = mar
            .with_signature_slot(ALG_RSA_PKCS1_SHA384, SIG_LEN)
            .map_err(invalid)?;
        let digest = sha384_of(&Mar::parse(&out).map_err(|e| self.err(false, e))?);
        let sig = self
            .key
            .sign(Pkcs1v15Sign::new::<Sha384>(), &digest)
            .map_err(|e| self.err(false, e))?;
        if sig.len() != SIG_LEN {
            return Err(self.err(false, format!("a {}-byte signature", sig.len())));
        }
        out[sig_at..sig_at + SIG_LEN].copy_from_slice(&sig);
        Ok(Signed {
            format: Format::Mar,
            key_id: self.id.clone(),
            signature: out,
        })
    }

    /// `signature` is the signed MAR: every signature in it must be a SHA-384 one by this key
    /// (as `mar -v` requires), and apart from its signatures it must be `input`.
    fn verify(&self, input: &[u8], signature: &[u8]) -> SigningResult<()> {
        let signed = Mar::parse(signature).map_err(|e| self.err(true, e))?;
        if signed.signatures.is_empty() {
            return Err(self.err(true, "the MAR has no signatures"));
        }
        if !signed.size_matches() {
            return Err(self.err(true, "the MAR's declared size is not its size"));
        }
        let digest = sha384_of(&signed);
        let public = self.key.to_public_key();
        for (alg, sig) in &signed.signatures {
            if *alg != ALG_RSA_PKCS1_SHA384 {
                return Err(self.err(true, format!("signature algorithm {alg}, not 2")));
            }
            public
                .verify(Pkcs1v15Sign::new::<Sha384>(), &digest, sig)
                .map_err(|_| self.err(true, "signature does not match the MAR"))?;
        }
        let original = Mar::parse(input).map_err(|e| self.err(true, e))?;
        let same = unsigned_form(&original).map_err(|e| self.err(true, e))?
            == unsigned_form(&signed).map_err(|e| self.err(true, e))?;
        if !same {
            return Err(self.err(true, "the signed MAR's contents are not the input's"));
        }
        Ok(())
    }

    fn proof_input(&self) -> Vec<u8> {
        super::marfile::build_unsigned(
            &[("proof.txt", 0o644, super::PROOF_INPUT)],
            Some(("relyard-proof", "1")),
        )
    }

    /// Alters a member's bytes: the header must stay valid so that the contents check, not the
    /// parser, rejects it.
    fn altered_input(&self, input: &[u8]) -> Vec<u8> {
        flip_content_byte(input)
    }

    /// A signed MAR with a changed member, which only the RSA check can reject.
    fn altered_signature(&self, signature: &[u8]) -> Option<Vec<u8>> {
        Some(flip_content_byte(signature))
    }
}

fn flip_content_byte(mar: &[u8]) -> Vec<u8> {
    let mut out = mar.to_vec();
    if let Some(b) = first_content_byte(mar).and_then(|at| out.get_mut(at)) {
        *b ^= 0x01;
    }
    out
}
