//! Continuation tokens: opaque to clients, a base64 JSON value to us.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::ApiError;

/// The `?continuationToken=&limit=` query of every listing endpoint.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageQuery {
    pub continuation_token: Option<String>,
    pub limit: Option<String>,
}

impl PageQuery {
    /// The page size: `limit` clamped to `1..=max`, `default` when absent.
    pub fn limit(&self, default: usize, max: usize) -> Result<usize, ApiError> {
        match &self.limit {
            None => Ok(default),
            Some(s) => s
                .parse::<usize>()
                .ok()
                .filter(|n| *n >= 1)
                .map(|n| n.min(max))
                .ok_or_else(|| {
                    ApiError::invalid_arguments(format!(
                        "limit must be a positive integer, got {s:?}"
                    ))
                }),
        }
    }

    pub fn token<T: DeserializeOwned>(&self) -> Result<Option<T>, ApiError> {
        self.continuation_token.as_deref().map(decode).transpose()
    }
}

pub fn encode<T: Serialize>(value: &T) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap_or_default())
}

pub fn decode<T: DeserializeOwned>(token: &str) -> Result<T, ApiError> {
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| ApiError::invalid_arguments("invalid continuationToken"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_garbage_is_rejected() {
        let t = encode(&("abc", 42));
        let back: (String, i64) = decode(&t).unwrap();
        assert_eq!(back, ("abc".into(), 42));
        assert!(decode::<(String, i64)>("!!!").is_err());
        let q = PageQuery {
            continuation_token: None,
            limit: Some("0".into()),
        };
        assert!(q.limit(10, 100).is_err());
        let q = PageQuery {
            continuation_token: None,
            limit: Some("5000".into()),
        };
        assert_eq!(q.limit(10, 100).unwrap(), 100);
    }
}
