//! The one place errors become GraphQL errors: codes, translated messages, masking of internal failures.

use async_graphql::{ErrorExtensionValues, Name, ServerError, Value};

use crate::{
    error::{AppError, ErrorCode, Message},
    i18n,
};

const ARGS_KEY: &str = "_args";
const INTERNAL_KEY: &str = "_internal";

/// Resolver results carry `AppError`; `.gql()` turns them into GraphQL errors with their code.
pub trait GqlResultExt<T> {
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T> GqlResultExt<T> for Result<T, AppError> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(to_graphql_error)
    }
}

/// Keeps the message id and its arguments on the error; `localize` renders them once the locale is known.
pub fn to_graphql_error(error: AppError) -> async_graphql::Error {
    let message = error.message();
    let mut graphql_error = async_graphql::Error::new(i18n::translate(i18n::DEFAULT_LOCALE, &message));
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", error.code().as_str());
    extensions.set("messageId", message.id);
    if let Some(field) = error.field() {
        extensions.set("field", field);
    }
    if let AppError::RateLimited { retry_after_secs } = &error {
        extensions.set("retryAfter", *retry_after_secs);
    }
    if let AppError::Internal(cause) = &error {
        extensions.set(INTERNAL_KEY, format!("{cause:#}"));
    }
    extensions.set(ARGS_KEY, args_value(&message));
    graphql_error.extensions = Some(extensions);
    graphql_error
}

fn args_value(message: &Message) -> Value {
    Value::Object(
        message
            .args
            .iter()
            .map(|(name, value)| (Name::new(*name), Value::String(value.clone())))
            .collect(),
    )
}

/// An error about the request as a whole (before or instead of execution).
pub fn request_error(code: ErrorCode, message: Message) -> ServerError {
    let mut error = ServerError::new(i18n::translate(i18n::DEFAULT_LOCALE, &message), None);
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", code.as_str());
    extensions.set("messageId", message.id);
    extensions.set(ARGS_KEY, args_value(&message));
    error.extensions = Some(extensions);
    error
}

/// Classifies an error that async-graphql raised itself (it has no code), keeping its English text as `detail`.
fn classify(error: &ServerError) -> (ErrorCode, Message) {
    let text = error.message.as_str();
    if text.contains("too complex") || text.contains("recursion depth") {
        (ErrorCode::QueryTooComplex, Message::new("error-query-too-complex"))
    } else if text.contains("nested too deep") {
        (ErrorCode::QueryTooComplex, Message::new("error-query-too-deep"))
    } else if !error.path.is_empty() {
        // With a path, the error came from resolving a field: a value that does not fit its argument's type.
        if ["Failed to parse", "Invalid value", "Expected input type"]
            .iter()
            .any(|prefix| text.starts_with(prefix))
        {
            (
                ErrorCode::BadUserInput,
                Message::new("error-invalid-argument").arg("field", argument_name(error)),
            )
        } else {
            (ErrorCode::InternalServerError, Message::new("error-internal"))
        }
    } else if let Some(field) = invalid_argument(text) {
        // The document is well-formed but a value does not fit its argument (an unknown enum value, a string for an
        // Int), literally or through a variable: the input is wrong, not the query, as with any other bad argument.
        (
            ErrorCode::BadUserInput,
            Message::new("error-invalid-argument").arg("field", field),
        )
    } else {
        (
            ErrorCode::GraphqlValidationFailed,
            Message::new("error-validation-failed"),
        )
    }
}

/// The argument (dotted for input fields: `filter.gender`) that async-graphql's validation found a bad value in.
fn invalid_argument(text: &str) -> Option<&str> {
    let (field, _) = text.strip_prefix("Invalid value for argument \"")?.split_once('"')?;
    Some(field)
}

fn argument_name(error: &ServerError) -> String {
    error
        .path
        .last()
        .map(|segment| match segment {
            async_graphql::PathSegment::Field(name) => name.clone(),
            async_graphql::PathSegment::Index(index) => index.to_string(),
        })
        .unwrap_or_default()
}

/// Gives every error a code and a message in `locale`; internal errors are logged with `request_id` and masked.
pub fn localize(errors: &mut [ServerError], locale: &str, request_id: &str) {
    for error in errors {
        let extensions = error.extensions.get_or_insert_with(Default::default);
        let (code, message_id, args) = match extensions.get("code") {
            Some(Value::String(code)) => {
                let message_id = match extensions.get("messageId") {
                    Some(Value::String(id)) => id.clone(),
                    _ => "error-internal".into(),
                };
                let args = match extensions.get(ARGS_KEY) {
                    Some(Value::Object(args)) => args
                        .iter()
                        .map(|(name, value)| {
                            let value = match value {
                                Value::String(text) => text.clone(),
                                other => other.to_string(),
                            };
                            (name.to_string(), value)
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                (code.clone(), message_id, args)
            }
            _ => {
                let original = std::mem::take(&mut error.message);
                let (code, message) = classify(&ServerError {
                    message: original.clone(),
                    ..error.clone()
                });
                let extensions = error.extensions.get_or_insert_with(Default::default);
                if code == ErrorCode::InternalServerError {
                    extensions.set(INTERNAL_KEY, original);
                } else {
                    extensions.set("detail", original);
                }
                extensions.set("code", code.as_str());
                extensions.set("messageId", message.id);
                if code == ErrorCode::BadUserInput
                    && let Some((_, field)) = message.args.iter().find(|(name, _)| *name == "field")
                {
                    extensions.set("field", field.as_str());
                }
                let args = message
                    .args
                    .iter()
                    .map(|(name, value)| (name.to_string(), value.clone()))
                    .collect();
                (code.as_str().to_string(), message.id.to_string(), args)
            }
        };
        let extensions = error.extensions.get_or_insert_with(Default::default);
        extensions.unset(ARGS_KEY);
        if code == ErrorCode::InternalServerError.as_str() {
            let cause = match extensions.get(INTERNAL_KEY) {
                Some(Value::String(cause)) => cause.clone(),
                _ => error.message.clone(),
            };
            tracing::error!(request_id, path = ?error.path, cause, "internal error");
            extensions.unset(INTERNAL_KEY);
            extensions.set("requestId", request_id);
        }
        metrics::counter!("graphql_errors_total", "code" => code.clone()).increment(1);
        error.message = i18n::translate_id(locale, &message_id, args);
    }
}

/// The code of an error that went through `localize`.
pub fn code_of(error: &ServerError) -> Option<&str> {
    match error.extensions.as_ref()?.get("code")? {
        Value::String(code) => Some(code),
        _ => None,
    }
}
