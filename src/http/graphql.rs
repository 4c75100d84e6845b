//! GraphQL over HTTP (the GraphQL-over-HTTP specification): negotiation, CSRF, limits, status codes, encoding.

use std::{collections::BTreeMap, sync::Arc};

use async_graphql::{Extensions, Request as GqlRequest, ServerError, Variables};
use axum::{
    body::{Body, Bytes},
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use serde::{
    Deserialize, Deserializer, Serialize,
    de::{DeserializeSeed, SeqAccess, Visitor},
};

use super::{
    AppState, body,
    cached::{self, CacheScope, Source},
    edge::{self, LocaleHints},
    known::Seen,
    middleware::RequestDeadline,
};
use crate::{
    accounts::Identity,
    error::{ErrorCode, Message},
    graphql::{RequestContext, errors},
    schema::{
        Executed, Submitted,
        engine::Answer,
        known_requests::{Fingerprint, Known},
        response_cache::{CachedResponse, Key},
    },
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
    // Errors, mutations, batches and uncacheable answers; cacheable ones go through `cached_response`.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
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

/// Resolves who is calling and in which language; a token that is present but unusable is a 401, never
/// silently anonymous. Refusals are boxed: a `Response` is large and this is the rare path.
pub(super) async fn edge(state: &AppState, parts: &Parts) -> Result<Edge, Box<Response>> {
    let Some(format) = Format::negotiate(&parts.headers) else {
        let (context, _) = edge::anonymous_context(state, parts);
        return Err(Box::new(error_response(
            Format::Json,
            StatusCode::NOT_ACCEPTABLE,
            ErrorCode::BadRequest,
            Message::new("error-not-acceptable"),
            &context,
        )));
    };
    let (context, _, _) = identified_context(state, parts).await?;
    Ok(Edge { format, context })
}

/// The request's context with its caller identified, the identity behind it, and the locale hints (which a
/// WebSocket's `connection_init` may override); a refusal is answered in the client's format.
pub(super) async fn identified_context(
    state: &AppState,
    parts: &Parts,
) -> Result<(RequestContext, Option<Identity>, LocaleHints), Box<Response>> {
    let (mut context, hints) = edge::anonymous_context(state, parts);
    match edge::identify_caller(state, parts, &mut context, &hints).await {
        Ok(identity) => Ok((context, identity, hints)),
        Err(refusal) => {
            let format = Format::negotiate(&parts.headers).unwrap_or(Format::Json);
            Err(Box::new(refusal_response(format, refusal, &context)))
        }
    }
}

fn refusal_response(format: Format, refusal: edge::Refusal, context: &RequestContext) -> Response {
    let mut response = error_response(format, refusal.status, refusal.code, refusal.message, context);
    if refusal.status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer error=\"invalid_token\""),
        );
    }
    response
}

fn bad_request(edge: &Edge, status: StatusCode, message: Message) -> Response {
    error_response(edge.format, status, ErrorCode::BadRequest, message, &edge.context)
}

fn respond(format: Format, executed: Executed) -> Response {
    let refusal = executed
        .request_failed
        .then(|| executed.response.errors.first().and_then(errors::code_of))
        .flatten()
        .and_then(ErrorCode::parse);
    let status = match refusal {
        // As Apollo Server answers it: 200, so that no client or proxy masks the body Apollo Client's link reads to
        // send the query, and never cached, since the next request registers the document.
        Some(ErrorCode::PersistedQueryNotFound) => StatusCode::OK,
        // The request itself is unusable (a document over the size limit, a malformed persisted-query reference).
        Some(ErrorCode::BadRequest) => StatusCode::BAD_REQUEST,
        // application/json keeps 200 for every well-formed request; the newer type says 400 when nothing ran.
        Some(_) if format == Format::GraphqlResponseJson => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    };
    let mut response = encode(format, status, &ResponseBody::from(&executed), executed.locale);
    if refusal == Some(ErrorCode::PersistedQueryNotFound) {
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-cache, must-revalidate"),
        );
    }
    response
}

