//! `authenticode`: Windows PE signing. The image hash (SHA-256, [`super::pe`]) goes into an
//! `SpcIndirectDataContent` in a PKCS#7 SignedData ([`super::spc`]) signed with RSA-PKCS#1 v1.5
//! SHA-256, which is appended as a WIN_CERTIFICATE; the Certificate Table entry and the PE
//! checksum are updated. The output is the whole signed PE.
//!
//! A key is an RSA private key (sealed as PKCS#8 DER, like the `rsa` kind) plus its X.509
//! certificate chain, leaf first, as the key file's public part (PEM). [`AuthenticodeKey::import`]
//! takes a real key and its CA-issued chain; [`super::super::generate`] makes a throwaway key with
//! a self-signed code-signing certificate.

use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use der::{Decode as _, Encode as _, EncodePem as _};
use rand::RngCore as _;
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::pkcs1v15::{Signature as RsaSignature, SigningKey};
use rsa::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, EncodePublicKey as _, LineEnding};
use rsa::traits::PublicKeyParts as _;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use sha2::{Digest as _, Sha256};
use x509_cert::builder::{Builder as _, CertificateBuilder, Profile};
use x509_cert::ext::pkix::ExtendedKeyUsage;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::time::Validity;
use x509_cert::Certificate;
use zeroize::Zeroizing;

use super::pe::{self, Pe};
use super::{spc, Format, Signed, Signer};
use crate::error::{material, SigningError, SigningResult};

const FORMAT: &str = "authenticode";
/// Throwaway keys are 3072-bit: the CA/Browser Forum's minimum for code-signing keys.
pub const KEY_BITS: usize = 3072;
/// Imported keys may be 2048 to 4096 bits (older certificates are 2048).
const KEY_BITS_RANGE: std::ops::RangeInclusive<usize> = 2048..=4096;
/// How long a throwaway certificate is valid.
const THROWAWAY_VALIDITY: Duration = Duration::from_secs(3 * 365 * 24 * 3600);
const EKU_CODE_SIGNING: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
const EXTENDED_KEY_USAGE: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("2.5.29.37");

/// An unlocked Authenticode key: RSA key and certificate chain (shared, so clones hold one copy
/// of the secret).
#[derive(Clone)]
pub struct AuthenticodeKey {
    id: String,
    key: Arc<RsaPrivateKey>,
    chain: Arc<[Certificate]>,
    chain_pem: Arc<str>,
}

impl std::fmt::Debug for AuthenticodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthenticodeKey")
            .field("id", &self.id)
            .field("bits", &(self.key.size() * 8))
            .field("certificates", &self.chain.len())
            .finish_non_exhaustive()
    }
}

impl AuthenticodeKey {
    /// A new 3072-bit key with a self-signed certificate (CN = the key id, key usage
    /// digitalSignature, extended key usage codeSigning), valid for three years from now.
    pub(crate) fn generate(id: &str) -> SigningResult<Self> {
        let key = RsaPrivateKey::new(&mut rand::thread_rng(), KEY_BITS)
            .map_err(|e| material(id, format!("RSA key generation: {e}")))?;
        let cert = self_signed_certificate(id, &key).map_err(|e| material(id, e))?;
        let pem = cert
            .to_pem(LineEnding::LF)
            .map_err(|e| material(id, format!("certificate encoding: {e}")))?;
        Self::with_chain(id, key, &pem)
    }

    /// A real key and its certificate chain: `private_key_pem` is a PKCS#8 (`BEGIN PRIVATE KEY`)
    /// or PKCS#1 (`BEGIN RSA PRIVATE KEY`) PEM, unencrypted (seal it with [`crate::KeyFile::seal`]
    /// at once); `chain_pem` holds the signing certificate first, then its intermediates.
    pub fn import(id: &str, private_key_pem: &str, chain_pem: &str) -> SigningResult<Self> {
        crate::keystore::validate_key_id(id)?;
        let key = RsaPrivateKey::from_pkcs8_pem(private_key_pem)
            .or_else(|_| RsaPrivateKey::from_pkcs1_pem(private_key_pem))
            .map_err(|e| material(id, format!("not an unencrypted RSA private key PEM: {e}")))?;
        Self::with_chain(id, key, chain_pem)
    }

    /// Rebuilds the key from its sealed PKCS#8 DER and the stored chain PEM.
    pub(crate) fn from_parts(id: &str, secret: &[u8], public: &str) -> SigningResult<Self> {
        let key = RsaPrivateKey::from_pkcs8_der(secret)
            .map_err(|e| material(id, format!("RSA private key: {e}")))?;
        Self::with_chain(id, key, public)
    }

