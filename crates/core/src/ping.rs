//! `GET /ping` of every service: `{alive: true, uptime}`.

use std::sync::OnceLock;
use std::time::Instant;

use axum::Json;
use serde_json::{json, Value};

static STARTED: OnceLock<Instant> = OnceLock::new();

/// Marks the process start for `uptime`; called once by the binary (later calls are ignored).
pub fn mark_start() {
    let _ = STARTED.set(Instant::now());
}

pub async fn ping() -> Json<Value> {
    let uptime = STARTED.get_or_init(Instant::now).elapsed().as_secs_f64();
    Json(json!({ "alive": true, "uptime": uptime }))
}
