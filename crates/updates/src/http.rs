//! The public update endpoints as an axum router.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use http::header::USER_AGENT;

use crate::answer::{Answer, UpdateRequest};
use crate::cache::CachedResponse;
use crate::service::UpdatesService;

/// `GET /update/...` (every path under `/update` is answered: Balrog gives
/// unknown ones the empty document with status 200) and `GET /json/...`.
pub fn router(service: UpdatesService) -> Router {
    Router::new()
        .route("/update", get(update))
        .route("/update/{*rest}", get(update))
        .route("/json/{*rest}", get(json))
        .with_state(service)
}

async fn update(State(service): State<UpdatesService>, req: Request) -> Response {
    let uri = req.uri();
    let ua = req.headers().get(USER_AGENT).and_then(|v| v.to_str().ok());
    let cached = service.answer_cached(&UpdateRequest {
        path: uri.path(),
        query: uri.query(),
        user_agent: ua,
    });
    respond(cached)
}

async fn json(State(service): State<UpdatesService>, req: Request) -> Response {
    let uri = req.uri();
    into_response(service.answer_json(uri.path(), uri.query()))
}

fn into_response(a: Answer) -> Response {
    respond(CachedResponse::from(a))
}

fn respond(done: CachedResponse) -> Response {
    let mut resp = Response::new(Body::from(done.body));
    *resp.status_mut() = done.status;
    *resp.headers_mut() = done.headers;
    resp
}
