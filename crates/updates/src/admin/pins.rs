//! Balrog's release pinning in the admin API: `PUT /v2/releases/<name>/pinnable
//! {product, channel, version}` points a pin (`102.` or `102.1.`) at a release, and
//! `GET /v2/pins/<product>/<channel>/<version>` reads one. Pins need no sign-offs in Balrog, so
//! relyard sets them at once; `when` (a scheduled pin change) is refused rather than ignored.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use relyard_auth::Caller;
use serde_json::json;

use super::body::Fields;
use super::error::{AdminError, AdminResult};
use super::scopes::{require, Thing};
use super::AdminState;
use crate::answer::PinnableRelease;
use crate::store::{self, PinChange};
use crate::versions::PinVersion;

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/v2/releases/{name}/pinnable", put(set_pinnable))
        .route("/v2/pins/{product}/{channel}/{version}", get(get_pin))
}

async fn get_pin(
    State(st): State<AdminState>,
    Path((product, channel, version)): Path<(String, String, String)>,
) -> AdminResult<Response> {
    let pin = store::get_pin(&st.db, &product, &channel, &version)
        .await?
        .ok_or_else(|| AdminError::not_found("Pin does not exist"))?;
    Ok(Json(store::pin_json(&pin)).into_response())
}

/// The pin as clients send it: `X.` or `X.Y.`, written the way the public endpoint looks it up.
fn pin_version(fields: &Fields) -> AdminResult<String> {
    let version = fields.required_str("version")?;
    match PinVersion::parse(version) {
        Ok(p) if p.to_string() == version => Ok(version.to_string()),
        _ => Err(AdminError::bad_field(
            "Bad Request",
            format!("version {version:?} is not a pin: it must look like `102.` or `102.1.`"),
        )),
    }
}

async fn set_pinnable(
    State(st): State<AdminState>,
    caller: Caller,
    Path(name): Path<String>,
    fields: Fields,
) -> AdminResult<Response> {
    let pin = PinnableRelease {
        product: fields.required_str("product")?.to_string(),
        channel: fields.required_str("channel")?.to_string(),
        version: pin_version(&fields)?,
        mapping: name,
    };
    if fields.get("when").is_some_and(|w| !w.is_null()) {
        return Err(AdminError::bad_field(
            "Bad Request",
            "relyard sets pins at once (they need no sign-offs); scheduling a pin change with \
             `when` is not supported",
        ));
    }
    // Balrog's permission differs for a new pin and a changed one; set_pin itself answers 404
    // for a release that does not exist.
    let exists = store::get_pin(&st.db, &pin.product, &pin.channel, &pin.version)
        .await?
        .is_some();
    let action = if exists { "modify" } else { "create" };
    require(
        &caller,
        Thing::PinnableRelease,
        action,
        &[Some(&pin.product)],
    )?;
    match store::set_pin(&st.db, caller.name(), &pin).await? {
        PinChange::Set(stored) => {
            st.changed().await;
            Ok(Json(json!({".": stored.data_version})).into_response())
        }
        PinChange::ExistingIsNewer => Ok(Json(
            json!({"pin_not_set": true, "reason": "existing_pin_is_newer"}),
        )
        .into_response()),
    }
}
