//! Key files that never hold a usable plaintext key.
//!
//! A key file is JSON:
//!
//! ```json
//! { "relyard-signing-key": 1, "id": "nightly", "kind": "gpg",
//!   "public": "<armored OpenPGP public key, or minisign public key file>",
//!   "kdf": { "alg": "argon2id", "m_cost_kib": 65536, "t_cost": 3, "p_cost": 1, "salt": "<b64>" },
//!   "cipher": "aes-256-gcm", "nonce": "<b64, 12 bytes>", "sealed": "<b64 ciphertext || tag>" }
//! ```
//!
//! The secret key material (a binary transferable OpenPGP secret key, a minisign
//! `seed || key_num`, or an RSA key's PKCS#8 DER for kinds `rsa` and `authenticode`) is sealed with AES-256-GCM under a key derived from the passphrase with
//! Argon2id (RFC 9106) and a fresh random salt. Everything else in the file is bound as
//! associated data ([`KeyFile::associated_data`]): renaming the key, changing its kind, weakening
//! the KDF parameters or swapping the public key makes the file fail to open, exactly like a wrong
//! passphrase. The public key stays in plain so verifiers can be given it without a passphrase.

use std::io::Write as _;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use argon2::{Algorithm, Argon2, Version};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::error::{SigningError, SigningResult};
use crate::formats::authenticode::AuthenticodeKey;
use crate::formats::gpg::GpgKey;
use crate::formats::mar::RsaKey;
use crate::formats::minisign::MinisignKey;
use crate::formats::{KeyKind, UnlockedKey};

const FILE_VERSION: u32 = 1;
const KDF_ALG: &str = "argon2id";
const CIPHER: &str = "aes-256-gcm";
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 12;

/// Argon2id cost parameters, stored in each key file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    pub m_cost_kib: u32,
    pub t_cost: u32,
    pub p_cost: u32,
}

impl Default for KdfParams {
    /// RFC 9106's second recommended option (64 MiB, 3 passes) with one lane: unlocking happens
    /// once per key at server start, so a second of work is cheap for us and dear for a guesser.
    fn default() -> Self {
        Self {
            m_cost_kib: 64 * 1024,
            t_cost: 3,
            p_cost: 1,
        }
    }
}

impl KdfParams {
    /// Bounds applied to the parameters read from a file before any work is done, so that an
    /// altered file cannot make the server allocate gigabytes before the AEAD check fails.
    fn check(&self) -> Result<(), String> {
        let ok = (1..=16).contains(&self.p_cost)
            && (8 * self.p_cost..=1024 * 1024).contains(&self.m_cost_kib)
            && (1..=64).contains(&self.t_cost);
        if ok {
            Ok(())
        } else {
            Err(format!(
                "Argon2id parameters out of range (m {} KiB, t {}, p {})",
                self.m_cost_kib, self.t_cost, self.p_cost
            ))
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct KdfSection {
    alg: String,
    m_cost_kib: u32,
    t_cost: u32,
    p_cost: u32,
    salt: String,
}

/// A sealed key as stored on disk.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    #[serde(rename = "relyard-signing-key")]
    version: u32,
    id: String,
    kind: KeyKind,
    public: String,
    kdf: KdfSection,
    cipher: String,
    nonce: String,
    sealed: String,
}

/// Key ids appear in config, in `KEY_ID=passphrase` lines and in minisign trusted comments, so
/// they are kept to a small, unambiguous alphabet.
pub fn validate_key_id(id: &str) -> SigningResult<()> {
    let ok = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(SigningError::InvalidKeyId(id.to_string()))
    }
}

/// Makes a new key of `kind` and seals it with `passphrase`. Meant for throwaway keys in tests and
/// local setups, and for making production keys on an isolated machine.
pub fn generate(
    id: &str,
    kind: KeyKind,
    passphrase: &[u8],
    params: KdfParams,
) -> SigningResult<(KeyFile, UnlockedKey)> {
    validate_key_id(id)?;
    let key = match kind {
        KeyKind::Gpg => UnlockedKey::Gpg(GpgKey::generate(id)?),
        KeyKind::Minisign => UnlockedKey::Minisign(MinisignKey::generate(id)),
        KeyKind::Rsa => UnlockedKey::Rsa(RsaKey::generate(id)?),
        KeyKind::Authenticode => UnlockedKey::Authenticode(AuthenticodeKey::generate(id)?),
    };
    let file = KeyFile::seal(&key, passphrase, params)?;
    Ok((file, key))
}

fn derive_key(
    id: &str,
    passphrase: &[u8],
    salt: &[u8],
    p: KdfParams,
) -> SigningResult<Zeroizing<[u8; 32]>> {
    if passphrase.is_empty() {
        return Err(SigningError::EmptyPassphrase {
            key_id: id.to_string(),
        });
    }
    let params = argon2::Params::new(p.m_cost_kib, p.t_cost, p.p_cost, Some(32))
        .map_err(|e| SigningError::Kdf(e.to_string()))?;
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase, salt, key.as_mut())
        .map_err(|e| SigningError::Kdf(e.to_string()))?;
    Ok(key)
}

