//! Response pieces the listings share: the `X-Data-Version` header, Balrog's revision pages
//! and distinct column values.

use std::collections::HashMap;

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::body::query_int;
use super::error::{AdminError, AdminResult};
use crate::store;

pub(super) fn with_data_version(body: impl IntoResponse, data_version: i64) -> Response {
    let mut resp = body.into_response();
    if let Ok(v) = http::HeaderValue::from_str(&data_version.to_string()) {
        resp.headers_mut().insert("X-Data-Version", v);
    }
    resp
}

/// Balrog's `?page=` (from 1) and `?limit=` (10 by default) of a revision listing.
pub(super) fn page_of(
    q: &HashMap<String, String>,
    default_limit: i64,
) -> AdminResult<(usize, usize)> {
    let page = query_int(q, "page")?.unwrap_or(1);
    let limit = query_int(q, "limit")?.unwrap_or(default_limit);
    if page < 1 || limit < 1 {
        return Err(AdminError::bad_request("page and limit must be positive"));
    }
    let offset = usize::try_from((page - 1).saturating_mul(limit)).unwrap_or(usize::MAX);
    Ok((offset, usize::try_from(limit).unwrap_or(usize::MAX)))
}

/// A history row as Balrog's revision listings show it: the row after the change with the
/// change's id, author, time (ms) and data_version.
pub(super) fn revision_json(h: &store::HistoryRow) -> Value {
    let mut v = h.new.clone().unwrap_or_else(|| json!({}));
    if let Value::Object(m) = &mut v {
        m.insert("change_id".into(), json!(h.change_id));
        m.insert("changed_by".into(), json!(h.changed_by));
        m.insert("timestamp".into(), json!(h.timestamp.millis()));
        m.insert("data_version".into(), json!(h.data_version));
    }
    v
}

/// One page of a history listing, newest first, deletions left out, as Balrog pages them:
/// `{<key>: [...], "count": <all revisions>}`.
pub(super) fn history_page(
    mut history: Vec<store::HistoryRow>,
    q: &HashMap<String, String>,
    key: &str,
    show: impl Fn(&store::HistoryRow) -> Value,
) -> AdminResult<Json<Value>> {
    let (offset, limit) = page_of(q, 10)?;
    history.retain(|h| h.data_version.is_some());
    history.reverse();
    let count = history.len();
    let page: Vec<Value> = history.iter().skip(offset).take(limit).map(show).collect();
    let mut out = Map::new();
    out.insert(key.to_string(), Value::Array(page));
    out.insert("count".into(), json!(count));
    Ok(Json(Value::Object(out)))
}

/// `{"count": n, <column>: [distinct non-NULL values]}`, Balrog's column listing.
pub(super) fn distinct_column(column: String, all: Vec<Value>) -> Json<Value> {
    let mut values: Vec<Value> = Vec::new();
    for v in all {
        if !v.is_null() && !values.contains(&v) {
            values.push(v);
        }
    }
    values.sort_by_key(|v| v.to_string());
    let mut out = Map::new();
    out.insert("count".into(), json!(values.len()));
    out.insert(column, Value::Array(values));
    Json(Value::Object(out))
}
