//! Taskcluster's error body: `{code, message, requestInfo}` with the status that goes with each code.
//!
//! Handlers return [`ApiError`]; the body's `requestInfo` gets the request's method and path from
//! [`request_info_layer`], which every service router is wrapped in.

use axum::{
    extract::Request,
    middleware::Next,
    response::{IntoResponse, Response},
    Json,
};
use http::StatusCode;
use serde_json::{json, Value};

/// The error codes of Taskcluster's API library, each with its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    MalformedPayload,
    InvalidRequestArguments,
    InputValidationError,
    InputError,
    AuthenticationFailed,
    InsufficientScopes,
    ResourceNotFound,
    RequestConflict,
    ResourceExpired,
    InputTooLarge,
    ContentTypeMismatch,
    PayloadTooLarge,
    TooManyRequests,
    ServiceUnavailable,
    InternalServerError,
}

impl ErrorCode {
    pub fn status(self) -> StatusCode {
        use ErrorCode::*;
        match self {
            MalformedPayload | InvalidRequestArguments | InputValidationError | InputError => {
                StatusCode::BAD_REQUEST
            }
            AuthenticationFailed => StatusCode::UNAUTHORIZED,
            InsufficientScopes => StatusCode::FORBIDDEN,
            ResourceNotFound => StatusCode::NOT_FOUND,
            RequestConflict => StatusCode::CONFLICT,
            ResourceExpired => StatusCode::GONE,
            ContentTypeMismatch => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            InputTooLarge | PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            InternalServerError => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The code for an error status that did not come with one (e.g. axum's own rejections).
    pub fn for_status(status: StatusCode) -> ErrorCode {
        use ErrorCode::*;
        match status {
            StatusCode::UNAUTHORIZED => AuthenticationFailed,
            StatusCode::FORBIDDEN => InsufficientScopes,
            StatusCode::NOT_FOUND => ResourceNotFound,
            StatusCode::CONFLICT => RequestConflict,
            StatusCode::GONE => ResourceExpired,
            StatusCode::PAYLOAD_TOO_LARGE => InputTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ContentTypeMismatch,
            StatusCode::TOO_MANY_REQUESTS => TooManyRequests,
            StatusCode::SERVICE_UNAVAILABLE => ServiceUnavailable,
            s if s.is_server_error() => InternalServerError,
            _ => InvalidRequestArguments,
        }
    }

    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            MalformedPayload => "MalformedPayload",
            InvalidRequestArguments => "InvalidRequestArguments",
            InputValidationError => "InputValidationError",
            InputError => "InputError",
            AuthenticationFailed => "AuthenticationFailed",
            InsufficientScopes => "InsufficientScopes",
            ResourceNotFound => "ResourceNotFound",
            RequestConflict => "RequestConflict",
            ResourceExpired => "ResourceExpired",
            InputTooLarge => "InputTooLarge",
            ContentTypeMismatch => "ContentTypeMismatch",
            PayloadTooLarge => "PayloadTooLarge",
            TooManyRequests => "TooManyRequests",
            ServiceUnavailable => "ServiceUnavailable",
            InternalServerError => "InternalServerError",
        }
    }
}

/// An error answered in Taskcluster's shape.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}: {message}", code.as_str())]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// Extra fields merged into `requestInfo.details` (e.g. `required` / `unsatisfied` for 403s).
    pub details: Value,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            details: Value::Null,
        }
    }
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    pub fn input(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InputError, message)
    }
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InputValidationError, message)
    }
    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::MalformedPayload, message)
    }
    pub fn invalid_arguments(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequestArguments, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ResourceNotFound, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::RequestConflict, message)
    }
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::AuthenticationFailed, message)
    }
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InputTooLarge, message)
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ServiceUnavailable, message)
    }
    /// An internal failure: logged in full, answered without detail.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "internal error");
        Self::new(ErrorCode::InternalServerError, "Internal Server Error")
    }

    fn body(&self, method: &str, path: &str, status: StatusCode) -> Value {
        let mut message = self.message.clone();
        // Taskcluster appends this trailer to every error message; clients print it as-is.
        message.push_str("\n\n---\n\n* method:     ");
        message.push_str(method);
        message.push_str("\n* errorCode:  ");
        message.push_str(self.code.as_str());
        message.push_str("\n* statusCode: ");
        message.push_str(status.as_str());
        message.push_str("\n* time:       ");
        let now = crate::Timestamp::now().to_string();
        message.push_str(&now);
        let mut info = json!({
            "method": method,
            "path": path,
            "params": {},
            "payload": {},
            "time": now,
        });
        if !self.details.is_null() {
            info["details"] = self.details.clone();
        }
        json!({ "code": self.code.as_str(), "message": message, "requestInfo": info })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.body("", "", self.status());
        let mut resp = (self.status(), Json(body)).into_response();
        resp.extensions_mut().insert(self);
        resp
    }
}

/// Middleware: rewrites error bodies so that `requestInfo` names the request's method and path,
/// and gives errors that did not come from an [`ApiError`] (axum's own 405s and extractor
/// rejections, which are plain text) Taskcluster's JSON shape too.
pub async fn request_info_layer(req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let resp = next.run(req).await;
    let status = resp.status();
    let err = match resp.extensions().get::<ApiError>() {
        Some(err) => err.clone(),
        None if (status.is_client_error() || status.is_server_error()) && !is_json(&resp) => {
            ApiError::new(
                ErrorCode::for_status(status),
                plain_error_text(status, resp).await,
            )
        }
        None => return resp,
    };
    (status, Json(err.body(&method, &path, status))).into_response()
}

fn is_json(resp: &Response) -> bool {
    resp.headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// The text of a plain error response, or the status's reason when it has none.
async fn plain_error_text(status: StatusCode, resp: Response) -> String {
    let text = axum::body::to_bytes(resp.into_body(), 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        text
    }
}

/// Result type of handlers and service methods.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    async fn call(router: Router, method: &str, uri: &str) -> (StatusCode, Value) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .body(axum::body::Body::empty())
            .unwrap();
        let resp = router
            .layer(axum::middleware::from_fn(request_info_layer))
            .oneshot(req)
            .await
            .unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn api_errors_name_the_request() {
        let router = Router::new().route("/x", get(|| async { ApiError::conflict("taken") }));
        let (status, body) = call(router, "GET", "/x").await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(body["code"], "RequestConflict");
        assert_eq!(body["requestInfo"]["method"], "GET");
        assert_eq!(body["requestInfo"]["path"], "/x");
    }

    #[tokio::test]
    async fn axum_rejections_get_the_taskcluster_shape() {
        let router = Router::new().route("/x", get(|| async { "ok" }));
        let (status, body) = call(router, "DELETE", "/x").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(body["code"], "InvalidRequestArguments");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("statusCode: 405"),
            "{body}"
        );
        assert_eq!(body["requestInfo"]["method"], "DELETE");
    }
}
