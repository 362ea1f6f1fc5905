//! Rules and the decision Balrog's `AUS.evaluateRules` makes from them.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::matching::{
    fallback_channel, match_boolean, match_build_id, match_channel, match_csv, match_memory,
    match_simple_expression, match_version, VersionClass,
};
use crate::request::{Force, UpdateQuery};

/// One row of Balrog's `rules` table; every optional column is a wildcard
/// when absent. Field names are Balrog's column names, so rules exported from
/// Balrog's API load unchanged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    #[serde(rename = "rule_id")]
    pub rule_id: i64,
    #[serde(default)]
    pub alias: Option<String>,
    #[serde(default)]
    pub priority: Option<i64>,
    #[serde(default)]
    pub mapping: Option<String>,
    #[serde(default)]
    pub fallback_mapping: Option<String>,
    #[serde(default)]
    pub background_rate: Option<i64>,
    #[serde(rename = "update_type", default = "default_update_type")]
    pub update_type: String,
    #[serde(default)]
    pub product: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub build_target: Option<String>,
    #[serde(rename = "buildID", default)]
    pub build_id: Option<String>,
    #[serde(default)]
    pub locale: Option<String>,
    #[serde(default)]
    pub os_version: Option<String>,
    #[serde(default)]
    pub memory: Option<String>,
    #[serde(default)]
    pub instruction_set: Option<String>,
    #[serde(default)]
    pub jaws: Option<bool>,
    #[serde(default)]
    pub mig64: Option<bool>,
    #[serde(default)]
    pub distribution: Option<String>,
    #[serde(default)]
    pub dist_version: Option<String>,
    #[serde(default)]
    pub header_architecture: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(rename = "data_version", default = "one")]
    pub data_version: i64,
}

fn default_update_type() -> String {
    "minor".to_string()
}

fn one() -> i64 {
    1
}

/// A (product, channel) pair whose updates are switched off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmergencyShutoff {
    pub product: String,
    pub channel: String,
}

/// The source of Balrog's `randint(0, 99)`; tests inject a fixed roll.
pub trait Dice: Send + Sync {
    fn roll(&self) -> u8;
}

/// The production dice.
pub struct RandomDice;

impl Dice for RandomDice {
    fn roll(&self) -> u8 {
        rand::Rng::gen_range(&mut rand::thread_rng(), 0..100)
    }
}

impl<F: Fn() -> u8 + Send + Sync> Dice for F {
    fn roll(&self) -> u8 {
        self()
    }
}

/// Step A + B of Balrog's matching: does this rule apply to the query?
/// The exact-equality columns (product, buildTarget, headerArchitecture,
/// distVersion) are Balrog's SQL pre-filter; the rest its Python filters, in
/// its order (so a bad version in a rule only errors when it is reached).
pub fn rule_matches(rule: &Rule, q: &UpdateQuery) -> Result<bool> {
    rule_matches_with(rule, q, fallback_channel(&q.channel))
}

/// [`rule_matches`] with the query's fallback channel worked out once per request, not once
/// per rule (it is a substring search, and a request is checked against every rule).
fn rule_matches_with(rule: &Rule, q: &UpdateQuery, fallback: &str) -> Result<bool> {
    let eq_or_wild = |col: &Option<String>, v: Option<&str>| match col {
        None => true,
        Some(c) => v == Some(c.as_str()),
    };
    if !eq_or_wild(&rule.product, Some(&q.product))
        || !eq_or_wild(&rule.build_target, Some(&q.build_target))
        || !eq_or_wild(&rule.header_architecture, q.header_architecture.as_deref())
        || !eq_or_wild(&rule.dist_version, q.dist_version.as_deref())
    {
        return Ok(false);
    }
    Ok(match_channel(rule.channel.as_deref(), &q.channel, fallback)
        && match_version(
            rule.version.as_deref(),
            &q.version,
            VersionClass::for_product(&q.product),
        )?
        && match_build_id(rule.build_id.as_deref(), &q.build_id)?
        && match_memory(rule.memory.as_deref(), q.memory)?
        && match_simple_expression(rule.os_version.as_deref(), &q.os_version)
        && match_csv(
            rule.instruction_set.as_deref(),
            q.instruction_set.as_deref(),
        )
        && match_csv(rule.distribution.as_deref(), q.distribution.as_deref())
        && match_csv(rule.locale.as_deref(), Some(&q.locale))
        && match_boolean(rule.mig64, q.mig64)
        && match_boolean(rule.jaws, q.jaws))
}

/// The rule that decides the answer: the matching rule of highest priority;
/// ties go to the earlier rule in `rules` (keep them in rule_id order, as
/// Balrog's table scan returns them).
pub fn select_rule<'a>(rules: &'a [Rule], q: &UpdateQuery) -> Result<Option<&'a Rule>> {
    let mut best: Option<&Rule> = None;
    let fallback = fallback_channel(&q.channel);
    for rule in rules {
        if !rule_matches_with(rule, q, fallback)? {
            continue;
        }
        if best.is_none_or(|b| rule.priority.unwrap_or(0) > b.priority.unwrap_or(0)) {
            best = Some(rule);
        }
    }
    Ok(best)
}

/// Every rule that applies to the query, in `rules` order (Balrog's
/// `getRulesMatchingQuery`).
pub fn matching_rules<'a>(rules: &'a [Rule], q: &UpdateQuery) -> Result<Vec<&'a Rule>> {
    let mut out = Vec::new();
    let fallback = fallback_channel(&q.channel);
    for rule in rules {
        if rule_matches_with(rule, q, fallback)? {
            out.push(rule);
        }
    }
    Ok(out)
}

