//! `/v2/releases…`: Balrog's v2 release endpoints over the same single-blob store: `GET`
//! answers `{blob, data_versions, sc_blob, sc_data_versions, required_signoffs}` (the whole
//! blob's version is `data_versions["."]`; relyard does not split blobs into assets, so there
//! are no per-asset versions), `PUT` sets a whole blob, `POST` merges a partial blob in, and
//! either with `when` schedules the change instead (needed where sign-offs are required).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::StatusCode;
use relyard_auth::Caller;
use serde_json::{json, Map, Value};

use super::body::Fields;
use super::error::{AdminError, AdminResult};
use super::releases::{change_read_only, find, name_matches, refuse_if_protected};
use super::scheduled::{auto_sign_off, when_of};
use super::scopes::{require, Thing};
use super::AdminState;
use crate::store::{self, ChangeType, NewReleaseChange, ScKind};

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route(
            "/v2/releases/{name}",
            get(get_one).put(ensure).post(update).delete(delete),
        )
        .route("/v2/releases/{name}/data_version", get(data_versions))
        .route(
            "/v2/releases/{name}/read_only",
            axum::routing::put(set_read_only),
        )
}

fn versions(dv: i64) -> Value {
    json!({".": dv})
}

async fn get_one(
    State(st): State<AdminState>,
    Path(name): Path<String>,
) -> AdminResult<Json<Value>> {
    let r = find(&st, &name).await?;
    let pending = store::list_release_changes(&st.db, false)
        .await?
        .into_iter()
        .find(|c| c.change.name == name);
    let (sc_blob, sc_versions) = match &pending {
        Some(c) if c.change.change_type != ChangeType::Delete => (
            c.change.data.clone().unwrap_or_else(|| r.data.clone()),
            versions(c.data_version),
        ),
        Some(c) => (json!({}), versions(c.data_version)),
        None => (json!({}), json!({})),
    };
    Ok(Json(json!({
        "blob": r.data,
        "data_versions": versions(r.data_version),
        "sc_blob": sc_blob,
        "sc_data_versions": sc_versions,
        "required_signoffs": store::release_required(&st.db, &name).await?,
    })))
}

async fn data_versions(
    State(st): State<AdminState>,
    Path(name): Path<String>,
) -> AdminResult<Json<Value>> {
    let r = find(&st, &name).await?;
    Ok(Json(json!({"data_versions": versions(r.data_version)})))
}

/// `old_data_versions["."]`, the whole blob's version the writer read.
fn old_version(fields: &Fields) -> AdminResult<Option<i64>> {
    match fields.get("old_data_versions") {
        None => Ok(None),
        Some(Value::Object(m)) => super::body::int_value(".", m.get(".")),
        Some(_) => Err(AdminError::bad_field(
            "Bad Request",
            "old_data_versions must be an object",
        )),
    }
}

fn blob_field(fields: &Fields) -> AdminResult<Value> {
    match fields.get("blob") {
        Some(b @ Value::Object(_)) => Ok(b.clone()),
        Some(_) => Err(AdminError::bad_field(
            "Bad Request",
            "blob must be an object",
        )),
        None => Err(super::body::missing("blob")),
    }
}

