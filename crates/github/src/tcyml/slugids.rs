//! `as_slugid(label)`: one fresh slugid per label per render.
//!
//! The `json-e` crate takes only JSON data as context (no host functions), so each call in an
//! expression is rewritten into a string marker carrying its label, and the markers in the rendered
//! result are then replaced by slugids, one per distinct label. Equal labels give equal markers, so
//! comparisons and concatenations of results behave as they would with the real function.

use std::collections::HashMap;

use serde_json::{Map, Value};

const MARK_START: &str = "\u{1}as_slugid:";
const MARK_END: char = '\u{2}';
const FUNCTION: &str = "as_slugid";

/// Rewrites `as_slugid(...)` wherever the template holds an expression.
pub(super) fn rewrite_calls(template: &Value) -> Value {
    match template {
        Value::String(s) => Value::String(rewrite_interpolations(s)),
        Value::Array(items) => Value::Array(items.iter().map(rewrite_calls).collect()),
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, value) in map {
                let value = match (key.as_str(), value) {
                    ("$eval" | "$if", Value::String(expr)) => {
                        Value::String(rewrite_expression(expr))
                    }
                    (k, Value::String(expr)) if k.starts_with("by(") => {
                        Value::String(rewrite_expression(expr))
                    }
                    ("$switch" | "$match", Value::Object(cases)) => Value::Object(
                        cases
                            .iter()
                            .map(|(cond, v)| (rewrite_expression(cond), rewrite_calls(v)))
                            .collect(),
                    ),
                    _ => rewrite_calls(value),
                };
                out.insert(rewrite_interpolations(key), value);
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// Rewrites the expressions inside `${...}` of a string (`$${` is JSON-e's escape).
fn rewrite_interpolations(s: &str) -> String {
    if !s.contains(FUNCTION) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        if rest.starts_with("$${") {
            out.push_str("$${");
            i += 3;
        } else if rest.starts_with("${") {
            match closing(rest, 1, '{', '}') {
                Some(end) => {
                    out.push_str("${");
                    out.push_str(&rewrite_expression(&rest[2..end]));
                    out.push('}');
                    i += end + 1;
                }
                None => {
                    out.push_str(rest);
                    break;
                }
            }
        } else {
            let c = rest.chars().next().unwrap_or_default();
            out.push(c);
            i += c.len_utf8().max(1);
        }
    }
    out
}

/// Rewrites each call `as_slugid(ARGS)` in an expression into a marker-building expression.
fn rewrite_expression(expr: &str) -> String {
    let mut out = String::with_capacity(expr.len());
    let mut quote: Option<char> = None;
    let mut i = 0;
    while i < expr.len() {
        let rest = &expr[i..];
        let c = rest.chars().next().unwrap_or_default();
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
        } else if c == '"' || c == '\'' {
            quote = Some(c);
        } else if rest.starts_with(FUNCTION)
            && rest[FUNCTION.len()..].starts_with('(')
            && !expr[..i]
                .chars()
                .next_back()
                .is_some_and(|p| p.is_alphanumeric() || p == '_' || p == '.')
        {
            let open = FUNCTION.len();
            if let Some(end) = closing(rest, open, '(', ')') {
                let args = rewrite_expression(&rest[open + 1..end]);
                out.push_str(&format!(
                    "(\"{MARK_START}\" + str({args}) + \"{MARK_END}\")"
                ));
                i += end + 1;
                continue;
            }
        }
        out.push(c);
        i += c.len_utf8().max(1);
    }
    out
}

/// The byte index of the bracket closing the one at `open`, skipping string literals.
fn closing(s: &str, open: usize, left: char, right: char) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices().skip_while(|(i, _)| *i < open) {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == left => depth += 1,
            None if c == right => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(i);
                }
            }
            None => {}
        }
    }
    None
}

/// Replaces the markers in a rendered value by slugids, one per label.
pub(super) fn resolve_markers(value: Value) -> Value {
    let mut ids = HashMap::new();
    resolve(value, &mut ids)
}

fn resolve(value: Value, ids: &mut HashMap<String, String>) -> Value {
    match value {
        Value::String(s) => Value::String(replace_markers(&s, ids)),
        Value::Array(items) => Value::Array(items.into_iter().map(|v| resolve(v, ids)).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (replace_markers(&k, ids), resolve(v, ids)))
                .collect(),
        ),
        other => other,
    }
}

fn replace_markers(s: &str, ids: &mut HashMap<String, String>) -> String {
    if !s.contains(MARK_START) {
        return s.to_string();
    }
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find(MARK_START) {
        out.push_str(&rest[..start]);
        let after = &rest[start + MARK_START.len()..];
        let Some(end) = after.find(MARK_END) else {
            out.push_str(&rest[start..]);
            return out;
        };
        let id = ids
            .entry(after[..end].to_string())
            .or_insert_with(relyard_core::ids::slugid);
        out.push_str(id);
        rest = &after[end + MARK_END.len_utf8()..];
    }
    out.push_str(rest);
    out
}
