//! Rule bodies as Balrog's admin API takes them (its `process_rule_form` and format checks),
//! and the checks every rule write makes: mappings exist, protected rules need sign-offs.

use serde_json::{json, Map, Value};

use super::body::{int_value, Fields};
use super::error::{AdminError, AdminResult};
use crate::rules::Rule;
use crate::signoffs::required_for;
use crate::store;

/// Balrog's rule columns, as its API names them.
pub(super) const COLUMNS: [&str; 23] = [
    "rule_id",
    "alias",
    "priority",
    "mapping",
    "fallbackMapping",
    "backgroundRate",
    "update_type",
    "product",
    "version",
    "channel",
    "buildTarget",
    "buildID",
    "locale",
    "osVersion",
    "memory",
    "instructionSet",
    "jaws",
    "mig64",
    "distribution",
    "distVersion",
    "headerArchitecture",
    "comment",
    "data_version",
];

/// Fields a rule body may carry besides its columns: the scheduling fields are read by
/// `/scheduled_changes/rules`, `csrf_token` is sent by Balrog's old UI.
const EXTRA: [&str; 7] = [
    "csrf_token",
    "when",
    "change_type",
    "telemetry_product",
    "telemetry_channel",
    "telemetry_uptake",
    "sc_data_version",
];

pub(super) fn rule_json(rule: &Rule) -> AdminResult<Value> {
    serde_json::to_value(rule).map_err(|e| AdminError::Api(relyard_core::ApiError::internal(e)))
}

/// Balrog's `process_rule_form`: strings trimmed, empty ones NULL, CSV columns without
/// spaces, numbers accepted as strings; the fields given replace those of `base`.
pub(super) fn rule_from_fields(base: Option<&Rule>, f: &Fields) -> AdminResult<Rule> {
    let mut obj = match base {
        Some(r) => match rule_json(r)? {
            Value::Object(m) => m,
            _ => Map::new(),
        },
        None => Map::new(),
    };
    for (key, value) in &f.0 {
        if key == "rule_id" || key == "data_version" || EXTRA.contains(&key.as_str()) {
            continue;
        }
        if !COLUMNS.contains(&key.as_str()) {
            return Err(AdminError::bad_field(
                "Bad Request",
                format!("Additional properties are not allowed ('{key}' was unexpected)"),
            ));
        }
        obj.insert(key.clone(), normalize(key, value)?);
    }
    obj.insert("rule_id".into(), json!(base.map_or(0, |r| r.rule_id)));
    obj.insert(
        "data_version".into(),
        json!(base.map_or(1, |r| r.data_version)),
    );
    match obj.get("update_type") {
        None | Some(Value::Null) => {
            return Err(AdminError::bad_field(
                "Bad Request",
                "update_type cannot be set to null/empty",
            ))
        }
        Some(Value::String(t)) if t != "minor" && t != "major" => {
            return Err(AdminError::bad_field(
                "Bad Request",
                format!("update_type must be minor or major, not {t:?}"),
            ))
        }
        _ => {}
    }
    let rule: Rule = serde_json::from_value(Value::Object(obj))
        .map_err(|e| AdminError::bad_field("Bad Request", format!("invalid rule: {e}")))?;
    if let Some(rate) = rule.background_rate {
        if !(0..=100).contains(&rate) {
            return Err(AdminError::bad_field(
                "Bad Request",
                "backgroundRate must be between 0 and 100",
            ));
        }
    }
    check_columns(&rule)?;
    if let Some(alias) = &rule.alias {
        let ok = alias
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && alias
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            return Err(AdminError::bad_field(
                "Bad Request",
                format!("alias {alias:?} must start with a letter and hold only letters, digits, - and _"),
            ));
        }
    }
    Ok(rule)
}

