//! Access control of the signing server (issue 6, "Access"): the allowed networks and the
//! short-lived, address-bound signing tokens, and [`Access`], which applies both in the order the
//! server needs. Every refusal here becomes an HTTP 403 in the server (a later slice).

pub mod networks;
pub mod tokens;

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};

pub use networks::{canonical_ip, AllowedNetworks, NetworkError};
pub use tokens::{
    Claims, IssueError, TokenError, TokenKey, TokenKeyError, TokenKeys, CLOCK_SKEW, MAX_LIFETIME,
};

use crate::formats::Format;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    #[error("request from {0}, which is not in the allowed networks")]
    NetworkNotAllowed(IpAddr),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Issue(#[from] IssueError),
}

/// The allowed networks and the token key ring of one server.
#[derive(Debug)]
pub struct Access {
    networks: AllowedNetworks,
    keys: TokenKeys,
}

impl Access {
    pub fn new(networks: AllowedNetworks, keys: TokenKeys) -> Self {
        Self { networks, keys }
    }

    pub fn networks(&self) -> &AllowedNetworks {
        &self.networks
    }

    pub fn keys(&self) -> &TokenKeys {
        &self.keys
    }

    /// Whether a caller may be answered at all; the server asks this first for every request.
    pub fn check_network(&self, caller: IpAddr) -> Result<(), AccessError> {
        if self.networks.allows(caller) {
            Ok(())
        } else {
            Err(AccessError::NetworkNotAllowed(canonical_ip(caller)))
        }
    }

    /// May `caller` sign `format` with `token` at `now`? A caller outside the allowed networks is
    /// refused before the token is even decoded, so from there nothing is learnt about tokens or
    /// keys and no work is spent on them.
    pub fn check(
        &self,
        token: &str,
        caller: IpAddr,
        format: Format,
        now: DateTime<Utc>,
    ) -> Result<Claims, AccessError> {
        self.check_network(caller)?;
        Ok(self.keys.verify(token, caller, format, now)?)
    }

    /// Issues a token to `owner` (already authenticated by relyard auth with the right scopes,
    /// which is the server's part) for use from `caller`, the address the request came from.
    pub fn issue(
        &self,
        owner: &str,
        caller: IpAddr,
        formats: &[Format],
        lifetime: Duration,
        now: DateTime<Utc>,
    ) -> Result<String, AccessError> {
        self.check_network(caller)?;
        Ok(self.keys.issue(owner, caller, formats, lifetime, now)?)
    }
}

/// Helpers shared by the access tests.
#[cfg(test)]
pub(crate) mod testing {
    use std::net::IpAddr;
    use std::time::Duration;

    use chrono::{DateTime, Utc};

    pub const HOUR: Duration = Duration::from_secs(3600);

    pub fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// A fixed "now" (2027-01-15), so no test depends on the clock.
    pub fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{ip, t0, HOUR};
    use super::*;

    fn access(networks: &[&str]) -> Access {
        let keys = TokenKeys::new(vec![TokenKey::new("k1", &[7; 32]).unwrap()]).unwrap();
        Access::new(AllowedNetworks::parse(networks).unwrap(), keys)
    }

    #[test]
    fn an_allowed_caller_with_a_good_token_passes() {
        let access = access(&["10.0.0.0/8", "::1/128"]);
        let token = access
            .issue("builder", ip("10.1.2.3"), &[Format::Gpg], HOUR, t0())
            .unwrap();
        let claims = access
            .check(&token, ip("10.1.2.3"), Format::Gpg, t0())
            .unwrap();
        assert_eq!(claims.owner, "builder");

        let token = access
            .issue("local", ip("::1"), &[Format::Minisign], HOUR, t0())
            .unwrap();
        assert!(access
            .check(&token, ip("::1"), Format::Minisign, t0())
            .is_ok());
    }

    #[test]
    fn the_four_refusals_of_the_issue() {
        let access = access(&["10.0.0.0/8"]);
        let token = access
            .issue("builder", ip("10.1.2.3"), &[Format::Gpg], HOUR, t0())
            .unwrap();
        let later = t0() + chrono::TimeDelta::seconds(3600);
        assert!(matches!(
            access.check(&token, ip("10.1.2.3"), Format::Gpg, later),
            Err(AccessError::Token(TokenError::Expired { .. }))
        ));
        assert!(matches!(
            access.check(&token, ip("10.1.2.4"), Format::Gpg, t0()),
            Err(AccessError::Token(TokenError::WrongAddress { .. }))
        ));
        assert!(matches!(
            access.check(&token, ip("10.1.2.3"), Format::Mar, t0()),
            Err(AccessError::Token(TokenError::FormatNotAllowed(
                Format::Mar
            )))
        ));
        assert_eq!(
            access.check(&token, ip("192.168.1.1"), Format::Gpg, t0()),
            Err(AccessError::NetworkNotAllowed(ip("192.168.1.1")))
        );
    }

    #[test]
    fn outside_the_networks_is_refused_before_the_token_is_looked_at() {
        // The same token from a caller in and out of the list: the network decides first, even
        // for a token that would be refused anyway, and for text that is no token at all.
        let inside = access(&["10.0.0.0/8"]);
        let refused = inside
            .issue("builder", ip("172.16.0.1"), &[Format::Gpg], HOUR, t0())
            .unwrap_err();
        assert_eq!(refused, AccessError::NetworkNotAllowed(ip("172.16.0.1")));

        let wide = access(&["0.0.0.0/0"]);
        let token = wide
            .issue("builder", ip("172.16.0.1"), &[Format::Gpg], HOUR, t0())
            .unwrap();
        assert!(wide
            .check(&token, ip("172.16.0.1"), Format::Gpg, t0())
            .is_ok());
        for text in [token.as_str(), "garbage"] {
            assert_eq!(
                inside.check(text, ip("172.16.0.1"), Format::Gpg, t0()),
                Err(AccessError::NetworkNotAllowed(ip("172.16.0.1")))
            );
        }
        assert!(matches!(
            inside.check("garbage", ip("10.0.0.1"), Format::Gpg, t0()),
            Err(AccessError::Token(TokenError::Malformed(_)))
        ));
    }

    #[test]
    fn mapped_callers_are_checked_as_ipv4_and_issue_limits_hold() {
        let access = access(&["127.0.0.1/32"]);
        let token = access
            .issue("local", ip("::ffff:127.0.0.1"), &[Format::Gpg], HOUR, t0())
            .unwrap();
        assert!(access
            .check(&token, ip("127.0.0.1"), Format::Gpg, t0())
            .is_ok());
        assert_eq!(
            access.check(&token, ip("::ffff:127.0.0.2"), Format::Gpg, t0()),
            Err(AccessError::NetworkNotAllowed(ip("127.0.0.2")))
        );
        let too_long = HOUR + Duration::from_secs(1);
        assert!(matches!(
            access.issue("local", ip("127.0.0.1"), &[Format::Gpg], too_long, t0()),
            Err(AccessError::Issue(IssueError::LifetimeTooLong { .. }))
        ));
    }
}
