//! Mozilla version numbers as Balrog compares them (its `util/versions.py`).
//!
//! Balrog picks a parser by shape: one or two dots with a major above 4 is a
//! "post-modern" version (`\d+.\d+(.\d+)?(a\d+)?`, or a glob `70.*`/`80.0.*`),
//! one or two dots with a smaller major allows any letters as pre-release tag,
//! and anything else must be `w.x.D.z` (e.g. `1.5.0.12`). Ordering is
//! StrictVersion's: numbers first, and a release sorts after its pre-releases.

use std::cmp::Ordering;

use crate::error::{bad_data, Result};

/// A parsed version, or a glob used only for equality.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MozVersion {
    Strict(StrictVersion),
    Glob(GlobVersion),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrictVersion {
    pub numbers: [u64; 3],
    /// The first letter of the tag and its number (`a1` → `('a', 1)`): Balrog
    /// keeps only the first character of the tag for ordering.
    pub prerelease: Option<(char, u64)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobVersion {
    /// The text before the `*`, e.g. `"80.0."`.
    prefix: String,
    parts: Vec<u64>,
}

fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Splits a trailing `[a-zA-Z]+\d+` tag off `s`; `letters_ok` restricts the
/// tag letters (post-modern versions allow only `a`).
fn split_tag(s: &str, letters_ok: fn(&str) -> bool) -> Option<(&str, Option<(char, u64)>)> {
    let Some(start) = s.find(|c: char| c.is_ascii_alphabetic()) else {
        return Some((s, None));
    };
    let (num, tag) = s.split_at(start);
    let letters_end = tag
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(tag.len());
    let (letters, n) = tag.split_at(letters_end);
    if !letters_ok(letters) {
        return None;
    }
    let n = digits(n)?;
    Some((num, Some((letters.chars().next()?, n))))
}

fn parse_strict(v: &str, letters_ok: fn(&str) -> bool) -> Option<StrictVersion> {
    let (num, prerelease) = split_tag(v, letters_ok)?;
    let parts: Vec<&str> = num.split('.').collect();
    let nums: Vec<u64> = parts.iter().map(|p| digits(p)).collect::<Option<_>>()?;
    let numbers = match nums.as_slice() {
        [a, b] => [*a, *b, 0],
        [a, b, c] => [*a, *b, *c],
        _ => return None,
    };
    Some(StrictVersion {
        numbers,
        prerelease,
    })
}

/// `w.x.D.z[tag]` where D is one digit, kept as (w, x, z).
fn parse_ancient(v: &str) -> Option<StrictVersion> {
    let (num, prerelease) = split_tag(v, |l| !l.is_empty())?;
    let parts: Vec<&str> = num.split('.').collect();
    if parts.len() != 4 || parts[2].len() != 1 || digits(parts[2]).is_none() {
        return None;
    }
    Some(StrictVersion {
        numbers: [digits(parts[0])?, digits(parts[1])?, digits(parts[3])?],
        prerelease,
    })
}

fn parse_glob(v: &str) -> Option<GlobVersion> {
    // `^\d+\.(\d+\.\*|\*)$`
    let body = v.strip_suffix('*')?;
    let parts: Vec<&str> = body.strip_suffix('.')?.split('.').collect();
    if parts.is_empty() || parts.len() > 2 {
        return None;
    }
    let parts: Vec<u64> = parts.iter().map(|p| digits(p)).collect::<Option<_>>()?;
    Some(GlobVersion {
        prefix: body.to_string(),
        parts,
    })
}

impl MozVersion {
    /// Parses as Balrog's `MozillaVersion`; failures are `BadDataError`s
    /// ("Version number X is invalid.") that the endpoint answers with 400.
    pub fn parse(v: &str) -> Result<MozVersion> {
        let invalid = || bad_data(format!("Version number {v} is invalid."));
        let dots = v.matches('.').count();
        let parsed = if dots == 1 || dots == 2 {
            let major = v
                .split('.')
                .next()
                .and_then(|m| m.trim().parse::<i64>().ok())
                .ok_or_else(invalid)?;
            if major > 4 {
                if v.ends_with(".*") {
                    parse_glob(v).map(MozVersion::Glob)
                } else {
                    parse_strict(v, |l| l == "a").map(MozVersion::Strict)
                }
            } else {
                parse_strict(v, |l| !l.is_empty()).map(MozVersion::Strict)
            }
        } else {
            parse_ancient(v).map(MozVersion::Strict)
        };
        parsed.ok_or_else(invalid)
    }

    /// Equality as Balrog's `either_eq`: a glob matches a version whose text
    /// starts with the glob's prefix, or whose numbers start with the glob's
    /// numbers when it has no pre-release tag (so `80.0.*` matches `80.0`).
    pub fn either_eq(&self, other: &MozVersion) -> bool {
        match (self, other) {
            (MozVersion::Strict(a), MozVersion::Strict(b)) => a == b,
            (MozVersion::Glob(g), MozVersion::Strict(s))
            | (MozVersion::Strict(s), MozVersion::Glob(g)) => g.matches(s),
            (MozVersion::Glob(a), MozVersion::Glob(b)) => {
                a.prefix.starts_with(&b.prefix) || b.prefix.starts_with(&a.prefix)
            }
        }
    }

    /// Ordering; a glob only takes part through its numbers (Balrog never
    /// orders globs: `>70.*` is not a valid rule).
    pub fn cmp_to(&self, other: &MozVersion) -> Ordering {
        self.as_strict().cmp_to(&other.as_strict())
    }

    fn as_strict(&self) -> StrictVersion {
        match self {
            MozVersion::Strict(s) => s.clone(),
            MozVersion::Glob(g) => {
                let mut numbers = [0; 3];
                for (i, p) in g.parts.iter().enumerate() {
                    numbers[i] = *p;
                }
                StrictVersion {
                    numbers,
                    prerelease: None,
                }
            }
        }
    }
}

impl StrictVersion {
    pub fn cmp_to(&self, other: &StrictVersion) -> Ordering {
        self.numbers
            .cmp(&other.numbers)
            .then_with(|| match (&self.prerelease, &other.prerelease) {
                (None, None) => Ordering::Equal,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(a), Some(b)) => a.cmp(b),
            })
    }
}

