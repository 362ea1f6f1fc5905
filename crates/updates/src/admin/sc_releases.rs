//! `/scheduled_changes/releases…`: release changes waiting for their time and sign-offs (a
//! release needs the sign-offs protecting the rules that map to it). The same shape and rules
//! as [`super::scheduled`] for rules.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use relyard_auth::scopes::ScopeExpr;
use relyard_auth::Caller;
use serde_json::{json, Value};

use super::body::{query_int, Fields};
use super::error::{AdminError, AdminResult};
use super::scheduled::{
    auto_sign_off, enacted_reply, revisions_of, revoke_for, role_of, sc_id_of, signoffs_json,
    when_of,
};
use super::scopes::{require, Thing, ADMIN, ENACT};
use super::AdminState;
use crate::store::{self, ChangeType, NewReleaseChange, ReleaseChange, ScKind};

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/scheduled_changes/releases", get(list).post(create))
        .route(
            "/scheduled_changes/releases/{sc_id}",
            get(get_one).post(edit).delete(delete),
        )
        .route("/scheduled_changes/releases/{sc_id}/enact", post(enact))
        .route(
            "/scheduled_changes/releases/{sc_id}/signoffs",
            post(sign_off).delete(revoke),
        )
        .route(
            "/scheduled_changes/releases/{sc_id}/revisions",
            get(revisions),
        )
}

async fn find(st: &AdminState, raw: &str) -> AdminResult<ReleaseChange> {
    store::get_release_change(&st.db, sc_id_of(raw)?)
        .await?
        .ok_or_else(|| AdminError::not_found("Scheduled change does not exist"))
}

async fn sc_json(st: &AdminState, sc: &ReleaseChange) -> AdminResult<Value> {
    let mut v = sc.to_json();
    let signed = store::signoffs_of(&st.db, ScKind::Releases, sc.sc_id).await?;
    v["signoffs"] = signoffs_json(&signed);
    let required = if sc.is_pending() {
        store::release_required(&st.db, &sc.change.name).await?
    } else {
        Default::default()
    };
    v["required_signoffs"] = json!(required);
    Ok(v)
}

/// The permission a release change needs, on the release's product.
async fn require_for(st: &AdminState, caller: &Caller, c: &NewReleaseChange) -> AdminResult<()> {
    let current = store::get_release(&st.db, &c.name).await?;
    let product = c
        .product
        .clone()
        .or(current.map(|r| r.product))
        .unwrap_or_default();
    let p = [Some(product.as_str())];
    match c.change_type {
        ChangeType::Insert => require(caller, Thing::Release, "create", &p),
        ChangeType::Delete => require(caller, Thing::Release, "delete", &p),
        ChangeType::Update => {
            if c.data.is_some() {
                require(caller, Thing::Release, "modify", &p)?;
            }
            match c.read_only {
                Some(true) => require(caller, Thing::ReleaseReadOnly, "set", &p),
                Some(false) => require(caller, Thing::ReleaseReadOnly, "unset", &p),
                None => Ok(()),
            }
        }
    }
}

