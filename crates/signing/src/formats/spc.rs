//! The Authenticode signature blob: a PKCS#7 SignedData whose content is an
//! `SpcIndirectDataContent` naming the PE image hash, from Microsoft's "Windows Authenticode
//! Portable Executable Signature Format". The CMS types come from RustCrypto's `cms` and
//! `x509-cert`; the Authenticode-specific structures are written here:
//!
//! ```text
//! SpcIndirectDataContent ::= SEQUENCE {
//!     data           SEQUENCE { type OBJECT IDENTIFIER (SPC_PE_IMAGE_DATAOBJ), value ANY },
//!     messageDigest  DigestInfo (SEQUENCE { AlgorithmIdentifier, OCTET STRING }) }
//! SpcPeImageData ::= SEQUENCE { flags BIT STRING, file [0] EXPLICIT SpcLink }
//!     -- what signtool and osslsigncode write: no flags, file [2] EXPLICIT SpcString
//!     -- [0] IMPLICIT BMPString "<<<Obsolete>>>"
//! ```
//!
//! Two Authenticode rules differ from plain CMS: SignedData's version is 1 (PKCS#7) and its
//! content is the SpcIndirectDataContent itself, not wrapped in an OCTET STRING; and the
//! messageDigest attribute is the hash of that content's DER *without* its outer tag and length.

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::SetOfVec;
use der::asn1::{Any, BitString, BmpString, ContextSpecific, ObjectIdentifier, OctetString};
use der::{Decode as _, Encode as _, Reader as _, Sequence, SliceReader, Tag, TagMode, TagNumber};
use sha2::{Digest as _, Sha256};
use x509_cert::attr::Attribute;
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;

const fn oid(s: &str) -> ObjectIdentifier {
    ObjectIdentifier::new_unwrap(s)
}

pub(crate) const SPC_INDIRECT_DATA: ObjectIdentifier = oid("1.3.6.1.4.1.311.2.1.4");
const SPC_PE_IMAGE_DATA: ObjectIdentifier = oid("1.3.6.1.4.1.311.2.1.15");
const SPC_STATEMENT_TYPE: ObjectIdentifier = oid("1.3.6.1.4.1.311.2.1.11");
const SPC_SP_OPUS_INFO: ObjectIdentifier = oid("1.3.6.1.4.1.311.2.1.12");
const SPC_INDIVIDUAL_CODE_SIGNING: ObjectIdentifier = oid("1.3.6.1.4.1.311.2.1.21");
const CONTENT_TYPE: ObjectIdentifier = oid("1.2.840.113549.1.9.3");
const MESSAGE_DIGEST: ObjectIdentifier = oid("1.2.840.113549.1.9.4");
const SIGNED_DATA: ObjectIdentifier = oid("1.2.840.113549.1.7.2");
const SHA256: ObjectIdentifier = oid("2.16.840.1.101.3.4.2.1");
const RSA_ENCRYPTION: ObjectIdentifier = oid("1.2.840.113549.1.1.1");
const SHA256_WITH_RSA: ObjectIdentifier = oid("1.2.840.113549.1.1.11");
/// What SpcPeImageData's file link has said since Authenticode stopped using it.
const OBSOLETE: &str = "<<<Obsolete>>>";

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct SpcAttributeTypeAndOptionalValue {
    value_type: ObjectIdentifier,
    value: Option<Any>,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct DigestInfo {
    digest_algorithm: AlgorithmIdentifierOwned,
    digest: OctetString,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct SpcIndirectDataContent {
    data: SpcAttributeTypeAndOptionalValue,
    message_digest: DigestInfo,
}

/// What [`parse`] found in a signature blob; the caller checks the RSA signature and the image.
#[derive(Debug)]
pub(crate) struct SignatureParts {
    /// The PE image hash that the signature vouches for.
    pub image_digest: Vec<u8>,
    pub signer: IssuerAndSerialNumber,
    /// The DER of the signed attributes (a SET), which is what the RSA signature covers.
    pub signed_attributes: Vec<u8>,
    pub signature: Vec<u8>,
    /// The DER of each certificate the signature carries, in the blob's (sorted) order.
    pub certificates: Vec<Vec<u8>>,
}

fn sha256_algorithm() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: SHA256,
        parameters: Some(Any::null()),
    }
}

fn null_or_absent(parameters: &Option<Any>) -> bool {
    parameters.as_ref().is_none_or(|p| *p == Any::null())
}

/// SHA-256 with NULL or absent parameters.
fn is_sha256(alg: &AlgorithmIdentifierOwned) -> bool {
    alg.oid == SHA256 && null_or_absent(&alg.parameters)
}

fn der_err(e: der::Error) -> String {
    format!("ASN.1: {e}")
}

