//! `/scheduled_changes/rules…`: rule changes waiting for their time and their sign-offs.
//! Scheduling, editing and deleting need the permission the change itself needs; enacting by
//! hand needs `updates:scheduled_change:enact`; signing off with role R needs
//! `updates:role:R`. A change is enacted (by `store::enact_due` or by hand) only once every
//! required role has its number of sign-offs from different people.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use relyard_auth::scopes::ScopeExpr;
use relyard_auth::Caller;
use serde_json::{json, Map, Value};

use super::body::{query_int, Fields};
use super::error::{AdminError, AdminResult};
use super::listing::{history_page, revision_json};
use super::rule_form::{check_mappings, rule_from_fields, rule_json};
use super::scopes::{holds_role, require, Thing, ADMIN, ENACT};
use super::AdminState;
use crate::rules::Rule;
use crate::signoffs::required_for;
use crate::store::{self, ChangeType, Enacted, NewChange, ScKind, ScheduledChange};

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/scheduled_changes/rules", get(list).post(create))
        .route(
            "/scheduled_changes/rules/{sc_id}",
            get(get_one).post(edit).delete(delete),
        )
        .route("/scheduled_changes/rules/{sc_id}/enact", post(enact))
        .route(
            "/scheduled_changes/rules/{sc_id}/signoffs",
            post(sign_off).delete(revoke),
        )
        .route("/scheduled_changes/rules/{sc_id}/revisions", get(revisions))
        .merge(super::sc_releases::routes())
}

pub(super) fn sc_id_of(raw: &str) -> AdminResult<i64> {
    raw.parse()
        .map_err(|_| AdminError::bad_request(format!("sc_id must be an integer, not {raw:?}")))
}

/// Milliseconds since the epoch; Balrog refuses changes scheduled in the past.
pub(super) fn when_of(fields: &Fields) -> AdminResult<i64> {
    let Some(when) = fields.int("when")? else {
        return Err(AdminError::bad_request(
            "'when' cannot be set to null when scheduling a new change",
        ));
    };
    if when < relyard_core::Timestamp::now().millis() {
        return Err(AdminError::bad_request(
            "Changes may not be scheduled in the past",
        ));
    }
    Ok(when)
}

fn change_type_of(fields: &Fields) -> AdminResult<ChangeType> {
    match fields.str("change_type")? {
        Some("insert") => Ok(ChangeType::Insert),
        Some("update") => Ok(ChangeType::Update),
        Some("delete") => Ok(ChangeType::Delete),
        _ => Err(AdminError::bad_request("Invalid or missing change_type")),
    }
}

fn change_type_str(t: ChangeType) -> &'static str {
    match t {
        ChangeType::Insert => "insert",
        ChangeType::Update => "update",
        ChangeType::Delete => "delete",
    }
}

async fn find(st: &AdminState, sc_id: i64) -> AdminResult<ScheduledChange> {
    store::get_scheduled_change(&st.db, sc_id)
        .await?
        .ok_or_else(|| AdminError::not_found("Scheduled change does not exist"))
}

/// The rules a change touches: the current row (not for inserts) and the new one (not for
/// deletes); required sign-offs and permissions are decided over both.
async fn touched(st: &AdminState, sc: &ScheduledChange) -> AdminResult<Vec<Rule>> {
    let mut rules = Vec::new();
    if let Some(id) = sc.rule_id.filter(|_| sc.change_type != ChangeType::Insert) {
        if let Some(r) = store::get_rule(&st.db, id).await? {
            rules.push(r);
        }
    }
    rules.extend(sc.new_row.clone());
    Ok(rules)
}

/// `{username: role}` of a change's sign-offs.
pub(super) fn signoffs_json(signoffs: &[crate::signoffs::Signoff]) -> Value {
    let map: Map<String, Value> = signoffs
        .iter()
        .map(|s| (s.username.clone(), json!(s.role)))
        .collect();
    Value::Object(map)
}

