//! Stateless signing tokens: short-lived, bound to the caller's address and to a list of formats,
//! MACed by the server with HMAC-SHA256 under a key ring.
//!
//! Like the seed's tokens (reference §1.1) nothing is stored per token, so any server holding the
//! ring verifies any other's tokens and a restart forgets nothing. Unlike the seed, the key that
//! made a token is named in it (`kid`), so verification tries exactly one key, and a rotation is:
//! add the new key first (it signs from then on, the old one still verifies), then remove the old
//! key once its last tokens have expired (at most [`MAX_LIFETIME`] later).
//!
//! Text form: `base64url(claims JSON) "." base64url(HMAC-SHA256(key, CONTEXT || claims part))`,
//! unpadded, so it goes into headers, query strings and form fields unchanged. The MAC covers the
//! encoded claims exactly as sent, so no JSON canonicalisation is needed; `CONTEXT` keeps a MAC
//! made for anything else under the same secret from ever passing as a token.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::networks::canonical_ip;
use crate::formats::Format;
use crate::keystore::validate_key_id;

type HmacSha256 = Hmac<Sha256>;

/// The longest lifetime a token may be issued with (issue 6: "short-lived (≤ 1 h)").
pub const MAX_LIFETIME: Duration = Duration::from_secs(3600);

/// How far ahead of this server's clock a token's start may be: tokens issued by another server
/// of the ring whose clock runs a little fast are still usable at once. Expiry gets no slack, so
/// no token is ever usable for more than its lifetime after its start.
pub const CLOCK_SKEW: Duration = Duration::from_secs(60);

/// Token secrets shorter than this are refused: HMAC-SHA256 keys should be at least the hash size.
pub const MIN_SECRET_LEN: usize = 32;

/// The claims version this code writes and the only one it reads.
const VERSION: u8 = 1;

/// Domain separation for the MAC (see the module comment).
const CONTEXT: &[u8] = b"relyard-signing-token-v1\0";

/// Longer token text is refused before it is decoded: real tokens are a few hundred bytes, and
/// the JSON of an unauthenticated token should not be parsed at any size.
const MAX_TOKEN_LEN: usize = 4096;

/// Owners are relyard clientIds; this bound only keeps tokens small.
const MAX_OWNER_LEN: usize = 256;

/// What a token says. Returned by a successful verification, for the audit log (owner, address)
/// and for the request itself (formats).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    /// Claims version; 1 is the only one.
    pub v: u8,
    /// Id of the ring key that made the MAC.
    pub kid: String,
    /// Who the token was issued to: the relyard clientId that asked for it.
    pub owner: String,
    /// The only address the token may be used from (canonical: IPv4-mapped IPv6 is IPv4).
    pub addr: IpAddr,
    /// The formats it may sign. Strings rather than [`Format`] so that a token naming a format
    /// this server does not know yet (a newer server of the ring issued it) still works for the
    /// formats it does know.
    pub formats: Vec<String>,
    /// Not valid before, Unix seconds.
    pub nbf: i64,
    /// Not valid from this time on, Unix seconds.
    pub exp: i64,
    /// 16 random bytes (base64url): makes every token distinct, and names it in the audit log.
    pub jti: String,
}

impl Claims {
    pub fn allows_format(&self, format: Format) -> bool {
        self.formats.iter().any(|f| f == format.as_str())
    }

    pub fn not_before(&self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp(self.nbf, 0)
    }

    pub fn expires(&self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp(self.exp, 0)
    }
}

/// Why a key ring could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenKeyError {
    #[error(
        "invalid token key id `{0}`: use 1-64 of A-Z a-z 0-9 . _ - (it is written into every token)"
    )]
    InvalidKeyId(String),
    #[error("token key `{id}`: the secret is {len} bytes; at least {MIN_SECRET_LEN} are needed")]
    ShortSecret { id: String, len: usize },
    #[error("the token key ring is empty; at least one key is needed to issue tokens")]
    EmptyRing,
    #[error("token key id `{0}` appears twice in the key ring")]
    DuplicateKeyId(String),
}

