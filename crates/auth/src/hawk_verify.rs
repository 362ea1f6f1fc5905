//! Hawk request verification (the `hawk` crate does the MAC; this module decides which request
//! string, host and port it is checked against, and decodes Taskcluster's `ext`).

use std::str::FromStr;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hawk::{Bewit, DigestAlgorithm, Header, Key, PayloadHasher, RequestBuilder};
use serde::Deserialize;
use serde_json::Value;

use crate::tempcreds::Certificate;

/// Taskcluster accepts timestamps this far from its own clock.
pub const CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

/// What a request presents to be checked.
#[derive(Debug, Clone)]
pub struct HawkInput<'a> {
    pub method: &'a str,
    /// Path and query exactly as sent (still percent-encoded).
    pub resource: &'a str,
    pub host: &'a str,
    pub port: u16,
    pub authorization: Option<&'a str>,
    /// Content type (without parameters) and body, checked when the header carries a `hash`;
    /// `None` when the body is not known (authenticateHawk), and then it is not checked.
    pub payload: Option<(&'a str, &'a [u8])>,
}

/// The credentials a request carries.
#[derive(Debug, Clone)]
pub enum Presented {
    Anonymous,
    Header(Header),
    /// A bewit with the resource it signs (the request's with the `bewit` parameter removed).
    Bewit {
        bewit: Bewit<'static>,
        resource: String,
    },
}

impl Presented {
    /// Reads the `Authorization` header and the `bewit` query parameter; a request with both is
    /// refused, as Taskcluster does.
    pub fn from_request(input: &HawkInput<'_>) -> Result<Presented, String> {
        match (input.authorization, has_bewit(input.resource)) {
            (Some(_), true) => {
                Err("request carries both an Authorization header and a bewit".into())
            }
            (Some(auth), false) => {
                let rest = auth
                    .strip_prefix("Hawk ")
                    .ok_or_else(|| "Authorization header is not a Hawk header".to_string())?;
                let header = Header::from_str(rest).map_err(|e| format!("bad Hawk header: {e}"))?;
                if header.id.is_none() {
                    return Err("Hawk header has no id".into());
                }
                Ok(Presented::Header(header))
            }
            (None, true) => {
                let (bewit, resource) = split_bewit(input.resource)?;
                Ok(Presented::Bewit { bewit, resource })
            }
            (None, false) => Ok(Presented::Anonymous),
        }
    }

    pub fn id(&self) -> Option<&str> {
        match self {
            Presented::Anonymous => None,
            Presented::Header(h) => h.id.as_deref(),
            Presented::Bewit { bewit, .. } => Some(bewit.id()),
        }
    }

    pub fn ext(&self) -> Option<&str> {
        match self {
            Presented::Anonymous => None,
            Presented::Header(h) => h.ext.as_deref(),
            Presented::Bewit { bewit, .. } => bewit.ext(),
        }
    }

    /// Checks the MAC (and payload hash, timestamp or bewit expiry) with `access_token` as key.
    pub fn verify(&self, input: &HawkInput<'_>, access_token: &str) -> bool {
        let Ok(key) = Key::new(access_token.as_bytes(), DigestAlgorithm::Sha256) else {
            return false;
        };
        match self {
            Presented::Anonymous => false,
            Presented::Header(header) => {
                let local_hash = match (&header.hash, input.payload) {
                    (Some(_), Some((content_type, body))) => {
                        match PayloadHasher::hash(
                            content_type.as_bytes(),
                            DigestAlgorithm::Sha256,
                            body,
                        ) {
                            Ok(h) => Some(h),
                            Err(_) => return false,
                        }
                    }
                    // No body to check (authenticateHawk is given the request without it):
                    // the MAC covers the hash the client claimed, and the body is not checked,
                    // as in Taskcluster. Hashing an empty body here refused every such request.
                    (Some(claimed), None) => Some(claimed.clone()),
                    (None, _) => None,
                };
                let request =
                    RequestBuilder::new(input.method, input.host, input.port, input.resource)
                        .hash(local_hash.as_deref())
                        .request();
                request.validate_header(header, &key, CLOCK_SKEW)
            }
            Presented::Bewit { bewit, resource } => {
                let request =
                    RequestBuilder::new(input.method, input.host, input.port, resource).request();
                request.validate_bewit(bewit, &key)
            }
        }
    }
}

/// True when the query of `resource` (path and query) has a `bewit` parameter.
pub fn has_bewit(resource: &str) -> bool {
    resource
        .split_once('?')
        .is_some_and(|(_, q)| q.split('&').any(|p| p.starts_with("bewit=")))
}

/// Takes the single `bewit=` parameter out of `resource`, returning it and the resource it signs.
fn split_bewit(resource: &str) -> Result<(Bewit<'static>, String), String> {
    let (path, query) = resource.split_once('?').unwrap_or((resource, ""));
    let (bewits, rest): (Vec<&str>, Vec<&str>) =
        query.split('&').partition(|p| p.starts_with("bewit="));
    let [value] = bewits.as_slice() else {
        return Err("more than one bewit".into());
    };
    let bewit = Bewit::from_str(&value["bewit=".len()..]).map_err(|e| format!("bad bewit: {e}"))?;
    let rest: Vec<&str> = rest.into_iter().filter(|p| !p.is_empty()).collect();
    let resource = if rest.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", rest.join("&"))
    };
    Ok((bewit, resource))
}

/// Taskcluster's `ext`: base64 JSON with an optional certificate and `authorizedScopes`.
#[derive(Debug, Default, Clone)]
pub struct Ext {
    pub certificate: Option<Certificate>,
    pub authorized_scopes: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireExt {
    certificate: Option<Value>,
    authorized_scopes: Option<Vec<String>>,
}

pub fn parse_ext(ext: &str) -> Result<Ext, String> {
    let raw = STANDARD
        .decode(ext.trim())
        .map_err(|_| "ext is not valid base64".to_string())?;
    let wire: WireExt =
        serde_json::from_slice(&raw).map_err(|e| format!("ext is not valid JSON: {e}"))?;
    let certificate = match wire.certificate {
        None | Some(Value::Null) => None,
        // Clients should send an object, but some send the TASKCLUSTER_CERTIFICATE string as-is.
        Some(Value::String(s)) => Some(
            serde_json::from_str(&s)
                .map_err(|e| format!("ext.certificate is not a valid certificate: {e}"))?,
        ),
        Some(v @ Value::Object(_)) => Some(
            serde_json::from_value(v)
                .map_err(|e| format!("ext.certificate is not a valid certificate: {e}"))?,
        ),
        Some(_) => return Err("ext.certificate must be an object".into()),
    };
    Ok(Ext {
        certificate,
        authorized_scopes: wire.authorized_scopes,
    })
}
