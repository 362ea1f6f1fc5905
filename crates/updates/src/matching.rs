//! Balrog's column matchers (`util/rulematching.py`, `util/comparison.py`).
//!
//! Every function takes the rule's column (None = wildcard) and the query's
//! value, and answers whether the rule still applies.

use std::cmp::Ordering;

use once_cell::sync::Lazy;
use regex::Regex;

use crate::error::{bad_data, Result};
use crate::versions::{LooseVersion, MozVersion};

/// The channel the query falls back to: the part before `-cck-`.
pub fn fallback_channel(channel: &str) -> &str {
    channel.split("-cck-").next().unwrap_or(channel)
}

/// A rule channel matches exactly, or, when it ends in `*` and is at least
/// three characters long, as a prefix glob (only the last `*` is special).
pub fn match_glob(rule: &str, value: &str) -> bool {
    match rule.strip_suffix('*') {
        Some(prefix) if rule.len() >= 3 => value.starts_with(prefix),
        Some(_) => false,
        None => rule == value,
    }
}

pub fn match_channel(rule: Option<&str>, channel: &str, fallback: &str) -> bool {
    match rule {
        None => true,
        Some(r) => match_glob(r, channel) || match_glob(r, fallback),
    }
}

/// Comparison operators as `get_op` parses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    /// Equality tested both ways (a glob pattern).
    EitherEq,
    Ge,
    Gt,
    Lt,
    Le,
}

impl Op {
    fn holds(self, o: Ordering) -> bool {
        match self {
            Op::Eq | Op::EitherEq => o == Ordering::Equal,
            Op::Ge => o != Ordering::Less,
            Op::Gt => o == Ordering::Greater,
            Op::Lt => o == Ordering::Less,
            Op::Le => o != Ordering::Greater,
        }
    }
}

static OPERAND: Lazy<Regex> = Lazy::new(|| Regex::new(r"^[.\w]+").expect("static regex"));

/// Splits `">=20"` into (Ge, "20"). A pattern ending in `*` is a glob; one
/// starting with a word character is compared for equality as a whole; the
/// operand after an operator is the run of word characters and dots that
/// follows it (Balrog uses `re.match`, so trailing junk is ignored).
/// Balrog crashes on anything else; we treat that as bad data.
pub fn get_op(pattern: &str) -> Result<(Op, &str)> {
    if pattern.ends_with('*') {
        return Ok((Op::EitherEq, pattern));
    }
    if pattern
        .chars()
        .next()
        .is_some_and(|c| c.is_alphanumeric() || c == '_')
    {
        return Ok((Op::Eq, pattern));
    }
    for (prefix, op) in [(">=", Op::Ge), (">", Op::Gt), ("<", Op::Lt), ("<=", Op::Le)] {
        if let Some(rest) = pattern.strip_prefix(prefix) {
            if let Some(m) = OPERAND.find(rest) {
                return Ok((op, &rest[..m.end()]));
            }
        }
    }
    Err(bad_data(format!("Invalid comparison '{pattern}'")))
}

/// Lexicographic string comparison (how Balrog compares buildIDs).
pub fn string_compare(value: &str, pattern: &str) -> Result<bool> {
    let (op, operand) = get_op(pattern)?;
    Ok(op.holds(value.cmp(operand)))
}

pub fn int_compare(value: i64, pattern: &str) -> Result<bool> {
    let (op, operand) = get_op(pattern)?;
    let operand: i64 = operand
        .trim()
        .parse()
        .map_err(|_| bad_data(format!("invalid literal for int(): '{operand}'")))?;
    Ok(op.holds(value.cmp(&operand)))
}

/// Which version class a product's versions are compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionClass {
    Mozilla,
    Loose,
}

impl VersionClass {
    pub fn for_product(product: &str) -> VersionClass {
        match product {
            "FirefoxVPN" | "Guardian" => VersionClass::Loose,
            _ => VersionClass::Mozilla,
        }
    }
}

pub fn version_compare(value: &str, pattern: &str, class: VersionClass) -> Result<bool> {
    let (op, operand) = get_op(pattern)?;
    match class {
        VersionClass::Mozilla => {
            let (a, b) = (MozVersion::parse(value)?, MozVersion::parse(operand)?);
            Ok(match op {
                Op::Eq | Op::EitherEq => a.either_eq(&b),
                _ => op.holds(a.cmp_to(&b)),
            })
        }
        VersionClass::Loose => {
            let o = LooseVersion::parse(value).cmp_to(&LooseVersion::parse(operand))?;
            Ok(op.holds(o))
        }
    }
}

