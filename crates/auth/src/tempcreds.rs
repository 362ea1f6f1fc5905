//! Temporary credentials, as Taskcluster's clients issue them and its auth
//! service checks them (reference §2.2).
//!
//! A client holding permanent credentials can mint, offline, credentials with
//! a subset of its scopes and a bounded lifetime: a *certificate* signed with
//! its access token, plus an access token derived from the same token and a
//! random seed. The service recomputes both from the issuer's stored token.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::scopes::is_valid_scope;

type HmacSha256 = Hmac<Sha256>;

/// The longest a certificate may last.
pub const MAX_CERTIFICATE_DURATION_MS: i64 = 31 * 24 * 60 * 60 * 1000;
/// Clock skew tolerated on `start` and `expiry`.
pub const CERTIFICATE_SKEW_MS: i64 = 5 * 60 * 1000;

/// The certificate carried in Hawk's `ext` (and `TASKCLUSTER_CERTIFICATE`).
///
/// Field order matters for byte-identical output with the official clients:
/// `version, scopes, start, expiry, seed, signature[, issuer]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Certificate {
    pub version: u32,
    pub scopes: Vec<String>,
    /// Milliseconds since the epoch.
    pub start: i64,
    /// Milliseconds since the epoch.
    pub expiry: i64,
    pub seed: String,
    /// Base64 (standard, padded) HMAC-SHA256; see [`certificate_signature`].
    pub signature: String,
    /// Set for *named* temporary credentials: the permanent client that
    /// issued them (the credentials' own clientId is then the name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
}

fn hmac_for(key: &str) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    <HmacSha256 as Mac>::new_from_slice(key.as_bytes()).expect("HMAC takes any key length")
}

/// The signed text, one item per line, no trailing newline:
/// `version:1`, for named credentials `clientId:<name>` and
/// `issuer:<issuer>`, then `seed:`, `start:`, `expiry:`, `scopes:` and one
/// line per scope.
fn signed_text(cert: &Certificate, named_client_id: Option<&str>) -> String {
    let mut lines = vec![format!("version:{}", cert.version)];
    if let Some(name) = named_client_id {
        lines.push(format!("clientId:{name}"));
        lines.push(format!(
            "issuer:{}",
            cert.issuer.as_deref().unwrap_or_default()
        ));
    }
    lines.push(format!("seed:{}", cert.seed));
    lines.push(format!("start:{}", cert.start));
    lines.push(format!("expiry:{}", cert.expiry));
    lines.push("scopes:".to_string());
    lines.extend(cert.scopes.iter().cloned());
    lines.join("\n")
}

