//! `/users/…`: Balrog's view of who is calling, answered from the caller's scopes (the scopes
//! are the permissions; see [`super::scopes`]).

use axum::extract::Path;
use axum::Json;
use relyard_auth::scopes::ScopeExpr;
use relyard_auth::Caller;
use serde_json::{json, Map, Value};

use super::error::{AdminError, AdminResult};
use super::scopes::{permissions_of, roles_of, VIEW_PERMISSIONS};

fn roles_json(caller: &Caller) -> Value {
    let roles: Map<String, Value> = roles_of(&caller.scopes)
        .into_iter()
        .map(|r| (r, json!({"data_version": 1})))
        .collect();
    Value::Object(roles)
}

/// Only the caller's own scopes are at hand: another user's permissions are not known here.
fn own(caller: &Caller, username: &str) -> AdminResult<()> {
    if username == "current" || caller.client_id.as_deref() == Some(username) {
        return Ok(());
    }
    caller.require(&ScopeExpr::scope(VIEW_PERMISSIONS))?;
    Err(AdminError::not_found(format!(
        "No permission found for username {username}: relyard answers permissions from the \
         caller's own scopes; ask the auth service for other clients' scopes"
    )))
}

pub async fn current(caller: Caller) -> AdminResult<Json<Value>> {
    Ok(Json(json!({
        "username": caller.name(),
        "permissions": permissions_of(&caller.scopes),
        "roles": roles_json(&caller),
    })))
}

pub async fn permissions(caller: Caller, Path(username): Path<String>) -> AdminResult<Json<Value>> {
    own(&caller, &username)?;
    Ok(Json(Value::Object(permissions_of(&caller.scopes))))
}

pub async fn roles(caller: Caller, Path(username): Path<String>) -> AdminResult<Json<Value>> {
    own(&caller, &username)?;
    let roles: Vec<Value> = roles_of(&caller.scopes)
        .into_iter()
        .map(|r| json!({"role": r, "data_version": 1}))
        .collect();
    Ok(Json(json!({"roles": roles})))
}
