//! `/emergency_shutoff…`: switching updates off for a product/channel at once.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::StatusCode;
use relyard_auth::Caller;
use serde_json::{json, Value};

use super::body::{query_int, Fields};
use super::error::{AdminError, AdminResult};
use super::listing::with_data_version;
use super::scopes::{require, Thing};
use super::AdminState;
use crate::rules::EmergencyShutoff;
use crate::store::{self, StoredShutoff};

/// The stored row plus Balrog's `comment`, which relyard does not keep.
fn shutoff_json(s: &StoredShutoff) -> Value {
    let mut row = store::shutoff_json(s);
    row["comment"] = Value::Null;
    row
}

async fn find(st: &AdminState, product: &str, channel: &str) -> AdminResult<StoredShutoff> {
    store::list_shutoffs(&st.db)
        .await?
        .into_iter()
        .find(|s| s.shutoff.product == product && s.shutoff.channel == channel)
        .ok_or_else(|| AdminError::not_found("Requested shutoff does not exist"))
}

pub async fn list(State(st): State<AdminState>) -> AdminResult<Json<Value>> {
    let all: Vec<Value> = store::list_shutoffs(&st.db)
        .await?
        .iter()
        .map(shutoff_json)
        .collect();
    Ok(Json(json!({"count": all.len(), "shutoffs": all})))
}

pub async fn get_one(
    State(st): State<AdminState>,
    Path((product, channel)): Path<(String, String)>,
) -> AdminResult<Response> {
    let s = find(&st, &product, &channel).await?;
    Ok(with_data_version(Json(shutoff_json(&s)), s.data_version))
}

pub async fn create(
    State(st): State<AdminState>,
    caller: Caller,
    fields: Fields,
) -> AdminResult<Response> {
    let shutoff = EmergencyShutoff {
        product: fields.required_str("product")?.to_string(),
        channel: fields.required_str("channel")?.to_string(),
    };
    fields.str("comment")?;
    require(
        &caller,
        Thing::EmergencyShutoff,
        "create",
        &[Some(&shutoff.product)],
    )?;
    let exists = store::list_shutoffs(&st.db)
        .await?
        .into_iter()
        .any(|s| s.shutoff == shutoff);
    if exists {
        return Err(AdminError::bad_field(
            "Invalid Emergency shutoff data",
            "Emergency shutoff for product/channel already exists.",
        ));
    }
    let s = store::create_shutoff(&st.db, caller.name(), &shutoff).await?;
    st.changed().await;
    Ok((StatusCode::CREATED, Json(shutoff_json(&s))).into_response())
}

pub async fn delete(
    State(st): State<AdminState>,
    caller: Caller,
    Path((product, channel)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> AdminResult<Response> {
    let s = find(&st, &product, &channel).await?;
    let dv = query_int(&q, "data_version")?.ok_or_else(|| super::body::missing("data_version"))?;
    require(
        &caller,
        Thing::EmergencyShutoff,
        "delete",
        &[Some(&product)],
    )?;
    store::delete_shutoff(&st.db, caller.name(), &s.shutoff, dv).await?;
    st.changed().await;
    Ok(StatusCode::OK.into_response())
}
