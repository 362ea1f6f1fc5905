//! Request bodies and query strings as Balrog takes them: a JSON object (what balrogclient
//! sends) or a form (Balrog's older web UI); numbers may come as strings.

use axum::body::Bytes;
use axum::extract::FromRequest;
use axum::extract::Request;
use http::header::CONTENT_TYPE;
use serde_json::{Map, Value};

use super::error::AdminError;

/// Largest admin request body: release blobs with every locale run to a few MB.
const MAX_BODY: usize = 32 * 1024 * 1024;

/// The request body as a JSON object; an empty body is an empty object.
#[derive(Debug, Default, Clone)]
pub struct Fields(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for Fields {
    type Rejection = AdminError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let is_form = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY)
            .await
            .map_err(|e| AdminError::bad_request(format!("cannot read the body: {e}")))?;
        parse(&bytes, is_form)
    }
}

fn parse(bytes: &Bytes, is_form: bool) -> Result<Fields, AdminError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Fields::default());
    }
    if is_form {
        let map: Map<String, Value> = url::form_urlencoded::parse(bytes)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        return without_nul(Fields(map));
    }
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(map)) => without_nul(Fields(map)),
        Ok(_) => Err(AdminError::bad_request("the body must be a JSON object")),
        Err(e) => Err(AdminError::bad_request(format!(
            "the body is not JSON: {e}"
        ))),
    }
}

/// PostgreSQL's TEXT cannot hold NUL, so a string with one is refused here rather than failing
/// in the database.
fn without_nul(fields: Fields) -> Result<Fields, AdminError> {
    fn has_nul(v: &Value) -> bool {
        match v {
            Value::String(s) => s.contains('\0'),
            Value::Array(a) => a.iter().any(has_nul),
            Value::Object(m) => m.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
            _ => false,
        }
    }
    if fields.0.iter().any(|(k, v)| k.contains('\0') || has_nul(v)) {
        return Err(AdminError::bad_request(
            "strings may not contain NUL characters",
        ));
    }
    Ok(fields)
}

impl Fields {
    pub fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    /// An integer, given as a number or a numeric string (forms send strings).
    pub fn int(&self, key: &str) -> Result<Option<i64>, AdminError> {
        int_value(key, self.get(key))
    }

    pub fn required_int(&self, key: &str) -> Result<i64, AdminError> {
        self.int(key)?.ok_or_else(|| missing(key))
    }

    pub fn str(&self, key: &str) -> Result<Option<&str>, AdminError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(AdminError::bad_field(
                "Bad Request",
                format!("{key} must be a string"),
            )),
        }
    }

    pub fn required_str(&self, key: &str) -> Result<&str, AdminError> {
        match self.str(key)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            _ => Err(missing(key)),
        }
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, AdminError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s == "true" || s == "True" || s == "1" => Ok(Some(true)),
            Some(Value::String(s)) if s == "false" || s == "False" || s == "0" => Ok(Some(false)),
            Some(_) => Err(AdminError::bad_field(
                "Bad Request",
                format!("{key} must be a boolean"),
            )),
        }
    }

    /// A JSON document given as a JSON string (balrogclient's `data`) or inline.
    pub fn json_doc(&self, key: &str) -> Result<Option<Value>, AdminError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => serde_json::from_str(s).map(Some).map_err(|e| {
                AdminError::bad_field("Bad Request", format!("{key} is not JSON: {e}"))
            }),
            Some(v) => Ok(Some(v.clone())),
        }
    }
}

pub fn int_value(key: &str, v: Option<&Value>) -> Result<Option<i64>, AdminError> {
    let bad = || AdminError::bad_field("Bad Request", format!("{key} must be an integer"));
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(bad),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| bad()),
        Some(_) => Err(bad()),
    }
}

pub fn missing(key: &str) -> AdminError {
    AdminError::bad_field("Missing field", format!("{key} is missing"))
}

/// One query argument as an integer (`?data_version=3`).
pub fn query_int(
    query: &std::collections::HashMap<String, String>,
    key: &str,
) -> Result<Option<i64>, AdminError> {
    int_value(
        key,
        query.get(key).map(|s| Value::String(s.clone())).as_ref(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_form_and_empty_bodies() {
        let f = parse(&Bytes::from_static(br#"{"a": "3", "b": 4}"#), false).unwrap();
        assert_eq!(f.int("a").unwrap(), Some(3));
        assert_eq!(f.int("b").unwrap(), Some(4));
        let f = parse(&Bytes::from_static(b"a=3&c=x%20y"), true).unwrap();
        assert_eq!(f.str("c").unwrap(), Some("x y"));
        assert!(parse(&Bytes::from_static(b"  "), false)
            .unwrap()
            .0
            .is_empty());
        assert!(parse(&Bytes::from_static(b"[1]"), false).is_err());
        assert!(parse(&Bytes::from_static(b"{"), false).is_err());
        let f = parse(&Bytes::from_static(br#"{"a": "x", "b": [1]}"#), false).unwrap();
        assert!(f.int("a").is_err());
        assert!(f.str("b").is_err());
    }
}