/// Why a token was not issued. Each is the caller's request being refused, not a server fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssueError {
    #[error("token lifetime {requested:?} is longer than the maximum of {MAX_LIFETIME:?}")]
    LifetimeTooLong { requested: Duration },
    #[error("token lifetime must be at least one second")]
    LifetimeTooShort,
    #[error("a token needs at least one format")]
    NoFormats,
    #[error("a token needs an owner of 1-{MAX_OWNER_LEN} bytes")]
    BadOwner,
}

/// Why a token was refused. The server answers every one of these with 403 and signs nothing;
/// the variants exist for the server's log and for tests, not to tell the caller which check
/// failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    #[error("token made with key `{0}`, which is not in the key ring (removed, or another ring)")]
    UnknownKey(String),
    #[error("token MAC does not verify (the token was altered, or made with another secret)")]
    BadMac,
    #[error("token expired at {expired}")]
    Expired { expired: DateTime<Utc> },
    #[error("token is not valid before {not_before}")]
    NotYetValid { not_before: DateTime<Utc> },
    #[error("token is bound to {token} but the request came from {caller}")]
    WrongAddress { token: IpAddr, caller: IpAddr },
    #[error("token does not allow format `{0}`")]
    FormatNotAllowed(Format),
}

/// One secret of the ring. `Debug` shows the id only.
pub struct TokenKey {
    id: String,
    secret: Zeroizing<Vec<u8>>,
}

impl TokenKey {
    pub fn new(id: &str, secret: &[u8]) -> Result<Self, TokenKeyError> {
        validate_key_id(id).map_err(|_| TokenKeyError::InvalidKeyId(id.to_string()))?;
        if secret.len() < MIN_SECRET_LEN {
            return Err(TokenKeyError::ShortSecret {
                id: id.to_string(),
                len: secret.len(),
            });
        }
        Ok(Self {
            id: id.to_string(),
            secret: Zeroizing::new(secret.to_vec()),
        })
    }

    /// A fresh random key, for tests and single-server setups that need no shared ring.
    pub fn generate(id: &str) -> Result<Self, TokenKeyError> {
        let secret = Zeroizing::new(rand::random::<[u8; 32]>());
        Self::new(id, secret.as_ref())
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length, so this cannot fail; the match keeps that out of a panic.
        let mut mac = match HmacSha256::new_from_slice(&self.secret) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        mac.update(CONTEXT);
        mac
    }
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The token key ring: the first key issues, every key verifies.
#[derive(Debug)]
pub struct TokenKeys {
    keys: Vec<TokenKey>,
}

impl TokenKeys {
    pub fn new(keys: Vec<TokenKey>) -> Result<Self, TokenKeyError> {
        if keys.is_empty() {
            return Err(TokenKeyError::EmptyRing);
        }
        for (i, key) in keys.iter().enumerate() {
            if keys[..i].iter().any(|k| k.id == key.id) {
                return Err(TokenKeyError::DuplicateKeyId(key.id.clone()));
            }
        }
        Ok(Self { keys })
    }

    /// The id of the key that issues.
    pub fn signing_key_id(&self) -> &str {
        &self.keys[0].id
    }

    /// Issues a token for `owner`, usable from `addr` only, for `formats`, from `now` for
    /// `lifetime` (whole seconds; at most [`MAX_LIFETIME`]).
    pub fn issue(
        &self,
        owner: &str,
        addr: IpAddr,
        formats: &[Format],
        lifetime: Duration,
        now: DateTime<Utc>,
    ) -> Result<String, IssueError> {
        if lifetime > MAX_LIFETIME {
            return Err(IssueError::LifetimeTooLong {
                requested: lifetime,
            });
        }
        if lifetime.as_secs() == 0 {
            return Err(IssueError::LifetimeTooShort);
        }
        if formats.is_empty() {
            return Err(IssueError::NoFormats);
        }
        if owner.is_empty() || owner.len() > MAX_OWNER_LEN {
            return Err(IssueError::BadOwner);
        }
        let mut names: Vec<String> = Vec::with_capacity(formats.len());
        for f in formats {
            if !names.iter().any(|n| n == f.as_str()) {
                names.push(f.as_str().to_string());
            }
        }
        let key = &self.keys[0];
        let nbf = now.timestamp();
        let claims = Claims {
            v: VERSION,
            kid: key.id.clone(),
            owner: owner.to_string(),
            addr: canonical_ip(addr),
            formats: names,
            nbf,
            // ≤ 3600 after the checks above, so the cast and the sum cannot overflow.
            exp: nbf + lifetime.as_secs() as i64,
            jti: URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>()),
        };
        // Serialising a struct of strings, numbers and an address cannot fail.
        let json = match serde_json::to_vec(&claims) {
            Ok(json) => json,
            Err(_) => unreachable!("claims always serialise"),
        };
        let payload = URL_SAFE_NO_PAD.encode(json);
        let mut mac = key.mac();
        mac.update(payload.as_bytes());
        let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        Ok(format!("{payload}.{tag}"))
    }