/// A scheduled change as Balrog shows it: its own fields, the new row's columns (for a
/// delete, the target's rule_id and data_version), sign-offs and (while pending) the sign-offs
/// it needs.
async fn sc_json(st: &AdminState, sc: &ScheduledChange) -> AdminResult<Value> {
    let mut out = match &sc.new_row {
        Some(r) => match rule_json(r)? {
            Value::Object(m) => m,
            _ => Map::new(),
        },
        None => Map::new(),
    };
    out.insert("rule_id".into(), json!(sc.rule_id));
    out.insert("data_version".into(), json!(sc.base_data_version));
    out.insert("sc_id".into(), json!(sc.sc_id));
    out.insert("sc_data_version".into(), json!(sc.data_version));
    out.insert("change_type".into(), json!(change_type_str(sc.change_type)));
    out.insert("scheduled_by".into(), json!(sc.scheduled_by));
    out.insert("when".into(), json!(sc.when));
    out.insert("complete".into(), json!(sc.complete));
    out.insert("failed".into(), json!(sc.failed));
    for t in ["telemetry_product", "telemetry_channel", "telemetry_uptake"] {
        out.insert(t.into(), Value::Null);
    }
    let signed = store::signoffs(&st.db, sc.sc_id).await?;
    out.insert("signoffs".into(), signoffs_json(&signed));
    let mut required = Map::new();
    if sc.is_pending() {
        let table = store::list_required_signoffs(&st.db).await?;
        let rules = touched(st, sc).await?;
        for (role, n) in required_for(&table, rules.iter()) {
            required.insert(role, json!(n));
        }
    }
    out.insert("required_signoffs".into(), Value::Object(required));
    Ok(Value::Object(out))
}

async fn list(
    State(st): State<AdminState>,
    Query(q): Query<HashMap<String, String>>,
) -> AdminResult<Json<Value>> {
    let all = q.contains_key("all");
    let rule_id = query_int(&q, "rule_id")?;
    let mut out = Vec::new();
    for sc in store::list_rule_changes(&st.db, all).await? {
        if rule_id.is_some() && sc.rule_id != rule_id {
            continue;
        }
        out.push(sc_json(&st, &sc).await?);
    }
    Ok(Json(json!({"count": out.len(), "scheduled_changes": out})))
}

async fn get_one(
    State(st): State<AdminState>,
    Path(sc_id): Path<String>,
) -> AdminResult<Json<Value>> {
    let sc = find(&st, sc_id_of(&sc_id)?).await?;
    Ok(Json(json!({"scheduled_change": sc_json(&st, &sc).await?})))
}

/// The permission a rule change needs, over the rows before and after it.
fn require_for_change(
    caller: &Caller,
    change_type: ChangeType,
    rules: &[&Rule],
) -> AdminResult<()> {
    let action = match change_type {
        ChangeType::Insert => "create",
        ChangeType::Update => "modify",
        ChangeType::Delete => "delete",
    };
    let products: Vec<Option<&str>> = rules.iter().map(|r| r.product.as_deref()).collect();
    require(caller, Thing::Rule, action, &products)
}

async fn create(
    State(st): State<AdminState>,
    caller: Caller,
    fields: Fields,
) -> AdminResult<Json<Value>> {
    if fields.has("sc_id") {
        return Err(AdminError::bad_request(
            "sc_id cannot be set when scheduling a new change",
        ));
    }
    let change_type = change_type_of(&fields)?;
    let when = when_of(&fields)?;
    let (rule, current) = match change_type {
        ChangeType::Insert => {
            for field in ["update_type", "backgroundRate", "priority"] {
                if fields.get(field).is_none() {
                    return Err(AdminError::bad_field(
                        "Null/Empty Value",
                        format!("{field} cannot be set to null/empty when scheduling insertion of a new rule"),
                    ));
                }
            }
            let rule = rule_from_fields(None, &fields)?;
            check_mappings(&st.db, &rule).await?;
            (rule, None)
        }
        ChangeType::Update | ChangeType::Delete => {
            let rule_id = fields.required_int("rule_id")?;
            let data_version = fields.required_int("data_version")?;
            let current = store::get_rule(&st.db, rule_id)
                .await?
                .ok_or_else(|| AdminError::not_found("Requested rule does not exist"))?;
            let mut rule = if change_type == ChangeType::Update {
                let r = rule_from_fields(Some(&current), &fields)?;
                if fields.has("mapping") || fields.has("fallbackMapping") {
                    check_mappings(&st.db, &r).await?;
                }
                r
            } else {
                current.clone()
            };
            rule.data_version = data_version;
            (rule, Some(current))
        }
    };
    let rules: Vec<&Rule> = current.iter().chain([&rule]).collect();
    require_for_change(&caller, change_type, &rules)?;
    let table = store::list_required_signoffs(&st.db).await?;
    let required = required_for(&table, rules.iter().copied());
    let change = NewChange {
        change_type,
        rule,
        when,
    };
    let sc = store::schedule_rule_change(&st.db, caller.name(), &change).await?;
    let signoffs = auto_sign_off(&st, &caller, ScKind::Rules, sc.sc_id, &required).await?;
    Ok(Json(json!({"sc_id": sc.sc_id, "signoffs": signoffs})))
}

