//! `/required_signoffs/product`: which product/channel changes need how many sign-offs of
//! which role. In this slice these rows change at once (Balrog schedules changes to existing
//! ones); creating and deleting need `updates:required_signoff:{create,delete}:<product>`.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::StatusCode;
use relyard_auth::Caller;
use serde_json::{json, Value};

use super::body::{query_int, Fields};
use super::error::{AdminError, AdminResult};
use super::scopes::{require, Thing};
use super::AdminState;
use crate::store;

pub fn routes() -> Router<AdminState> {
    Router::new().route(
        "/required_signoffs/product",
        get(list).post(create).delete(delete),
    )
}

async fn list(
    State(st): State<AdminState>,
    Query(q): Query<HashMap<String, String>>,
) -> AdminResult<Json<Value>> {
    let rows: Vec<Value> = store::list_required_signoffs(&st.db)
        .await?
        .into_iter()
        .filter(|r| q.get("product").is_none_or(|p| p == &r.product))
        .filter(|r| q.get("channel").is_none_or(|c| c == &r.channel))
        .map(|r| store::required_signoff_json(&r))
        .collect();
    Ok(Json(
        json!({"count": rows.len(), "required_signoffs": rows}),
    ))
}

async fn create(
    State(st): State<AdminState>,
    caller: Caller,
    fields: Fields,
) -> AdminResult<Response> {
    let product = fields.required_str("product")?;
    let channel = fields.required_str("channel")?;
    let role = fields.required_str("role")?;
    let n = fields.required_int("signoffs_required")?;
    if n < 1 {
        return Err(AdminError::bad_request(
            "signoffs_required must be at least 1",
        ));
    }
    require(&caller, Thing::RequiredSignoff, "create", &[Some(product)])?;
    store::create_required_signoff(&st.db, caller.name(), product, channel, role, n).await?;
    st.changed().await;
    Ok((StatusCode::CREATED, Json(json!({"new_data_version": 1}))).into_response())
}

async fn delete(
    State(st): State<AdminState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> AdminResult<Response> {
    let arg = |k: &str| {
        q.get(k)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| super::body::missing(k))
    };
    let (product, channel, role) = (arg("product")?, arg("channel")?, arg("role")?);
    let dv = query_int(&q, "data_version")?.ok_or_else(|| super::body::missing("data_version"))?;
    require(&caller, Thing::RequiredSignoff, "delete", &[Some(product)])?;
    store::delete_required_signoff(&st.db, caller.name(), product, channel, role, dv).await?;
    st.changed().await;
    Ok(StatusCode::OK.into_response())
}