impl KeyFile {
    /// Seals `key` under `passphrase` with a fresh salt and nonce.
    pub fn seal(key: &UnlockedKey, passphrase: &[u8], params: KdfParams) -> SigningResult<Self> {
        validate_key_id(key.id())?;
        params.check().map_err(SigningError::Kdf)?;
        let mut rng = rand::thread_rng();
        let mut salt = [0u8; SALT_LEN];
        rng.fill_bytes(&mut salt);
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let secret = match key {
            UnlockedKey::Gpg(k) => k.secret_bytes()?,
            UnlockedKey::Minisign(k) => k.secret_bytes(),
            UnlockedKey::Rsa(k) => k.secret_bytes()?,
            UnlockedKey::Authenticode(k) => k.secret_bytes()?,
        };
        let mut file = KeyFile {
            version: FILE_VERSION,
            id: key.id().to_string(),
            kind: key.kind(),
            public: key.public_key()?,
            kdf: KdfSection {
                alg: KDF_ALG.to_string(),
                m_cost_kib: params.m_cost_kib,
                t_cost: params.t_cost,
                p_cost: params.p_cost,
                salt: B64.encode(salt),
            },
            cipher: CIPHER.to_string(),
            nonce: B64.encode(nonce),
            sealed: String::new(),
        };
        let dk = derive_key(&file.id, passphrase, &salt, params)?;
        let aad = file.associated_data();
        let sealed = Aes256Gcm::new(dk.as_ref().into())
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &secret,
                    aad: &aad,
                },
            )
            .map_err(|_| SigningError::Kdf("AES-GCM sealing failed".into()))?;
        file.sealed = B64.encode(sealed);
        Ok(file)
    }

    /// Opens the key. A wrong passphrase, and any change to the file, gives
    /// [`SigningError::WrongPassphrase`].
    pub fn unlock(&self, passphrase: &[u8]) -> SigningResult<UnlockedKey> {
        let bad = |reason: String| SigningError::BadKeyMaterial {
            key_id: self.id.clone(),
            reason,
        };
        let params = self.kdf_params();
        params.check().map_err(bad)?;
        let salt = B64
            .decode(&self.kdf.salt)
            .ok()
            .filter(|s| (SALT_LEN..=64).contains(&s.len()))
            .ok_or_else(|| bad("malformed salt".into()))?;
        let nonce = B64
            .decode(&self.nonce)
            .ok()
            .filter(|n| n.len() == NONCE_LEN)
            .ok_or_else(|| bad("malformed nonce".into()))?;
        let sealed = B64
            .decode(&self.sealed)
            .map_err(|_| bad("malformed sealed data".into()))?;
        let dk = derive_key(&self.id, passphrase, &salt, params)?;
        let aad = self.associated_data();
        let secret = Aes256Gcm::new(dk.as_ref().into())
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &sealed,
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| SigningError::WrongPassphrase {
                key_id: self.id.clone(),
            })?;
        match self.kind {
            KeyKind::Gpg => {
                GpgKey::from_parts(&self.id, &secret, &self.public).map(UnlockedKey::Gpg)
            }
            KeyKind::Minisign => {
                MinisignKey::from_parts(&self.id, &secret, &self.public).map(UnlockedKey::Minisign)
            }
            KeyKind::Rsa => {
                RsaKey::from_parts(&self.id, &secret, &self.public).map(UnlockedKey::Rsa)
            }
            KeyKind::Authenticode => AuthenticodeKey::from_parts(&self.id, &secret, &self.public)
                .map(UnlockedKey::Authenticode),
        }
    }

    /// Every field but the ciphertext, in one canonical form, so that AES-GCM authenticates them.
    /// The public key goes in as its SHA-256 to keep the string short.
    fn associated_data(&self) -> Vec<u8> {
        format!(
            "relyard-signing-key/{}\nid={}\nkind={}\nkdf={},m={},t={},p={},salt={}\ncipher={}\npublic-sha256={}\n",
            self.version,
            self.id,
            self.kind.as_str(),
            self.kdf.alg,
            self.kdf.m_cost_kib,
            self.kdf.t_cost,
            self.kdf.p_cost,
            self.kdf.salt,
            self.cipher,
            hex::encode(Sha256::digest(self.public.as_bytes())),
        )
        .into_bytes()
    }

    fn kdf_params(&self) -> KdfParams {
        KdfParams {
            m_cost_kib: self.kdf.m_cost_kib,
            t_cost: self.kdf.t_cost,
            p_cost: self.kdf.p_cost,
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The public key, readable without the passphrase.
    pub fn public_key(&self) -> &str {
        &self.public
    }

    pub fn to_json(&self) -> String {
        // Serializing plain strings and numbers cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// Parses a key file's text; `path` only names it in errors.
    pub fn from_json(text: &str, path: &Path) -> SigningResult<Self> {
        let bad = |reason: String| SigningError::BadKeyFile {
            path: path.to_path_buf(),
            reason,
        };
        let file: KeyFile =
            serde_json::from_str(text).map_err(|e| bad(format!("not a relyard key file: {e}")))?;
        if file.version != FILE_VERSION {
            return Err(bad(format!("key file version {} is not 1", file.version)));
        }
        if file.kdf.alg != KDF_ALG || file.cipher != CIPHER {
            return Err(bad(format!(
                "unsupported kdf {} / cipher {}",
                file.kdf.alg, file.cipher
            )));
        }
        validate_key_id(&file.id)?;
        Ok(file)
    }

    pub fn read(path: &Path) -> SigningResult<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| SigningError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json(&text, path)
    }

    /// Writes a new file readable by its owner only; refuses to replace an existing file, since
    /// overwriting a key by mistake loses it for good.
    pub fn write_new(&self, path: &Path) -> SigningResult<()> {
        let io = |source| SigningError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            opts.mode(0o600);
        }
        let mut f = opts.open(path).map_err(io)?;
        f.write_all(self.to_json().as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)
    }
}

