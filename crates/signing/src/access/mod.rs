//! Access control of the signing server (issue 6, "Access"): the allowed networks and the
//! short-lived, address-bound signing tokens. The HTTP server maps refusals to 403 (later slice).

pub mod networks;
pub mod tokens;

pub use networks::{canonical_ip, AllowedNetworks, NetworkError};
pub use tokens::{
    Claims, IssueError, TokenError, TokenKey, TokenKeyError, TokenKeys, MAX_LIFETIME,
};
