//! The admin API's errors: Balrog's problem bodies where Balrog answers with one (tooling reads
//! their `exception`), Taskcluster's shape for authentication and scopes.

use axum::response::{IntoResponse, Response};
use axum::Json;
use http::StatusCode;
use relyard_core::ApiError;
use serde_json::{json, Value};

use crate::store::StoreError;

/// Why an admin request failed.
#[derive(Debug)]
pub enum AdminError {
    /// Balrog's `problem(status, title, detail, ext={"exception": …})`.
    Problem {
        status: StatusCode,
        title: &'static str,
        detail: String,
        exception: Option<Value>,
    },
    /// Authentication and scope failures, in Taskcluster's shape.
    Api(ApiError),
}

pub type AdminResult<T> = Result<T, AdminError>;

impl AdminError {
    pub fn bad_request(detail: impl Into<String>) -> AdminError {
        AdminError::Problem {
            status: StatusCode::BAD_REQUEST,
            title: "Bad Request",
            detail: detail.into(),
            exception: None,
        }
    }

    /// A 400 whose `exception` says what was wrong, as Balrog's validation errors do.
    pub fn bad_field(detail: &str, exception: impl Into<String>) -> AdminError {
        AdminError::Problem {
            status: StatusCode::BAD_REQUEST,
            title: "Bad Request",
            detail: detail.to_string(),
            exception: Some(Value::String(exception.into())),
        }
    }

    pub fn not_found(detail: impl Into<String>) -> AdminError {
        let detail = detail.into();
        AdminError::Problem {
            status: StatusCode::NOT_FOUND,
            title: "Not Found",
            exception: Some(Value::String(detail.clone())),
            detail,
        }
    }

    pub fn forbidden(detail: impl Into<String>) -> AdminError {
        let detail = detail.into();
        AdminError::Problem {
            status: StatusCode::FORBIDDEN,
            title: "Forbidden",
            exception: Some(Value::String(detail.clone())),
            detail,
        }
    }

    /// Balrog's `SignoffRequiredError`: the change must go through a scheduled change.
    pub fn signoff_required(detail: impl Into<String>) -> AdminError {
        AdminError::Problem {
            status: StatusCode::BAD_REQUEST,
            title: "Bad Request",
            detail: "Signoff Required".into(),
            exception: Some(Value::String(detail.into())),
        }
    }
}

impl From<ApiError> for AdminError {
    fn from(e: ApiError) -> Self {
        AdminError::Api(e)
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        let text = e.to_string();
        match e {
            // Balrog's OutdatedDataError handler.
            StoreError::Conflict { .. } => AdminError::Problem {
                status: StatusCode::BAD_REQUEST,
                title: "Bad Request",
                detail: "OutdatedDataError".into(),
                exception: Some(Value::String(format!(
                    "Couldn't perform the request. Outdated Data Version. old_data_version \
                     doesn't match current data_version: {text}"
                ))),
            },
            StoreError::NotFound { .. } => AdminError::not_found(text),
            StoreError::ScheduledConflict { .. } => AdminError::bad_field("UpdateMergeError", text),
            StoreError::AlreadyScheduled { .. } => {
                AdminError::bad_field("ChangeScheduledError", text)
            }
            StoreError::ReadOnly(_) => AdminError::forbidden(text),
            StoreError::NoRole { .. } => AdminError::forbidden(text),
            StoreError::Exists { .. }
            | StoreError::InUse { .. }
            | StoreError::Pinned { .. }
            | StoreError::SignedAsOtherRole { .. }
            | StoreError::NotPending(_)
            | StoreError::InvalidChange(_) => AdminError::bad_field("Bad Request", text),
            StoreError::InvalidBlob(_) => AdminError::bad_field("Invalid Blob", text),
            StoreError::NoDatabase | StoreError::Db(_) => AdminError::Api(ApiError::internal(text)),
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        match self {
            AdminError::Problem {
                status,
                title,
                detail,
                exception,
            } => {
                let mut body = json!({
                    "type": "about:blank",
                    "title": title,
                    "detail": detail,
                    "status": status.as_u16(),
                });
                if let Some(x) = exception {
                    body["exception"] = x;
                }
                (status, Json(body)).into_response()
            }
            AdminError::Api(e) => e.into_response(),
        }
    }
}
