//! Errors of the updates store.

/// Why a read or a change of the updates tables failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Balrog's `OutdatedDataError`: the row changed since the writer read it; nothing changed.
    #[error(
        "{what} {key} is at data_version {current}, not {given}: it changed since it was read"
    )]
    Conflict {
        what: &'static str,
        key: String,
        given: i64,
        current: i64,
    },
    #[error("{what} {key} does not exist")]
    NotFound { what: &'static str, key: String },
    /// A primary key or a rule alias is already taken.
    #[error("{what} {key} already exists")]
    Exists { what: &'static str, key: String },
    /// Balrog's `ReadOnlyError`: the release must be made writable first.
    #[error("release {0} is read-only")]
    ReadOnly(String),
    /// Balrog refuses to delete a release a rule still maps to.
    #[error("release {release} is used by rule {rule_id}")]
    InUse { release: String, rule_id: i64 },
    /// Balrog's "Cannot delete release that is pinnable": a pin still names it.
    #[error("release {release} is pinned ({pin}); it cannot be deleted")]
    Pinned { release: String, pin: String },
    /// A sign-off with a role the user does not hold.
    #[error("{username} does not hold role {role}")]
    NoRole { username: String, role: String },
    /// Balrog allows one sign-off per user per change: a second role is refused.
    #[error("{username} already signed off scheduled change {sc_id} as {role}")]
    SignedAsOtherRole {
        sc_id: i64,
        username: String,
        role: String,
    },
    /// A scheduled change that was enacted (or failed) can no longer be signed or changed.
    #[error("scheduled change {0} is no longer pending")]
    NotPending(i64),
    /// Balrog's `ChangeScheduledError`: a row has one pending scheduled change at a time.
    #[error("{what} {key} already has a scheduled change ({sc_id})")]
    AlreadyScheduled {
        what: &'static str,
        key: String,
        sc_id: i64,
    },
    /// Balrog's `UpdateMergeError`: a direct change and a pending scheduled change of the same
    /// row both change `column`.
    #[error("cannot safely merge the change to {column} with scheduled change {sc_id}")]
    ScheduledConflict { sc_id: i64, column: String },
    #[error("invalid scheduled change: {0}")]
    InvalidChange(String),
    #[error("invalid release blob: {0}")]
    InvalidBlob(String),
    /// A service built without a database was asked to read one.
    #[error("the updates service has no database")]
    NoDatabase,
    #[error(transparent)]
    Db(#[from] relyard_store::StoreError),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Db(relyard_store::StoreError::Sqlx(e))
    }
}

impl StoreError {
    pub(crate) fn corrupt(msg: impl Into<String>) -> StoreError {
        StoreError::Db(relyard_store::StoreError::Corrupt(msg.into()))
    }

    /// Turns a unique-key violation into [`StoreError::Exists`]; other errors pass through.
    pub(crate) fn exists_if_unique(self, what: &'static str, key: impl Into<String>) -> StoreError {
        match self {
            StoreError::Db(e) if e.is_unique_violation() => StoreError::Exists {
                what,
                key: key.into(),
            },
            other => other,
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
