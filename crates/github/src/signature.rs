//! GitHub's webhook signature: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>`,
//! checked in constant time against each configured secret. Taskcluster-GitHub's rules: a
//! signature with no secret configured, or a secret with no signature, is 400; a mismatch is 403.

use hmac::{Hmac, Mac};
use relyard_core::error::{ApiError, ErrorCode};
use sha2::Sha256;

pub const HEADER: &str = "x-hub-signature-256";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("Request missing a secret")]
    Missing,
    #[error("Server is not setup to handle secrets")]
    NoSecrets,
    #[error("X-hub-signature does not match; bad webhook secret?")]
    Mismatch,
}

impl From<SignatureError> for ApiError {
    fn from(e: SignatureError) -> ApiError {
        match e {
            SignatureError::Missing | SignatureError::NoSecrets => ApiError::input(e.to_string()),
            SignatureError::Mismatch => ApiError::new(ErrorCode::InsufficientScopes, e.to_string()),
        }
    }
}

/// Checks `header` (the value of `X-Hub-Signature-256`, if any) over the raw `body`.
pub fn verify(secrets: &[String], header: Option<&str>, body: &[u8]) -> Result<(), SignatureError> {
    let header = match (header, secrets.is_empty()) {
        (None, true) => return Ok(()),
        (None, false) => return Err(SignatureError::Missing),
        (Some(_), true) => return Err(SignatureError::NoSecrets),
        (Some(h), false) => h,
    };
    let signature = header
        .strip_prefix("sha256=")
        .and_then(|hex_digits| hex::decode(hex_digits.trim()).ok())
        .ok_or(SignatureError::Mismatch)?;
    let matches = |secret: &String| {
        Hmac::<Sha256>::new_from_slice(secret.as_bytes())
            .map(|mut mac| {
                mac.update(body);
                mac.verify_slice(&signature).is_ok()
            })
            .unwrap_or(false)
    };
    // Every secret is tried, so the time taken does not say which one matched.
    let matched = secrets.iter().fold(false, |found, s| matches(s) | found);
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The header value GitHub would send for `body` signed with `secret` (for tests and tools).
pub fn sign(secret: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length, so this never fails.
    Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .map(|mut mac| {
            mac.update(body);
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example from GitHub's "Validating webhook deliveries" documentation.
    const DOC_SECRET: &str = "It's a Secret to Everybody";
    const DOC_BODY: &[u8] = b"Hello, World!";
    const DOC_SIGNATURE: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    #[test]
    fn github_documented_example() {
        assert_eq!(sign(DOC_SECRET, DOC_BODY), DOC_SIGNATURE);
        let secrets = vec!["old".to_string(), DOC_SECRET.to_string()];
        assert_eq!(verify(&secrets, Some(DOC_SIGNATURE), DOC_BODY), Ok(()));
    }

    #[test]
    fn refusals() {
        let secrets = vec![DOC_SECRET.to_string()];
        assert_eq!(
            verify(&secrets, None, DOC_BODY),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(&[], Some(DOC_SIGNATURE), DOC_BODY),
            Err(SignatureError::NoSecrets)
        );
        assert_eq!(verify(&[], None, DOC_BODY), Ok(()));
        assert_eq!(
            verify(&secrets, Some(DOC_SIGNATURE), b"Hello, World?"),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&secrets, Some("sha256=zz"), DOC_BODY),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&secrets, Some(&DOC_SIGNATURE[7..]), DOC_BODY),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(ApiError::from(SignatureError::Missing).status(), 400);
        assert_eq!(ApiError::from(SignatureError::Mismatch).status(), 403);
    }
}
