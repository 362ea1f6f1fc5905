//! `/scheduled_changes/…`: rule and release changes waiting for their time and sign-offs.

use axum::Router;

use super::AdminState;

pub fn routes() -> Router<AdminState> {
    Router::new()
}
