//! The request id and the per-request span and metrics around everything else, and the request timeout.
//!
//! Written as tower services rather than with `axum::middleware::from_fn`, which clones the service inside it and
//! boxes it again for `Next` on every request: each layer here costs one boxed future.

use std::{
    convert::Infallible,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use axum::{
    BoxError,
    body::{Body, Bytes, HttpBody},
    extract::Request,
    http::{HeaderValue, Method, StatusCode, header, header::HeaderName},
    response::{IntoResponse, Response},
};
use futures_util::future::BoxFuture;
use tower::{Layer, Service};
use tracing::Instrument;

use crate::{
    deadlines::Deadlines,
    error::{ErrorCode, Message},
    i18n,
};

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

/// Gives every request its id and wraps it in a span, logs its end and counts it in the metrics.
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestContextLayer;

impl<S> Layer<S> for RequestContextLayer {
    type Service = RequestContext<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestContext { inner }
    }
}

#[derive(Clone, Debug)]
pub struct RequestContext<S> {
    inner: S,
}

impl<S, B> Service<Request> for RequestContext<S>
where
    S: Service<Request, Response = axum::http::Response<B>, Error = Infallible>,
    S::Future: Send + 'static,
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let id = request
            .headers()
            .get(&REQUEST_ID)
            .and_then(|value| value.to_str().ok())
            .filter(|id| acceptable(id))
            .map(String::from)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let header = HeaderValue::from_str(&id).ok();
        let route = super::route_of(request.uri().path()).unwrap_or("unmatched");
        let method = method_label(request.method());
        let span = tracing::info_span!("http", method, path = %request.uri().path(), request_id = %id);
        request.extensions_mut().insert(RequestId(id));
        let started = Instant::now();
        let response = self.inner.call(request).instrument(span.clone());
        Box::pin(async move {
            let Ok(response) = response.await;
            let elapsed = started.elapsed();
            let status = response.status().as_u16();
            span.in_scope(|| tracing::info!(status, duration_ms = elapsed.as_secs_f64() * 1000.0, "request finished"));
            crate::telemetry::record_http_request(method, route, status, elapsed.as_secs_f64());
            let mut response = response.map(Body::new);
            if let Some(header) = header {
                response.headers_mut().insert(REQUEST_ID.clone(), header);
            }
            Ok(response)
        })
    }
}

/// When the whole request must be answered; handlers that wait on the client (the body) stop at it with an
/// error the client can read.
#[derive(Clone, Copy, Debug)]
pub struct RequestDeadline(pub tokio::time::Instant);

/// A request still unanswered after `ALX_REQUEST_TIMEOUT_SECS` gets 408 and is dropped.
#[derive(Clone, Debug)]
pub struct RequestTimeoutLayer {
    pub deadlines: Deadlines,
    pub limit: Duration,
}

impl<S> Layer<S> for RequestTimeoutLayer {
    type Service = RequestTimeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestTimeout {
            inner,
            deadlines: self.deadlines.clone(),
            limit: self.limit,
        }
    }
}

#[derive(Clone, Debug)]
pub struct RequestTimeout<S> {
    inner: S,
    deadlines: Deadlines,
    limit: Duration,
}

impl<S> Service<Request> for RequestTimeout<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        // The front door (`known`) may have started the clock already, reading the body.
        let mut deadline = tokio::time::Instant::now() + self.limit;
        if let Some(RequestDeadline(earlier)) = request.extensions().get::<RequestDeadline>() {
            deadline = deadline.min(*earlier);
        }
        request.extensions_mut().insert(RequestDeadline(deadline));
        // Kept for the rare timeout, so that it too is answered in the client's language.
        let accept_language = request.headers().get(header::ACCEPT_LANGUAGE).cloned();
        let response = self.inner.call(request);
        let deadlines = self.deadlines.clone();
        Box::pin(async move {
            match deadlines.until(deadline, response).await {
                Ok(response) => response,
                Err(_) => Ok(timed_out(accept_language)),
            }
        })
    }
}

/// The answer to a request that ran out of time: a JSON error with its code, like every other refusal.
pub(super) fn timed_out(accept_language: Option<HeaderValue>) -> Response {
    let locale = accept_language
        .as_ref()
        .and_then(|value| value.to_str().ok())
        .and_then(i18n::negotiate_accept_language)
        .unwrap_or(i18n::DEFAULT_LOCALE);
    let message = Message::new("error-request-timeout");
    let body = serde_json::json!({
        "errors": [{
            "message": i18n::translate(locale, &message),
            "extensions": { "code": ErrorCode::BadRequest.as_str(), "messageId": message.id },
        }]
    });
    let mut response = (StatusCode::REQUEST_TIMEOUT, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    headers.insert(header::CONTENT_LANGUAGE, HeaderValue::from_static(locale));
    response
}
