//! GraphQL over HTTP (the GraphQL-over-HTTP specification): negotiation, CSRF, limits, status codes, encoding.

use std::{net::SocketAddr, sync::Arc};

use async_graphql::{BatchRequest, Request as GqlRequest, ServerError, parser::types::OperationType};
use axum::{
    body::{Body, Bytes},
    extract::{ConnectInfo, FromRequestParts, Request, State, WebSocketUpgrade},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use std::collections::BTreeMap;

use serde::Serialize;

use super::{
    AppState, body,
    middleware::{RequestDeadline, RequestId},
    ws,
};
use crate::{
    accounts::TokenError,
    error::{ErrorCode, Message},
    graphql::{self, Executed, RequestContext, errors},
    i18n,
};

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json; charset=utf-8";
const JSON: &str = "application/json; charset=utf-8";

/// The media type the client asked the answer in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    GraphqlResponseJson,
    Json,
}

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Self::GraphqlResponseJson => GRAPHQL_RESPONSE_JSON,
            Self::Json => JSON,
        }
    }

    /// Picks the best acceptable type by q-value; no `Accept` means `application/json`, as the spec asks.
    fn negotiate(headers: &HeaderMap) -> Option<Self> {
        let Some(accept) = headers.get(header::ACCEPT).and_then(|value| value.to_str().ok()) else {
            return Some(Self::Json);
        };
        let mut best: Option<(f32, Self)> = None;
        for entry in accept.split(',') {
            let mut parts = entry.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default().to_ascii_lowercase();
            let quality = parts
                .find_map(|param| param.strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let format = match media.as_str() {
                "application/graphql-response+json" => Self::GraphqlResponseJson,
                "application/json" | "application/*" | "*/*" => Self::Json,
                _ => continue,
            };
            let better = match best {
                None => true,
                Some((best_quality, best_format)) => {
                    quality > best_quality
                        || (quality == best_quality && format == Self::GraphqlResponseJson && best_format == Self::Json)
                }
            };
            if quality > 0.0 && better {
                best = Some((quality, format));
            }
        }
        best.map(|(_, format)| format)
    }
}

/// What the edge knows before running anything: the caller, the locale, the request id.
pub(super) struct Edge {
    format: Format,
    pub(super) context: RequestContext,
}

fn error_response(
    format: Format,
    status: StatusCode,
    code: ErrorCode,
    message: Message,
    context: &RequestContext,
) -> Response {
    let mut errors = vec![errors::request_error(code, message)];
    errors::localize(&mut errors, context.effective_locale(), &context.request_id);
    let body = ResponseBody {
        data: None,
        errors: &errors,
        extensions: &BTreeMap::new(),
    };
    encode(format, status, &body, context.effective_locale())
}

fn encode(format: Format, status: StatusCode, body: &impl Serialize, locale: &'static str) -> Response {
    // serde_json starts at 128 bytes and doubles; most answers are a few hundred bytes, and each regrowth was a
    // reallocation and a copy (2 % of a `welcome`'s instructions).
    let mut bytes = Vec::with_capacity(1024);
    if serde_json::to_writer(&mut bytes, body).is_err() {
        bytes.clear();
    }
    let mut response = (status, Body::from(bytes)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    headers.insert(header::CONTENT_LANGUAGE, HeaderValue::from_static(locale));
    // Messages follow Accept-Language, so a shared cache must key on it.
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Language"));
    response
}

/// A response body per the spec, serialised straight from async-graphql's types: no `data` entry at all when
/// the request failed before execution.
#[derive(Serialize)]
struct ResponseBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a async_graphql::Value>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [ServerError],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    extensions: &'a BTreeMap<String, async_graphql::Value>,
}

impl<'a> From<&'a Executed> for ResponseBody<'a> {
    fn from(executed: &'a Executed) -> Self {
        let response = &executed.response;
        Self {
            data: (!executed.request_failed).then_some(&response.data),
            errors: &response.errors,
            extensions: &response.extensions,
        }
    }
}

fn client_address(parts: &Parts, trust_forwarded_for: bool) -> Option<std::net::IpAddr> {
    let forwarded = trust_forwarded_for
        .then(|| {
            parts
                .headers
                .get("x-forwarded-for")?
                .to_str()
                .ok()?
                .split(',')
                .next()?
                .trim()
                .parse()
                .ok()
        })
        .flatten();
    forwarded.or_else(|| {
        parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip())
    })
}

/// What a request says about its language and zone before we know who sent it.
struct LocaleHints<'a> {
    query_locale: Option<String>,
    query_timezone: Option<String>,
    accept_language: Option<&'a str>,
}

