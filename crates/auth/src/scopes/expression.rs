//! Scope expressions: `"<scope>" | {"AnyOf": [expr...]} | {"AllOf": [expr...]}`.
//!
//! Every API method declares the scopes it needs as such an expression; the
//! explanation of a 403 is the part of it the caller's scopes do not satisfy.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::sets::{normalize_scopes, normalize_sorted, scope_compare};
use super::{is_valid_scope, scope_satisfied, ScopeError};

/// A scope expression. `AllOf([])` is always satisfied, `AnyOf([])` never.
#[derive(Clone, Debug, PartialEq)]
pub enum ScopeExpr {
    Scope(String),
    AnyOf(Vec<ScopeExpr>),
    AllOf(Vec<ScopeExpr>),
}

impl ScopeExpr {
    /// A single required scope.
    pub fn scope(s: impl Into<String>) -> Self {
        ScopeExpr::Scope(s.into())
    }

    /// All of the given sub-expressions.
    pub fn all_of<I>(items: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<ScopeExpr>,
    {
        ScopeExpr::AllOf(items.into_iter().map(Into::into).collect())
    }

    /// At least one of the given sub-expressions.
    pub fn any_of<I>(items: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<ScopeExpr>,
    {
        ScopeExpr::AnyOf(items.into_iter().map(Into::into).collect())
    }

    /// Parse and validate the JSON form: a valid scope string, or an object
    /// with exactly one key, `AnyOf` or `AllOf`, whose value is an array of
    /// expressions.
    pub fn from_json(value: &Value) -> Result<ScopeExpr, ScopeError> {
        match value {
            Value::String(s) if is_valid_scope(s) => Ok(ScopeExpr::Scope(s.clone())),
            Value::String(s) => Err(ScopeError::InvalidScope(s.clone())),
            Value::Object(map) => {
                let mut entries = map.iter();
                let (key, items) = match (entries.next(), entries.next()) {
                    (Some(entry), None) => entry,
                    _ => {
                        return Err(ScopeError::InvalidExpression(
                            "an object must have exactly one key, AnyOf or AllOf".into(),
                        ))
                    }
                };
                let Value::Array(items) = items else {
                    return Err(ScopeError::InvalidExpression(format!(
                        "the value of {key} must be an array"
                    )));
                };
                let subs = items
                    .iter()
                    .map(ScopeExpr::from_json)
                    .collect::<Result<Vec<_>, _>>()?;
                match key.as_str() {
                    "AnyOf" => Ok(ScopeExpr::AnyOf(subs)),
                    "AllOf" => Ok(ScopeExpr::AllOf(subs)),
                    other => Err(ScopeError::InvalidExpression(format!(
                        "unknown key {other:?}, expected AnyOf or AllOf"
                    ))),
                }
            }
            other => Err(ScopeError::InvalidExpression(format!(
                "expected a string or an object, got {other}"
            ))),
        }
    }

    /// The JSON form, as accepted by [`ScopeExpr::from_json`].
    pub fn to_json(&self) -> Value {
        let tagged = |key: &str, subs: &[ScopeExpr]| {
            let mut map = Map::new();
            map.insert(
                key.to_string(),
                Value::Array(subs.iter().map(ScopeExpr::to_json).collect()),
            );
            Value::Object(map)
        };
        match self {
            ScopeExpr::Scope(s) => Value::String(s.clone()),
            ScopeExpr::AnyOf(subs) => tagged("AnyOf", subs),
            ScopeExpr::AllOf(subs) => tagged("AllOf", subs),
        }
    }

    /// Taskcluster's `satisfiesExpression`. No role expansion happens here:
    /// `held` must already be expanded.
    pub fn satisfied_by<S: AsRef<str>>(&self, held: &[S]) -> bool {
        match self {
            ScopeExpr::Scope(s) => scope_satisfied(held, s),
            ScopeExpr::AnyOf(subs) => subs.iter().any(|e| e.satisfied_by(held)),
            ScopeExpr::AllOf(subs) => subs.iter().all(|e| e.satisfied_by(held)),
        }
    }

    /// Taskcluster's `removeGivenScopes`: the part of the expression `held`
    /// does not satisfy, or `None` if it is satisfied.
    ///
    /// Everything left under an `AllOf` is definitely missing; at least one
    /// alternative of an `AnyOf` is needed (all alternatives are kept, since
    /// none was satisfied). Single-element lists collapse to their element;
    /// no further simplification (see [`ScopeExpr::simplify`]).
    pub fn unsatisfied<S: AsRef<str>>(&self, held: &[S]) -> Option<ScopeExpr> {
        match self {
            ScopeExpr::Scope(s) if scope_satisfied(held, s) => None,
            ScopeExpr::Scope(_) => Some(self.clone()),
            ScopeExpr::AllOf(subs) => {
                let mut missing: Vec<ScopeExpr> =
                    subs.iter().filter_map(|e| e.unsatisfied(held)).collect();
                match missing.len() {
                    0 => None,
                    1 => missing.pop(),
                    _ => Some(ScopeExpr::AllOf(missing)),
                }
            }
            ScopeExpr::AnyOf(subs) => {
                let mut missing = Vec::with_capacity(subs.len());
                for e in subs {
                    missing.push(e.unsatisfied(held)?);
                }
                if missing.len() == 1 {
                    missing.pop()
                } else {
                    Some(ScopeExpr::AnyOf(missing))
                }
            }
        }
    }

    /// Taskcluster's `scopesSatisfying`: the required scopes (from the
    /// expression, not from `held`) through which `held` satisfies the
    /// expression, normalized and sorted; `None` if it is not satisfied.
    ///
    /// Not quite minimal: every satisfied alternative of an `AnyOf`
    /// contributes, because picking one would be arbitrary.
    pub fn scopes_satisfying<S: AsRef<str>>(&self, held: &[S]) -> Option<Vec<String>> {
        let mut used = Vec::new();
        if self.collect_satisfying(held, &mut used) {
            Some(normalize_scopes(used))
        } else {
            None
        }
    }

    /// Appends the scopes used to `used` and returns true if satisfied;
    /// otherwise leaves `used` as it was found and returns false.
    fn collect_satisfying<S: AsRef<str>>(&self, held: &[S], used: &mut Vec<String>) -> bool {
        let start = used.len();
        let ok = match self {
            ScopeExpr::Scope(s) => {
                let ok = scope_satisfied(held, s);
                if ok {
                    used.push(s.clone());
                }
                ok
            }
            ScopeExpr::AllOf(subs) => subs.iter().all(|e| e.collect_satisfying(held, used)),
            ScopeExpr::AnyOf(subs) => {
                // deliberately not short-circuiting: every satisfied branch counts
                let mut found = false;
                for e in subs {
                    found |= e.collect_satisfying(held, used);
                }
                found
            }
        };
        if !ok {
            used.truncate(start);
        }
        ok
    }

    /// Taskcluster's `simplifyScopeExpression`, for display (403 messages);
    /// never use the result for access control.
    ///
    /// Nested lists of the same kind are flattened, duplicates removed, scopes
    /// sorted (and, under `AllOf`, normalized), single-element lists collapse.
    pub fn simplify(&self) -> ScopeExpr {
        match self {
            ScopeExpr::Scope(_) => self.clone(),
            ScopeExpr::AnyOf(subs) => {
                let (scopes, any_ofs, all_ofs) = divide(subs.iter().cloned());
                let mut rerun = false;
                let mut flattened = Vec::new();
                for e in any_ofs {
                    rerun = true;
                    match e.simplify() {
                        ScopeExpr::AnyOf(inner) => flattened.extend(inner),
                        other => flattened.push(other),
                    }
                }
                let all_ofs = all_ofs.iter().map(ScopeExpr::simplify);
                let mut subexprs: Vec<ScopeExpr> =
                    scopes.into_iter().map(ScopeExpr::Scope).collect();
                subexprs.extend(flattened);
                subexprs.extend(all_ofs);
                finish(subexprs, rerun, ScopeExpr::AnyOf)
            }
            ScopeExpr::AllOf(subs) => {
                let (scopes, any_ofs, all_ofs) = divide(subs.iter().map(ScopeExpr::simplify));
                let scopes = normalize_sorted(scopes);
                let rerun = !all_ofs.is_empty();
                let mut subexprs: Vec<ScopeExpr> =
                    scopes.into_iter().map(ScopeExpr::Scope).collect();
                subexprs.extend(any_ofs);
                for e in all_ofs {
                    match e {
                        ScopeExpr::AllOf(inner) => subexprs.extend(inner),
                        other => subexprs.push(other),
                    }
                }
                finish(subexprs, rerun, ScopeExpr::AllOf)
            }
        }
    }
}

/// Collapse a single-element list, otherwise wrap (and simplify again if a
/// flattening may have introduced duplicates).
fn finish(
    mut subexprs: Vec<ScopeExpr>,
    rerun: bool,
    wrap: fn(Vec<ScopeExpr>) -> ScopeExpr,
) -> ScopeExpr {
    if subexprs.len() == 1 {
        if let Some(only) = subexprs.pop() {
            return only;
        }
    }
    let expr = wrap(subexprs);
    if rerun {
        expr.simplify()
    } else {
        expr
    }
}

/// Split sub-expressions into deduplicated sorted scopes, and deduplicated
/// `AnyOf`s and `AllOf`s in first-seen order.
fn divide(subs: impl Iterator<Item = ScopeExpr>) -> (Vec<String>, Vec<ScopeExpr>, Vec<ScopeExpr>) {
    let mut scopes = Vec::new();
    let mut any_ofs = Vec::new();
    let mut all_ofs = Vec::new();
    for e in subs {
        match e {
            ScopeExpr::Scope(s) => scopes.push(s),
            ScopeExpr::AnyOf(_) if !any_ofs.contains(&e) => any_ofs.push(e),
            ScopeExpr::AllOf(_) if !all_ofs.contains(&e) => all_ofs.push(e),
            _ => {}
        }
    }
    scopes.sort_by(|a, b| scope_compare(a, b));
    scopes.dedup();
    (scopes, any_ofs, all_ofs)
}

impl From<&str> for ScopeExpr {
    fn from(s: &str) -> Self {
        ScopeExpr::Scope(s.to_string())
    }
}

impl From<String> for ScopeExpr {
    fn from(s: String) -> Self {
        ScopeExpr::Scope(s)
    }
}

impl From<&String> for ScopeExpr {
    fn from(s: &String) -> Self {
        ScopeExpr::Scope(s.clone())
    }
}

/// Compact JSON, e.g. `{"AllOf":["a","b"]}`.
impl fmt::Display for ScopeExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_json())
    }
}

