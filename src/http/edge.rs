//! What the edge learns of a request before anything runs, shared by HTTP and WebSocket: the request id, the
//! client's address, the caller (from a token, then from the database), and the locale and zone chain.

use axum::http::{HeaderMap, StatusCode, header, request::Parts};

use super::{AppState, middleware::RequestId};
use crate::{
    accounts::{Identity, IdentityError, TokenError, User},
    error::{ErrorCode, Message},
    graphql::RequestContext,
    i18n,
};

/// Why a request's credentials do not name anyone who may act, as the client is told.
pub struct Refusal {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: Message,
}

impl Refusal {
    pub fn unauthenticated(message_id: &'static str) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            code: ErrorCode::Unauthenticated,
            message: Message::new(message_id),
        }
    }
}

impl From<IdentityError> for Refusal {
    fn from(error: IdentityError) -> Self {
        match error {
            IdentityError::Token(TokenError::Expired) => Self::unauthenticated("auth-token-expired"),
            IdentityError::Token(TokenError::Invalid) => Self::unauthenticated("auth-token-invalid"),
            IdentityError::Gone => Self::unauthenticated("auth-user-gone"),
            IdentityError::Unavailable(error) => {
                // Without the row there is no role to trust, so the request is refused rather than half-served.
                tracing::error!(error = %error, "could not read the caller's account");
                Self {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    code: ErrorCode::InternalServerError,
                    message: Message::new("error-internal"),
                }
            }
        }
    }
}

/// What a request says about its language and zone before we know who sent it.
#[derive(Clone, Debug, Default)]
pub struct LocaleHints {
    pub requested_locale: Option<String>,
    pub requested_timezone: Option<String>,
    pub accept_language: Option<String>,
}

impl LocaleHints {
    pub fn from_parts(parts: &Parts) -> Self {
        let mut hints = Self {
            accept_language: parts
                .headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|value| value.to_str().ok())
                .map(String::from),
            ..Self::default()
        };
        let pairs = serde_urlencoded::from_str::<Vec<(String, String)>>(parts.uri.query().unwrap_or_default());
        for (key, value) in pairs.unwrap_or_default() {
            match key.as_str() {
                "locale" => hints.requested_locale = Some(value),
                "timezone" => hints.requested_timezone = Some(value),
                _ => {}
            }
        }
        hints
    }

    /// Sets the context's locale and zone from these hints and, when known, the caller's saved settings.
    pub fn apply(&self, context: &mut RequestContext, saved: Option<&User>, default_locale: &'static str) {
        context.locale = i18n::resolve_locale(
            self.requested_locale.as_deref(),
            saved.and_then(|user| user.locale.as_deref()),
            self.accept_language.as_deref(),
            default_locale,
        );
        context.timezone = i18n::resolve_time_zone(
            self.requested_timezone.as_deref(),
            saved.and_then(|user| user.timezone.as_deref()),
        );
    }
}

fn request_id(parts: &Parts) -> String {
    parts
        .extensions
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// The token of an `Authorization: Bearer …` header: `None` without the header, `Some(None)` when it is unusable.
fn bearer_header(headers: &HeaderMap) -> Option<Option<&str>> {
    let authorization = headers.get(header::AUTHORIZATION)?;
    Some(
        authorization
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
            .map(str::trim),
    )
}

/// The request's context before anyone is identified: request id, address, and the locale from the request alone.
pub fn anonymous_context(state: &AppState, parts: &Parts) -> (RequestContext, LocaleHints) {
    let hints = LocaleHints::from_parts(parts);
    let mut context = RequestContext::new(request_id(parts), state.default_locale);
    hints.apply(&mut context, None, state.default_locale);
    context.client_address = super::client_address::of_request(parts, state.trusted_proxies.as_ref());
    (context, hints)
}

/// Identifies the caller of an `Authorization` header into `context`, with their saved locale and zone. A token
/// that is present but unusable is refused, never silently anonymous.
pub async fn identify_caller(
    state: &AppState,
    parts: &Parts,
    context: &mut RequestContext,
    hints: &LocaleHints,
) -> Result<Option<Identity>, Refusal> {
    let Some(token) = bearer_header(&parts.headers) else {
        return Ok(None);
    };
    let token = token.ok_or_else(|| Refusal::unauthenticated("auth-token-invalid"))?;
    let identity = identify(state, token).await?;
    hints.apply(context, Some(&identity.user), state.default_locale);
    set_identity(context, &identity);
    Ok(Some(identity))
}

/// Who a token names, as the database has them now.
pub async fn identify(state: &AppState, token: &str) -> Result<Identity, Refusal> {
    state.accounts.identify(token).await.map_err(Refusal::from)
}

pub fn set_identity(context: &mut RequestContext, identity: &Identity) {
    context.caller = Some(identity.caller);
    context.caller_profile = Some(identity.user.clone());
}