impl std::fmt::Display for StrictVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // StrictVersion.__str__: a zero patch level is dropped.
        let [a, b, c] = self.numbers;
        if c == 0 {
            write!(f, "{a}.{b}")?;
        } else {
            write!(f, "{a}.{b}.{c}")?;
        }
        if let Some((t, n)) = self.prerelease {
            write!(f, "{t}{n}")?;
        }
        Ok(())
    }
}

impl GlobVersion {
    fn matches(&self, s: &StrictVersion) -> bool {
        if s.to_string().starts_with(&self.prefix) {
            return true;
        }
        s.prerelease.is_none() && self.parts.iter().zip(s.numbers.iter()).all(|(a, b)| a == b)
    }
}

/// An update pin, `X.` or `X.Y.` (bug 1529943): equal to every version that
/// starts with those numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinVersion(Vec<u64>);

impl PinVersion {
    pub fn parse(v: &str) -> Result<PinVersion> {
        let invalid = || bad_data(format!("Version Pin String '{v}' is invalid."));
        let body = v.strip_suffix('.').ok_or_else(invalid)?;
        let parts: Vec<u64> = body
            .split('.')
            .map(digits)
            .collect::<Option<_>>()
            .ok_or_else(invalid)?;
        if parts.is_empty() || parts.len() > 2 {
            return Err(invalid());
        }
        Ok(PinVersion(parts))
    }

    /// How `version` compares to the pin (Greater = past the pin).
    pub fn cmp_version(&self, version: &StrictVersion) -> Ordering {
        version.numbers[..self.0.len()].cmp(&self.0[..])
    }
}

impl std::fmt::Display for PinVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for p in &self.0 {
            write!(f, "{p}.")?;
        }
        Ok(())
    }
}

/// distutils' LooseVersion, which Balrog uses for FirefoxVPN and Guardian:
/// runs of digits, runs of lowercase letters, dots dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LooseVersion(Vec<LoosePart>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum LoosePart {
    Num(u64),
    Text(String),
}