/// Balrog's automatic sign-off: a scheduler holding exactly one of the roles the change needs
/// signs with it (with several, which one is unclear, so they sign by hand). Answers the
/// change's sign-offs.
pub(super) async fn auto_sign_off(
    st: &AdminState,
    caller: &Caller,
    kind: ScKind,
    sc_id: i64,
    required: &crate::signoffs::Required,
) -> AdminResult<Value> {
    let held: Vec<&String> = required.keys().filter(|r| holds_role(caller, r)).collect();
    if let [role] = held.as_slice() {
        store::sign_off_holding(&st.db, kind, sc_id, caller.name(), role).await?;
    }
    Ok(signoffs_json(
        &store::signoffs_of(&st.db, kind, sc_id).await?,
    ))
}

/// `POST /scheduled_changes/rules/<sc_id>`: new time and/or new rule fields, named by the
/// `sc_data_version` read; sign-offs given so far are dropped.
async fn edit(
    State(st): State<AdminState>,
    caller: Caller,
    Path(sc_id): Path<String>,
    fields: Fields,
) -> AdminResult<Json<Value>> {
    let sc = find(&st, sc_id_of(&sc_id)?).await?;
    let sc_data_version = fields.required_int("sc_data_version")?;
    let when = match fields.get("when") {
        Some(_) => when_of(&fields)?,
        None => sc.when,
    };
    let (new_row, base) = match sc.change_type {
        ChangeType::Delete => (None, None),
        ChangeType::Insert => {
            let r = rule_from_fields(sc.new_row.as_ref(), &fields)?;
            check_mappings(&st.db, &r).await?;
            (Some(r), None)
        }
        ChangeType::Update => {
            let base = fields.required_int("data_version")?;
            let mut r = rule_from_fields(sc.new_row.as_ref(), &fields)?;
            check_mappings(&st.db, &r).await?;
            r.data_version = base;
            (Some(r), Some(base))
        }
    };
    let mut rules = touched(&st, &sc).await?;
    rules.extend(new_row.clone());
    require_for_change(&caller, sc.change_type, &rules.iter().collect::<Vec<_>>())?;
    let new = store::edit_rule_change(
        &st.db,
        caller.name(),
        sc.sc_id,
        sc_data_version,
        new_row.as_ref(),
        base,
        when,
    )
    .await?;
    Ok(Json(
        json!({"new_data_version": new.data_version, "signoffs": {}}),
    ))
}

