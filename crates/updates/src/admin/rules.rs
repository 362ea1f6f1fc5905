//! `/rules…`: Balrog's rule endpoints (list, one rule by id or alias, create, modify, delete,
//! revisions and revert, distinct column values).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::header::CONTENT_TYPE;
use relyard_auth::Caller;
use serde_json::{json, Map, Value};

use super::body::{int_value, query_int, Fields};
use super::error::{AdminError, AdminResult};
use super::scopes::{require, Thing};
use super::AdminState;
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

pub(super) async fn find(db: &relyard_store::Db, id_or_alias: &str) -> AdminResult<Rule> {
    store::find_rule(db, id_or_alias)
        .await?
        .ok_or_else(|| AdminError::not_found("Requested rule does not exist"))
}

/// Balrog's `getOrderedRules`: by priority, then version, then mapping (NULLs first).
fn ordered(mut rules: Vec<Rule>) -> Vec<Rule> {
    rules.sort_by(|a, b| {
        (a.priority, &a.version, &a.mapping).cmp(&(b.priority, &b.version, &b.mapping))
    });
    rules
}

pub async fn list(
    State(st): State<AdminState>,
    Query(q): Query<HashMap<String, String>>,
) -> AdminResult<Json<Value>> {
    let mut rules = store::list_rules(&st.db).await?;
    if let Some(product) = q.get("product").filter(|p| !p.is_empty()) {
        rules.retain(|r| r.product.as_deref() == Some(product.as_str()));
    }
    let rules = ordered(rules);
    let list: Vec<Value> = rules.iter().map(rule_json).collect::<AdminResult<_>>()?;
    Ok(Json(json!({"count": list.len(), "rules": list})))
}

pub async fn get_one(
    State(st): State<AdminState>,
    Path(id_or_alias): Path<String>,
) -> AdminResult<Response> {
    let rule = find(&st.db, &id_or_alias).await?;
    Ok(with_data_version(
        Json(rule_json(&rule)?),
        rule.data_version,
    ))
}

pub(super) fn with_data_version(body: impl IntoResponse, data_version: i64) -> Response {
    let mut resp = body.into_response();
    if let Ok(v) = http::HeaderValue::from_str(&data_version.to_string()) {
        resp.headers_mut().insert("X-Data-Version", v);
    }
    resp
}

pub async fn create(
    State(st): State<AdminState>,
    caller: Caller,
    fields: Fields,
) -> AdminResult<Response> {
    let rule = rule_from_fields(None, &fields)?;
    for field in ["priority", "backgroundRate"] {
        if fields.get(field).is_none() {
            return Err(super::body::missing(field));
        }
    }
    require(&caller, Thing::Rule, "create", &[rule.product.as_deref()])?;
    check_mappings(&st.db, &rule).await?;
    if let Some(alias) = rule.alias.as_deref() {
        if store::find_rule(&st.db, alias).await?.is_some() {
            return Err(AdminError::bad_request("Rule with alias exists."));
        }
    }
    refuse_if_protected(&st.db, &[&rule]).await?;
    let created = store::create_rule(&st.db, caller.name(), &rule).await?;
    st.changed().await;
    Ok((
        [(CONTENT_TYPE, "text/html; charset=utf-8")],
        created.rule_id.to_string(),
    )
        .into_response())
}

/// `PUT` and `POST /rules/<id_or_alias>`: the fields given replace the rule's.
pub async fn modify(
    State(st): State<AdminState>,
    caller: Caller,
    Path(id_or_alias): Path<String>,
    fields: Fields,
) -> AdminResult<Json<Value>> {
    let old = find(&st.db, &id_or_alias).await?;
    let data_version = fields.required_int("data_version")?;
    let mut new = rule_from_fields(Some(&old), &fields)?;
    new.data_version = data_version;
    let products = [old.product.as_deref(), new.product.as_deref()];
    require(&caller, Thing::Rule, "modify", &products)?;
    if fields.has("mapping") || fields.has("fallbackMapping") {
        check_mappings(&st.db, &new).await?;
    }
    refuse_if_protected(&st.db, &[&old, &new]).await?;
    let stored = store::update_rule(&st.db, caller.name(), &new).await?;
    st.changed().await;
    Ok(Json(json!({"new_data_version": stored.data_version})))
}