/// One operation through the response cache, with the HTTP caching headers: `Cache-Control` on every answer
/// (`no-store` unless the answer is cacheable), and on cacheable ones an `ETag` (`If-None-Match` → 304) and
/// `x-cache: HIT|MISS`.
async fn run_one(
    state: &AppState,
    edge: Edge,
    submitted: Submitted,
    headers: &HeaderMap,
    queries_only: bool,
    fingerprint: Option<Fingerprint>,
) -> Response {
    if submitted.names_no_document() {
        return bad_request(&edge, StatusCode::BAD_REQUEST, Message::new("error-missing-query"));
    }
    let locale = edge.context.effective_locale();
    let content_type = edge.format.content_type();
    // A logged-in caller's answer may speak their saved locale and zone rather than what their headers say: no
    // shared cache may keep it for someone else.
    let caller_known = edge.context.caller.is_some();
    // If-None-Match answers 304 on GET only; on POST a failed precondition would be 412 (RFC 9110 13.1.2).
    let conditional = queries_only;
    let cached = |answer: &CachedResponse, key: Key, x_cache, locale| {
        let private = answer.private || caller_known;
        if !private && let Some(fingerprint) = fingerprint {
            state.engine.remember_request(
                fingerprint,
                Known {
                    key,
                    content_type,
                    locale,
                },
            );
        }
        let scope = CacheScope { private, conditional };
        cached::response(content_type, answer, x_cache, headers, locale, scope)
    };
    match state.engine.answer(submitted, edge.context.clone(), queries_only).await {
        Answer::Cached(answer, key) => cached(&answer, key, Source::Hit, locale),
        Answer::Ran(executed, Some((answer, key))) => cached(&answer, key, Source::Miss, executed.locale),
        Answer::Ran(executed, None) => respond(edge.format, *executed),
        Answer::NotAQuery => {
            let mut response = bad_request(
                &edge,
                StatusCode::METHOD_NOT_ALLOWED,
                Message::new("error-mutation-over-get"),
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            response
        }
    }
}

/// One operation of a POST body: async-graphql's request fields, and GraphQL-over-HTTP's `documentId`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostedOperation {
    /// `null` reads as absent, as a request naming its document by hash may send it.
    #[serde(default)]
    query: Option<String>,
    #[serde(default)]
    operation_name: Option<String>,
    #[serde(default)]
    variables: Variables,
    #[serde(default)]
    extensions: Extensions,
    #[serde(default)]
    document_id: Option<String>,
}

impl From<PostedOperation> for Submitted {
    fn from(posted: PostedOperation) -> Self {
        let mut request = GqlRequest::new(posted.query.unwrap_or_default()).variables(posted.variables);
        request.operation_name = posted.operation_name;
        request.extensions = posted.extensions;
        Self {
            request,
            document_id: posted.document_id,
        }
    }
}

/// A GET request's parameters, named as the GraphQL-over-HTTP specification names them; `variables` and
/// `extensions` are JSON in the query string.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetParameters {
    #[serde(default)]
    query: String,
    // async-graphql's own GET parser read `operation_name`; clients written against it keep working.
    #[serde(alias = "operation_name")]
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
    document_id: Option<String>,
}

fn parse_get(query_string: &str) -> Result<Submitted, String> {
    let parameters: GetParameters = serde_urlencoded::from_str(query_string).map_err(|error| error.to_string())?;
    let mut request = GqlRequest::new(parameters.query);
    if let Some(name) = parameters.operation_name.filter(|name| !name.is_empty()) {
        request = request.operation_name(name);
    }
    if let Some(variables) = parameters.variables.filter(|text| !text.is_empty()) {
        let value: serde_json::Value = serde_json::from_str(&variables).map_err(|error| error.to_string())?;
        if !value.is_object() {
            return Err("variables must be a JSON object".into());
        }
        request = request.variables(Variables::from_json(value));
    }
    if let Some(extensions) = parameters.extensions.filter(|text| !text.is_empty()) {
        request.extensions = serde_json::from_str(&extensions).map_err(|error| error.to_string())?;
    }
    Ok(Submitted {
        request,
        document_id: parameters.document_id.filter(|id| !id.is_empty()),
    })
}

pub async fn get_graphql(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    let fingerprint = parts.extensions.remove::<Seen>().and_then(|seen| seen.fingerprint);
    let edge = match edge(&state, &parts).await {
        Ok(edge) => edge,
        Err(response) => return *response,
    };
    let submitted = match parse_get(parts.uri.query().unwrap_or_default()) {
        Ok(submitted) => submitted,
        Err(error) => {
            return bad_request(
                &edge,
                StatusCode::BAD_REQUEST,
                Message::new("error-invalid-json").arg("detail", error),
            );
        }
    };
    // The document is known only once prepared when the request names it by hash, so the engine refuses a
    // mutation then, before it runs, and so before it could be registered.
    run_one(&state, edge, submitted, &parts.headers, true, fingerprint).await
}

/// Any other method on `/graphql`: a JSON error like every other refusal there, with the methods it takes.
pub async fn method_not_allowed(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, _body) = request.into_parts();
    let edge = match edge(&state, &parts).await {
        Ok(edge) => edge,
        Err(response) => return *response,
    };
    let mut response = bad_request(
        &edge,
        StatusCode::METHOD_NOT_ALLOWED,
        Message::new("error-method-not-allowed").arg("method", &parts.method),
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
    response
}

