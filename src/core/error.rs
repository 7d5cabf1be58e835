//! The one error type of the command core and its one code mapping ([`ErrorCode`]).
//! Every front renders it: the WS API sends the code and the message, the CLI prints
//! them on one line, a chat gets the message, the HTTP receiver a status.
//!
//! Policy: the message of every variant but [`CoreError::Internal`] is for the user and
//! says what to do; an internal error's cause goes to the log, never to the user.
//!
//! Messages are [`Msg`]s (a message id of the catalogues and its values, see
//! [`crate::i18n`]): `Display` is the English text the WS API and the CLI show, and a
//! chat renders the same error in its own language. A plain string still converts
//! (`"…".into()`), shown as it is in every language: for texts that are not ours.

use crate::i18n::Msg;

/// The error codes of the WS API (interface.md, "Errors"); the first four belong to the
/// transport (a message that is no request at all), the rest to commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// Not JSON, not an object, no `type`, duplicate keys, binary frame, too large.
    InvalidMessageFormat,
    /// A `type` the server does not know.
    UnknownMessageType,
    /// A token is configured and this connection has not presented it.
    AuthenticationRequired,
    /// More messages (or failed token attempts) than allowed.
    RateLimitExceeded,
    /// Bad arguments (missing or mistyped field, bad value, a limit reached).
    ValidationError,
    /// No such monitor.
    NotFound,
    /// The same target is already watched.
    AlreadyExists,
    /// Wrong token, or an operation the caller may not do.
    PermissionDenied,
    /// Our fault (store failure…).
    InternalError,
    /// Cluster mode: this node cannot reach the cluster, so it refuses changes rather
    /// than let the nodes disagree (an addition to interface.md's list; see README).
    ClusterUnreachable,
}

impl ErrorCode {
    /// The wire form (`INVALID_MESSAGE_FORMAT`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidMessageFormat => "INVALID_MESSAGE_FORMAT",
            ErrorCode::UnknownMessageType => "UNKNOWN_MESSAGE_TYPE",
            ErrorCode::AuthenticationRequired => "AUTHENTICATION_REQUIRED",
            ErrorCode::RateLimitExceeded => "RATE_LIMIT_EXCEEDED",
            ErrorCode::ValidationError => "VALIDATION_ERROR",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::AlreadyExists => "ALREADY_EXISTS",
            ErrorCode::PermissionDenied => "PERMISSION_DENIED",
            ErrorCode::InternalError => "INTERNAL_ERROR",
            ErrorCode::ClusterUnreachable => "CLUSTER_UNREACHABLE",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// What went wrong with a command, in terms a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    /// Bad arguments; the text says which and what is expected.
    #[error("{0}")]
    Validation(Msg),
    /// No such monitor (or not visible to this caller).
    #[error("{0}")]
    NotFound(Msg),
    /// The same target is already watched.
    #[error("{0}")]
    AlreadyExists(Msg),
    /// The caller may not do this.
    #[error("{0}")]
    PermissionDenied(Msg),
    /// Our fault (store failure…); details are logged, not shown.
    #[error("internal error: {0}")]
    Internal(String),
    /// Cluster mode: the cluster cannot be reached; nothing was changed.
    #[error("{0}")]
    ClusterUnreachable(Msg),
}

impl CoreError {
    /// The one mapping from an error to its code.
    pub fn code(&self) -> ErrorCode {
        match self {
            CoreError::Validation(_) => ErrorCode::ValidationError,
            CoreError::NotFound(_) => ErrorCode::NotFound,
            CoreError::AlreadyExists(_) => ErrorCode::AlreadyExists,
            CoreError::PermissionDenied(_) => ErrorCode::PermissionDenied,
            CoreError::Internal(_) => ErrorCode::InternalError,
            CoreError::ClusterUnreachable(_) => ErrorCode::ClusterUnreachable,
        }
    }
}

impl From<crate::store::StoreError> for CoreError {
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match e {
            StoreError::ClusterUnreachable(why) => {
                tracing::warn!(reason = %why, "a change was refused: the cluster is unreachable");
                return CoreError::ClusterUnreachable(crate::i18n::msg!("err-cluster-unreachable"));
            }
            StoreError::Conflict(why) => {
                tracing::info!(reason = %why, "a change was refused: another node changed it first");
                return CoreError::Validation(crate::i18n::msg!("err-cluster-conflict"));
            }
            _ => {}
        }
        tracing::error!(error = %e, "store failure");
        CoreError::Internal("the store failed; see the server log".into())
    }
}

impl CoreError {
    /// The user's message (`None` for an internal error, whose cause is not shown).
    pub fn message(&self) -> Option<&Msg> {
        match self {
            CoreError::Validation(m)
            | CoreError::NotFound(m)
            | CoreError::AlreadyExists(m)
            | CoreError::PermissionDenied(m)
            | CoreError::ClusterUnreachable(m) => Some(m),
            CoreError::Internal(_) => None,
        }
    }
}

/// Shorthand for a validation error.
pub(crate) fn invalid(msg: impl Into<Msg>) -> CoreError {
    CoreError::Validation(msg.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        for (e, code) in [
            (CoreError::Validation("v".into()), "VALIDATION_ERROR"),
            (CoreError::NotFound("n".into()), "NOT_FOUND"),
            (CoreError::AlreadyExists("a".into()), "ALREADY_EXISTS"),
            (CoreError::PermissionDenied("p".into()), "PERMISSION_DENIED"),
            (CoreError::Internal("disk full".into()), "INTERNAL_ERROR"),
            (CoreError::ClusterUnreachable("c".into()), "CLUSTER_UNREACHABLE"),
        ] {
            assert_eq!(e.code(), code);
            assert_eq!(e.code().to_string(), code);
        }
    }
}