#[cfg(test)]
mod tests {
    //! The "never usable plaintext on disk" checks need the raw secret material, which only the
    //! crate can see, so they live here rather than in `tests/`.
    use super::*;
    use pgp::composed::{Deserializable, SignedSecretKey};

    const FAST: KdfParams = KdfParams {
        m_cost_kib: 256,
        t_cost: 1,
        p_cost: 1,
    };

    fn secret_of(key: &UnlockedKey) -> Vec<u8> {
        match key {
            UnlockedKey::Gpg(k) => k.secret_bytes().map(|s| s.to_vec()).expect("secret"),
            UnlockedKey::Minisign(k) => k.secret_bytes().to_vec(),
            UnlockedKey::Rsa(k) => k.secret_bytes().map(|s| s.to_vec()).expect("secret"),
            UnlockedKey::Authenticode(k) => k.secret_bytes().map(|s| s.to_vec()).expect("secret"),
        }
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    /// Asserts that no encoding of the secret key material, in whole or in part, is in `disk`.
    fn assert_no_plaintext(disk: &[u8], secret: &[u8]) {
        for encoded in [
            secret.to_vec(),
            B64.encode(secret).into_bytes(),
            hex::encode(secret).into_bytes(),
        ] {
            assert!(
                !contains(disk, &encoded),
                "secret material found in the key file"
            );
        }
        // Any 16-byte run of the secret, raw or hex, would already be a leak.
        for run in secret.chunks(16).filter(|c| c.len() == 16) {
            assert!(!contains(disk, run));
            assert!(!contains(disk, hex::encode(run).as_bytes()));
        }
        let text = String::from_utf8_lossy(disk);
        assert!(!text.contains("PRIVATE KEY"));
    }

    #[test]
    fn gpg_key_file_holds_no_usable_plaintext_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nightly.key");
        let (file, key) = generate("nightly", KeyKind::Gpg, b"correct horse", FAST).expect("gen");
        file.write_new(&path).expect("write");
        let disk = std::fs::read(&path).expect("read");
        assert_no_plaintext(&disk, &secret_of(&key));
        // Neither the file as a whole nor its sealed field parses as an OpenPGP secret key.
        assert!(SignedSecretKey::from_bytes(&disk[..]).is_err());
        assert!(SignedSecretKey::from_string(&String::from_utf8_lossy(&disk)).is_err());
        let sealed = B64.decode(&file.sealed).expect("b64");
        assert!(SignedSecretKey::from_bytes(&sealed[..]).is_err());
        // And it does open with the passphrase, to the same key.
        let reread = KeyFile::read(&path).expect("read");
        let unlocked = reread.unlock(b"correct horse").expect("unlock");
        assert_eq!(secret_of(&unlocked), secret_of(&key));
    }