impl<'a> LocaleHints<'a> {
    fn from_parts(parts: &'a Parts) -> Self {
        let mut hints = Self {
            query_locale: None,
            query_timezone: None,
            accept_language: parts
                .headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|value| value.to_str().ok()),
        };
        for (key, value) in form_urlencoded_pairs(parts.uri.query().unwrap_or_default()) {
            match key.as_str() {
                "locale" => hints.query_locale = Some(value),
                "timezone" => hints.query_timezone = Some(value),
                _ => {}
            }
        }
        hints
    }

    /// The contract's chain: `?locale=` → the caller's saved locale → `Accept-Language` → the default.
    fn locale(&self, saved: Option<&str>, default: &'static str) -> &'static str {
        i18n::first_supported([self.query_locale.as_deref(), saved])
            .or_else(|| self.accept_language.and_then(i18n::negotiate_accept_language))
            .unwrap_or(default)
    }

    /// `?timezone=` → the caller's saved zone → UTC; invalid names are skipped.
    fn timezone(&self, saved: Option<&str>) -> chrono_tz::Tz {
        i18n::first_time_zone([self.query_timezone.as_deref(), saved]).unwrap_or(chrono_tz::UTC)
    }

    /// Whether the caller's saved settings could change the outcome (worth one database read).
    fn needs_saved_settings(&self) -> bool {
        self.query_locale.as_deref().and_then(i18n::supported_locale).is_none()
            || self.query_timezone.as_deref().and_then(i18n::parse_time_zone).is_none()
    }
}

fn form_urlencoded_pairs(query: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query).unwrap_or_default()
}

/// Resolves who is calling and in which language; a token that is present but unusable is a 401, never
/// silently anonymous. Refusals are boxed: a `Response` is large and this is the rare path.
pub(super) async fn edge(state: &AppState, parts: &Parts) -> Result<Edge, Box<Response>> {
    let request_id = parts
        .extensions
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let hints = LocaleHints::from_parts(parts);
    let mut context = RequestContext::new(request_id, hints.locale(None, state.default_locale));
    context.timezone = hints.timezone(None);
    context.client_address = client_address(parts, state.trust_forwarded_for);
    let Some(format) = Format::negotiate(&parts.headers) else {
        return Err(Box::new(error_response(
            Format::Json,
            StatusCode::NOT_ACCEPTABLE,
            ErrorCode::BadRequest,
            Message::new("error-not-acceptable"),
            &context,
        )));
    };
    if let Some(authorization) = parts.headers.get(header::AUTHORIZATION) {
        let token = authorization
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
            .map(str::trim);
        let verified = match token {
            Some(token) => state.services.accounts.authenticate(token),
            None => Err(TokenError::Invalid),
        };
        match verified {
            Ok(caller) => context.caller = Some(caller),
            Err(error) => {
                let message_id = match error {
                    TokenError::Expired => "auth-token-expired",
                    TokenError::Invalid => "auth-token-invalid",
                };
                let mut response = error_response(
                    format,
                    StatusCode::UNAUTHORIZED,
                    ErrorCode::Unauthenticated,
                    Message::new(message_id),
                    &context,
                );
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
                return Err(Box::new(response));
            }
        }
    }
    if let Some(caller) = context.caller
        && hints.needs_saved_settings()
    {
        // A failed read only loses the caller's preferences; the request itself can still be served.
        match state.services.accounts.user(caller.user_id).await {
            Ok(Some(user)) => {
                context.locale = hints.locale(user.locale.as_deref(), state.default_locale);
                context.timezone = hints.timezone(user.timezone.as_deref());
                context.caller_profile = Some(Arc::new(user));
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "could not read the caller's saved locale"),
        }
    }
    Ok(Edge { format, context })
}

fn bad_request(edge: &Edge, status: StatusCode, message: Message) -> Response {
    error_response(edge.format, status, ErrorCode::BadRequest, message, &edge.context)
}

