//! The error kinds every domain shares, their stable `extensions.code`, and the message each one shows.

use std::fmt;

use sea_orm::{DbErr, SqlErr};
use serde::Serialize;

/// The stable machine codes of the contract (`extensions.code`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    BadRequest,
    GraphqlParseFailed,
    GraphqlValidationFailed,
    BadUserInput,
    Unauthenticated,
    Forbidden,
    NotFound,
    OutOfStock,
    ReservationsBlocked,
    RateLimited,
    PersistedQueryNotFound,
    /// Trusted-documents mode (`ALX_TRUSTED_DOCUMENTS`): the manifest does not hold the document.
    PersistedQueryNotInList,
    QueryTooComplex,
    InternalServerError,
}

impl ErrorCode {
    const ALL: [Self; 14] = [
        Self::BadRequest,
        Self::GraphqlParseFailed,
        Self::GraphqlValidationFailed,
        Self::BadUserInput,
        Self::Unauthenticated,
        Self::Forbidden,
        Self::NotFound,
        Self::OutOfStock,
        Self::ReservationsBlocked,
        Self::RateLimited,
        Self::PersistedQueryNotFound,
        Self::PersistedQueryNotInList,
        Self::QueryTooComplex,
        Self::InternalServerError,
    ];

    /// The code a rendered error carries, read back.
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|known| known.as_str() == code)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "BAD_REQUEST",
            Self::GraphqlParseFailed => "GRAPHQL_PARSE_FAILED",
            Self::GraphqlValidationFailed => "GRAPHQL_VALIDATION_FAILED",
            Self::BadUserInput => "BAD_USER_INPUT",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::NotFound => "NOT_FOUND",
            Self::OutOfStock => "OUT_OF_STOCK",
            Self::ReservationsBlocked => "RESERVATIONS_BLOCKED",
            Self::RateLimited => "RATE_LIMITED",
            Self::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
            Self::PersistedQueryNotInList => "PERSISTED_QUERY_NOT_IN_LIST",
            Self::QueryTooComplex => "QUERY_TOO_COMPLEX",
            Self::InternalServerError => "INTERNAL_SERVER_ERROR",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A user-facing sentence, kept as a message id and its arguments until the edge renders it in the request's locale.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub id: &'static str,
    pub args: Vec<(&'static str, String)>,
}

impl Message {
    pub fn new(id: &'static str) -> Self {
        Self { id, args: Vec::new() }
    }

    pub fn arg(mut self, name: &'static str, value: impl ToString) -> Self {
        self.args.push((name, value.to_string()));
        self
    }
}

/// What went wrong in a use-case, in terms a client can act on.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Input that the user can fix; `field` names the argument (dotted for nested input fields).
    #[error("bad input for `{field}`: {}", .message.id)]
    BadUserInput { field: String, message: Message },
    #[error("unauthenticated: {}", .0.id)]
    Unauthenticated(Message),
    #[error("forbidden")]
    Forbidden,
    #[error("not found: {field:?}")]
    NotFound { field: Option<String> },
    #[error("rate limited for {retry_after_secs}s")]
    RateLimited { retry_after_secs: u64 },
    /// A domain rule refused the operation (no stock, blocked reservations) with its own code.
    #[error("refused ({code}): {}", .message.id)]
    Refused { code: ErrorCode, message: Message },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn bad_input(field: impl Into<String>, message: Message) -> Self {
        Self::BadUserInput {
            field: field.into(),
            message,
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Self::BadUserInput { .. } => ErrorCode::BadUserInput,
            Self::Unauthenticated(_) => ErrorCode::Unauthenticated,
            Self::Forbidden => ErrorCode::Forbidden,
            Self::NotFound { .. } => ErrorCode::NotFound,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::Refused { code, .. } => *code,
            Self::Internal(_) => ErrorCode::InternalServerError,
        }
    }

    /// The sentence the client reads; internal errors say only that something failed.
    pub fn message(&self) -> Message {
        match self {
            Self::BadUserInput { message, .. } | Self::Unauthenticated(message) | Self::Refused { message, .. } => {
                message.clone()
            }
            Self::Forbidden => Message::new("error-forbidden"),
            Self::NotFound { .. } => Message::new("error-not-found"),
            Self::RateLimited { retry_after_secs } => {
                Message::new("error-rate-limited").arg("seconds", retry_after_secs)
            }
            Self::Internal(_) => Message::new("error-internal"),
        }
    }

    pub fn field(&self) -> Option<&str> {
        match self {
            Self::BadUserInput { field, .. } => Some(field),
            Self::NotFound { field } => field.as_deref(),
            _ => None,
        }
    }

    /// Turns a unique-constraint violation into a `BAD_USER_INPUT` on `field`; anything else stays internal.
    pub fn from_db_conflict(error: DbErr, field: &str, message: Message) -> Self {
        match error.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => Self::bad_input(field, message),
            _ => Self::from(error),
        }
    }
}

impl From<DbErr> for AppError {
    fn from(error: DbErr) -> Self {
        Self::Internal(anyhow::Error::new(error).context("database error"))
    }
}

pub type AppResult<T> = Result<T, AppError>;