    /// Verifies `token` for a request from `caller` to sign `format` at `now`.
    ///
    /// Order: shape, key id, MAC (constant time), and only then what the claims say, so nothing
    /// about an unauthenticated token other than its key id decides the answer.
    pub fn verify(
        &self,
        token: &str,
        caller: IpAddr,
        format: Format,
        now: DateTime<Utc>,
    ) -> Result<Claims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed("too long"));
        }
        let (payload, tag) = token
            .split_once('.')
            .ok_or(TokenError::Malformed("no `.` between claims and MAC"))?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| TokenError::Malformed("MAC is not base64url"))?;
        if tag.len() != 32 {
            return Err(TokenError::Malformed("MAC is not 32 bytes"));
        }
        let json = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Malformed("claims are not base64url"))?;
        let claims: Claims = serde_json::from_slice(&json)
            .map_err(|_| TokenError::Malformed("claims are not a token's JSON"))?;

        let key = self
            .keys
            .iter()
            .find(|k| k.id == claims.kid)
            .ok_or_else(|| TokenError::UnknownKey(claims.kid.clone()))?;
        let mut mac = key.mac();
        mac.update(payload.as_bytes());
        mac.verify_slice(&tag).map_err(|_| TokenError::BadMac)?;

        if claims.v != VERSION {
            return Err(TokenError::Malformed("unknown claims version"));
        }
        // A MACed token is one the ring issued, but refusing an over-long one here as well keeps
        // the 1 h bound true even if another program ever shares the secret.
        let lifetime = claims.exp.checked_sub(claims.nbf);
        if !lifetime.is_some_and(|l| l > 0 && l <= MAX_LIFETIME.as_secs() as i64) {
            return Err(TokenError::Malformed("lifetime is not within 1 s to 1 h"));
        }
        let (Some(not_before), Some(expired)) = (claims.not_before(), claims.expires()) else {
            return Err(TokenError::Malformed("times out of range"));
        };
        let now_s = now.timestamp();
        if now_s.saturating_add(CLOCK_SKEW.as_secs() as i64) < claims.nbf {
            return Err(TokenError::NotYetValid { not_before });
        }
        if now_s >= claims.exp {
            return Err(TokenError::Expired { expired });
        }
        let caller = canonical_ip(caller);
        if canonical_ip(claims.addr) != caller {
            return Err(TokenError::WrongAddress {
                token: claims.addr,
                caller,
            });
        }
        if !claims.allows_format(format) {
            return Err(TokenError::FormatNotAllowed(format));
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::testing::{ip, t0, HOUR};
    use chrono::TimeDelta;

    fn secs(n: i64) -> TimeDelta {
        TimeDelta::seconds(n)
    }

    fn key(id: &str, byte: u8) -> TokenKey {
        TokenKey::new(id, &[byte; 32]).unwrap()
    }

    fn ring(keys: Vec<TokenKey>) -> TokenKeys {
        TokenKeys::new(keys).unwrap()
    }

    fn gpg_token(keys: &TokenKeys, addr: &str, lifetime: Duration) -> String {
        keys.issue(
            "project/relyard/builder",
            ip(addr),
            &[Format::Gpg, Format::Mar],
            lifetime,
            t0(),
        )
        .unwrap()
    }

    /// A named change to a token's claims.
    type Edit = (&'static str, fn(&mut serde_json::Value));

    /// Re-encodes the claims part after `edit`, keeping the old MAC.
    fn tamper(token: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
        let (payload, tag) = token.split_once('.').unwrap();
        let mut claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        edit(&mut claims);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
        format!("{payload}.{tag}")
    }

    #[test]
    fn a_token_verifies_for_its_address_formats_and_lifetime() {
        let keys = ring(vec![key("k1", 1)]);
        let token = gpg_token(&keys, "10.1.2.3", HOUR);
        assert!(token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')));
        for at in [t0(), t0() + secs(1800), t0() + secs(3599)] {
            let claims = keys
                .verify(&token, ip("10.1.2.3"), Format::Mar, at)
                .unwrap();
            assert_eq!(claims.owner, "project/relyard/builder");
            assert_eq!(claims.kid, "k1");
            assert_eq!(claims.addr, ip("10.1.2.3"));
            assert_eq!(claims.formats, ["gpg", "mar"]);
            assert_eq!(claims.exp - claims.nbf, 3600);
        }
        // Two tokens for the same request differ (random jti).
        assert_ne!(token, gpg_token(&keys, "10.1.2.3", HOUR));
    }

    #[test]
    fn an_expired_token_is_refused() {
        let keys = ring(vec![key("k1", 1)]);
        let token = gpg_token(&keys, "10.1.2.3", Duration::from_secs(300));
        let at = t0() + secs(300);
        assert_eq!(
            keys.verify(&token, ip("10.1.2.3"), Format::Gpg, at),
            Err(TokenError::Expired { expired: at })
        );
        assert!(matches!(
            keys.verify(&token, ip("10.1.2.3"), Format::Gpg, t0() + secs(86_400)),
            Err(TokenError::Expired { .. })
        ));
    }

    #[test]
    fn a_token_from_the_future_is_refused_beyond_the_clock_skew() {
        let keys = ring(vec![key("k1", 1)]);
        let token = gpg_token(&keys, "10.1.2.3", HOUR);
        // A server whose clock is 60 s behind the issuer's still accepts it ...
        assert!(keys
            .verify(&token, ip("10.1.2.3"), Format::Gpg, t0() - secs(60))
            .is_ok());
        // ... one further behind does not.
        assert_eq!(
            keys.verify(&token, ip("10.1.2.3"), Format::Gpg, t0() - secs(61)),
            Err(TokenError::NotYetValid { not_before: t0() })
        );
    }

    #[test]
    fn a_token_for_another_address_is_refused() {
        let keys = ring(vec![key("k1", 1)]);
        let token = gpg_token(&keys, "10.1.2.3", HOUR);
        assert_eq!(
            keys.verify(&token, ip("10.1.2.4"), Format::Gpg, t0()),
            Err(TokenError::WrongAddress {
                token: ip("10.1.2.3"),
                caller: ip("10.1.2.4")
            })
        );
        assert!(matches!(
            keys.verify(&token, ip("2001:db8::1"), Format::Gpg, t0()),
            Err(TokenError::WrongAddress { .. })
        ));
    }

    #[test]
    fn a_format_not_in_the_token_is_refused() {
        let keys = ring(vec![key("k1", 1)]);
        let token = gpg_token(&keys, "10.1.2.3", HOUR);
        for format in [Format::Minisign, Format::Sha256sums] {
            assert_eq!(
                keys.verify(&token, ip("10.1.2.3"), format, t0()),
                Err(TokenError::FormatNotAllowed(format))
            );
        }
    }

    #[test]
    fn ipv6_and_ipv4_mapped_addresses_bind_as_the_same_client() {
        let keys = ring(vec![key("k1", 1)]);
        let v6 = gpg_token(&keys, "2001:db8::7", HOUR);
        assert!(keys
            .verify(&v6, ip("2001:db8::7"), Format::Gpg, t0())
            .is_ok());
        assert!(keys
            .verify(&v6, ip("2001:db8::8"), Format::Gpg, t0())
            .is_err());

        // Issued to a client seen on a dual-stack socket, used over IPv4, and the other way.
        let mapped = gpg_token(&keys, "::ffff:10.1.2.3", HOUR);
        let claims = keys
            .verify(&mapped, ip("10.1.2.3"), Format::Gpg, t0())
            .unwrap();
        assert_eq!(claims.addr, ip("10.1.2.3"));
        let plain = gpg_token(&keys, "10.1.2.3", HOUR);
        assert!(keys
            .verify(&plain, ip("::ffff:10.1.2.3"), Format::Gpg, t0())
            .is_ok());
        assert!(matches!(
            keys.verify(&plain, ip("::ffff:10.1.2.4"), Format::Gpg, t0()),
            Err(TokenError::WrongAddress { .. })
        ));
    }

    #[test]
    fn issuing_refuses_lifetimes_over_an_hour_and_empty_requests() {
        let keys = ring(vec![key("k1", 1)]);
        let issue = |formats: &[Format], lifetime, owner: &str| {
            keys.issue(owner, ip("10.1.2.3"), formats, lifetime, t0())
        };
        let over = HOUR + Duration::from_secs(1);
        assert_eq!(
            issue(&[Format::Gpg], over, "me"),
            Err(IssueError::LifetimeTooLong { requested: over })
        );
        assert_eq!(
            issue(&[Format::Gpg], Duration::from_millis(999), "me"),
            Err(IssueError::LifetimeTooShort)
        );
        assert_eq!(issue(&[], HOUR, "me"), Err(IssueError::NoFormats));
        assert_eq!(issue(&[Format::Gpg], HOUR, ""), Err(IssueError::BadOwner));
        assert_eq!(
            issue(&[Format::Gpg], HOUR, &"x".repeat(257)),
            Err(IssueError::BadOwner)
        );
        assert!(issue(&[Format::Gpg], HOUR, "me").is_ok());
        // Repeated formats are written once.
        let token = issue(&[Format::Gpg, Format::Gpg], HOUR, "me").unwrap();
        let claims = keys
            .verify(&token, ip("10.1.2.3"), Format::Gpg, t0())
            .unwrap();
        assert_eq!(claims.formats, ["gpg"]);
    }

    #[test]
    fn a_tampered_token_is_refused() {
        let keys = ring(vec![key("k1", 1)]);
        let token = gpg_token(&keys, "10.1.2.3", HOUR);
        let at = t0() + secs(10);
        let edits: [Edit; 5] = [
            ("address", |c| c["addr"] = "10.9.9.9".into()),
            ("formats", |c| {
                c["formats"] = serde_json::json!(["gpg", "mar", "minisign"])
            }),
            ("expiry", |c| {
                c["exp"] = (c["exp"].as_i64().unwrap() + 60).into()
            }),
            ("owner", |c| c["owner"] = "someone-else".into()),
            ("jti", |c| c["jti"] = "AAAAAAAAAAAAAAAAAAAAAA".into()),
        ];
        for (what, edit) in edits {
            let forged = tamper(&token, edit);
            let caller = if what == "address" {
                "10.9.9.9"
            } else {
                "10.1.2.3"
            };
            assert_eq!(
                keys.verify(&forged, ip(caller), Format::Gpg, at),
                Err(TokenError::BadMac),
                "changed {what}"
            );
        }
        // A changed MAC and a MAC from another secret with the same key id.
        let (payload, tag) = token.split_once('.').unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(tag).unwrap();
        bytes[0] ^= 1;
        let flipped = format!("{payload}.{}", URL_SAFE_NO_PAD.encode(&bytes));
        let other_secret = gpg_token(&ring(vec![key("k1", 2)]), "10.1.2.3", HOUR);
        for forged in [flipped, other_secret] {
            assert_eq!(
                keys.verify(&forged, ip("10.1.2.3"), Format::Gpg, at),
                Err(TokenError::BadMac)
            );
        }
    }

    #[test]
    fn malformed_token_text_is_refused_without_panicking() {
        let keys = ring(vec![key("k1", 1)]);
        let token = gpg_token(&keys, "10.1.2.3", HOUR);
        let (payload, tag) = token.split_once('.').unwrap();
        let tag = URL_SAFE_NO_PAD.decode(tag).unwrap();
        let short_mac = format!("{payload}.{}", URL_SAFE_NO_PAD.encode(&tag[..16]));
        let long_mac = format!(
            "{payload}.{}",
            URL_SAFE_NO_PAD.encode([&tag[..], b"x"].concat())
        );
        let not_json = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(b"not json"),
            URL_SAFE_NO_PAD.encode([0u8; 32])
        );
        let long = "A".repeat(MAX_TOKEN_LEN + 1);
        let cases = [
            "",
            ".",
            "abc",
            "***.***",
            &format!("{payload}."),
            &format!("{payload}.!!"),
            &short_mac,
            &long_mac,
            &not_json,
            &long,
        ];
        for bad in cases {
            assert!(
                matches!(
                    keys.verify(bad, ip("10.1.2.3"), Format::Gpg, t0()),
                    Err(TokenError::Malformed(_))
                ),
                "{bad:?}"
            );
        }
        // Every prefix of a good token is refused, and none panics.
        for end in 0..token.len() {
            assert!(keys
                .verify(&token[..end], ip("10.1.2.3"), Format::Gpg, t0())
                .is_err());
        }
        // Claims with a field this code never writes are malformed (refused before the MAC check).
        let extra = tamper(&token, |c| c["admin"] = true.into());
        assert!(matches!(
            keys.verify(&extra, ip("10.1.2.3"), Format::Gpg, t0()),
            Err(TokenError::Malformed(_))
        ));
    }

    #[test]
    fn a_token_from_an_unknown_key_is_refused() {
        let keys = ring(vec![key("k1", 1)]);
        let other = gpg_token(&ring(vec![key("elsewhere", 1)]), "10.1.2.3", HOUR);
        assert_eq!(
            keys.verify(&other, ip("10.1.2.3"), Format::Gpg, t0()),
            Err(TokenError::UnknownKey("elsewhere".into()))
        );
    }

    #[test]
    fn rotation_old_tokens_verify_until_their_key_is_removed() {
        let old = ring(vec![key("2026-11", 1)]);
        let old_token = gpg_token(&old, "10.1.2.3", HOUR);

        // The new key is added first: it issues, the old key still verifies.
        let rotated = ring(vec![key("2026-12", 2), key("2026-11", 1)]);
        assert_eq!(rotated.signing_key_id(), "2026-12");
        let claims = rotated
            .verify(&old_token, ip("10.1.2.3"), Format::Gpg, t0())
            .unwrap();
        assert_eq!(claims.kid, "2026-11");
        let new_token = gpg_token(&rotated, "10.1.2.3", HOUR);
        let claims = rotated
            .verify(&new_token, ip("10.1.2.3"), Format::Gpg, t0())
            .unwrap();
        assert_eq!(claims.kid, "2026-12");
        // Another server with the same ring (built separately) accepts both.
        let peer = ring(vec![key("2026-12", 2), key("2026-11", 1)]);
        assert!(peer
            .verify(&old_token, ip("10.1.2.3"), Format::Gpg, t0())
            .is_ok());
        assert!(peer
            .verify(&new_token, ip("10.1.2.3"), Format::Gpg, t0())
            .is_ok());
        // A server that has not rotated yet does not know the new key.
        assert!(matches!(
            old.verify(&new_token, ip("10.1.2.3"), Format::Gpg, t0()),
            Err(TokenError::UnknownKey(_))
        ));

        // The old key is removed: its tokens are refused, the new key's still verify.
        let after = ring(vec![key("2026-12", 2)]);
        assert_eq!(
            after.verify(&old_token, ip("10.1.2.3"), Format::Gpg, t0()),
            Err(TokenError::UnknownKey("2026-11".into()))
        );
        assert!(after
            .verify(&new_token, ip("10.1.2.3"), Format::Gpg, t0())
            .is_ok());
    }

    #[test]
    fn key_rings_refuse_bad_keys() {
        assert_eq!(
            TokenKey::new("k1", &[0; 31]).unwrap_err(),
            TokenKeyError::ShortSecret {
                id: "k1".into(),
                len: 31
            }
        );
        assert!(matches!(
            TokenKey::new("bad id", &[0; 32]),
            Err(TokenKeyError::InvalidKeyId(_))
        ));
        assert_eq!(
            TokenKeys::new(vec![]).unwrap_err(),
            TokenKeyError::EmptyRing
        );
        assert_eq!(
            TokenKeys::new(vec![key("a", 1), key("b", 2), key("a", 3)]).unwrap_err(),
            TokenKeyError::DuplicateKeyId("a".into())
        );
        let generated = TokenKey::generate("fresh").unwrap();
        let debug = format!("{generated:?}");
        assert!(
            debug.contains("fresh") && !debug.contains("secret"),
            "{debug}"
        );
    }
}