/// A comma list of version patterns; any one matching is enough.
pub fn match_version(rule: Option<&str>, version: &str, class: VersionClass) -> Result<bool> {
    let Some(rule) = rule else { return Ok(true) };
    for item in rule.split(',') {
        if version_compare(version, item, class)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// buildIDs: one pattern (no comma list), compared as strings.
pub fn match_build_id(rule: Option<&str>, build_id: &str) -> Result<bool> {
    match rule {
        None => Ok(true),
        Some(r) => string_compare(build_id, r),
    }
}

pub fn match_memory(rule: Option<&str>, memory: Option<i64>) -> Result<bool> {
    match (rule, memory) {
        (Some(r), Some(m)) => int_compare(m, r),
        _ => Ok(true),
    }
}

/// Exact membership in a comma list (locale, distribution, instructionSet).
/// A query without the field (None) matches only rules without the column.
pub fn match_csv(rule: Option<&str>, value: Option<&str>) -> bool {
    match rule {
        None => true,
        Some(r) => value.is_some_and(|v| r.split(',').any(|part| part == v)),
    }
}

/// osVersion: `,` separates alternatives, `&&` joins terms that must all be
/// substrings of the query's value.
pub fn match_simple_expression(rule: Option<&str>, value: &str) -> bool {
    let Some(rule) = rule else { return true };
    rule.split(',')
        .any(|alt| alt.split("&&").all(|term| value.contains(term.trim())))
}

/// mig64 / jaws: a rule value needs the query to carry the same value.
pub fn match_boolean(rule: Option<bool>, value: Option<bool>) -> bool {
    match rule {
        None => true,
        Some(r) => value == Some(r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // balrog tests/util/test_rulematching.py and test_compare.py.
    #[test]
    fn channels() {
        assert!(match_channel(
            Some("release*"),
            "release-cck-foo",
            "release"
        ));
        assert!(match_channel(
            Some("nightly*"),
            "nightly-e10s",
            "nightly-e10s"
        ));
        assert!(
            !match_channel(Some("a*"), "ab", "ab"),
            "globs need three characters"
        );
        assert!(match_channel(
            Some("release"),
            "release-cck-mozilla14",
            "release"
        ));
        assert!(!match_channel(
            Some("release"),
            "releasetest",
            "releasetest"
        ));
        assert!(match_channel(Some("foo.*"), "foo.bar", "foo.bar"));
        assert!(!match_channel(Some("foo.*"), "fooxbar", "fooxbar"));
        assert_eq!(fallback_channel("release-cck-yahoo"), "release");
    }

    #[test]
    fn comparisons() {
        assert!(string_compare("20100101", ">20090101").unwrap());
        assert!(!string_compare("a", ">b").unwrap());
        assert!(string_compare("1", "<=1").unwrap());
        assert!(
            string_compare("9", ">10").unwrap(),
            "buildIDs compare as strings"
        );
        assert!(int_compare(8096, ">=8000").unwrap());
        assert!(!int_compare(1, ">2").unwrap());
        assert!(version_compare("1.1", ">1.0", VersionClass::Mozilla).unwrap());
        assert!(version_compare("70.0a1", "70.*", VersionClass::Mozilla).unwrap());
        assert!(version_compare("4.0", "<=4.0", VersionClass::Mozilla).unwrap());
    }

    #[test]
    fn version_lists() {
        assert!(match_version(Some("<=3.5,>=3.6.10"), "3.6.12", VersionClass::Mozilla).unwrap());
        assert!(!match_version(Some("3.5,3.6"), "3.6.1", VersionClass::Mozilla).unwrap());
        assert!(match_version(None, "whatever", VersionClass::Mozilla).unwrap());
        assert!(match_version(Some("66.0abc"), "66.0", VersionClass::Mozilla).is_err());
    }

    #[test]
    fn simple_expressions() {
        assert!(match_simple_expression(
            Some("Windows_NT 5.1"),
            "Windows_NT 5.1.3.0 (x86)"
        ));
        assert!(match_simple_expression(Some("AMD,SSE"), "SSE3"));
        assert!(match_simple_expression(
            Some("Windows_NT 6.1 && x64, Darwin"),
            "Windows_NT 6.1.2 x64"
        ));
        assert!(!match_simple_expression(
            Some("Windows_NT 6.1 && x64"),
            "Windows_NT 6.1.2 x86"
        ));
    }

    #[test]
    fn booleans_truth_table() {
        // The table in matchBoolean's docstring.
        let cases = [
            (Some(false), Some(false), true),
            (Some(false), Some(true), false),
            (Some(false), None, false),
            (Some(true), Some(false), false),
            (Some(true), Some(true), true),
            (Some(true), None, false),
            (None, Some(false), true),
            (None, Some(true), true),
            (None, None, true),
        ];
        for (rule, query, expected) in cases {
            assert_eq!(match_boolean(rule, query), expected, "{rule:?} {query:?}");
        }
    }

    #[test]
    fn csv() {
        assert!(match_csv(Some("de,en-US,fr"), Some("en-US")));
        assert!(!match_csv(Some("de,en-US"), Some("en")));
        assert!(!match_csv(Some("default"), Some("")));
        assert!(match_csv(None, None));
        assert!(!match_csv(Some("SSE"), None));
    }
}
