//! The secrets service's one error type, mapped once to Taskcluster's error body.

use relyard_core::ApiError;
use relyard_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// Missing or expired: Taskcluster answers both with 404 (its query filters on `expires`).
    #[error("Secret not found")]
    NotFound,
    /// The request's input broke a rule of the API (a 400 naming the problem).
    #[error("{0}")]
    Invalid(String),
    /// An error already in Taskcluster's shape (bad `limit` or `continuationToken`).
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored value that does not open or parse: wrong key, tampering, or a row moved between names.
    #[error("stored secret {name:?} is unreadable: {reason}")]
    Unreadable { name: String, reason: String },
}

impl From<sqlx::Error> for SecretsError {
    fn from(e: sqlx::Error) -> Self {
        SecretsError::Store(StoreError::from(e))
    }
}

impl From<SecretsError> for ApiError {
    fn from(e: SecretsError) -> Self {
        match e {
            SecretsError::NotFound => ApiError::not_found("Secret not found"),
            SecretsError::Invalid(message) => ApiError::validation(message),
            SecretsError::Api(e) => e,
            SecretsError::Store(e) => e.into(),
            e @ SecretsError::Unreadable { .. } => ApiError::internal(e),
        }
    }
}

pub type SecretsResult<T> = Result<T, SecretsError>;
