//! The public update endpoints as an axum router.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use http::header::USER_AGENT;
use http::{HeaderName, HeaderValue, StatusCode};

use crate::answer::{Answer, UpdateRequest};
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
    let answer = service.answer(&UpdateRequest {
        path: uri.path(),
        query: uri.query(),
        user_agent: ua,
    });
    into_response(answer)
}

async fn json(State(service): State<UpdatesService>, req: Request) -> Response {
    let uri = req.uri();
    into_response(service.answer_json(uri.path(), uri.query()))
}

fn into_response(a: Answer) -> Response {
    let mut resp = Response::new(Body::from(a.body));
    *resp.status_mut() =
        StatusCode::from_u16(a.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in a.headers {
        // Names are fixed strings (lower-cased here); values are rule ids and
        // fixed strings. Skip anything that would not be valid rather than
        // fail the request.
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            resp.headers_mut().insert(n, v);
        }
    }
    resp
}