fn context(number: u8, mode: TagMode, value: Any) -> Result<Any, String> {
    let wrapped = ContextSpecific {
        tag_number: TagNumber::new(number),
        tag_mode: mode,
        value,
    };
    Any::from_der(&wrapped.to_der().map_err(der_err)?).map_err(der_err)
}

/// SpcPeImageData as signtool writes it: empty flags and the obsolete file link.
fn pe_image_data() -> Result<Any, String> {
    let name = BmpString::from_utf8(OBSOLETE).map_err(der_err)?;
    // [0] IMPLICIT BMPString: the string's content octets under a context tag.
    let unicode = Any::new(
        Tag::ContextSpecific {
            constructed: false,
            number: TagNumber::N0,
        },
        name.as_bytes().to_vec(),
    )
    .map_err(der_err)?;
    let file = context(
        0,
        TagMode::Explicit,
        context(2, TagMode::Explicit, unicode)?,
    )?;
    let mut content = BitString::from_bytes(&[])
        .map_err(der_err)?
        .to_der()
        .map_err(der_err)?;
    content.extend(file.to_der().map_err(der_err)?);
    Any::new(Tag::Sequence, content).map_err(der_err)
}

fn attribute(oid: ObjectIdentifier, value: Any) -> Result<Attribute, String> {
    Ok(Attribute {
        oid,
        values: SetOfVec::try_from(vec![value]).map_err(der_err)?,
    })
}

fn any_of(value: &impl der::Encode) -> Result<Any, String> {
    Any::from_der(&value.to_der().map_err(der_err)?).map_err(der_err)
}

/// Builds the DER PKCS#7 ContentInfo of an Authenticode signature of `image_digest` (SHA-256) by
/// `chain[0]`, whose key `sign` is: it gets the DER of the signed attributes and returns the
/// RSA-PKCS#1 v1.5 SHA-256 signature of them. `chain` goes into the certificates field.
pub(crate) fn build(
    image_digest: &[u8; 32],
    chain: &[Certificate],
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, String>,
) -> Result<Vec<u8>, String> {
    let leaf = chain.first().ok_or("no signing certificate")?;
    let content = SpcIndirectDataContent {
        data: SpcAttributeTypeAndOptionalValue {
            value_type: SPC_PE_IMAGE_DATA,
            value: Some(pe_image_data()?),
        },
        message_digest: DigestInfo {
            digest_algorithm: sha256_algorithm(),
            digest: OctetString::new(image_digest.to_vec()).map_err(der_err)?,
        },
    };
    let content = any_of(&content)?;
    let content_digest = Sha256::digest(content.value());

    // SpcStatementType ::= SEQUENCE OF OBJECT IDENTIFIER
    let statement = any_of(&vec![SPC_INDIVIDUAL_CODE_SIGNING])?;
    let signed_attributes = SetOfVec::try_from(vec![
        attribute(CONTENT_TYPE, any_of(&SPC_INDIRECT_DATA)?)?,
        attribute(
            SPC_SP_OPUS_INFO,
            Any::new(Tag::Sequence, Vec::new()).map_err(der_err)?,
        )?,
        attribute(SPC_STATEMENT_TYPE, statement)?,
        attribute(
            MESSAGE_DIGEST,
            any_of(&OctetString::new(content_digest.to_vec()).map_err(der_err)?)?,
        )?,
    ])
    .map_err(der_err)?;
    let signature = sign(&signed_attributes.to_der().map_err(der_err)?)?;

    let signer = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: leaf.tbs_certificate.issuer.clone(),
            serial_number: leaf.tbs_certificate.serial_number.clone(),
        }),
        digest_alg: sha256_algorithm(),
        signed_attrs: Some(signed_attributes),
        signature_algorithm: AlgorithmIdentifierOwned {
            oid: RSA_ENCRYPTION,
            parameters: Some(Any::null()),
        },
        signature: OctetString::new(signature).map_err(der_err)?,
        unsigned_attrs: None,
    };
    let certificates = chain
        .iter()
        .cloned()
        .map(CertificateChoices::Certificate)
        .collect::<Vec<_>>();
    let signed_data = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::try_from(vec![sha256_algorithm()]).map_err(der_err)?,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: SPC_INDIRECT_DATA,
            econtent: Some(content),
        },
        certificates: Some(CertificateSet(
            SetOfVec::try_from(certificates).map_err(der_err)?,
        )),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::try_from(vec![signer]).map_err(der_err)?),
    };
    ContentInfo {
        content_type: SIGNED_DATA,
        content: any_of(&signed_data)?,
    }
    .to_der()
    .map_err(der_err)
}