impl Serialize for ScopeExpr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ScopeExpr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        ScopeExpr::from_json(&value).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn e(v: Value) -> ScopeExpr {
        ScopeExpr::from_json(&v).expect("valid expression")
    }

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn validity() {
        let invalid = [
            json!({}),
            json!([]),
            json!(12),
            json!(null),
            json!({"Foo": ["abc"]}),
            json!({"AnyOf": ["abc"], "AllOf": ["abc"]}),
            json!({"AnyOf": 1}),
            json!({"AnyOf": "scope:bar"}),
            json!({"AnyOf": {}}),
            json!({"AllOf": ["ok", "not\nok"]}),
            json!({"AllOf": [{"AnyOf": [3]}]}),
            json!("tab\t"),
        ];
        for case in invalid {
            assert!(
                ScopeExpr::from_json(&case).is_err(),
                "{case} should be invalid"
            );
        }
        assert!(matches!(
            ScopeExpr::from_json(&json!("bad\u{7f}")),
            Err(ScopeError::InvalidScope(_))
        ));
        let valid = [
            json!("hello-world"),
            json!("scope:foo"),
            json!({"AnyOf": []}),
            json!({"AllOf": []}),
            json!({"AnyOf": ["abc"]}),
            json!({"AllOf": ["abc"]}),
            json!({"AnyOf": [{"AnyOf": ["scope:foo:thing"]}]}),
            json!({"AllOf": [{"AllOf": ["scope:foo:thing", "scope:bar:thing"]}]}),
            json!({"AnyOf": [{"AllOf": ["scope:foo:thing"]}]}),
            json!({"AllOf": [{"AnyOf": ["scope:foo:thing", "scope:bar:thing"]}]}),
            json!({"AllOf": [{"AnyOf": [{"AllOf": ["foo"]}, {"AllOf": ["bar"]}]}]}),
        ];
        for case in valid {
            let expr = e(case.clone());
            // round trip through JSON, Display and serde
            assert_eq!(expr.to_json(), case);
            assert_eq!(expr.to_string(), serde_json::to_string(&case).unwrap());
            let back: ScopeExpr = serde_json::from_str(&expr.to_string()).unwrap();
            assert_eq!(back, expr);
        }
    }

    #[test]
    fn builders_and_display() {
        let expr = ScopeExpr::all_of([
            ScopeExpr::scope("a"),
            ScopeExpr::any_of(["b", "c"]),
            ScopeExpr::all_of(Vec::<ScopeExpr>::new()),
        ]);
        assert_eq!(
            expr.to_string(),
            r#"{"AllOf":["a",{"AnyOf":["b","c"]},{"AllOf":[]}]}"#
        );
        assert_eq!(ScopeExpr::scope("x").to_string(), r#""x""#);
    }

    /// Taskcluster's `expression_test.js` satisfaction cases.
    #[test]
    fn not_satisfied() {
        let cases: Vec<(&[&str], Value)> = vec![
            (&[], json!({"AnyOf": []})),
            (&[], json!("missing-scope")),
            (&["wrong-scope"], json!("missing-scope")),
            (&["ghi"], json!({"AnyOf": ["abc", "def"]})),
            (&["ghi*"], json!({"AnyOf": ["abc", "def"]})),
            (&["ghi", "fff"], json!({"AnyOf": ["abc", "def"]})),
            (&["ghi*", "fff*"], json!({"AnyOf": ["abc", "def"]})),
            (&["abc"], json!({"AnyOf": ["ghi"]})),
            (&["abc*"], json!({"AllOf": ["abc", "ghi"]})),
            (&[""], json!({"AnyOf": ["abc", "def"]})),
            (&["abc:def"], json!({"AnyOf": ["abc", "def"]})),
            (
                &["xyz", "abc"],
                json!({"AllOf": [{"AnyOf": [{"AllOf": ["foo"]}, {"AllOf": ["bar"]}]}]}),
            ),
            (
                &["a*", "b*", "c*"],
                json!({"AllOf": ["bx", "cx", {"AnyOf": ["xxx", "yyyy"]}]}),
            ),
        ];
        for (held, expr) in cases {
            let expr = e(expr);
            assert!(!expr.satisfied_by(held), "{expr} by {held:?}");
            assert_eq!(expr.scopes_satisfying(held), None, "{expr} by {held:?}");
            assert!(expr.unsatisfied(held).is_some(), "{expr} by {held:?}");
        }
    }

    #[test]
    fn satisfied() {
        let cases: Vec<(&[&str], Value, &[&str])> = vec![
            (&[], json!({"AllOf": []}), &[]),
            (&["A"], json!({"AllOf": ["A"]}), &["A"]),
            (&["A", "B"], json!("A"), &["A"]),
            (&["a*", "b*", "c*"], json!("abc"), &["abc"]),
            (&["abc"], json!({"AnyOf": ["abc", "def"]}), &["abc"]),
            (&["def"], json!({"AnyOf": ["abc", "def"]}), &["def"]),
            (
                &["abc", "def"],
                json!({"AnyOf": ["abc", "def"]}),
                &["abc", "def"],
            ),
            (&["abc*"], json!({"AnyOf": ["abc", "def"]}), &["abc"]),
            (&["abc*"], json!({"AnyOf": ["abc"]}), &["abc"]),
            (
                &["abc*", "def*"],
                json!({"AnyOf": ["abc", "def"]}),
                &["abc", "def"],
            ),
            (
                &["foo"],
                json!({"AllOf": [{"AnyOf": [{"AllOf": ["foo"]}, {"AllOf": ["bar"]}]}]}),
                &["foo"],
            ),
            (
                &["a*", "b*", "c*"],
                json!({"AnyOf": ["cfoo", "dfoo"]}),
                &["cfoo"],
            ),
            (
                &["a*", "b*", "c*"],
                json!({"AnyOf": ["bx", "by"]}),
                &["bx", "by"],
            ),
            (
                &["a*", "b*", "c*"],
                json!({"AllOf": ["bx", "cx"]}),
                &["bx", "cx"],
            ),
            (
                &["a*", "b*", "c*"],
                json!({"AnyOf": [{"AllOf": ["ax", "jx"]}, {"AllOf": ["bx", "cx"]}, "bbb"]}),
                &["bbb", "bx", "cx"],
            ),
        ];
        for (held, expr, expected) in cases {
            let expr = e(expr);
            assert!(expr.satisfied_by(held), "{expr} by {held:?}");
            let used = expr.scopes_satisfying(held).expect("satisfied");
            assert_eq!(used, v(expected), "{expr} by {held:?}");
            // the scopes used really do satisfy the expression
            assert!(expr.satisfied_by(&used), "{expr} by {used:?}");
            assert_eq!(expr.unsatisfied(held), None, "{expr} by {held:?}");
        }
    }

    /// Taskcluster's `removeGivenScopes` cases.
    #[test]
    fn unsatisfied_explanations() {
        let cases: Vec<(&[&str], Value, Option<Value>)> = vec![
            (&[], json!({"AllOf": []}), None),
            (&["a"], json!({"AllOf": ["a"]}), None),
            (&["a"], json!({"AllOf": ["a", "b"]}), Some(json!("b"))),
            (&[], json!({"AnyOf": []}), Some(json!({"AnyOf": []}))),
            (&["a"], json!({"AnyOf": ["a", "b"]}), None),
            (
                &["c"],
                json!({"AnyOf": ["a", "b"]}),
                Some(json!({"AnyOf": ["a", "b"]})),
            ),
            (
                &["ghi"],
                json!({"AnyOf": ["abc", "def"]}),
                Some(json!({"AnyOf": ["abc", "def"]})),
            ),
            (
                &["ghi"],
                json!({"AllOf": ["abc", "def", "ghi"]}),
                Some(json!({"AllOf": ["abc", "def"]})),
            ),
            (
                &["ghi*", "fff*"],
                json!({"AnyOf": ["abc", "def"]}),
                Some(json!({"AnyOf": ["abc", "def"]})),
            ),
            (
                &["xyz", "abc"],
                json!({"AllOf": [{"AnyOf": [{"AllOf": ["foo"]}, {"AllOf": ["bar"]}]}]}),
                Some(json!({"AnyOf": ["foo", "bar"]})),
            ),
        ];
        for (held, expr, expected) in cases {
            let got = e(expr).unsatisfied(held).map(|x| x.to_json());
            assert_eq!(got, expected, "held {held:?}");
        }
    }

    #[test]
    fn simplification() {
        let cases = [
            (json!("scope:1"), json!("scope:1")),
            (json!({"AnyOf": []}), json!({"AnyOf": []})),
            (json!({"AllOf": []}), json!({"AllOf": []})),
            (
                json!({"AnyOf": ["scope:1", "scope:2", "scope:1"]}),
                json!({"AnyOf": ["scope:1", "scope:2"]}),
            ),
            (
                json!({"AnyOf": ["scope:1", {"AllOf": ["scope:2", "scope:3"]}, {"AllOf": ["scope:2", "scope:3"]}]}),
                json!({"AnyOf": ["scope:1", {"AllOf": ["scope:2", "scope:3"]}]}),
            ),
            (
                json!({"AnyOf": ["scope:1", "other", "scope:2", "scope:*"]}),
                json!({"AnyOf": ["other", "scope:*", "scope:1", "scope:2"]}),
            ),
            (
                json!({"AllOf": ["scope:1", "other", "scope:2", "scope:*"]}),
                json!({"AllOf": ["other", "scope:*"]}),
            ),
            (json!({"AllOf": ["scope:1"]}), json!("scope:1")),
            (json!({"AnyOf": ["scope:1"]}), json!("scope:1")),
            (
                json!({"AllOf": ["scope:1", {"AnyOf": ["other2", "other3"]}, "other", "scope:*"]}),
                json!({"AllOf": ["other", "scope:*", {"AnyOf": ["other2", "other3"]}]}),
            ),
            (
                json!({"AllOf": ["scope1", {"AllOf": ["scope2", "scope3a", "scope3b",
                    {"AllOf": [{"AnyOf": ["other1", "other2"]}, "scope4", "scope3*"]}]}]}),
                json!({"AllOf": ["scope1", "scope2", "scope3*", "scope4", {"AnyOf": ["other1", "other2"]}]}),
            ),
            (
                json!({"AllOf": [{"AnyOf": ["scope1", "scope2"]}, {"AnyOf": ["scope2", "scope3"]}]}),
                json!({"AllOf": [{"AnyOf": ["scope1", "scope2"]}, {"AnyOf": ["scope2", "scope3"]}]}),
            ),
            (
                json!({"AnyOf": ["scope1", {"AnyOf": ["scope2", "scope3a", "scope3b",
                    {"AnyOf": [{"AllOf": ["other1", "other2"]}, "scope4", "scope3*"]}]}]}),
                json!({"AnyOf": ["scope1", "scope2", "scope3*", "scope3a", "scope3b", "scope4",
                    {"AllOf": ["other1", "other2"]}]}),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(
                e(input.clone()).simplify().to_json(),
                expected,
                "simplify({input})"
            );
        }
    }

    /// Taskcluster's "complex expression from a queue error": explain, then simplify.
    #[test]
    fn explain_then_simplify_a_create_task_error() {
        let expr = e(json!({"AllOf": [
            "scope1",
            "queue:route:a",
            {"AnyOf": [
                {"AllOf": [
                    "queue:scheduler-id:something",
                    {"AnyOf": [
                        "queue:create-task:highest:some/workerpool",
                        "queue:create-task:very-high:some/workerpool",
                        "queue:create-task:high:some/workerpool",
                        "queue:create-task:medium:some/workerpool",
                    ]},
                ]},
                {"AnyOf": [
                    "queue:create-task:some/workerpool",
                    {"AllOf": [
                        "queue:define-task:some/workerpool",
                        "queue:task-group-id:something/carDoq--Q6q4manuwsH9IA",
                        "queue:schedule-task:something/carDoq--Q6q4manuwsH9IA/DKg4EV9xSPiMfbFUJciO1g",
                    ]},
                ]},
            ]},
        ]}));
        let held = [
            "scope1",
            "queue:route:a",
            "queue:create-task:medium:some/workerpool",
        ];
        let missing = expr.unsatisfied(&held).expect("not satisfied");
        assert_eq!(
            missing.simplify().to_json(),
            json!({"AnyOf": [
                "queue:create-task:some/workerpool",
                "queue:scheduler-id:something",
                {"AllOf": [
                    "queue:define-task:some/workerpool",
                    "queue:schedule-task:something/carDoq--Q6q4manuwsH9IA/DKg4EV9xSPiMfbFUJciO1g",
                    "queue:task-group-id:something/carDoq--Q6q4manuwsH9IA",
                ]},
            ]})
        );
    }

    #[test]
    fn simplify_preserves_meaning_on_all_subsets() {
        let expr = e(json!({"AnyOf": [
            {"AllOf": ["a*", "ab", {"AnyOf": ["c", {"AnyOf": ["d", "c"]}]}]},
            {"AllOf": [{"AllOf": ["e", "a*"]}, "e"]},
            "f",
            {"AllOf": []},
        ]}));
        let simple = expr.simplify();
        let universe = ["a*", "a-x", "ab", "c", "d", "e", "f"];
        for mask in 0u32..(1 << universe.len()) {
            let held: Vec<&str> = universe
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, s)| *s)
                .collect();
            assert_eq!(
                expr.satisfied_by(&held),
                simple.satisfied_by(&held),
                "{held:?}"
            );
        }
        let no_empty =
            e(json!({"AnyOf": [{"AllOf": ["a", {"AnyOf": ["b", {"AnyOf": ["c"]}]}]}, "z"]}));
        let simple = no_empty.simplify();
        for held in [vec![], vec!["a"], vec!["a", "c"], vec!["z"], vec!["b"]] {
            assert_eq!(
                no_empty.satisfied_by(&held),
                simple.satisfied_by(&held),
                "{held:?}"
            );
        }
    }
}