impl LooseVersion {
    pub fn parse(v: &str) -> LooseVersion {
        let mut parts = Vec::new();
        let mut cur = String::new();
        let flush = |cur: &mut String, parts: &mut Vec<LoosePart>| {
            if !cur.is_empty() {
                parts.push(match cur.parse() {
                    Ok(n) => LoosePart::Num(n),
                    Err(_) => LoosePart::Text(cur.clone()),
                });
                cur.clear();
            }
        };
        for c in v.chars() {
            let same_kind = cur
                .chars()
                .next()
                .is_some_and(|p| p.is_ascii_digit() == c.is_ascii_digit());
            if c == '.' {
                flush(&mut cur, &mut parts);
            } else if cur.is_empty() || same_kind {
                cur.push(c);
            } else {
                flush(&mut cur, &mut parts);
                cur.push(c);
            }
        }
        flush(&mut cur, &mut parts);
        LooseVersion(parts)
    }

    /// Python compares the component lists; an int against a str is a
    /// TypeError there, which we report as bad data.
    pub fn cmp_to(&self, other: &LooseVersion) -> Result<Ordering> {
        for (a, b) in self.0.iter().zip(other.0.iter()) {
            let o = match (a, b) {
                (LoosePart::Num(x), LoosePart::Num(y)) => x.cmp(y),
                (LoosePart::Text(x), LoosePart::Text(y)) => x.cmp(y),
                _ => return Err(bad_data("Version numbers cannot be compared.")),
            };
            if o != Ordering::Equal {
                return Ok(o);
            }
        }
        Ok(self.0.len().cmp(&other.0.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> MozVersion {
        MozVersion::parse(s).unwrap()
    }

    // Cases from balrog tests/util/test_versions.py and test_compare.py.
    #[test]
    fn ordering_of_releases_and_prereleases() {
        assert_eq!(v("3.6").cmp_to(&v("3.6.0")), Ordering::Equal);
        assert_eq!(v("4.0b1").cmp_to(&v("4.0")), Ordering::Less);
        assert_eq!(v("70.0a1").cmp_to(&v("70.0")), Ordering::Less);
        assert_eq!(v("3.6.3plugin1").cmp_to(&v("3.6.3")), Ordering::Less);
        assert_eq!(v("1.5.0.12").cmp_to(&v("1.5.11")), Ordering::Greater);
        assert_eq!(v("10.0").cmp_to(&v("9.0")), Ordering::Greater);
    }

    #[test]
    fn bad_versions_are_bad_data() {
        for bad in ["66.0abc", "66.0b1", "abc", "1", "1.2.3.4.5", "1.5.00.1"] {
            assert!(MozVersion::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            MozVersion::parse("66.0abc").unwrap_err().to_string(),
            "Version number 66.0abc is invalid."
        );
    }

    #[test]
    fn globs() {
        assert!(v("70.*").either_eq(&v("70.0a1")));
        assert!(v("70.*").either_eq(&v("70.1.2")));
        assert!(!v("70.*").either_eq(&v("71.0")));
        assert!(v("80.0.*").either_eq(&v("80.0")));
        assert!(v("80.0.*").either_eq(&v("80.0.1")));
        assert!(!v("80.0.*").either_eq(&v("80.1")));
        assert!(MozVersion::parse("4.*").is_err());
    }

    #[test]
    fn pins() {
        let p = PinVersion::parse("102.").unwrap();
        let MozVersion::Strict(s) = v("102.5.0") else {
            panic!()
        };
        assert_eq!(p.cmp_version(&s), Ordering::Equal);
        let MozVersion::Strict(s) = v("103.0") else {
            panic!()
        };
        assert_eq!(p.cmp_version(&s), Ordering::Greater);
        assert_eq!(PinVersion::parse("102.1.").unwrap().to_string(), "102.1.");
        assert!(PinVersion::parse("102").is_err());
        assert!(PinVersion::parse("102.1.2.").is_err());
    }

    #[test]
    fn loose() {
        let a = LooseVersion::parse("2.10");
        let b = LooseVersion::parse("2.9");
        assert_eq!(a.cmp_to(&b).unwrap(), Ordering::Greater);
        assert_eq!(
            LooseVersion::parse("1.0.0")
                .cmp_to(&LooseVersion::parse("1.0"))
                .unwrap(),
            Ordering::Greater
        );
    }
}
