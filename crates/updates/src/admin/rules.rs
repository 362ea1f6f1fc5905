//! `/rules…`: Balrog's rule endpoints (list, one rule by id or alias, create, modify, delete,
//! revisions and revert, distinct column values).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::header::CONTENT_TYPE;
use relyard_auth::Caller;
use serde_json::{json, Value};

use super::body::{query_int, Fields};
use super::error::{AdminError, AdminResult};
use super::listing::{distinct_column, history_page, revision_json, with_data_version};
use super::rule_form::{check_mappings, refuse_if_protected, rule_from_fields, rule_json, COLUMNS};
use super::scopes::{require, Thing};
use super::AdminState;
use crate::rules::Rule;
use crate::store;

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
    let stored = store::update_rule_merging(&st.db, caller.name(), &new).await?;
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

pub async fn revisions(
    State(st): State<AdminState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> AdminResult<Json<Value>> {
    let rule = find(&st.db, &id).await?;
    let history = store::rule_history(&st.db, rule.rule_id).await?;
    history_page(history, &q, "rules", revision_json)
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
    store::update_rule_merging(&st.db, caller.name(), &new).await?;
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
