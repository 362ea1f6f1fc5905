//! The body of `PUT /secret/<name>`: `{secret: object, expires: date-time}`, both required, no
//! other keys (Taskcluster's `secret.yml`).

use relyard_core::Timestamp;
use serde_json::{Map, Value};

use crate::error::SecretsError;

#[derive(Debug, Clone, PartialEq)]
pub struct SetRequest {
    pub secret: Map<String, Value>,
    pub expires: Timestamp,
}

impl SetRequest {
    /// Parses the raw body by hand rather than through serde's derive so that each 400 names the
    /// exact problem in the API's own words ("secret must be an object"), not serde's ("a map").
    pub fn parse(raw: &[u8]) -> Result<SetRequest, SecretsError> {
        let body: Value = serde_json::from_slice(raw)
            .map_err(|e| SecretsError::Invalid(format!("request body is not valid JSON: {e}")))?;
        let Value::Object(mut body) = body else {
            return Err(SecretsError::Invalid(
                "request body must be a JSON object {secret, expires}".into(),
            ));
        };
        let secret = body.remove("secret").ok_or_else(|| missing("secret"))?;
        let expires = body.remove("expires").ok_or_else(|| missing("expires"))?;
        if let Some(extra) = body.keys().next() {
            return Err(SecretsError::Invalid(format!(
                "request body has unexpected property {extra:?}; only \"secret\" and \"expires\" are allowed"
            )));
        }
        let Value::Object(secret) = secret else {
            return Err(SecretsError::Invalid(format!(
                "\"secret\" must be a JSON object, got {}",
                kind(&secret)
            )));
        };
        let expires = match &expires {
            Value::String(s) => Timestamp::parse(s)
                .map_err(|e| SecretsError::Invalid(format!("\"expires\": {e}")))?,
            other => {
                return Err(SecretsError::Invalid(format!(
                    "\"expires\" must be a date-time string, got {}",
                    kind(other)
                )))
            }
        };
        Ok(SetRequest { secret, expires })
    }
}

fn missing(field: &str) -> SecretsError {
    SecretsError::Invalid(format!(
        "request body is missing required property {field:?}"
    ))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(raw: &str) -> String {
        match SetRequest::parse(raw.as_bytes()) {
            Err(SecretsError::Invalid(m)) => m,
            other => panic!("expected Invalid for {raw}, got {other:?}"),
        }
    }

    #[test]
    fn accepts_an_object_and_a_date() {
        let r =
            SetRequest::parse(br#"{"secret": {"a": 1}, "expires": "2030-01-01T00:00:00.000Z"}"#)
                .unwrap();
        assert_eq!(r.secret.get("a"), Some(&Value::from(1)));
        assert_eq!(r.expires.to_string(), "2030-01-01T00:00:00.000Z");
        // An empty object is still an object.
        assert!(SetRequest::parse(br#"{"secret": {}, "expires": "2030-01-01T00:00:00Z"}"#).is_ok());
    }

    #[test]
    fn each_problem_is_named() {
        assert!(err("not json").contains("not valid JSON"));
        assert!(err("[1]").contains("must be a JSON object"));
        assert!(err(r#"{"expires": "2030-01-01T00:00:00Z"}"#).contains("\"secret\""));
        assert!(err(r#"{"secret": {}}"#).contains("\"expires\""));
        assert!(
            err(r#"{"secret": {}, "expires": "2030-01-01T00:00:00Z", "x": 1}"#).contains("\"x\"")
        );
        assert!(err(r#"{"secret": "s", "expires": "2030-01-01T00:00:00Z"}"#).contains("a string"));
        assert!(err(r#"{"secret": [1], "expires": "2030-01-01T00:00:00Z"}"#).contains("an array"));
        assert!(err(r#"{"secret": {}, "expires": "tomorrow"}"#).contains("invalid date-time"));
        assert!(err(r#"{"secret": {}, "expires": 5}"#).contains("a number"));
    }
}
