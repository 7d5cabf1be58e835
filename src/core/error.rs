//! The one error type of the command core. Each front maps it to its own form:
//! a WS error code, a chat reply, an HTTP status.

/// What went wrong with a command, in terms a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    /// Bad arguments; the text says which and what is expected.
    #[error("{0}")]
    Validation(String),
    /// No such monitor (or not visible to this caller).
    #[error("{0}")]
    NotFound(String),
    /// The same target is already watched.
    #[error("{0}")]
    AlreadyExists(String),
    /// The caller may not do this.
    #[error("{0}")]
    PermissionDenied(String),
    /// Our fault (store failure…); details are logged, not shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl CoreError {
    /// The WS API error code (interface.md).
    pub fn code(&self) -> &'static str {
        match self {
            CoreError::Validation(_) => "VALIDATION_ERROR",
            CoreError::NotFound(_) => "NOT_FOUND",
            CoreError::AlreadyExists(_) => "ALREADY_EXISTS",
            CoreError::PermissionDenied(_) => "PERMISSION_DENIED",
            CoreError::Internal(_) => "INTERNAL_ERROR",
        }
    }
}

impl From<crate::store::StoreError> for CoreError {
    fn from(e: crate::store::StoreError) -> Self {
        tracing::error!(error = %e, "store failure");
        CoreError::Internal("the store failed; see the server log".into())
    }
}

/// Shorthand for a validation error.
pub(crate) fn invalid(msg: impl Into<String>) -> CoreError {
    CoreError::Validation(msg.into())
}
