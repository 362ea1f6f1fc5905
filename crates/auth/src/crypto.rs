//! Encryption at rest (AES-256-GCM): access tokens, secrets and other values the database must
//! never hold in plain text.
//!
//! A sealed value is `<keyId>:<base64(nonce ‖ ciphertext)>`; the key id lets keys rotate: new values
//! are sealed with the current key, old ones still open with the key they name.

use std::collections::HashMap;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("sealed value names unknown key {0:?}")]
    UnknownKey(String),
    #[error("sealed value is malformed")]
    Malformed,
    #[error("sealed value failed authentication (wrong key or tampered)")]
    Tampered,
}

/// The keys values are sealed with; the first is current.
#[derive(Clone)]
pub struct Cipher {
    current: String,
    keys: HashMap<String, Aes256Gcm>,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cipher")
            .field("current", &self.current)
            .finish_non_exhaustive()
    }
}

impl Cipher {
    /// Keys as `(id, secret)`; each secret (any length, e.g. 32+ random bytes in base64) is
    /// stretched with SHA-256 into an AES-256 key. The first key seals new values.
    pub fn new(keys: &[(String, String)]) -> Option<Cipher> {
        let (current, _) = keys.first()?;
        let keys = keys
            .iter()
            .map(|(id, secret)| {
                let key = Sha256::digest(secret.as_bytes());
                (id.clone(), Aes256Gcm::new(&key))
            })
            .collect();
        Some(Cipher {
            current: current.clone(),
            keys,
        })
    }

    pub fn seal(&self, plaintext: &[u8]) -> String {
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let cipher = &self.keys[&self.current];
        // Encryption with a valid key and nonce size cannot fail.
        let ct = cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext)
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        format!("{}:{}", self.current, STANDARD.encode(out))
    }

    pub fn open(&self, sealed: &str) -> Result<Vec<u8>, CryptoError> {
        let (key_id, data) = sealed.split_once(':').ok_or(CryptoError::Malformed)?;
        let cipher = self
            .keys
            .get(key_id)
            .ok_or_else(|| CryptoError::UnknownKey(key_id.to_string()))?;
        let raw = STANDARD.decode(data).map_err(|_| CryptoError::Malformed)?;
        if raw.len() < 12 {
            return Err(CryptoError::Malformed);
        }
        let (nonce, ct) = raw.split_at(12);
        cipher
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| CryptoError::Tampered)
    }

    pub fn open_string(&self, sealed: &str) -> Result<String, CryptoError> {
        String::from_utf8(self.open(sealed)?).map_err(|_| CryptoError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_opens_and_rotates() {
        let old = Cipher::new(&[("k1".into(), "first secret".into())]).unwrap();
        let sealed = old.seal(b"hello");
        assert!(!sealed.contains("hello"));
        assert_eq!(old.open(&sealed).unwrap(), b"hello");

        let rotated = Cipher::new(&[
            ("k2".into(), "second".into()),
            ("k1".into(), "first secret".into()),
        ])
        .unwrap();
        assert_eq!(rotated.open(&sealed).unwrap(), b"hello");
        assert!(rotated.seal(b"x").starts_with("k2:"));

        let other = Cipher::new(&[("k1".into(), "wrong".into())]).unwrap();
        assert!(matches!(other.open(&sealed), Err(CryptoError::Tampered)));
        assert!(matches!(
            other.open("k9:AAAA"),
            Err(CryptoError::UnknownKey(_))
        ));
        assert!(matches!(other.open("garbage"), Err(CryptoError::Malformed)));
    }
}