async fn delete(
    State(st): State<AdminState>,
    caller: Caller,
    Path(sc_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> AdminResult<Json<Value>> {
    let sc = find(&st, sc_id_of(&sc_id)?).await?;
    let dv = query_int(&q, "data_version")?
        .ok_or_else(|| AdminError::bad_request("data_version is missing"))?;
    let rules = touched(&st, &sc).await?;
    require_for_change(&caller, sc.change_type, &rules.iter().collect::<Vec<_>>())?;
    store::delete_scheduled(&st.db, ScKind::Rules, caller.name(), sc.sc_id, dv).await?;
    Ok(Json(json!({})))
}

async fn enact(
    State(st): State<AdminState>,
    caller: Caller,
    Path(sc_id): Path<String>,
) -> AdminResult<Json<Value>> {
    let sc = find(&st, sc_id_of(&sc_id)?).await?;
    caller.require(&ScopeExpr::any_of([
        ScopeExpr::scope(ADMIN),
        ScopeExpr::scope(ENACT),
    ]))?;
    let outcome = store::enact_rule_change_now(&st.db, sc.sc_id).await?;
    enacted_reply(&st, sc.sc_id, outcome, || async {
        Ok(find(&st, sc.sc_id).await?.failed)
    })
    .await
}

/// The answer to an enactment by hand: `{}` (and the service told) when it was enacted, 400
/// SignoffRequired when sign-offs are missing, 400 with the reason it failed for good.
pub(super) async fn enacted_reply<F>(
    st: &AdminState,
    sc_id: i64,
    outcome: Enacted,
    failure: impl FnOnce() -> F,
) -> AdminResult<Json<Value>>
where
    F: std::future::Future<Output = AdminResult<Option<String>>>,
{
    match outcome {
        Enacted::Done => {
            st.changed().await;
            Ok(Json(json!({})))
        }
        Enacted::NotReady => Err(AdminError::signoff_required(format!(
            "scheduled change {sc_id} is missing required signoffs"
        ))),
        Enacted::Failed => Err(AdminError::bad_field(
            "Bad Request",
            failure().await?.unwrap_or_default(),
        )),
    }
}

/// The role of a sign-off request, which the caller must hold.
pub(super) fn role_of(caller: &Caller, fields: &Fields) -> AdminResult<String> {
    let role = fields.required_str("role")?.to_string();
    if !holds_role(caller, &role) {
        return Err(AdminError::forbidden(format!(
            "{} cannot signoff with role '{role}' (needs scope {})",
            caller.name(),
            super::scopes::role_scope(&role)
        )));
    }
    Ok(role)
}

async fn sign_off(
    State(st): State<AdminState>,
    caller: Caller,
    Path(sc_id): Path<String>,
    fields: Fields,
) -> AdminResult<Json<Value>> {
    let sc = find(&st, sc_id_of(&sc_id)?).await?;
    let role = role_of(&caller, &fields)?;
    store::sign_off_holding(&st.db, ScKind::Rules, sc.sc_id, caller.name(), &role).await?;
    Ok(Json(json!({})))
}

/// Takes back the caller's sign-off, or (`?username=`, with `updates:admin`) someone else's.
pub(super) async fn revoke_for(
    st: &AdminState,
    kind: ScKind,
    caller: &Caller,
    sc_id: i64,
    q: &HashMap<String, String>,
) -> AdminResult<Json<Value>> {
    let username = q
        .get("username")
        .map(String::as_str)
        .unwrap_or(caller.name());
    if username != caller.name() {
        caller.require(&ScopeExpr::scope(ADMIN))?;
    }
    if store::revoke_signoff_of(&st.db, kind, sc_id, username).await? {
        Ok(Json(json!({})))
    } else {
        Ok(Json(
            json!({"error": format!("{username} has no signoff to revoke")}),
        ))
    }
}

async fn revoke(
    State(st): State<AdminState>,
    caller: Caller,
    Path(sc_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> AdminResult<Json<Value>> {
    let sc = find(&st, sc_id_of(&sc_id)?).await?;
    revoke_for(&st, ScKind::Rules, &caller, sc.sc_id, &q).await
}

/// Scheduled-change history in the shape the revision listings page through.
pub(super) fn as_history_rows(history: Vec<store::ScHistoryRow>) -> Vec<store::HistoryRow> {
    history
        .into_iter()
        .map(|h| store::HistoryRow {
            change_id: h.change_id,
            changed_by: h.changed_by,
            timestamp: h.timestamp,
            data_version: h.data_version,
            old: None,
            new: h.row,
        })
        .collect()
}

/// History of a scheduled change, newest first, paginated as Balrog's revisions.
pub(super) async fn revisions_of(
    st: &AdminState,
    kind: ScKind,
    sc_id: i64,
    q: &HashMap<String, String>,
) -> AdminResult<Json<Value>> {
    let rows = as_history_rows(store::sc_history(&st.db, kind, sc_id).await?);
    let mut page = history_page(rows, q, "revisions", revision_json)?;
    if let Some(revs) = page.0.get_mut("revisions").and_then(Value::as_array_mut) {
        for r in revs {
            if let Value::Object(m) = r {
                if let Some(dv) = m.remove("data_version") {
                    m.insert("sc_data_version".into(), dv);
                }
            }
        }
    }
    Ok(page)
}

async fn revisions(
    State(st): State<AdminState>,
    Path(sc_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> AdminResult<Json<Value>> {
    let sc = find(&st, sc_id_of(&sc_id)?).await?;
    revisions_of(&st, ScKind::Rules, sc.sc_id, &q).await
}
