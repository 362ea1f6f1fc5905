//! `/required_signoffs/product…`: which product/channel changes need which sign-offs.

use axum::Router;

use super::AdminState;

pub fn routes() -> Router<AdminState> {
    Router::new()
}
