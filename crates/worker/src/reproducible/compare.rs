//! Comparing the artifacts of two runs: names and sha256 digests, logs aside.

use std::collections::BTreeMap;

/// Artifacts under this prefix differ by nature (timestamps, worker names) and are not compared.
pub const LOGS_PREFIX: &str = "public/logs/";

/// Artifact name → what its bytes hash to (lower-case hex sha256, or a description of an
/// artifact without bytes, such as an error artifact's reason).
pub type Digests = BTreeMap<String, String>;

/// Whether an artifact takes part in the comparison.
pub fn compared(name: &str) -> bool {
    !name.starts_with(LOGS_PREFIX)
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Comparison {
    /// Same name, same digest.
    pub same: Vec<(String, String)>,
    /// Same name, digests (first run, second run) differ.
    pub differ: Vec<(String, String, String)>,
    pub only_first: Vec<String>,
    pub only_second: Vec<String>,
}

impl Comparison {
    pub fn reproducible(&self) -> bool {
        self.differ.is_empty() && self.only_first.is_empty() && self.only_second.is_empty()
    }
}

/// Compares two runs' digests, in name order.
pub fn compare(first: &Digests, second: &Digests) -> Comparison {
    let mut out = Comparison::default();
    for (name, a) in first {
        match second.get(name) {
            Some(b) if a.eq_ignore_ascii_case(b) => out.same.push((name.clone(), a.clone())),
            Some(b) => out.differ.push((name.clone(), a.clone(), b.clone())),
            None => out.only_first.push(name.clone()),
        }
    }
    out.only_second = second
        .keys()
        .filter(|n| !first.contains_key(*n))
        .cloned()
        .collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digests(items: &[(&str, &str)]) -> Digests {
        items
            .iter()
            .map(|(n, d)| (n.to_string(), d.to_string()))
            .collect()
    }

    #[test]
    fn equal_runs_are_reproducible() {
        let a = digests(&[("public/a", "11"), ("public/b", "AB")]);
        let b = digests(&[("public/b", "ab"), ("public/a", "11")]);
        let c = compare(&a, &b);
        assert!(c.reproducible());
        assert_eq!(c.same.len(), 2);
    }

    #[test]
    fn differences_and_names_of_one_run_only_are_listed() {
        let a = digests(&[("public/a", "11"), ("public/b", "22"), ("public/x", "33")]);
        let b = digests(&[("public/a", "11"), ("public/b", "99"), ("public/y", "44")]);
        let c = compare(&a, &b);
        assert!(!c.reproducible());
        assert_eq!(c.same, vec![("public/a".into(), "11".into())]);
        assert_eq!(
            c.differ,
            vec![("public/b".into(), "22".into(), "99".into())]
        );
        assert_eq!(c.only_first, vec!["public/x".to_string()]);
        assert_eq!(c.only_second, vec!["public/y".to_string()]);
    }

    #[test]
    fn logs_are_not_compared() {
        assert!(!compared("public/logs/live.log"));
        assert!(!compared("public/logs/live_backing.log"));
        assert!(compared("public/build/logs.txt"));
        assert!(compared("private/logs/x"));
    }
}
