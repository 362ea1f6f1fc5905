//! The crate's one error type.

/// Errors raised while answering an update request.
///
/// `BadData` is Balrog's `BadDataError`: the public endpoint answers it with
/// 400 text/plain and the message. `Internal` covers the cases where Balrog
/// itself would crash with a 500 (a blob missing data it needs).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum UpdatesError {
    #[error("{0}")]
    BadData(String),
    #[error("{0}")]
    Internal(String),
    #[error("invalid blob: {0}")]
    InvalidBlob(String),
    /// A configuration file (the domain allow-list) could not be used.
    #[error("{0}")]
    Config(String),
}

pub type Result<T> = std::result::Result<T, UpdatesError>;

pub(crate) fn bad_data(msg: impl Into<String>) -> UpdatesError {
    UpdatesError::BadData(msg.into())
}