/// The certificate's signature: base64 HMAC-SHA256 keyed with the issuer's
/// access token. `named_client_id` is the credentials' clientId when they are
/// named (then `cert.issuer` names the issuer); `None` for unnamed ones.
pub fn certificate_signature(
    issuer_access_token: &str,
    cert: &Certificate,
    named_client_id: Option<&str>,
) -> String {
    let mut mac = hmac_for(issuer_access_token);
    mac.update(signed_text(cert, named_client_id).as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Check `cert.signature` in constant time. A signature that is not valid
/// base64 simply does not verify.
pub fn verify_certificate_signature(
    issuer_access_token: &str,
    cert: &Certificate,
    named_client_id: Option<&str>,
) -> bool {
    let Ok(given) = STANDARD.decode(cert.signature.as_bytes()) else {
        return false;
    };
    let mut mac = hmac_for(issuer_access_token);
    mac.update(signed_text(cert, named_client_id).as_bytes());
    mac.verify_slice(&given).is_ok()
}

/// The temporary access token: base64url, unpadded, HMAC-SHA256 of the seed
/// keyed with the issuer's access token. Only the issuer (and the service)
/// can derive it, so the certificate itself can travel in the clear.
pub fn temporary_access_token(issuer_access_token: &str, seed: &str) -> String {
    let mut mac = hmac_for(issuer_access_token);
    mac.update(seed.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Constant-time equality for secrets such as access tokens, so that timing
/// does not reveal how many leading bytes of a guess were right.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    // Comparing MACs of both sides under a fixed key keeps the comparison
    // independent of where the strings differ and of their lengths.
    let digest = |s: &str| {
        let mut mac = hmac_for("relyard constant-time comparison");
        mac.update(s.as_bytes());
        mac.finalize().into_bytes()
    };
    let mut mac = hmac_for("relyard constant-time comparison");
    mac.update(a.as_bytes());
    mac.verify(&digest(b)).is_ok()
}

/// The service-side checks on a certificate that need nothing but the
/// certificate and the clock (`now_ms`, milliseconds since the epoch). The
/// error texts are Taskcluster's. Still to be checked by the caller: the
/// signature, that the issuer's scopes satisfy `AllOf cert.scopes`, and
/// `auth:create-client:<name>` for named credentials.
pub fn check_certificate_limits(cert: &Certificate, now_ms: i64) -> Result<(), String> {
    if cert.version != 1 {
        return Err("ext.certificate.version must be 1".into());
    }
    if cert.seed.len() != 44 {
        return Err("ext.certificate.seed must be 44 characters".into());
    }
    if !cert.scopes.iter().all(|s| is_valid_scope(s)) {
        return Err("ext.certificate.scopes must be an array of valid scopes".into());
    }
    if cert.start > now_ms.saturating_add(CERTIFICATE_SKEW_MS) {
        return Err("ext.certificate.start > now".into());
    }
    if cert.expiry < now_ms.saturating_sub(CERTIFICATE_SKEW_MS) {
        return Err("ext.certificate.expiry < now".into());
    }
    if cert.expiry.saturating_sub(cert.start) > MAX_CERTIFICATE_DURATION_MS {
        return Err("ext.certificate cannot last longer than 31 days!".into());
    }
    Ok(())
}

/// A random v4 slugid: a version-4 UUID, base64url without padding (22 chars).
fn slugid_v4() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Mint temporary credentials as the official clients do: returns
/// `(client_id, access_token, certificate)`. The clientId is `name` for named
/// credentials (then `certificate.issuer` is the issuer), otherwise the
/// issuer's own clientId. The seed is two random slugids (44 characters).
///
/// Nothing is validated here, as the server decides; callers wanting to fail
/// early can run [`check_certificate_limits`] on the result.
pub fn create_temporary_credentials(
    issuer_client_id: &str,
    issuer_access_token: &str,
    scopes: &[String],
    start: i64,
    expiry: i64,
    name: Option<&str>,
) -> (String, String, Certificate) {
    let mut cert = Certificate {
        version: 1,
        scopes: scopes.to_vec(),
        start,
        expiry,
        seed: format!("{}{}", slugid_v4(), slugid_v4()),
        signature: String::new(),
        issuer: name.map(|_| issuer_client_id.to_string()),
    };
    cert.signature = certificate_signature(issuer_access_token, &cert, name);
    let access_token = temporary_access_token(issuer_access_token, &cert.seed);
    let client_id = name.unwrap_or(issuer_client_id).to_string();
    (client_id, access_token, cert)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "tokenABCDEFGH";
    const SEED: &str = "JYR4wzMCTG6XeDS2cDUCMwH0RFUXGfQjK7LgqD-e6lSQ";
    const START: i64 = 1438964811744;
    const EXPIRY: i64 = 1439051211744;
    const ISSUER: &str = "def/ghi@XXX";
    const NAME: &str = "abc/def/ghi";
    const UNNAMED_SIG: &str = "45AlB/hKZZZz4Tf3NaidutasfgBnr4t2AxwBiGDQF9Q=";
    const NAMED_SIG: &str = "nNEaLtZMiw627NuDbF5Z8HDFc57MGWCptXBQSYNFgBk=";
    const TEMP_TOKEN: &str = "R4OVHWpIvy6KsqS4AWE51QwbvgLvsstS6e6UW8IfHUY";

    fn cert(issuer: Option<&str>) -> Certificate {
        Certificate {
            version: 1,
            scopes: vec!["scope/asd:fhjdf/X".into(), "scope/asd:fhjdf/XYZ*".into()],
            start: START,
            expiry: EXPIRY,
            seed: SEED.into(),
            signature: String::new(),
            issuer: issuer.map(String::from),
        }
    }

    /// `clients/client-go/testcases.json`, unnamed (cases 1 and 3).
    #[test]
    fn unnamed_vector() {
        let mut c = cert(None);
        c.signature = certificate_signature(TOKEN, &c, None);
        assert_eq!(c.signature, UNNAMED_SIG);
        assert_eq!(temporary_access_token(TOKEN, SEED), TEMP_TOKEN);
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"version":1,"scopes":["scope/asd:fhjdf/X","scope/asd:fhjdf/XYZ*"],"start":1438964811744,"expiry":1439051211744,"seed":"JYR4wzMCTG6XeDS2cDUCMwH0RFUXGfQjK7LgqD-e6lSQ","signature":"45AlB/hKZZZz4Tf3NaidutasfgBnr4t2AxwBiGDQF9Q="}"#
        );
        assert!(verify_certificate_signature(TOKEN, &c, None));
    }

    /// `clients/client-go/testcases.json`, named (cases 2 and 4).
    #[test]
    fn named_vector() {
        let mut c = cert(Some(ISSUER));
        c.signature = certificate_signature(TOKEN, &c, Some(NAME));
        assert_eq!(c.signature, NAMED_SIG);
        let json = r#"{"version":1,"scopes":["scope/asd:fhjdf/X","scope/asd:fhjdf/XYZ*"],"start":1438964811744,"expiry":1439051211744,"seed":"JYR4wzMCTG6XeDS2cDUCMwH0RFUXGfQjK7LgqD-e6lSQ","signature":"nNEaLtZMiw627NuDbF5Z8HDFc57MGWCptXBQSYNFgBk=","issuer":"def/ghi@XXX"}"#;
        assert_eq!(serde_json::to_string(&c).unwrap(), json);
        let parsed: Certificate = serde_json::from_str(json).unwrap();
        assert_eq!(parsed, c);
        assert!(verify_certificate_signature(TOKEN, &parsed, Some(NAME)));
        // the name is signed: another name, or treating it as unnamed, fails
        assert!(!verify_certificate_signature(
            TOKEN,
            &parsed,
            Some("abc/def/xyz")
        ));
        assert!(!verify_certificate_signature(TOKEN, &parsed, None));
    }

    #[test]
    fn verification_rejects_tampering() {
        let mut c = cert(None);
        c.signature = UNNAMED_SIG.into();
        assert!(verify_certificate_signature(TOKEN, &c, None));
        assert!(!verify_certificate_signature("tokenABCDEFGX", &c, None));
        let mut more = c.clone();
        more.scopes.push("*".into());
        assert!(!verify_certificate_signature(TOKEN, &more, None));
        let mut later = c.clone();
        later.expiry += 1;
        assert!(!verify_certificate_signature(TOKEN, &later, None));
        let mut garbage = c.clone();
        garbage.signature = "not base64!".into();
        assert!(!verify_certificate_signature(TOKEN, &garbage, None));
        let mut truncated = c;
        truncated.signature = UNNAMED_SIG[..20].into();
        assert!(!verify_certificate_signature(TOKEN, &truncated, None));
    }

    #[test]
    fn certificate_without_issuer_parses() {
        let json = r#"{"version":1,"scopes":[],"start":1,"expiry":2,"seed":"s","signature":"x"}"#;
        let c: Certificate = serde_json::from_str(json).unwrap();
        assert_eq!(c.issuer, None);
        assert!(c.scopes.is_empty());
    }

    #[test]
    fn limits() {
        let now = START + 1000;
        let mut c = cert(None);
        assert_eq!(check_certificate_limits(&c, now), Ok(()));

        let mut bad = c.clone();
        bad.version = 2;
        assert!(check_certificate_limits(&bad, now).is_err());

        let mut bad = c.clone();
        bad.seed.pop();
        assert!(check_certificate_limits(&bad, now).is_err());

        let mut bad = c.clone();
        bad.scopes.push("bad\nscope".into());
        assert!(check_certificate_limits(&bad, now).is_err());

        // start may be up to 5 minutes in the future
        c.start = now + CERTIFICATE_SKEW_MS;
        assert_eq!(check_certificate_limits(&c, now), Ok(()));
        c.start = now + CERTIFICATE_SKEW_MS + 1;
        assert_eq!(
            check_certificate_limits(&c, now),
            Err("ext.certificate.start > now".into())
        );

        // expiry may be up to 5 minutes in the past
        let mut c = cert(None);
        c.expiry = now - CERTIFICATE_SKEW_MS;
        assert_eq!(check_certificate_limits(&c, now), Ok(()));
        c.expiry -= 1;
        assert_eq!(
            check_certificate_limits(&c, now),
            Err("ext.certificate.expiry < now".into())
        );

        // at most 31 days
        let mut c = cert(None);
        c.expiry = c.start + MAX_CERTIFICATE_DURATION_MS;
        assert_eq!(check_certificate_limits(&c, now), Ok(()));
        c.expiry += 1;
        assert!(check_certificate_limits(&c, now).is_err());

        // extreme values do not overflow
        let mut c = cert(None);
        c.start = i64::MIN;
        c.expiry = i64::MAX;
        assert!(check_certificate_limits(&c, now).is_err());
        assert!(check_certificate_limits(&cert(None), i64::MAX).is_err());
        assert!(check_certificate_limits(&cert(None), i64::MIN).is_err());
    }

    #[test]
    fn created_credentials_verify() {
        let scopes = vec!["queue:get-artifact:*".to_string()];
        let (id, token, c) =
            create_temporary_credentials(ISSUER, TOKEN, &scopes, START, EXPIRY, None);
        assert_eq!(id, ISSUER);
        assert_eq!(c.issuer, None);
        assert_eq!(c.seed.len(), 44);
        assert!(c
            .seed
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(c.scopes, scopes);
        assert_eq!(token, temporary_access_token(TOKEN, &c.seed));
        assert!(verify_certificate_signature(TOKEN, &c, None));
        assert_eq!(check_certificate_limits(&c, START), Ok(()));

        let (id, token2, named) =
            create_temporary_credentials(ISSUER, TOKEN, &scopes, START, EXPIRY, Some(NAME));
        assert_eq!(id, NAME);
        assert_eq!(named.issuer.as_deref(), Some(ISSUER));
        assert!(verify_certificate_signature(TOKEN, &named, Some(NAME)));
        // fresh randomness every time
        assert_ne!(c.seed, named.seed);
        assert_ne!(token, token2);
    }

    #[test]
    fn slugids_are_version_4() {
        for _ in 0..200 {
            let s = slugid_v4();
            assert_eq!(s.len(), 22);
            let bytes = URL_SAFE_NO_PAD.decode(&s).unwrap();
            assert_eq!(bytes[6] >> 4, 4);
            assert_eq!(bytes[8] >> 6, 0b10);
        }
    }

    #[test]
    fn constant_time_equality() {
        assert!(constant_time_eq(TEMP_TOKEN, TEMP_TOKEN));
        assert!(!constant_time_eq(TEMP_TOKEN, &TEMP_TOKEN[1..]));
        assert!(!constant_time_eq("a", "b"));
        assert!(constant_time_eq("", ""));
    }
}
