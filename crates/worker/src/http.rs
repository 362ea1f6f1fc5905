//! The worker's own HTTP surface: live logs at `/log/<token>` (the URL of the `live.log`
//! reference artifact) and Prometheus metrics at `/metrics`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use relyard_core::ApiError;

use crate::Shared;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/log/{token}", get(live_log))
        .route("/metrics", get(metrics))
        .route(
            "/__heartbeat__",
            get(|| async { axum::Json(serde_json::json!({})) }),
        )
        .fallback(|uri: http::Uri| async move {
            ApiError::not_found(format!("no such endpoint: {}", uri.path()))
        })
        .with_state(shared)
}

async fn live_log(State(shared): State<Arc<Shared>>, Path(token): Path<String>) -> Response {
    let Some(log) = shared.logs.get(&token) else {
        return ApiError::not_found(
            "no live log here: the task has ended or never ran on this worker",
        )
        .into_response();
    };
    (
        [
            (CONTENT_TYPE, "text/plain; charset=utf-8"),
            (CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(log.follow()),
    )
        .into_response()
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    (
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        shared.metrics.render(),
    )
        .into_response()
}
