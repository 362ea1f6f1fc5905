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

    fn body(&self, method: &str, path: &str) -> Value {
        let mut message = self.message.clone();
        // Taskcluster appends this trailer to every error message; clients print it as-is.
        message.push_str("\n\n---\n\n* method:     ");
        message.push_str(method);
        message.push_str("\n* errorCode:  ");
        message.push_str(self.code.as_str());
        message.push_str("\n* statusCode: ");
        message.push_str(self.status().as_str());
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
        let body = self.body("", "");
        let mut resp = (self.status(), Json(body)).into_response();
        resp.extensions_mut().insert(self);
        resp
    }
}

/// Middleware: rewrites error bodies so that `requestInfo` names the request's method and path.
pub async fn request_info_layer(req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let resp = next.run(req).await;
    match resp.extensions().get::<ApiError>() {
        Some(err) => {
            let body = err.body(&method, &path);
            let status = resp.status();
            (status, Json(body)).into_response()
        }
        None => resp,
    }
}

/// Result type of handlers and service methods.
pub type ApiResult<T> = Result<T, ApiError>;