fn respond(format: Format, executed: Executed) -> Response {
    // application/json keeps 200 for every well-formed request; the newer type says 400 when nothing ran.
    let status = if executed.request_failed && format == Format::GraphqlResponseJson {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    encode(format, status, &ResponseBody::from(&executed), executed.locale)
}

async fn run_one(state: &AppState, edge: Edge, request: GqlRequest) -> Response {
    if request.query.trim().is_empty() {
        return bad_request(&edge, StatusCode::BAD_REQUEST, Message::new("error-missing-query"));
    }
    let executed = graphql::execute(&state.schemas, &state.services, &state.limits, request, edge.context).await;
    respond(edge.format, executed)
}

pub async fn get_graphql(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    if parts.headers.contains_key(header::UPGRADE) {
        return match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
            Ok(upgrade) => ws::upgrade(state.clone(), &mut parts, upgrade).await,
            Err(rejection) => rejection.into_response(),
        };
    }
    let edge = match edge(&state, &parts).await {
        Ok(edge) => edge,
        Err(response) => return *response,
    };
    let mut request = match async_graphql::http::parse_query_string(parts.uri.query().unwrap_or_default()) {
        Ok(request) => request,
        Err(error) => {
            return bad_request(
                &edge,
                StatusCode::BAD_REQUEST,
                Message::new("error-invalid-json").arg("detail", error),
            );
        }
    };
    if matches!(
        graphql::operation_type(&mut request),
        Some(OperationType::Mutation | OperationType::Subscription)
    ) {
        let mut response = bad_request(
            &edge,
            StatusCode::METHOD_NOT_ALLOWED,
            Message::new("error-mutation-over-get"),
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    run_one(&state, edge, request).await
}

/// Content types a browser sends cross-site without a CORS preflight; a POST with one of them could be forged.
fn is_simple_content_type(content_type: Option<&str>) -> bool {
    match content_type {
        None => true,
        Some(value) => {
            let media = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
            matches!(
                media.as_str(),
                "text/plain" | "application/x-www-form-urlencoded" | "multipart/form-data"
            )
        }
    }
}

fn has_preflight_header(headers: &HeaderMap) -> bool {
    headers.contains_key("apollo-require-preflight")
        || headers.contains_key("x-apollo-operation-name")
        || headers.contains_key("graphql-preflight")
}

pub async fn post_graphql(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    debug_assert_eq!(parts.method, Method::POST);
    let edge = match edge(&state, &parts).await {
        Ok(edge) => edge,
        Err(response) => return *response,
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    if is_simple_content_type(content_type) && !has_preflight_header(&parts.headers) {
        return bad_request(&edge, StatusCode::BAD_REQUEST, Message::new("error-csrf"));
    }
    let is_json = content_type
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return bad_request(
            &edge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Message::new("error-unsupported-media-type"),
        );
    }
    let deadline = parts
        .extensions
        .get::<RequestDeadline>()
        .map(|RequestDeadline(deadline)| *deadline);
    let read = body::read(
        body,
        &parts.headers,
        state.body_limit_bytes,
        deadline,
        &state.limits.deadlines,
    );
    let bytes: Bytes = match read.await {
        body::Read::Complete(bytes) => bytes,
        body::Read::TooLarge => {
            let mut response = bad_request(
                &edge,
                StatusCode::PAYLOAD_TOO_LARGE,
                Message::new("error-body-too-large").arg("limit", state.body_limit_bytes),
            );
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return response;
        }
        body::Read::TimedOut => {
            return bad_request(&edge, StatusCode::REQUEST_TIMEOUT, Message::new("error-body-timeout"));
        }
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return bad_request(&edge, StatusCode::BAD_REQUEST, Message::new("error-missing-query"));
    }
    // Deciding by the first byte, rather than through `BatchRequest`'s untagged enum, saves serde buffering the
    // whole request into an intermediate tree and reading it twice, and names the actual error.
    let is_batch = bytes.iter().find(|byte| !byte.is_ascii_whitespace()) == Some(&b'[');
    let parsed = if is_batch {
        serde_json::from_slice::<Vec<GqlRequest>>(&bytes).map(BatchRequest::Batch)
    } else {
        serde_json::from_slice::<GqlRequest>(&bytes).map(BatchRequest::Single)
    };
    let batch = match parsed {
        Ok(batch) => batch,
        Err(error) => {
            return bad_request(
                &edge,
                StatusCode::BAD_REQUEST,
                Message::new("error-invalid-json").arg("detail", error),
            );
        }
    };
    match batch {
        BatchRequest::Single(request) => run_one(&state, edge, request).await,
        BatchRequest::Batch(requests) => run_batch(&state, edge, requests).await,
    }
}

async fn run_batch(state: &AppState, edge: Edge, requests: Vec<GqlRequest>) -> Response {
    if requests.is_empty() || requests.iter().any(|request| request.query.trim().is_empty()) {
        return bad_request(&edge, StatusCode::BAD_REQUEST, Message::new("error-missing-query"));
    }
    if requests.len() > state.max_batch {
        return bad_request(
            &edge,
            StatusCode::BAD_REQUEST,
            Message::new("error-batch-too-large").arg("limit", state.max_batch),
        );
    }
    // An earlier operation of the batch may change the account (updateMe); later ones must not see a stale copy.
    let mut context = edge.context.clone();
    context.caller_profile = None;
    let mut executed_all = Vec::with_capacity(requests.len());
    for request in requests {
        let executed = graphql::execute(&state.schemas, &state.services, &state.limits, request, context.clone()).await;
        executed_all.push(executed);
    }
    let bodies: Vec<ResponseBody<'_>> = executed_all.iter().map(ResponseBody::from).collect();
    encode(edge.format, StatusCode::OK, &bodies, edge.context.effective_locale())
}