fn attribute_value(attrs: &SetOfVec<Attribute>, oid: ObjectIdentifier) -> Result<&Any, String> {
    let mut found = attrs.iter().filter(|a| a.oid == oid);
    match (found.next(), found.next()) {
        (Some(a), None) if a.values.len() == 1 => a.values.get(0).ok_or_else(String::new),
        (None, _) => Err(format!("no {oid} signed attribute")),
        _ => Err(format!("more than one {oid} signed attribute value")),
    }
}

/// Parses a signature blob (the DER ContentInfo, possibly followed by zero padding) and checks
/// its structure: one SignerInfo, SHA-256 everywhere, an SpcIndirectDataContent for a PE image,
/// and signed contentType and messageDigest attributes that match that content.
pub(crate) fn parse(blob: &[u8]) -> Result<SignatureParts, String> {
    let mut reader = SliceReader::new(blob).map_err(der_err)?;
    let info = ContentInfo::decode(&mut reader).map_err(der_err)?;
    let rest = reader.read_slice(reader.remaining_len()).map_err(der_err)?;
    if rest.iter().any(|b| *b != 0) {
        return Err("bytes other than padding after the signature".into());
    }
    if info.content_type != SIGNED_DATA {
        return Err(format!(
            "content type {}, not signedData",
            info.content_type
        ));
    }
    let signed: SignedData = info.content.decode_as().map_err(der_err)?;
    if signed.version != CmsVersion::V1 {
        return Err(format!("SignedData version {:?}, not 1", signed.version));
    }
    if signed.digest_algorithms.len() != 1 || !signed.digest_algorithms.iter().all(is_sha256) {
        return Err("the digest algorithms are not just SHA-256".into());
    }
    let encap = &signed.encap_content_info;
    if encap.econtent_type != SPC_INDIRECT_DATA {
        return Err(format!(
            "content {}, not SpcIndirectDataContent",
            encap.econtent_type
        ));
    }
    let content = encap.econtent.as_ref().ok_or("no SpcIndirectDataContent")?;
    let indirect: SpcIndirectDataContent = content.decode_as().map_err(der_err)?;
    if indirect.data.value_type != SPC_PE_IMAGE_DATA {
        return Err(format!(
            "{} data, not a PE image's",
            indirect.data.value_type
        ));
    }
    if !is_sha256(&indirect.message_digest.digest_algorithm) {
        return Err(format!(
            "image hash algorithm {}, not SHA-256",
            indirect.message_digest.digest_algorithm.oid
        ));
    }
    let mut signers = signed.signer_infos.0.iter();
    let signer = match (signers.next(), signers.next()) {
        (Some(s), None) => s,
        _ => return Err("not exactly one signer".into()),
    };
    if signer.version != CmsVersion::V1 || !is_sha256(&signer.digest_alg) {
        return Err(format!(
            "signer version {:?} digest {}, not 1 and SHA-256",
            signer.version, signer.digest_alg.oid
        ));
    }
    let algorithm = &signer.signature_algorithm;
    if ![RSA_ENCRYPTION, SHA256_WITH_RSA].contains(&algorithm.oid)
        || !null_or_absent(&algorithm.parameters)
    {
        return Err(format!(
            "signature algorithm {}, not RSA",
            signer.signature_algorithm.oid
        ));
    }
    let SignerIdentifier::IssuerAndSerialNumber(sid) = &signer.sid else {
        return Err("the signer is not named by issuer and serial number".into());
    };
    let attrs = signer.signed_attrs.as_ref().ok_or("no signed attributes")?;
    let content_type: ObjectIdentifier = attribute_value(attrs, CONTENT_TYPE)?
        .decode_as()
        .map_err(der_err)?;
    if content_type != SPC_INDIRECT_DATA {
        return Err("the signed content type is not SpcIndirectDataContent".into());
    }
    let digest: OctetString = attribute_value(attrs, MESSAGE_DIGEST)?
        .decode_as()
        .map_err(der_err)?;
    if digest.as_bytes() != Sha256::digest(content.value()).as_slice() {
        return Err("the signed message digest does not match the SpcIndirectDataContent".into());
    }
    if signer.unsigned_attrs.is_some() || signed.crls.is_some() {
        return Err("unsigned attributes or CRLs (a countersignature?) are not ours".into());
    }
    let certificates = signed
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .map(|choice| match choice {
            CertificateChoices::Certificate(cert) => cert.to_der().map_err(der_err),
            CertificateChoices::Other(_) => Err("a certificate that is not X.509".to_string()),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SignatureParts {
        certificates,
        image_digest: indirect.message_digest.digest.as_bytes().to_vec(),
        signer: sid.clone(),
        signed_attributes: attrs.to_der().map_err(der_err)?,
        signature: signer.signature.as_bytes().to_vec(),
    })
}
