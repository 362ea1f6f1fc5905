//! Scopes, scope-sets and scope expressions, with Taskcluster's semantics
//! (npm `taskcluster-lib-scopes` v11).
//!
//! A *scope* is a printable-ASCII string. A held scope satisfies a required
//! one when the two are equal, or when the held scope ends in `*` and the rest
//! of it is a prefix of the required scope. A `*` anywhere else is a literal
//! character, which is why all of this is plain string work and not globbing.

mod expression;
mod sets;

pub use expression::ScopeExpr;
pub(crate) use sets::normalize_sorted;
pub use sets::{
    merge_scope_sets, normalize_scopes, scope_compare, scope_intersection, scope_union,
};

/// Errors from parsing scopes and scope expressions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// A scope contains characters outside printable ASCII (`0x20..=0x7e`).
    #[error("invalid scope {0:?}: scopes must be printable ASCII")]
    InvalidScope(String),
    /// A JSON value is not of the shape `string | {AnyOf: [...]} | {AllOf: [...]}`.
    #[error("invalid scope expression: {0}")]
    InvalidExpression(String),
}

/// True if `s` is a syntactically valid scope: printable ASCII, `^[\x20-\x7e]*$`.
///
/// The empty string is a valid scope (Taskcluster accepts it; it satisfies
/// nothing but itself).
pub fn is_valid_scope(s: &str) -> bool {
    s.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

/// True for scopes ending in `**`, which Taskcluster refuses to store in tasks,
/// clients and roles.
///
/// Such a scope is never needed: `a**` grants `a*` literally *and* every scope
/// starting with `a*`, which is almost always a typo for `a*`.
pub fn is_forbidden_in_grants(s: &str) -> bool {
    s.ends_with("**")
}

/// True if the single held scope `pattern` satisfies `scope` (Taskcluster's
/// `patternMatch`): equality, or `pattern` ends in `*` and its prefix starts
/// `scope`.
pub fn scope_matches(pattern: &str, scope: &str) -> bool {
    if pattern == scope {
        return true;
    }
    match pattern.strip_suffix('*') {
        Some(prefix) => scope.starts_with(prefix),
        None => false,
    }
}

/// True if any scope in `held` satisfies `required`.
pub fn scope_satisfied<S: AsRef<str>>(held: &[S], required: &str) -> bool {
    held.iter().any(|h| scope_matches(h.as_ref(), required))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_is_printable_ascii() {
        assert!(is_valid_scope(""));
        assert!(is_valid_scope("queue:create-task:highest:proj/x"));
        assert!(is_valid_scope(" ~*<..>"));
        assert!(!is_valid_scope("tab\there"));
        assert!(!is_valid_scope("new\nline"));
        assert!(!is_valid_scope("del\x7f"));
        assert!(!is_valid_scope("caf\u{e9}"));
    }

    #[test]
    fn double_star_is_forbidden_in_grants() {
        assert!(is_forbidden_in_grants("a**"));
        assert!(is_forbidden_in_grants("**"));
        assert!(!is_forbidden_in_grants("a*"));
        assert!(!is_forbidden_in_grants("a**b"));
        assert!(!is_forbidden_in_grants("*"));
    }

    #[test]
    fn satisfaction() {
        let held = vec!["a*".to_string(), "b".to_string(), "c:*:d".to_string()];
        assert!(scope_satisfied(&held, "a"));
        assert!(scope_satisfied(&held, "a*"));
        assert!(scope_satisfied(&held, "abc"));
        assert!(scope_satisfied(&held, "b"));
        assert!(!scope_satisfied(&held, "b*"));
        assert!(!scope_satisfied(&held, "bc"));
        // `*` in the middle is literal
        assert!(scope_satisfied(&held, "c:*:d"));
        assert!(!scope_satisfied(&held, "c:x:d"));
        assert!(!scope_satisfied(&held, ""));
        assert!(scope_satisfied(&["*"], ""));
        assert!(scope_satisfied(&["*"], "anything"));
        let none: [&str; 0] = [];
        assert!(!scope_satisfied(&none, "a"));
    }

    #[test]
    fn star_not_at_end_and_empty_scope() {
        assert!(!scope_matches("foo:*:bing", "foo:bar:bing"));
        assert!(!scope_matches("*:bar", "foo:bar"));
        assert!(!scope_matches("foo:", "foo:bar"));
        assert!(!scope_matches("", "foo:bar"));
        assert!(scope_matches("", ""));
        // a** satisfies a* (prefix "a*")
        assert!(scope_matches("a**", "a*"));
        assert!(scope_matches("a**", "a*b"));
        assert!(!scope_matches("a**", "ab"));
    }
}
