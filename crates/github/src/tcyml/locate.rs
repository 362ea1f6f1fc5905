//! Naming the expression a JSON-e error came from: the `json-e` crate's errors say what went
//! wrong but not where, so each expression of the template is tried alone in the top-level
//! context and the first one failing with the same message is named.

use serde_json::{json, Value};

use super::slugids;

#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    /// Where in the file, e.g. `tasks[0].payload.command[1]`.
    pub path: String,
    pub expression: String,
}

pub(super) fn failing_expression(
    template: &Value,
    context: &Value,
    message: &str,
) -> Option<Location> {
    let mut path = String::new();
    search(template, context, message, &mut path)
}

fn fails_alike(probe: Value, context: &Value, message: &str) -> bool {
    let probe = slugids::rewrite_calls(&probe);
    matches!(json_e::render(&probe, context), Err(e) if e.to_string() == message)
}

fn search(value: &Value, context: &Value, message: &str, path: &mut String) -> Option<Location> {
    match value {
        Value::String(s) if s.contains("${") => {
            fails_alike(value.clone(), context, message).then(|| Location {
                path: path.clone(),
                expression: s.clone(),
            })
        }
        Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            let found = search(item, context, message, path);
            path.truncate(len);
            found
        }),
        Value::Object(map) => map.iter().find_map(|(key, item)| {
            let len = path.len();
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(key);
            let found = match (key.as_str(), item) {
                ("$eval" | "$if", Value::String(expr))
                    if fails_alike(json!({ "$eval": expr }), context, message) =>
                {
                    Some(Location {
                        path: path.clone(),
                        expression: expr.clone(),
                    })
                }
                _ => search(item, context, message, path),
            };
            path.truncate(len);
            found
        }),
        _ => None,
    }
}