    #[test]
    fn minisign_key_file_holds_no_plaintext_seed() {
        let (file, key) = generate("mini", KeyKind::Minisign, b"pw", FAST).expect("gen");
        let disk = file.to_json().into_bytes();
        let secret = secret_of(&key);
        assert_no_plaintext(&disk, &secret);
        assert_no_plaintext(&disk, &secret[..32]);
    }

    #[test]
    fn rsa_key_file_holds_no_plaintext_private_key() {
        let (file, key) = generate("mar", KeyKind::Rsa, b"pw", FAST).expect("gen");
        let disk = file.to_json().into_bytes();
        assert_no_plaintext(&disk, &secret_of(&key));
        assert!(rsa::pkcs8::DecodePrivateKey::from_pkcs8_der(
            &B64.decode(&file.sealed).expect("b64")[..]
        )
        .map(|_: rsa::RsaPrivateKey| ())
        .is_err());
        assert!(file.public.starts_with("-----BEGIN PUBLIC KEY-----"));
        let back = file.unlock(b"pw").expect("unlock");
        assert_eq!(secret_of(&back), secret_of(&key));
    }

    #[test]
    fn authenticode_key_file_holds_no_plaintext_private_key() {
        let (file, key) = generate("win", KeyKind::Authenticode, b"pw", FAST).expect("gen");
        assert_no_plaintext(&file.to_json().into_bytes(), &secret_of(&key));
        assert!(file.public.starts_with("-----BEGIN CERTIFICATE-----"));
    }

    #[test]
    fn sealed_bytes_differ_between_two_seals_of_one_key() {
        // Fresh salt and nonce each time: two files of one key share nothing secret-derived.
        let (file, key) = generate("mini", KeyKind::Minisign, b"pw", FAST).expect("gen");
        let again = KeyFile::seal(&key, b"pw", FAST).expect("seal");
        assert_ne!(file.sealed, again.sealed);
        assert_ne!(file.kdf.salt, again.kdf.salt);
    }

    #[test]
    fn kdf_parameters_from_a_file_are_bounded() {
        let (mut file, _) = generate("mini", KeyKind::Minisign, b"pw", FAST).expect("gen");
        file.kdf.m_cost_kib = u32::MAX;
        let err = file.unlock(b"pw").expect_err("huge memory cost refused");
        assert!(matches!(err, SigningError::BadKeyMaterial { .. }), "{err}");
    }
}
