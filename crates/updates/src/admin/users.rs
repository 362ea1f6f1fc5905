//! `/users/…`: Balrog's view of who is calling, answered from the caller's scopes (the scopes
//! are the permissions; see [`super::scopes`]).

use axum::extract::{Path, State};
use axum::Json;
use relyard_auth::scopes::ScopeExpr;
use relyard_auth::Caller;
use serde_json::{json, Map, Value};

use super::error::{AdminError, AdminResult};
use super::scopes::{permissions_of, roles_of, VIEW_PERMISSIONS};
use super::AdminState;

fn roles_json(scopes: &[String]) -> Value {
    let roles: Map<String, Value> = roles_of(scopes)
        .into_iter()
        .map(|r| (r, json!({"data_version": 1})))
        .collect();
    Value::Object(roles)
}

/// The scopes of `username`: the caller's own, or (with `updates:permission:view`) another
/// client's from the auth service when the state has one.
async fn scopes_of(st: &AdminState, caller: &Caller, username: &str) -> AdminResult<Vec<String>> {
    if username == "current" || caller.client_id.as_deref() == Some(username) {
        return Ok(caller.scopes.to_vec());
    }
    caller.require(&ScopeExpr::scope(VIEW_PERMISSIONS))?;
    let Some(auth) = &st.auth else {
        return Err(AdminError::not_found(format!(
            "No permission found for username {username}: this server knows only the caller's \
             own scopes"
        )));
    };
    match auth.get_client_info(username).await {
        Ok(info) => Ok(info.expanded_scopes),
        Err(e) if e.status() == http::StatusCode::NOT_FOUND => Err(AdminError::not_found(format!(
            "No permission found for username {username}"
        ))),
        Err(e) => Err(e.into()),
    }
}

pub async fn current(caller: Caller) -> AdminResult<Json<Value>> {
    Ok(Json(json!({
        "username": caller.name(),
        "permissions": permissions_of(&caller.scopes),
        "roles": roles_json(&caller.scopes),
    })))
}

pub async fn permissions(
    State(st): State<AdminState>,
    caller: Caller,
    Path(username): Path<String>,
) -> AdminResult<Json<Value>> {
    let scopes = scopes_of(&st, &caller, &username).await?;
    Ok(Json(Value::Object(permissions_of(&scopes))))
}

pub async fn roles(
    State(st): State<AdminState>,
    caller: Caller,
    Path(username): Path<String>,
) -> AdminResult<Json<Value>> {
    let scopes = scopes_of(&st, &caller, &username).await?;
    let roles: Vec<Value> = roles_of(&scopes)
        .into_iter()
        .map(|r| json!({"role": r, "data_version": 1}))
        .collect();
    Ok(Json(json!({"roles": roles})))
}
