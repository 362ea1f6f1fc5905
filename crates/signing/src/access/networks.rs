//! The allow-list of networks a signing server answers: every request from an address outside it
//! is refused before anything else about the request is looked at.
//!
//! Entries are CIDR networks (`10.0.0.0/8`, `127.0.0.1/32`, `::1/128`), parsed by `ipnet`. Entries
//! are strict so that a typo cannot silently widen or narrow the list: a bare address without a
//! prefix length, host bits set below the prefix (`10.0.0.1/8`) and IPv4-mapped IPv6 networks
//! (`::ffff:10.0.0.0/104`) are all refused with a message saying what to write instead.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetworkError {
    #[error(
        "allowed network `{text}`: not a CIDR network ({reason}); write an address with a prefix \
         length, e.g. 10.0.0.0/8, 127.0.0.1/32 or ::1/128"
    )]
    Invalid { text: String, reason: String },

    #[error("allowed network `{text}`: a prefix length is required; for this one address write `{suggestion}`")]
    MissingPrefix { text: String, suggestion: String },

    #[error(
        "allowed network `{text}` has bits set after the prefix; did you mean `{suggestion}`?"
    )]
    HostBitsSet { text: String, suggestion: String },

    /// Callers' IPv4-mapped addresses are matched as IPv4, so a mapped network would never match;
    /// refusing it is better than a list entry that silently does nothing.
    #[error("allowed network `{text}` is IPv4-mapped IPv6; write it as IPv4: `{suggestion}`")]
    Ipv4Mapped { text: String, suggestion: String },
}

/// A list of allowed networks. An empty list allows nobody.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedNetworks {
    networks: Vec<IpNet>,
}

impl AllowedNetworks {
    /// Parses every entry; the first bad one is the error (it names the entry).
    pub fn parse<I, S>(entries: I) -> Result<Self, NetworkError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let networks = entries
            .into_iter()
            .map(|e| parse_network(e.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { networks })
    }

    pub fn networks(&self) -> &[IpNet] {
        &self.networks
    }

    /// Whether `addr` lies in one of the networks. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`,
    /// what a dual-stack socket reports for an IPv4 client) is matched as the IPv4 address.
    pub fn allows(&self, addr: IpAddr) -> bool {
        let addr = canonical_ip(addr);
        self.networks.iter().any(|net| net.contains(&addr))
    }
}

impl fmt::Display for AllowedNetworks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list: Vec<String> = self.networks.iter().map(IpNet::to_string).collect();
        f.write_str(&list.join(", "))
    }
}

/// The address as it is compared everywhere in access control: IPv4-mapped IPv6 becomes IPv4, so
/// the same client is one address whether it reached us over an IPv4 or a dual-stack socket.
pub fn canonical_ip(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        IpAddr::V4(_) => addr,
    }
}

fn parse_network(text: &str) -> Result<IpNet, NetworkError> {
    let trimmed = text.trim();
    let net: IpNet = match trimmed.parse() {
        Ok(net) => net,
        Err(err) => {
            // A bare address parses as an IpAddr: say exactly what single-host entry to write.
            if let Ok(addr) = trimmed.parse::<IpAddr>() {
                return Err(NetworkError::MissingPrefix {
                    text: text.to_string(),
                    suggestion: IpNet::from(addr).to_string(),
                });
            }
            return Err(NetworkError::Invalid {
                text: text.to_string(),
                reason: err.to_string(),
            });
        }
    };
    if net.trunc() != net {
        return Err(NetworkError::HostBitsSet {
            text: text.to_string(),
            suggestion: net.trunc().to_string(),
        });
    }
    if let IpNet::V6(v6) = net {
        if let Some(v4) = v6.network().to_ipv4_mapped() {
            if v6.prefix_len() >= 96 {
                let suggestion = format!("{v4}/{}", v6.prefix_len() - 96);
                return Err(NetworkError::Ipv4Mapped {
                    text: text.to_string(),
                    suggestion,
                });
            }
        }
    }
    Ok(net)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::testing::ip;

    #[test]
    fn ipv4_and_ipv6_networks_match_their_members_only() {
        let nets =
            AllowedNetworks::parse(["10.0.0.0/8", "127.0.0.1/32", "::1/128", "2001:db8::/32"])
                .unwrap();
        for inside in [
            "10.0.0.1",
            "10.255.255.255",
            "127.0.0.1",
            "::1",
            "2001:db8::5",
        ] {
            assert!(nets.allows(ip(inside)), "{inside} should be allowed");
        }
        for outside in [
            "11.0.0.1",
            "127.0.0.2",
            "192.168.1.1",
            "::2",
            "2001:db9::1",
            "fe80::1",
        ] {
            assert!(!nets.allows(ip(outside)), "{outside} should be refused");
        }
    }

    #[test]
    fn ipv4_mapped_ipv6_is_matched_as_ipv4() {
        let nets = AllowedNetworks::parse(["10.0.0.0/8", "127.0.0.1/32"]).unwrap();
        assert!(nets.allows(ip("::ffff:10.1.2.3")));
        assert!(nets.allows(ip("::ffff:127.0.0.1")));
        assert!(!nets.allows(ip("::ffff:11.1.2.3")));
        // The mapped form of an allowed IPv6 network does not leak IPv4 in either direction.
        let v6_only = AllowedNetworks::parse(["::/0"]).unwrap();
        assert!(!v6_only.allows(ip("::ffff:10.1.2.3")));
        assert!(v6_only.allows(ip("::1")));
        assert_eq!(canonical_ip(ip("::ffff:10.1.2.3")), ip("10.1.2.3"));
        assert_eq!(canonical_ip(ip("::1")), ip("::1"));
    }

    #[test]
    fn an_empty_list_allows_nobody() {
        let nets = AllowedNetworks::parse(Vec::<String>::new()).unwrap();
        assert!(!nets.allows(ip("127.0.0.1")));
        assert!(!nets.allows(ip("::1")));
    }

    #[test]
    fn bad_entries_are_refused_with_a_suggestion() {
        let err = AllowedNetworks::parse(["10.0.0.0/8", "10.0.0.1/8"]).unwrap_err();
        assert!(
            matches!(&err, NetworkError::HostBitsSet { suggestion, .. } if suggestion == "10.0.0.0/8")
        );
        assert!(
            err.to_string().contains("did you mean `10.0.0.0/8`"),
            "{err}"
        );

        let err = AllowedNetworks::parse(["127.0.0.1"]).unwrap_err();
        assert!(err.to_string().contains("write `127.0.0.1/32`"), "{err}");
        let err = AllowedNetworks::parse(["::1"]).unwrap_err();
        assert!(err.to_string().contains("write `::1/128`"), "{err}");

        let err = AllowedNetworks::parse(["::ffff:10.0.0.0/104"]).unwrap_err();
        assert!(err.to_string().contains("`10.0.0.0/8`"), "{err}");

        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "example.com/8",
            "10.0.0.0/x",
        ] {
            let err = AllowedNetworks::parse([bad]).unwrap_err();
            assert!(
                matches!(err, NetworkError::Invalid { .. }),
                "`{bad}` gave {err:?}"
            );
            assert!(err.to_string().contains("e.g. 10.0.0.0/8"), "{err}");
        }
    }

    #[test]
    fn surrounding_spaces_are_ignored_and_display_lists_the_networks() {
        let nets = AllowedNetworks::parse([" 10.0.0.0/8 ", "::1/128"]).unwrap();
        assert_eq!(nets.to_string(), "10.0.0.0/8, ::1/128");
    }
}
