//! `gpg`: detached, ASCII-armored OpenPGP signatures (RFC 4880 / RFC 9580), made with rpgp.
//!
//! Facts relied on:
//! - A detached signature is one Signature packet (tag 2) of type 0x00 ("binary document"),
//!   armored between `-----BEGIN PGP SIGNATURE-----` and `-----END PGP SIGNATURE-----`; `gpg
//!   --verify file.asc file` checks it against the exact bytes of `file`.
//! - Keys are v4 with an EdDSA "legacy" (algorithm 22, Ed25519) primary key that can sign and
//!   certify. GnuPG 2.2 (Debian's) verifies these but not RFC 9580's algorithm 27 or v6 keys, so
//!   the legacy algorithm is the one every deployed gpg accepts.
//! - A v4 key needs a User ID packet with a self-signature, or `gpg --import` rejects it.
//! - The secret key is serialized *unprotected* (S2K usage 0) because the key store seals the
//!   whole transferable secret key itself; it is never written to disk in that form.

use std::io::Cursor;
use std::sync::Arc;

use pgp::composed::{
    ArmorOptions, Deserializable, DetachedSignature, EncryptionCaps, KeyType,
    SecretKeyParamsBuilder, SignedPublicKey, SignedSecretKey, SubpacketConfig,
};
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::{Subpacket, SubpacketData};
use pgp::ser::Serialize;
use pgp::types::{Fingerprint, KeyDetails, KeyId, KeyVersion, Password, Timestamp};
use zeroize::Zeroizing;

use super::{Format, Signed, Signer};
use crate::error::{material, SigningError, SigningResult};

/// An unlocked OpenPGP signing key. The key material is shared (`Arc`) so that the `gpg` and
/// `sha256sums` signers of one key hold one copy of it.
#[derive(Clone)]
pub struct GpgKey {
    id: String,
    secret: Arc<SignedSecretKey>,
    public: Arc<SignedPublicKey>,
    /// The issuer subpackets every signature carries, computed once: rpgp's default
    /// subpackets hash the public key (SHA-1, for the fingerprint) on every signature, a
    /// measurable share of an Ed25519 signature.
    issuer: Arc<Issuer>,
}

struct Issuer {
    fingerprint: Fingerprint,
    key_id: Option<KeyId>,
}

impl Issuer {
    fn of(key: &impl KeyDetails) -> Self {
        Self {
            fingerprint: key.fingerprint(),
            // Like rpgp's defaults: the 8-byte issuer key id only for v4 (and older) keys.
            key_id: (key.version() <= KeyVersion::V4).then(|| key.legacy_key_id()),
        }
    }

    /// What rpgp's `SubpacketConfig::Default` makes: the issuer fingerprint and the creation
    /// time hashed, the issuer key id unhashed.
    fn subpackets(&self) -> pgp::errors::Result<SubpacketConfig> {
        let hashed = vec![
            Subpacket::regular(SubpacketData::IssuerFingerprint(self.fingerprint.clone()))?,
            Subpacket::regular(SubpacketData::SignatureCreationTime(Timestamp::now()))?,
        ];
        let unhashed = match &self.key_id {
            Some(id) => vec![Subpacket::regular(SubpacketData::IssuerKeyId(*id))?],
            None => Vec::new(),
        };
        Ok(SubpacketConfig::UserDefined { hashed, unhashed })
    }
}

impl std::fmt::Debug for GpgKey {
    // Never print secret material, even in debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpgKey")
            .field("id", &self.id)
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

impl GpgKey {
    /// A fresh key whose User ID names the relyard key id.
    pub(crate) fn generate(id: &str) -> SigningResult<Self> {
        let params = SecretKeyParamsBuilder::default()
            .key_type(KeyType::Ed25519Legacy)
            .can_certify(true)
            .can_sign(true)
            .can_encrypt(EncryptionCaps::None)
            .primary_user_id(format!("relyard signing key {id}"))
            .preferred_hash_algorithms([HashAlgorithm::Sha256].into_iter().collect())
            .build()
            .map_err(|e| material(id, format!("OpenPGP key parameters: {e}")))?;
        let secret = params
            .generate(rand::thread_rng())
            .map_err(|e| material(id, format!("OpenPGP key generation: {e}")))?;
        let public = secret.to_public_key();
        Ok(Self::new(id, secret, public))
    }

