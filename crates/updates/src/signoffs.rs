//! Which sign-offs a rule change needs and whether a scheduled change has them: the plain
//! logic of Balrog's `product_req_signoffs`, kept apart from the SQL in [`crate::store`].

use std::collections::BTreeMap;

use crate::rules::Rule;

/// One row of `updates_product_req_signoffs`: changes to `product` on a channel matching
/// `channel` need `signoffs_required` sign-offs from users holding `role`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredSignoff {
    pub product: String,
    pub channel: String,
    pub role: String,
    pub signoffs_required: i64,
    pub data_version: i64,
}

/// One sign-off of a scheduled change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signoff {
    pub username: String,
    pub role: String,
}

/// Role → number of sign-offs needed.
pub type Required = BTreeMap<String, i64>;

/// Balrog's `matchRegex(rule_channel, required_channel)`: the rule's channel is a glob where
/// `*` stands for any run of characters, matched against the whole required-signoff channel.
/// (This is wider than the public-side channel glob, where only a trailing `*` counts.)
pub fn channel_glob_matches(glob: &str, channel: &str) -> bool {
    let mut parts = glob.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = channel.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        // No `*` at all: an exact match.
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// Whether a required-signoff row protects a rule: a rule without a product or channel is a
/// wildcard and so touches every product or channel, as Balrog treats it.
pub fn protects(rs: &RequiredSignoff, rule: &Rule) -> bool {
    let product = rule.product.as_deref().is_none_or(|p| p == rs.product);
    let channel = rule
        .channel
        .as_deref()
        .is_none_or(|c| channel_glob_matches(c, &rs.channel));
    product && channel
}

/// The sign-offs a change needs: every row protecting any of `rules` (the row before and the
/// row after the change), the largest count per role, as Balrog combines them.
pub fn required_for<'a>(
    table: &[RequiredSignoff],
    rules: impl IntoIterator<Item = &'a Rule>,
) -> Required {
    let mut required = Required::new();
    for rule in rules {
        for rs in table.iter().filter(|rs| protects(rs, rule)) {
            let n = required.entry(rs.role.clone()).or_insert(0);
            *n = (*n).max(rs.signoffs_required);
        }
    }
    required
}

/// Every required role has at least its number of sign-offs from different users. The store
/// keeps one sign-off per user per change, but users are counted once here all the same, so the
/// rule does not rest on the key alone.
pub fn is_satisfied(required: &Required, signoffs: &[Signoff]) -> bool {
    required.iter().all(|(role, &needed)| {
        let mut users: Vec<&str> = signoffs
            .iter()
            .filter(|s| &s.role == role)
            .map(|s| s.username.as_str())
            .collect();
        users.sort_unstable();
        users.dedup();
        users.len() as i64 >= needed
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_globs() {
        assert!(channel_glob_matches("release", "release"));
        assert!(!channel_glob_matches("release", "release-cck-x"));
        assert!(channel_glob_matches("release*", "release"));
        assert!(channel_glob_matches("release*", "release-cck-x"));
        assert!(channel_glob_matches("*", "beta"));
        assert!(channel_glob_matches("re*se", "release"));
        assert!(!channel_glob_matches("beta*", "release"));
    }

    fn rs(channel: &str, role: &str, n: i64) -> RequiredSignoff {
        RequiredSignoff {
            product: "Firefox".into(),
            channel: channel.into(),
            role: role.into(),
            signoffs_required: n,
            data_version: 1,
        }
    }

    #[test]
    fn required_is_the_max_per_role_over_old_and_new() {
        let table = [
            rs("release", "relman", 1),
            rs("beta", "relman", 2),
            rs("beta", "qa", 1),
        ];
        let old = Rule {
            product: Some("Firefox".into()),
            channel: Some("release".into()),
            ..Rule::default()
        };
        let new = Rule {
            channel: Some("beta".into()),
            ..old.clone()
        };
        let want: Required = [("qa".to_string(), 1), ("relman".to_string(), 2)].into();
        assert_eq!(required_for(&table, [&old, &new]), want);
        let other = Rule {
            product: Some("Thunderbird".into()),
            ..old.clone()
        };
        assert!(required_for(&table, [&other]).is_empty());
        // No product and no channel: every row applies.
        assert_eq!(required_for(&table, [&Rule::default()]), want);
    }

    #[test]
    fn one_user_counts_once() {
        let required: Required = [("relman".to_string(), 2)].into();
        let s = |u: &str| Signoff {
            username: u.into(),
            role: "relman".into(),
        };
        assert!(!is_satisfied(&required, &[s("bill"), s("bill")]));
        assert!(is_satisfied(&required, &[s("bill"), s("mary")]));
        assert!(is_satisfied(&Required::new(), &[]));
    }
}