pub async fn delete(
    State(st): State<AdminState>,
    caller: Caller,
    Path(id_or_alias): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> AdminResult<Response> {
    let old = find(&st.db, &id_or_alias).await?;
    let data_version =
        query_int(&q, "data_version")?.ok_or_else(|| super::body::missing("data_version"))?;
    require(&caller, Thing::Rule, "delete", &[old.product.as_deref()])?;
    refuse_if_protected(&st.db, &[&old]).await?;
    store::delete_rule(&st.db, caller.name(), old.rule_id, data_version).await?;
    st.changed().await;
    Ok(http::StatusCode::OK.into_response())
}

/// Balrog's `?page=` (from 1) and `?limit=` (10 by default) of a revision listing.
pub(super) fn page_of(
    q: &HashMap<String, String>,
    default_limit: i64,
) -> AdminResult<(usize, usize)> {
    let page = query_int(q, "page")?.unwrap_or(1);
    let limit = query_int(q, "limit")?.unwrap_or(default_limit);
    if page < 1 || limit < 1 {
        return Err(AdminError::bad_request("page and limit must be positive"));
    }
    let offset = usize::try_from((page - 1).saturating_mul(limit)).unwrap_or(usize::MAX);
    Ok((offset, usize::try_from(limit).unwrap_or(usize::MAX)))
}

/// A history row as Balrog's revision listings show it: the row after the change with the
/// change's id, author, time (ms) and data_version.
pub(super) fn revision_json(h: &store::HistoryRow) -> Value {
    let mut v = h.new.clone().unwrap_or_else(|| json!({}));
    if let Value::Object(m) = &mut v {
        m.insert("change_id".into(), json!(h.change_id));
        m.insert("changed_by".into(), json!(h.changed_by));
        m.insert("timestamp".into(), json!(h.timestamp.millis()));
        m.insert("data_version".into(), json!(h.data_version));
    }
    v
}

pub async fn revisions(
    State(st): State<AdminState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> AdminResult<Json<Value>> {
    let rule = find(&st.db, &id).await?;
    let history = store::rule_history(&st.db, rule.rule_id).await?;
    history_page(history, &q, "rules", revision_json)
}

/// One page of a history listing, newest first, deletions left out, as Balrog pages them:
/// `{<key>: [...], "count": <all revisions>}`.
pub(super) fn history_page(
    mut history: Vec<store::HistoryRow>,
    q: &HashMap<String, String>,
    key: &str,
    show: impl Fn(&store::HistoryRow) -> Value,
) -> AdminResult<Json<Value>> {
    let (offset, limit) = page_of(q, 10)?;
    history.retain(|h| h.data_version.is_some());
    history.reverse();
    let count = history.len();
    let page: Vec<Value> = history.iter().skip(offset).take(limit).map(show).collect();
    let mut out = Map::new();
    out.insert(key.to_string(), Value::Array(page));
    out.insert("count".into(), json!(count));
    Ok(Json(Value::Object(out)))
}

/// `POST /rules/<id>/revisions {change_id}`: the rule becomes what it was after that change.
pub async fn revert(
    State(st): State<AdminState>,
    caller: Caller,
    Path(id): Path<String>,
    fields: Fields,
) -> AdminResult<Response> {
    let old = find(&st.db, &id).await?;
    let Some(change_id) = fields.int("change_id")? else {
        return Err(AdminError::bad_request(
            "No change_id passed in the request body",
        ));
    };
    let history = store::rule_history(&st.db, old.rule_id).await?;
    let Some(row) = history
        .iter()
        .find(|h| h.change_id == change_id)
        .and_then(|h| h.new.clone())
    else {
        return Err(AdminError::bad_request(format!(
            "Invalid change_id : {change_id} passed in the request body"
        )));
    };
    let mut new: Rule = serde_json::from_value(row)
        .map_err(|e| AdminError::Api(relyard_core::ApiError::internal(e)))?;
    new.rule_id = old.rule_id;
    new.data_version = old.data_version;
    let products = [old.product.as_deref(), new.product.as_deref()];
    require(&caller, Thing::Rule, "modify", &products)?;
    refuse_if_protected(&st.db, &[&old, &new]).await?;
    store::update_rule(&st.db, caller.name(), &new).await?;
    st.changed().await;
    Ok("Excellent!".into_response())
}

/// `GET /rules/columns/<column>`: the distinct values of one column.
pub async fn column(
    State(st): State<AdminState>,
    Path(column): Path<String>,
) -> AdminResult<Json<Value>> {
    if !COLUMNS.contains(&column.as_str()) {
        return Err(AdminError::not_found("Requested column does not exist"));
    }
    let mut values = Vec::new();
    for rule in store::list_rules(&st.db).await? {
        values.push(
            rule_json(&rule)?
                .get(&column)
                .cloned()
                .unwrap_or(Value::Null),
        );
    }
    Ok(distinct_column(column, values))
}

/// `{"count": n, <column>: [distinct non-NULL values]}`, Balrog's column listing.
pub(super) fn distinct_column(column: String, all: Vec<Value>) -> Json<Value> {
    let mut values: Vec<Value> = Vec::new();
    for v in all {
        if !v.is_null() && !values.contains(&v) {
            values.push(v);
        }
    }
    values.sort_by_key(|v| v.to_string());
    let mut out = Map::new();
    out.insert("count".into(), json!(values.len()));
    out.insert(column, Value::Array(values));
    Json(Value::Object(out))
}

/// `GET /rules/history`: Balrog's combined history of every rule and every scheduled rule
/// change, each paginated (`?page=&limit=`) and filtered by `?changed_by=`,
/// `?timestamp_from=`, `?timestamp_to=` (ms) and, for rule changes, `?product=`, `?channel=`.
pub async fn all_history(
    State(st): State<AdminState>,
    Query(q): Query<HashMap<String, String>>,
) -> AdminResult<Json<Value>> {
    let from = query_int(&q, "timestamp_from")?;
    let to = query_int(&q, "timestamp_to")?;
    let keep = |changed_by: &str, at: i64, row: Option<&Value>, by_columns: bool| {
        let field = |k: &str| row.and_then(|r| r.get(k)).and_then(Value::as_str);
        let column = |k: &str| !by_columns || q.get(k).is_none_or(|v| field(k) == Some(v));
        q.get("changed_by").is_none_or(|c| c == changed_by)
            && from.is_none_or(|f| at >= f)
            && to.is_none_or(|t| at <= t)
            && column("product")
            && column("channel")
    };
    let mut rules = store::all_rule_history(&st.db).await?;
    rules.retain(|h| keep(&h.changed_by, h.timestamp.millis(), h.new.as_ref(), true));
    let rules = history_page(rules, &q, "revisions", revision_json)?;
    let all = store::all_sc_history(&st.db, store::ScKind::Rules).await?;
    let mut scs = super::scheduled::as_history_rows(all);
    // As in Balrog, product and channel filter rule changes only (its scheduled-change
    // history has no such columns to filter on).
    scs.retain(|h| keep(&h.changed_by, h.timestamp.millis(), None, false));
    let scs = history_page(scs, &q, "revisions", revision_json)?;
    Ok(Json(
        json!({"Rules": rules.0, "Rules scheduled change": scs.0}),
    ))
}
