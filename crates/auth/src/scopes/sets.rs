//! Scope-set operations: ordering, normalization, merge, union, intersection.
//!
//! A scope-set is *normalized* when no scope in it satisfies another one. The
//! canonical representation is normalized and sorted by [`scope_compare`].

use std::cmp::Ordering;

use super::scope_matches;

/// Taskcluster's `scopeCompare`: lexical order, except that a trailing `*`
/// sorts *before* the end of the string, so `a*` < `a` < `a(` < `aa`.
///
/// With this order every scope satisfied by `P*` directly follows `P*`, which
/// makes normalization and merging a single linear pass. Only a *trailing* `*`
/// is special: `a**` compares as `a*` followed by a trailing star.
pub fn scope_compare(a: &str, b: &str) -> Ordering {
    let (a_body, a_star) = split_kleene(a);
    let (b_body, b_star) = split_kleene(b);
    // Equivalent to comparing the keys (body, !star).
    a_body
        .as_bytes()
        .cmp(b_body.as_bytes())
        .then_with(|| b_star.cmp(&a_star))
}

fn split_kleene(s: &str) -> (&str, bool) {
    match s.strip_suffix('*') {
        Some(body) => (body, true),
        None => (s, false),
    }
}

fn is_sorted(scopes: &[String]) -> bool {
    scopes
        .windows(2)
        .all(|w| scope_compare(&w[0], &w[1]) != Ordering::Greater)
}

/// Drop duplicates and scopes satisfied by another scope in the set; the result
/// is sorted with [`scope_compare`].
pub fn normalize_scopes(mut scopes: Vec<String>) -> Vec<String> {
    scopes.sort_unstable_by(|a, b| scope_compare(a, b));
    normalize_sorted(scopes)
}

/// Taskcluster's `normalizeScopeSet`, for input already sorted by
/// [`scope_compare`]: keep a scope, then skip everything it satisfies.
pub(crate) fn normalize_sorted<T: AsRef<str>>(scopes: Vec<T>) -> Vec<T> {
    let mut result: Vec<T> = Vec::with_capacity(scopes.len());
    for scope in scopes {
        if let Some(last) = result.last() {
            if scope_matches(last.as_ref(), scope.as_ref()) {
                continue;
            }
        }
        result.push(scope);
    }
    result
}

/// Merge two scope-sets into one normalized, sorted scope-set satisfying
/// exactly what either input satisfies (Taskcluster's `mergeScopeSets`).
///
/// Inputs sorted by [`scope_compare`] (the normal case: both came out of this
/// module) are merged in one linear pass; unsorted input is sorted first
/// rather than silently producing a non-normalized result.
pub fn merge_scope_sets(a: &[String], b: &[String]) -> Vec<String> {
    if !is_sorted(a) || !is_sorted(b) {
        return normalize_scopes(a.iter().chain(b).cloned().collect());
    }
    let mut merged = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if scope_compare(&a[i], &b[j]) == Ordering::Greater {
            merged.push(b[j].clone());
            j += 1;
        } else {
            merged.push(a[i].clone());
            i += 1;
        }
    }
    merged.extend_from_slice(&a[i..]);
    merged.extend_from_slice(&b[j..]);
    normalize_sorted(merged)
}

/// The union of two scope-sets in any order: normalized and sorted.
pub fn scope_union(a: &[String], b: &[String]) -> Vec<String> {
    normalize_scopes(a.iter().chain(b).cloned().collect())
}