    fn new(id: &str, secret: SignedSecretKey, public: SignedPublicKey) -> Self {
        Self {
            id: id.to_string(),
            issuer: Arc::new(Issuer::of(&secret.primary_key)),
            secret: Arc::new(secret),
            public: Arc::new(public),
        }
    }

    /// Rebuilds the key from the decrypted transferable secret key and checks it against the
    /// public key stored in plain beside it (the server hands that one out to verifiers).
    pub(crate) fn from_parts(id: &str, secret: &[u8], public_armored: &str) -> SigningResult<Self> {
        let secret = SignedSecretKey::from_bytes(Cursor::new(secret))
            .map_err(|e| material(id, format!("not an OpenPGP secret key: {e}")))?;
        secret
            .verify_bindings()
            .map_err(|e| material(id, format!("OpenPGP self-signatures: {e}")))?;
        let (stored, _) = SignedPublicKey::from_string(public_armored)
            .map_err(|e| material(id, format!("stored public key: {e}")))?;
        let public = secret.to_public_key();
        if stored.fingerprint() != public.fingerprint() {
            return Err(material(
                id,
                "the stored public key is not the secret key's",
            ));
        }
        Ok(Self::new(id, secret, public))
    }

    /// The transferable secret key in binary form, for sealing.
    pub(crate) fn secret_bytes(&self) -> SigningResult<Zeroizing<Vec<u8>>> {
        self.secret
            .to_bytes()
            .map(Zeroizing::new)
            .map_err(|e| material(&self.id, format!("serializing the secret key: {e}")))
    }

    /// The ASCII-armored public key (what `gpg --import` takes).
    pub fn public_armored(&self) -> SigningResult<String> {
        self.public
            .to_armored_string(ArmorOptions::default())
            .map_err(|e| material(&self.id, format!("armoring the public key: {e}")))
    }

    /// The v4 fingerprint in upper-case hex, as `gpg --fingerprint` prints it (without spaces).
    pub fn fingerprint(&self) -> String {
        hex::encode_upper(self.public.fingerprint().as_bytes())
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// An armored detached signature over `input`; `format` only names the caller in errors
    /// (`sha256sums` signs its manifest with this too).
    pub(crate) fn sign_detached(&self, format: Format, input: &[u8]) -> SigningResult<Vec<u8>> {
        let sign_err = |e: pgp::errors::Error| SigningError::Sign {
            format: format.as_str(),
            key_id: self.id.clone(),
            reason: e.to_string(),
        };
        let subpackets = self.issuer.subpackets().map_err(sign_err)?;
        let sig = DetachedSignature::sign_binary_data_with_subpackets(
            rand::thread_rng(),
            &self.secret.primary_key,
            &Password::empty(),
            HashAlgorithm::Sha256,
            input,
            subpackets,
        )
        .map_err(sign_err)?;
        sig.to_armored_bytes(ArmorOptions::default())
            .map_err(sign_err)
    }

    pub(crate) fn verify_detached(
        &self,
        format: Format,
        input: &[u8],
        armored: &[u8],
    ) -> SigningResult<()> {
        let verify_err = |e: pgp::errors::Error| SigningError::Verify {
            format: format.as_str(),
            key_id: self.id.clone(),
            reason: e.to_string(),
        };
        let (sig, _) =
            DetachedSignature::from_armor_single(Cursor::new(armored)).map_err(verify_err)?;
        sig.verify(self.public.as_ref(), input).map_err(verify_err)
    }
}

impl Signer for GpgKey {
    fn format(&self) -> Format {
        Format::Gpg
    }

    fn key_id(&self) -> &str {
        &self.id
    }

    fn sign(&self, input: &[u8]) -> SigningResult<Signed> {
        Ok(Signed {
            format: Format::Gpg,
            key_id: self.id.clone(),
            signature: self.sign_detached(Format::Gpg, input)?,
        })
    }

    fn verify(&self, input: &[u8], signature: &[u8]) -> SigningResult<()> {
        self.verify_detached(Format::Gpg, input, signature)
    }
}
