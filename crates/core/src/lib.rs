//! Pieces every relyard service shares: Taskcluster's error body ([`ApiError`]), slugids,
//! millisecond timestamps, and opaque continuation tokens.

pub mod error;
pub mod ids;
pub mod paging;
pub mod ping;
pub mod retry;
pub mod time;

pub use error::{ApiError, ErrorCode};
pub use time::Timestamp;
