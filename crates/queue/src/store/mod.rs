//! All of the queue's SQL, one module per table group. Written once for SQLite and PostgreSQL
//! through `sqlx::Any`: `$n` placeholders, BIGINT milliseconds, TEXT JSON.

pub mod artifacts;
pub mod claims;
pub mod deps;
pub mod groups;
pub mod tasks;

use relyard_store::StoreError;
use serde::de::DeserializeOwned;

/// `$start, $start+1, …` for `n` values.
pub(crate) fn placeholders(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Decodes a JSON column; a parse failure means the row is corrupt, not that the request is bad.
pub(crate) fn json<T: DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Keeps each statement's bind count well under SQLite's and PostgreSQL's limits.
pub(crate) const CHUNK: usize = 500;