    fn with_chain(id: &str, key: RsaPrivateKey, chain_pem: &str) -> SigningResult<Self> {
        let bits = key.size() * 8;
        if !KEY_BITS_RANGE.contains(&bits) {
            return Err(material(
                id,
                format!("a {bits}-bit RSA key, not 2048 to 4096"),
            ));
        }
        let chain = Certificate::load_pem_chain(chain_pem.as_bytes())
            .map_err(|e| material(id, format!("certificate chain PEM: {e}")))?;
        let leaf = chain
            .first()
            .ok_or_else(|| material(id, "the certificate chain is empty"))?;
        let public = key
            .to_public_key()
            .to_public_key_der()
            .map_err(|e| material(id, format!("RSA public key encoding: {e}")))?;
        let leaf_public = leaf
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| material(id, format!("certificate public key: {e}")))?;
        if public.as_bytes() != leaf_public.as_slice() {
            return Err(material(
                id,
                "the first certificate is not the private key's",
            ));
        }
        if !allows_code_signing(leaf) {
            return Err(material(
                id,
                "the first certificate's extended key usage does not include codeSigning",
            ));
        }
        Ok(Self {
            id: id.to_string(),
            key: Arc::new(key),
            chain: chain.into(),
            chain_pem: chain_pem.into(),
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

    /// The certificate chain PEM, leaf first: the key file's public part. For a self-signed
    /// key it is also what verifiers trust (`osslsigncode verify -CAfile`).
    pub fn chain_pem(&self) -> &str {
        &self.chain_pem
    }

    fn sign_failed(&self, reason: impl std::fmt::Display) -> SigningError {
        SigningError::Sign {
            format: FORMAT,
            key_id: self.id.clone(),
            reason: reason.to_string(),
        }
    }

    fn verify_failed(&self, reason: impl std::fmt::Display) -> SigningError {
        SigningError::Verify {
            format: FORMAT,
            key_id: self.id.clone(),
            reason: reason.to_string(),
        }
    }

    /// Whether `certificates` (DER) are exactly this key's chain, in any order.
    fn carries_chain(&self, certificates: &[Vec<u8>]) -> bool {
        let mut ours: Vec<Vec<u8>> = self.chain.iter().filter_map(|c| c.to_der().ok()).collect();
        let mut theirs = certificates.to_vec();
        ours.sort();
        theirs.sort();
        ours.len() == self.chain.len() && ours == theirs
    }

    fn leaf(&self) -> Option<&Certificate> {
        self.chain.first()
    }
}

/// Whether `cert` may sign code: no extended key usage extension (any use) or one naming
/// codeSigning. Windows refuses Authenticode signatures by certificates without it.
fn allows_code_signing(cert: &Certificate) -> bool {
    let Some(eku) = cert
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == EXTENDED_KEY_USAGE)
    else {
        return true;
    };
    ExtendedKeyUsage::from_der(eku.extn_value.as_bytes())
        .is_ok_and(|usages| usages.0.contains(&EKU_CODE_SIGNING))
}

fn self_signed_certificate(id: &str, key: &RsaPrivateKey) -> Result<Certificate, String> {
    let mut serial = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut serial);
    // Positive and minimally encoded: top bit clear, first byte non-zero.
    serial[0] = (serial[0] & 0x7f) | 0x40;
    let serial = SerialNumber::new(&serial).map_err(|e| format!("serial number: {e}"))?;
    let validity = Validity::from_now(THROWAWAY_VALIDITY).map_err(|e| format!("validity: {e}"))?;
    let subject = Name::from_str(&format!("CN={id},O=relyard throwaway code signing"))
        .map_err(|e| format!("subject: {e}"))?;
    let spki = SubjectPublicKeyInfoOwned::from_key(key.to_public_key())
        .map_err(|e| format!("public key: {e}"))?;
    let signer = SigningKey::<Sha256>::new(key.clone());
    // A self-signed leaf: basicConstraints CA:false, key usage digitalSignature (and
    // nonRepudiation, which the builder adds for leaves), subject and authority key ids.
    let profile = Profile::Leaf {
        issuer: subject.clone(),
        enable_key_agreement: false,
        enable_key_encipherment: false,
    };
    let mut builder = CertificateBuilder::new(profile, serial, validity, subject, spki, &signer)
        .map_err(|e| format!("certificate: {e}"))?;
    builder
        .add_extension(&ExtendedKeyUsage(vec![EKU_CODE_SIGNING]))
        .map_err(|e| format!("extended key usage: {e}"))?;
    builder
        .build::<RsaSignature>()
        .map_err(|e| format!("certificate signing: {e}"))
}

fn invalid(reason: impl std::fmt::Display) -> SigningError {
    SigningError::InvalidInput {
        format: FORMAT,
        reason: reason.to_string(),
    }
}

impl Signer for AuthenticodeKey {
    fn format(&self) -> Format {
        Format::Authenticode
    }

    fn key_id(&self) -> &str {
        &self.id
    }