pub fn is_shut_off(shutoffs: &[EmergencyShutoff], q: &UpdateQuery) -> bool {
    let fallback = fallback_channel(&q.channel);
    shutoffs
        .iter()
        .any(|s| s.product == q.product && (s.channel == q.channel || s.channel == fallback))
}

/// The mapping to serve once a rule is chosen, after the backgroundRate dice:
/// `force=1` skips the dice, `force=-1` always takes the fallback; otherwise
/// a roll of 0..99 at or above the rate takes the fallback. None = no update.
pub fn choose_mapping<'a>(
    rule: &'a Rule,
    force: Option<Force>,
    dice: &dyn Dice,
) -> Option<&'a str> {
    let mapping = rule.mapping.as_deref().filter(|m| !m.is_empty())?;
    // Balrog compares a NULL backgroundRate with `< 100` only on Python 2;
    // the column is always set in practice, so NULL counts as 100.
    let rate = rule.background_rate.unwrap_or(100);
    if force != Some(Force::Main)
        && rate < 100
        && (force == Some(Force::Fallback) || i64::from(dice.roll()) >= rate)
    {
        return rule.fallback_mapping.as_deref().filter(|m| !m.is_empty());
    }
    Some(mapping)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query() -> UpdateQuery {
        UpdateQuery::for_test("b", "1.0", "1", "p", "l", "c")
    }

    fn rule(id: i64) -> Rule {
        Rule {
            rule_id: id,
            mapping: Some("b".into()),
            background_rate: Some(100),
            ..Default::default()
        }
    }

    #[test]
    fn priority_and_ties() {
        let mut a = rule(1);
        a.priority = Some(100);
        let mut b = rule(2);
        b.priority = Some(100);
        let mut c = rule(3);
        c.priority = Some(50);
        let rules = vec![c, a, b];
        assert_eq!(select_rule(&rules, &query()).unwrap().unwrap().rule_id, 1);
    }

    // balrog tests/test_AUS.py: the dice with a mocked rand.
    #[test]
    fn dice_and_force() {
        let mut r = rule(1);
        r.background_rate = Some(25);
        r.fallback_mapping = Some("fb".into());
        assert_eq!(choose_mapping(&r, None, &|| 24u8), Some("b"));
        assert_eq!(choose_mapping(&r, None, &|| 25u8), Some("fb"));
        assert_eq!(choose_mapping(&r, Some(Force::Main), &|| 99u8), Some("b"));
        assert_eq!(
            choose_mapping(&r, Some(Force::Fallback), &|| 0u8),
            Some("fb")
        );
        r.fallback_mapping = None;
        assert_eq!(choose_mapping(&r, None, &|| 99u8), None);
        r.background_rate = Some(0);
        assert_eq!(choose_mapping(&r, None, &|| 0u8), None);
        r.mapping = None;
        assert_eq!(choose_mapping(&r, Some(Force::Main), &|| 0u8), None);
    }

    #[test]
    fn columns() {
        let q = query();
        let mut r = rule(1);
        r.dist_version = Some("a".into());
        assert!(
            !rule_matches(&r, &q).unwrap(),
            "no distVersion in the query never matches a distVersion rule"
        );
        let mut r = rule(1);
        r.header_architecture = Some("PPC".into());
        assert!(!rule_matches(&r, &q).unwrap());
        let mut r = rule(1);
        r.distribution = Some("default".into());
        assert!(!rule_matches(&r, &q).unwrap());
        let mut r = rule(1);
        r.locale = Some("de,l".into());
        assert!(rule_matches(&r, &q).unwrap());
        let mut r = rule(1);
        r.version = Some("<1.0".into());
        assert!(!rule_matches(&r, &q).unwrap());
        r.version = Some("<=1.0".into());
        assert!(rule_matches(&r, &q).unwrap());
    }

    #[test]
    fn rules_load_from_balrogs_json() {
        // A row as Balrog's GET /rules/<id> returns it.
        let r: Rule = serde_json::from_value(serde_json::json!({
            "rule_id": 42024, "alias": null, "priority": 90, "mapping": "c", "fallbackMapping": "f",
            "backgroundRate": 25, "update_type": "minor", "product": "c", "version": "<60.0",
            "channel": "release*", "buildTarget": "p", "buildID": "<2019", "locale": "de,fr",
            "osVersion": "Windows_NT 10", "memory": ">2000", "instructionSet": "SSE2", "jaws": false,
            "mig64": true, "distribution": "default", "distVersion": "1.0", "headerArchitecture": "Intel",
            "comment": "x", "data_version": 3
        }))
        .unwrap();
        assert_eq!(
            (r.rule_id, r.background_rate, r.data_version),
            (42024, Some(25), 3)
        );
        assert_eq!(r.fallback_mapping.as_deref(), Some("f"));
        assert_eq!(r.build_id.as_deref(), Some("<2019"));
        assert_eq!((r.jaws, r.mig64), (Some(false), Some(true)));
        assert_eq!(r.header_architecture.as_deref(), Some("Intel"));
        assert_eq!(r.instruction_set.as_deref(), Some("SSE2"));
    }

    #[test]
    fn shutoffs_use_the_fallback_channel() {
        let mut q = query();
        q.channel = "c-cck-foo".into();
        let s = vec![EmergencyShutoff {
            product: "b".into(),
            channel: "c".into(),
        }];
        assert!(is_shut_off(&s, &q));
        q.product = "other".into();
        assert!(!is_shut_off(&s, &q));
    }
}