/// A refusal on `/graphql` before any GraphQL transport took the request (a WebSocket upgrade that cannot be
/// made): a JSON error in the client's language like every other answer there.
pub(super) fn refuse(state: &AppState, parts: &Parts, status: StatusCode, message: Message) -> Response {
    let (context, _) = edge::anonymous_context(state, parts);
    let format = Format::negotiate(&parts.headers).unwrap_or(Format::Json);
    error_response(format, status, ErrorCode::BadRequest, message, &context)
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
    let (mut parts, body) = request.into_parts();
    debug_assert_eq!(parts.method, Method::POST);
    // The front door (`known`) may have read the body already, to know the request by it.
    let (fingerprint, read_early) = match parts.extensions.remove::<Seen>() {
        Some(seen) => (seen.fingerprint, seen.body),
        None => (None, None),
    };
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
    let read = match read_early {
        Some(read) => read,
        None => {
            let deadline = parts
                .extensions
                .get::<RequestDeadline>()
                .map(|RequestDeadline(deadline)| *deadline);
            body::read(body, &parts.headers, state.body_limit_bytes, deadline, &state.deadlines).await
        }
    };
    let bytes: Bytes = match read {
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
    if is_batch {
        let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
        let parsed = BoundedBatch { max: state.max_batch }
            .deserialize(&mut deserializer)
            .and_then(|operations| deserializer.end().map(|()| operations));
        match parsed {
            Ok(operations) => run_batch(&state, edge, operations).await,
            Err(error) => refuse_body(&edge, state.max_batch, &error),
        }
    } else {
        match serde_json::from_slice::<PostedOperation>(&bytes) {
            Ok(operation) => run_one(&state, edge, operation.into(), &parts.headers, false, fingerprint).await,
            Err(error) => refuse_body(&edge, state.max_batch, &error),
        }
    }
}

/// A body that is not a request, or a batch of too many.
fn refuse_body(edge: &Edge, max_batch: usize, error: &serde_json::Error) -> Response {
    if error.to_string().starts_with(BATCH_TOO_LARGE) {
        bad_request(
            edge,
            StatusCode::BAD_REQUEST,
            Message::new("error-batch-too-large").arg("limit", max_batch),
        )
    } else {
        bad_request(
            edge,
            StatusCode::BAD_REQUEST,
            Message::new("error-invalid-json").arg("detail", error),
        )
    }
}

const BATCH_TOO_LARGE: &str = "batch too large";

/// A batch read one operation at a time and refused as soon as it holds more than `max`: 70,000 tiny operations
/// fit in a 1 MiB body, and reading them all before counting would allocate tens of megabytes for nothing.
struct BoundedBatch {
    max: usize,
}

impl<'de> DeserializeSeed<'de> for BoundedBatch {
    type Value = Vec<PostedOperation>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for BoundedBatch {
    type Value = Vec<PostedOperation>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a list of GraphQL requests")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Self::Value, A::Error> {
        let mut requests = Vec::new();
        while let Some(request) = items.next_element::<PostedOperation>()? {
            if requests.len() == self.max {
                return Err(serde::de::Error::custom(BATCH_TOO_LARGE));
            }
            requests.push(request);
        }
        Ok(requests)
    }
}

async fn run_batch(state: &AppState, edge: Edge, operations: Vec<PostedOperation>) -> Response {
    let submitted: Vec<Submitted> = operations.into_iter().map(Submitted::from).collect();
    if submitted.is_empty() || submitted.iter().any(Submitted::names_no_document) {
        return bad_request(&edge, StatusCode::BAD_REQUEST, Message::new("error-missing-query"));
    }
    if submitted.len() > state.max_batch {
        return bad_request(
            &edge,
            StatusCode::BAD_REQUEST,
            Message::new("error-batch-too-large").arg("limit", state.max_batch),
        );
    }
    // An earlier operation of the batch may change the account (updateMe); later ones must not see a stale copy.
    let mut context = edge.context.clone();
    context.caller_profile = None;
    let mut executed_all = Vec::with_capacity(submitted.len());
    for operation in submitted {
        let executed = state.engine.execute(operation, context.clone()).await;
        executed_all.push(executed);
    }
    let bodies: Vec<ResponseBody<'_>> = executed_all.iter().map(ResponseBody::from).collect();
    encode(edge.format, StatusCode::OK, &bodies, edge.context.effective_locale())
}
