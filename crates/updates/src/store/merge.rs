//! The three-way merge Balrog applies when a release is written at an older data_version than
//! the current one (concurrent locale submissions from many build machines): the writer's blob
//! and the current blob are merged against the blob the writer started from. Objects merge key
//! by key, arrays as sets; a scalar changed on both sides to different values is a conflict.

use serde_json::{Map, Value};

/// Why two blobs cannot be merged: the key path that both sides changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeConflict(pub String);

/// Merges `mine` (the writer's blob) and `theirs` (the current blob), both descended from
/// `base` (the blob at the writer's data_version).
pub fn merge_blobs(base: &Value, theirs: &Value, mine: &Value) -> Result<Value, MergeConflict> {
    merge_value("", Some(base), Some(theirs), Some(mine))
}

fn merge_value(
    path: &str,
    base: Option<&Value>,
    theirs: Option<&Value>,
    mine: Option<&Value>,
) -> Result<Value, MergeConflict> {
    let present: Vec<&Value> = [base, theirs, mine].into_iter().flatten().collect();
    let kinds: Vec<u8> = present
        .iter()
        .filter(|v| !v.is_null())
        .map(|v| kind(v))
        .collect();
    if kinds.windows(2).any(|w| w[0] != w[1]) {
        return Err(MergeConflict(format!("type mismatch at {path}")));
    }
    let as_obj = |v: Option<&Value>| v.and_then(Value::as_object).cloned().unwrap_or_default();
    if present.iter().any(|v| v.is_object()) {
        return merge_objects(path, &as_obj(base), &as_obj(theirs), &as_obj(mine));
    }
    if present.iter().any(|v| v.is_array()) {
        let mut out: Vec<Value> = Vec::new();
        for v in [base, theirs, mine].into_iter().flatten() {
            for item in v.as_array().into_iter().flatten() {
                if !out.contains(item) {
                    out.push(item.clone());
                }
            }
        }
        return Ok(Value::Array(out));
    }
    match base {
        Some(b) => match (theirs, mine) {
            (Some(t), Some(m)) if t != b && m != b && t != m => {
                Err(MergeConflict(format!("both sides changed {path}")))
            }
            (Some(t), _) if t != b => Ok(t.clone()),
            (_, Some(m)) if m != b => Ok(m.clone()),
            _ => Ok(b.clone()),
        },
        None => match (theirs, mine) {
            (Some(t), Some(m)) if t != m => Err(MergeConflict(format!("both sides added {path}"))),
            (Some(t), _) => Ok(t.clone()),
            (_, Some(m)) => Ok(m.clone()),
            (None, None) => Ok(Value::Null),
        },
    }
}

fn merge_objects(
    path: &str,
    base: &Map<String, Value>,
    theirs: &Map<String, Value>,
    mine: &Map<String, Value>,
) -> Result<Value, MergeConflict> {
    let mut keys: Vec<&String> = base
        .keys()
        .chain(theirs.keys())
        .chain(mine.keys())
        .collect();
    keys.sort();
    keys.dedup();
    let mut out = Map::new();
    for key in keys {
        let sub = format!("{path}/{key}");
        let v = merge_value(&sub, base.get(key), theirs.get(key), mine.get(key))?;
        out.insert(key.clone(), v);
    }
    Ok(Value::Object(out))
}

fn kind(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn different_locales_merge() {
        let base = json!({"name": "r", "platforms": {"p": {"locales": {"de": {"v": 1}}}}});
        let theirs =
            json!({"name": "r", "platforms": {"p": {"locales": {"de": {"v": 1}, "fr": {"v": 2}}}}});
        let mine = json!({"name": "r", "platforms": {"p": {"locales": {"de": {"v": 1}, "en-US": {"v": 3}}}}});
        let merged = merge_blobs(&base, &theirs, &mine).unwrap();
        assert_eq!(
            merged["platforms"]["p"]["locales"],
            json!({"de": {"v": 1}, "fr": {"v": 2}, "en-US": {"v": 3}})
        );
    }

    #[test]
    fn the_same_key_changed_twice_conflicts() {
        let base = json!({"a": {"x": 1}});
        assert!(merge_blobs(&base, &json!({"a": {"x": 2}}), &json!({"a": {"x": 3}})).is_err());
        assert!(merge_blobs(&json!({}), &json!({"b": 1}), &json!({"b": 2})).is_err());
        // The same change on both sides is no conflict.
        assert_eq!(
            merge_blobs(&base, &json!({"a": {"x": 2}}), &json!({"a": {"x": 2}})).unwrap(),
            json!({"a": {"x": 2}})
        );
        assert!(merge_blobs(&base, &json!({"a": 1}), &base).is_err());
    }
}