/// Balrog's format checks of a rule's columns (`jsonschema_validators`): `version` a
/// MozillaVersion or a comma list of them (relational operators only on a single one;
/// checked for products whose versions are Mozilla's), `buildID` an operator and an integer,
/// `priority` ≥ 0.
fn check_columns(rule: &Rule) -> AdminResult<()> {
    use crate::matching::{get_op, Op, VersionClass};
    let bad = |msg: String| AdminError::bad_field("Bad Request", msg);
    if rule.priority.is_some_and(|p| p < 0) {
        return Err(bad("priority field value should be an integer >= 0".into()));
    }
    let mozilla = rule
        .product
        .as_deref()
        .is_none_or(|p| VersionClass::for_product(p) == VersionClass::Mozilla);
    if let (Some(version), true) = (rule.version.as_deref(), mozilla) {
        let items: Vec<&str> = version.split(',').collect();
        for item in &items {
            let (op, operand) = get_op(item).map_err(|_| {
                bad(format!(
                    "Invalid input for {version}. No Operator or Match found."
                ))
            })?;
            if items.len() > 1 && !matches!(op, Op::Eq | Op::EitherEq) {
                return Err(bad(format!(
                    "Invalid input for {version}. Relational Operators are not allowed when \
                     providing a list of versions."
                )));
            }
            crate::versions::MozVersion::parse(operand).map_err(|_| {
                bad(format!(
                    "Couldn't parse version for {version}. Invalid '{version}' input value"
                ))
            })?;
        }
    }
    if let Some(build_id) = rule.build_id.as_deref() {
        let (_, operand) = get_op(build_id).map_err(|_| {
            bad(format!(
                "Invalid input for buildID : {build_id}. No Operator or Match found."
            ))
        })?;
        if operand.trim_end_matches('*').parse::<u64>().is_err() {
            return Err(bad("Invalid input for buildID: must be an integer.".into()));
        }
    }
    Ok(())
}

fn normalize(key: &str, value: &Value) -> AdminResult<Value> {
    Ok(match (key, value) {
        ("priority" | "backgroundRate", v) => match int_value(key, Some(v))? {
            Some(n) => json!(n),
            None => Value::Null,
        },
        ("jaws" | "mig64", Value::String(s)) => match s.trim() {
            "" => Value::Null,
            "true" | "True" | "1" => Value::Bool(true),
            "false" | "False" | "0" => Value::Bool(false),
            _ => {
                return Err(AdminError::bad_field(
                    "Bad Request",
                    format!("{key} must be a boolean"),
                ))
            }
        },
        ("locale" | "distribution", Value::String(s)) => {
            let joined: String = s.split_whitespace().collect();
            if joined.is_empty() {
                Value::Null
            } else {
                Value::String(joined)
            }
        }
        (_, Value::String(s)) if s.trim().is_empty() => Value::Null,
        (_, Value::String(s)) => Value::String(s.trim().to_string()),
        (_, v) => v.clone(),
    })
}

/// Balrog's mapping checks: a new rule must map to a release; mapping and fallbackMapping
/// must name releases that exist.
pub(super) async fn check_mappings(db: &relyard_store::Db, rule: &Rule) -> AdminResult<()> {
    let Some(mapping) = rule.mapping.as_deref() else {
        return Err(AdminError::bad_request(
            "mapping value cannot be set to null/empty",
        ));
    };
    if store::get_release(db, mapping).await?.is_none() {
        return Err(AdminError::bad_request(
            "Invalid mapping value. No release name found in DB",
        ));
    }
    if let Some(fallback) = rule.fallback_mapping.as_deref() {
        if store::get_release(db, fallback).await?.is_none() {
            return Err(AdminError::bad_request(
                "Invalid fallbackMapping value. No release name found in DB",
            ));
        }
    }
    Ok(())
}

/// Balrog's `SignoffRequiredError`: a rule protected (before or after the change) by
/// required sign-offs may only change through a scheduled change.
pub(super) async fn refuse_if_protected(
    db: &relyard_store::Db,
    rules: &[&Rule],
) -> AdminResult<()> {
    let table = store::list_required_signoffs(db).await?;
    let required = required_for(&table, rules.iter().copied());
    if required.is_empty() {
        return Ok(());
    }
    let roles: Vec<String> = required.iter().map(|(r, n)| format!("{n} {r}")).collect();
    Err(AdminError::signoff_required(format!(
        "This change requires signoff, it cannot be done directly ({} needed); schedule it \
         with /scheduled_changes/rules",
        roles.join(", ")
    )))
}