    /// Refuses anything but an unsigned PE: replacing or nesting signatures is left to whoever
    /// built the file, so a signed release is never silently re-signed.
    fn sign(&self, input: &[u8]) -> SigningResult<Signed> {
        let parsed = Pe::parse(input).map_err(invalid)?;
        if parsed.certificate_table().is_some() {
            return Err(invalid(
                "the PE file is already signed (it has a certificate table); sign the unsigned build",
            ));
        }
        let unsigned = parsed.unsigned_form();
        let image = Pe::parse(&unsigned).map_err(|e| self.sign_failed(e))?;
        let digest = image.image_digest();
        let pkcs7 = spc::build(&digest, &self.chain, |attributes| {
            self.key
                .sign(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(attributes))
                .map_err(|e| e.to_string())
        })
        .map_err(|e| self.sign_failed(e))?;
        let table = pe::win_certificate(&pkcs7);
        if !pe::fits_u32(unsigned.len() + table.len()) {
            return Err(invalid("the signed file would exceed 4 GiB"));
        }
        Ok(Signed {
            format: Format::Authenticode,
            key_id: self.id.clone(),
            signature: image.with_certificate_table(&table),
        })
    }

    /// `signature` is the signed PE: its one signature must be this key's over its own image
    /// hash, its checksum right, and apart from the signature it must be `input`.
    fn verify(&self, input: &[u8], signature: &[u8]) -> SigningResult<()> {
        let signed = Pe::parse(signature).map_err(|e| self.verify_failed(e))?;
        let table = signed
            .certificate_table()
            .ok_or_else(|| self.verify_failed("the PE file is not signed"))?;
        let blob = pe::parse_win_certificate(table).map_err(|e| self.verify_failed(e))?;
        let parts = spc::parse(blob).map_err(|e| self.verify_failed(e))?;
        if parts.image_digest != signed.image_digest() {
            return Err(self.verify_failed("the image hash does not match the file"));
        }
        let leaf = self
            .leaf()
            .ok_or_else(|| self.verify_failed("the key has no certificate"))?;
        if parts.signer.issuer != leaf.tbs_certificate.issuer
            || parts.signer.serial_number != leaf.tbs_certificate.serial_number
        {
            return Err(self.verify_failed("signed by another certificate"));
        }
        if !self.carries_chain(&parts.certificates) {
            return Err(self.verify_failed("the signature does not carry this key's chain"));
        }
        self.key
            .to_public_key()
            .verify(
                Pkcs1v15Sign::new::<Sha256>(),
                &Sha256::digest(&parts.signed_attributes),
                &parts.signature,
            )
            .map_err(|_| self.verify_failed("the RSA signature does not match"))?;
        if signed.stored_checksum() != signed.computed_checksum() {
            return Err(self.verify_failed("the PE checksum is wrong"));
        }
        let original = Pe::parse(input).map_err(|e| self.verify_failed(e))?;
        if original.unsigned_form() != signed.unsigned_form() {
            return Err(self.verify_failed("the signed file's image is not the input's"));
        }
        Ok(())
    }

    fn proof_input(&self) -> Vec<u8> {
        pe::build_minimal_pe(&[
            (".text", &[0x31, 0xc0, 0xc3]),
            (".rdata", super::PROOF_INPUT),
        ])
    }

    /// Changes a byte of section data: the headers stay valid, so the image comparison (not the
    /// parser) rejects it.
    fn altered_input(&self, input: &[u8]) -> Vec<u8> {
        flip_section_byte(input)
    }

    /// A signed PE with a changed section byte, which only the image hash check can reject.
    fn altered_signature(&self, signature: &[u8]) -> Option<Vec<u8>> {
        Some(flip_section_byte(signature))
    }
}

fn flip_section_byte(image: &[u8]) -> Vec<u8> {
    let mut out = image.to_vec();
    if let Some(b) = pe::first_section_byte(image).and_then(|at| out.get_mut(at)) {
        *b ^= 0x01;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every change of one bit in the certificate table is rejected, even when the forger also
    /// fixes the PE checksum: versions, algorithms, the carried chain, attributes, the signature
    /// and the padding are all checked, not only the RSA signature.
    #[test]
    fn no_bit_of_the_signature_can_change() {
        let key = AuthenticodeKey::generate("flips").expect("generate");
        let input = key.proof_input();
        let signed = key.sign(&input).expect("sign").signature;
        let parsed = Pe::parse(&signed).expect("parse");
        let (table_at, checksum_at) = (parsed.cert_table_offset(), parsed.checksum_offset());
        for at in table_at..signed.len() {
            for bit in [0x01, 0x80] {
                let mut forged = signed.clone();
                forged[at] ^= bit;
                let sum = pe::checksum(&forged, checksum_at);
                forged[checksum_at..checksum_at + 4].copy_from_slice(&sum.to_le_bytes());
                assert!(
                    key.verify(&input, &forged).is_err(),
                    "byte {} of the table, bit {bit:#x}",
                    at - table_at
                );
            }
        }
    }
}
