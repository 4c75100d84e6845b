//! The request id and the per-request span and metrics around everything else.

use std::time::{Duration, Instant};

use axum::{
    extract::{MatchedPath, Request, State},
    http::{HeaderValue, Method, StatusCode, header::HeaderName},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tracing::Instrument;

use crate::deadlines::Deadlines;

pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request id a handler reads: the client's own if it is sane, otherwise a fresh one.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

fn acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_.:".contains(&byte))
}

/// Methods as static labels: no allocation per request, and no label per made-up method.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::OPTIONS => "OPTIONS",
        Method::HEAD => "HEAD",
        _ => "OTHER",
    }
}

pub async fn request_context(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| acceptable(id))
        .map(String::from)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    request.extensions_mut().insert(RequestId(id.clone()));
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = request.method().clone();
    let span = tracing::info_span!("http", %method, path = %request.uri().path(), request_id = %id);
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    span.in_scope(|| tracing::info!(status, duration_ms = elapsed.as_secs_f64() * 1000.0, "request finished"));
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    crate::telemetry::record_http_request(method_label(&method), route, status, elapsed.as_secs_f64());
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID.clone(), value);
    }
    response
}

#[derive(Clone)]
pub struct RequestTimeout {
    pub deadlines: Deadlines,
    pub limit: Duration,
}

/// When the whole request must be answered; handlers that wait on the client (the body) stop at it with an
/// error the client can read.
#[derive(Clone, Copy, Debug)]
pub struct RequestDeadline(pub tokio::time::Instant);

/// A request still unanswered after `ALX_REQUEST_TIMEOUT_SECS` gets 408 and is dropped.
pub async fn request_timeout(State(timeout): State<RequestTimeout>, mut request: Request, next: Next) -> Response {
    let deadline = tokio::time::Instant::now() + timeout.limit;
    request.extensions_mut().insert(RequestDeadline(deadline));
    match timeout.deadlines.until(deadline, next.run(request)).await {
        Ok(response) => response,
        Err(_) => StatusCode::REQUEST_TIMEOUT.into_response(),
    }
}