/// Taskcluster's `scopeIntersection`: the scopes of `a` satisfied by some scope
/// of `b`, followed by the scopes of `b` satisfied by some scope of `a`,
/// without duplicates (first occurrence kept). Not normalized, as in
/// Taskcluster; pass it through [`normalize_scopes`] if needed.
pub fn scope_intersection(a: &[String], b: &[String]) -> Vec<String> {
    let from_a = a.iter().filter(|s| b.iter().any(|p| scope_matches(p, s)));
    let from_b = b.iter().filter(|s| a.iter().any(|p| scope_matches(p, s)));
    let mut result: Vec<String> = Vec::new();
    for s in from_a.chain(from_b) {
        if !result.contains(s) {
            result.push(s.clone());
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn sorted(mut s: Vec<String>) -> Vec<String> {
        s.sort();
        s
    }

    /// Taskcluster's `normalize_test.js` total-order lists: every pair must
    /// compare as its position.
    #[test]
    fn compare_is_the_documented_total_order() {
        let lists: [&[&str]; 3] = [
            &["abc*", "abc", "abc%d"],
            &[
                "*", "", "**", "***", "****", "aaa*", "aaa", "aaa**", "aaa***", "aaa****",
                "aaa*****",
            ],
            &[
                "x*", "x", "x%*", "x%", "x%%", "x%a", "x**", "x*%", "x*a", "xa*", "xa", "xa%",
                "xaa",
            ],
        ];
        for list in lists {
            for (i, a) in list.iter().enumerate() {
                for (j, b) in list.iter().enumerate() {
                    assert_eq!(scope_compare(a, b), i.cmp(&j), "{a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn sorting() {
        let cases: [(&[&str], &[&str]); 4] = [
            (
                &[
                    "test-12", "test-2", "test-11", "test-1", "test-1*", "test-13", "test-3",
                ],
                &[
                    "test-1*", "test-1", "test-11", "test-12", "test-13", "test-2", "test-3",
                ],
            ),
            (
                &["test*a", "test*b", "test*", "test", "testb"],
                &["test*", "test", "test*a", "test*b", "testb"],
            ),
            (&["(", "*", ""], &["*", "", "("]),
            (&["ab(", "ab*", "aa"], &["aa", "ab*", "ab("]),
        ];
        for (input, expected) in cases {
            let mut s = v(input);
            s.sort_by(|a, b| scope_compare(a, b));
            assert_eq!(s, v(expected));
        }
        let role_ids = v(&[
            "*", "a*", "a", "aa", "aaa", "aab", "ab", "abb*", "abb", "abbc", "ca", "caa", "cab*",
            "cab", "cc*",
        ]);
        let mut reversed = role_ids.clone();
        reversed.reverse();
        reversed.sort_by(|a, b| scope_compare(a, b));
        assert_eq!(reversed, role_ids);
    }

    #[test]
    fn normalization() {
        let cases: [(&[&str], &[&str]); 10] = [
            (&[], &[]),
            (&["a*", "b*"], &["a*", "b*"]),
            (&["abc", "abx*", "ab*", "b", "b*"], &["ab*", "b*"]),
            (
                &["abc", "abx*", "ab*", "b", "b*", "abc*", "b*", "b*"],
                &["ab*", "b*"],
            ),
            (&["*", "test", "te*"], &["*"]),
            (&["test*", "t*"], &["t*"]),
            (&["abc", "ab*", "a", "ab"], &["ab*", "a"]),
            (&["ab", "a", "abc*"], &["a", "ab", "abc*"]),
            (&["a*", "ab", "a", "abc*"], &["a*"]),
            (&["a", "a", "b"], &["a", "b"]),
        ];
        for (input, expected) in cases {
            let got = normalize_scopes(v(input));
            let mut want = v(expected);
            want.sort_by(|a, b| scope_compare(a, b));
            assert_eq!(got, want, "normalize({input:?})");
        }
        // literal stars in the middle are not wildcards
        assert_eq!(normalize_scopes(v(&["a*b", "a*bc"])), v(&["a*b", "a*bc"]));
        // `a**` is satisfied by `a*`
        assert_eq!(normalize_scopes(v(&["a**", "a*"])), v(&["a*"]));
    }

    #[test]
    fn merging() {
        let cases: [(&[&str], &[&str], &[&str]); 5] = [
            (&["a", "b", "c"], &[], &["a", "b", "c"]),
            (&["b*", "ab", "aa", "a", "a*"], &[], &["a*", "b*"]),
            (
                &[],
                &["assume:tr-10", "assume:tr-9", "special-scope"],
                &["assume:tr-10", "assume:tr-9", "special-scope"],
            ),
            (
                &["b*", "ab", "aa", "a*", "c", "ca", "da*"],
                &["b*", "ab", "aa", "a*", "abc", "ab*", "ca", "daa"],
                &["a*", "b*", "c", "ca", "da*"],
            ),
            (&["x", "z"], &["y*", "x*"], &["x*", "y*", "z"]),
        ];
        for (a, b, expected) in cases {
            let mut a = v(a);
            let mut b = v(b);
            // unsorted input still gives the right answer
            assert_eq!(merge_scope_sets(&a, &b), v(expected));
            a.sort_by(|x, y| scope_compare(x, y));
            b.sort_by(|x, y| scope_compare(x, y));
            assert_eq!(merge_scope_sets(&a, &b), v(expected));
            assert_eq!(merge_scope_sets(&b, &a), v(expected));
        }
    }

    #[test]
    fn union() {
        let cases: [(&[&str], &[&str], &[&str]); 5] = [
            (
                &["abc", "d*", "xyzb*"],
                &["abc", "d*", "xyzb*"],
                &["abc", "d*", "xyzb*"],
            ),
            (
                &["abc", "a*", "d*", "xyzb*"],
                &["abc", "a*", "d*", "xyzb*"],
                &["a*", "d*", "xyzb*"],
            ),
            (&["a*"], &["b*"], &["a*", "b*"]),
            (&["a*"], &["abc", "d"], &["a*", "d"]),
            (
                &["a", "a*", "abc", "abc*"],
                &["def", "d*", "defg*"],
                &["a*", "d*"],
            ),
        ];
        for (a, b, expected) in cases {
            assert_eq!(sorted(scope_union(&v(a), &v(b))), sorted(v(expected)));
            assert_eq!(sorted(scope_union(&v(b), &v(a))), sorted(v(expected)));
        }
    }

    #[test]
    fn intersection() {
        let cases: [(&[&str], &[&str], &[&str]); 12] = [
            (&["foo:bar"], &["foo:bar"], &["foo:bar"]),
            (&["foo:bar"], &[""], &[]),
            (&["foo:bar"], &["foo:*"], &["foo:bar"]),
            (&["foo:bar:bing"], &["foo:*:bing"], &[]),
            (&["foo:bar"], &["*:bar"], &[]),
            (&["foo:bar"], &["foo:"], &[]),
            (&["foo:bar:*"], &["bar:bing"], &[]),
            (&["bar:*"], &["foo:bar:bing"], &[]),
            (&["bar:*"], &["foo:x", "bar:x"], &["bar:x"]),
            (
                &["bar:y", "foo:x"],
                &["bar:*", "foo:x"],
                &["bar:y", "foo:x"],
            ),
            (&[], &["foo:bar"], &[]),
            (&["foo:bar", "bar:bing"], &["*"], &["foo:bar", "bar:bing"]),
        ];
        for (a, b, expected) in cases {
            assert_eq!(
                sorted(scope_intersection(&v(a), &v(b))),
                sorted(v(expected))
            );
            assert_eq!(
                sorted(scope_intersection(&v(b), &v(a))),
                sorted(v(expected))
            );
        }
        // order: a's matches first, then b's
        assert_eq!(
            scope_intersection(&v(&["x", "a*"]), &v(&["ab", "x"])),
            v(&["x", "ab"])
        );
    }
}