async fn list(
    State(st): State<AdminState>,
    Query(q): Query<HashMap<String, String>>,
) -> AdminResult<Json<Value>> {
    let mut out = Vec::new();
    for sc in store::list_release_changes(&st.db, q.contains_key("all")).await? {
        if q.get("name").is_some_and(|n| n != &sc.change.name) {
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
    let sc = find(&st, &sc_id).await?;
    Ok(Json(json!({"scheduled_change": sc_json(&st, &sc).await?})))
}

fn data_of(fields: &Fields) -> AdminResult<Option<Value>> {
    match fields.json_doc("data")? {
        Some(d) if !d.is_object() => Err(AdminError::bad_field(
            "Invalid Blob",
            "data must be a JSON object",
        )),
        other => Ok(other),
    }
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
    let change_type = match fields.str("change_type")? {
        Some("insert") => ChangeType::Insert,
        Some("update") => ChangeType::Update,
        Some("delete") => ChangeType::Delete,
        _ => return Err(AdminError::bad_request("Invalid or missing change_type")),
    };
    let when = when_of(&fields)?;
    let change = NewReleaseChange {
        change_type,
        name: fields.required_str("name")?.to_string(),
        product: fields.str("product")?.map(str::to_string),
        data: data_of(&fields)?,
        read_only: fields.bool("read_only")?,
        base_data_version: fields.int("data_version")?,
        when,
    };
    if change_type != ChangeType::Insert && change.base_data_version.is_none() {
        return Err(AdminError::bad_field(
            "Missing field",
            "data_version is missing",
        ));
    }
    if let Some(data) = &change.data {
        if data.get("name").and_then(Value::as_str) != Some(change.name.as_str()) {
            return Err(AdminError::bad_field(
                "Bad Request",
                "name in the blob must be the release's name",
            ));
        }
    }
    require_for(&st, &caller, &change).await?;
    let required = store::release_required(&st.db, &change.name).await?;
    let sc = store::schedule_release_change(&st.db, caller.name(), &change).await?;
    let signoffs = auto_sign_off(&st, &caller, ScKind::Releases, sc.sc_id, &required).await?;
    Ok(Json(json!({"sc_id": sc.sc_id, "signoffs": signoffs})))
}

async fn edit(
    State(st): State<AdminState>,
    caller: Caller,
    Path(sc_id): Path<String>,
    fields: Fields,
) -> AdminResult<Json<Value>> {
    let sc = find(&st, &sc_id).await?;
    let sc_data_version = fields.required_int("sc_data_version")?;
    let mut change = sc.change.clone();
    if fields.get("when").is_some() {
        change.when = when_of(&fields)?;
    }
    if let Some(data) = data_of(&fields)? {
        change.data = Some(data);
    }
    if let Some(dv) = fields.int("data_version")? {
        change.base_data_version = Some(dv);
    }
    require_for(&st, &caller, &change).await?;
    let new = store::edit_release_change(&st.db, caller.name(), sc.sc_id, sc_data_version, &change)
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
    let sc = find(&st, &sc_id).await?;
    let dv = query_int(&q, "data_version")?
        .ok_or_else(|| AdminError::bad_request("data_version is missing"))?;
    require_for(&st, &caller, &sc.change).await?;
    store::delete_scheduled(&st.db, ScKind::Releases, caller.name(), sc.sc_id, dv).await?;
    Ok(Json(json!({})))
}

async fn enact(
    State(st): State<AdminState>,
    caller: Caller,
    Path(sc_id): Path<String>,
) -> AdminResult<Json<Value>> {
    let sc = find(&st, &sc_id).await?;
    caller.require(&ScopeExpr::any_of([
        ScopeExpr::scope(ADMIN),
        ScopeExpr::scope(ENACT),
    ]))?;
    let outcome = store::enact_release_change_now(&st.db, sc.sc_id).await?;
    enacted_reply(&st, sc.sc_id, outcome, || async {
        Ok(find(&st, &sc_id).await?.failed)
    })
    .await
}

async fn sign_off(
    State(st): State<AdminState>,
    caller: Caller,
    Path(sc_id): Path<String>,
    fields: Fields,
) -> AdminResult<Json<Value>> {
    let sc = find(&st, &sc_id).await?;
    let role = role_of(&caller, &fields)?;
    store::sign_off_holding(&st.db, ScKind::Releases, sc.sc_id, caller.name(), &role).await?;
    Ok(Json(json!({})))
}

async fn revoke(
    State(st): State<AdminState>,
    caller: Caller,
    Path(sc_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> AdminResult<Json<Value>> {
    let sc = find(&st, &sc_id).await?;
    revoke_for(&st, ScKind::Releases, &caller, sc.sc_id, &q).await
}

async fn revisions(
    State(st): State<AdminState>,
    Path(sc_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> AdminResult<Json<Value>> {
    let sc = find(&st, &sc_id).await?;
    revisions_of(&st, ScKind::Releases, sc.sc_id, &q).await
}