/// Balrog's release merger for `POST`: objects merge key by key, anything else is replaced.
fn deep_merge(base: &Value, incoming: &Value) -> Value {
    match (base, incoming) {
        (Value::Object(b), Value::Object(i)) => {
            let mut out: Map<String, Value> = b.clone();
            for (k, v) in i {
                let merged = match b.get(k) {
                    Some(old) => deep_merge(old, v),
                    None => v.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (_, v) => v.clone(),
    }
}

/// Schedules `change` for `when` (given) and answers its sc_data_versions.
async fn schedule(
    st: &AdminState,
    caller: &Caller,
    change: NewReleaseChange,
) -> AdminResult<Response> {
    let required = store::release_required(&st.db, &change.name).await?;
    let sc = store::schedule_release_change(&st.db, caller.name(), &change).await?;
    let signoffs = auto_sign_off(st, caller, ScKind::Releases, sc.sc_id, &required).await?;
    let body = json!({"sc_data_versions": versions(sc.data_version), "sc_id": sc.sc_id,
                      "signoffs": signoffs});
    Ok(Json(body).into_response())
}

/// `PUT /v2/releases/<name> {blob, product, old_data_versions?, when?}`.
async fn ensure(
    State(st): State<AdminState>,
    caller: Caller,
    Path(name): Path<String>,
    fields: Fields,
) -> AdminResult<Response> {
    let blob = blob_field(&fields)?;
    name_matches(&name, &blob)?;
    let product = fields.str("product")?.map(str::to_string);
    let old = old_version(&fields)?;
    let when = fields.get("when").map(|_| when_of(&fields)).transpose()?;
    let current = store::get_release(&st.db, &name).await?;
    let Some(current) = current else {
        let product = product.ok_or_else(|| super::body::missing("product"))?;
        require(&caller, Thing::Release, "create", &[Some(&product)])?;
        if let Some(when) = when {
            let change = NewReleaseChange {
                change_type: ChangeType::Insert,
                name,
                product: Some(product),
                data: Some(blob),
                read_only: None,
                base_data_version: None,
                when,
            };
            return schedule(&st, &caller, change).await;
        }
        let r = store::create_release(&st.db, caller.name(), &name, &product, &blob).await?;
        st.changed().await;
        return Ok(Json(versions(r.data_version)).into_response());
    };
    let old = old.ok_or_else(|| super::body::missing("old_data_versions"))?;
    let products = [Some(current.product.as_str()), product.as_deref()];
    require(&caller, Thing::Release, "modify", &products)?;
    write(&st, &caller, &name, product, old, when, move |_| blob).await
}

/// The whole-blob write of `PUT` and `POST`: scheduled when `when` is given, else at once
/// (refused where sign-offs are required).
async fn write(
    st: &AdminState,
    caller: &Caller,
    name: &str,
    product: Option<String>,
    old: i64,
    when: Option<i64>,
    build: impl FnOnce(&Value) -> Value,
) -> AdminResult<Response> {
    if let Some(when) = when {
        let current = find(st, name).await?;
        let change = NewReleaseChange {
            change_type: ChangeType::Update,
            name: name.to_string(),
            product,
            data: Some(build(&current.data)),
            read_only: None,
            base_data_version: Some(old),
            when,
        };
        return schedule(st, caller, change).await;
    }
    refuse_if_protected(st, name).await?;
    let r = store::update_release_with(
        &st.db,
        caller.name(),
        name,
        product.as_deref(),
        old,
        |cur| Ok(build(&cur.data)),
    )
    .await?;
    st.changed().await;
    Ok(Json(versions(r.data_version)).into_response())
}

/// `POST /v2/releases/<name> {blob, old_data_versions, when?}`: `blob` is merged in.
async fn update(
    State(st): State<AdminState>,
    caller: Caller,
    Path(name): Path<String>,
    fields: Fields,
) -> AdminResult<Response> {
    let current = find(&st, &name).await?;
    let blob = blob_field(&fields)?;
    let old = old_version(&fields)?.ok_or_else(|| super::body::missing("old_data_versions"))?;
    let when = fields.get("when").map(|_| when_of(&fields)).transpose()?;
    require(&caller, Thing::Release, "modify", &[Some(&current.product)])?;
    write(&st, &caller, &name, None, old, when, move |cur| {
        deep_merge(cur, &blob)
    })
    .await
}

async fn delete(
    State(st): State<AdminState>,
    caller: Caller,
    Path(name): Path<String>,
) -> AdminResult<Response> {
    let current = find(&st, &name).await?;
    require(&caller, Thing::Release, "delete", &[Some(&current.product)])?;
    refuse_if_protected(&st, &name).await?;
    store::delete_release(&st.db, caller.name(), &name, current.data_version).await?;
    st.changed().await;
    Ok(StatusCode::OK.into_response())
}

/// `PUT /v2/releases/<name>/read_only {read_only, old_data_version}`.
async fn set_read_only(
    State(st): State<AdminState>,
    caller: Caller,
    Path(name): Path<String>,
    fields: Fields,
) -> AdminResult<Json<Value>> {
    let read_only = fields
        .bool("read_only")?
        .ok_or_else(|| super::body::missing("read_only"))?;
    let old = fields.required_int("old_data_version")?;
    let new = change_read_only(&st, &caller, &name, read_only, old).await?;
    Ok(Json(json!({"new_data_version": new})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_merge_replaces_leaves_and_merges_objects() {
        let base = json!({"a": {"x": 1, "y": [1]}, "b": 2});
        let got = deep_merge(&base, &json!({"a": {"y": [2], "z": 3}}));
        assert_eq!(got, json!({"a": {"x": 1, "y": [2], "z": 3}, "b": 2}));
    }
}
