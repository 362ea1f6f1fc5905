//! Blob values rendered as Balrog renders them: with Python's `str()`.

use serde_json::{Map, Value};

use crate::error::{Result, UpdatesError};

/// `str(value)` in Python for a JSON value: `True`/`False`/`None` for the
/// literals, strings as they are, numbers in their JSON spelling.
pub fn py_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => "None".into(),
        other => other.to_string(),
    }
}

/// `str(value)` for an optional lookup (a missing value prints as `None`).
pub fn py_str_opt(v: Option<&Value>) -> String {
    v.map(py_str).unwrap_or_else(|| "None".into())
}

/// Python truthiness.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// An optional attribute as `NewStyleVersionsMixin` writes it: booleans in
/// lower case, everything else through `str()`.
pub fn attr_str(v: &Value) -> String {
    match v {
        Value::Bool(b) => b.to_string(),
        other => py_str(other),
    }
}

/// `%LOCALE%` / `%locale%` substitution.
pub fn with_locale(s: &str, locale: &str) -> String {
    s.replace("%LOCALE%", locale).replace("%locale%", locale)
}

/// The blob's `name`, which every schema requires.
pub fn required_name(data: &Map<String, Value>) -> Result<String> {
    data.get("name")
        .and_then(Value::as_str)
        .map(String::from)
        .ok_or_else(|| UpdatesError::InvalidBlob("'name' is a required property".into()))
}
