//! Requests seen before: the front door. An anonymous query whose answer the response cache holds is usually sent
//! again byte for byte (a client's page load, a persisted query over GET): such a request is answered from the
//! cache by its bytes alone, inside the request id, span, metrics, CORS and compression layers but before the
//! router and the GraphQL edge — no routing, request timeout layer, JSON parsing, locale negotiation or key
//! hashing (`bench/README.md`, "Response cache", has what it saves).
//!
//! Only what cannot change the answer is left out of a request's fingerprint. The fingerprint holds the method,
//! the target (path and query string: `?locale=`, `?timezone=`, and a GET's whole operation), `Content-Type`,
//! `Accept` and `Accept-Language` as sent, and the body. A request with anything that makes its answer depend on
//! more is not fingerprinted: `Authorization` (a caller, whose saved locale may speak), `If-None-Match` (a 304),
//! `Expect` (the body must not be asked for before the checks), `Upgrade`, a body without a declared length or
//! longer than `MAX_BODY_BYTES`. `Origin` and `Accept-Encoding` are the middleware's, outside this.
//!
//! The fingerprint leads only to a response-cache key: the answer itself, its freshness (the strict barrier),
//! expiry and invalidation stay the response cache's, and a request whose answer is gone takes the whole way.

use std::{
    convert::Infallible,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    body::{Body, Bytes},
    extract::Request,
    http::{HeaderMap, Method, header, request::Parts},
    response::Response,
};
use futures_util::future::{BoxFuture, Either};
use tower::{Layer, Service, ServiceExt};

use super::{
    AppState, GRAPHQL, body,
    cached::{self, CacheScope, Source},
    middleware,
};
use crate::schema::known_requests::Fingerprint;

/// Longer bodies are not fingerprinted: a cached query's request is small, and a fingerprint is kept whole.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// What the front door learned of a request it did not answer, for the GraphQL handler: the fingerprint to
/// remember the answer under, and the body it read (`None` on GET).
#[derive(Clone)]
pub struct Seen {
    pub fingerprint: Option<Fingerprint>,
    pub body: Option<body::Read>,
}

/// Whether a request may be fingerprinted once its body is read.
fn may_fingerprint(parts: &Parts) -> bool {
    if parts.uri.path() != GRAPHQL {
        return false;
    }
    let headers = &parts.headers;
    // One pass over the few headers a request has, not four lookups, each hashing its name (callgrind).
    let plain = !headers.keys().any(|name| {
        name == header::AUTHORIZATION
            || name == header::IF_NONE_MATCH
            || name == header::EXPECT
            || name == header::UPGRADE
    });
    plain
        && match parts.method {
            Method::GET => true,
            Method::POST => declared_length(headers).is_some_and(|length| length <= MAX_BODY_BYTES),
            _ => false,
        }
}

fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
}

/// The fingerprint of a request `may_fingerprint` accepted, with its body.
fn fingerprint(parts: &Parts, body: &[u8]) -> Fingerprint {
    let target = parts
        .uri
        .path_and_query()
        .map_or("", |target| target.as_str())
        .as_bytes();
    let header = |name| parts.headers.get(name).map_or(&[][..], |value| value.as_bytes());
    let pieces: [&[u8]; 5] = [
        target,
        header(header::CONTENT_TYPE),
        header(header::ACCEPT),
        header(header::ACCEPT_LANGUAGE),
        body,
    ];
    let mut bytes = Vec::with_capacity(1 + pieces.iter().map(|piece| piece.len() + 4).sum::<usize>());
    bytes.push(u8::from(parts.method == Method::POST));
    for piece in pieces {
        // Lengths first: no two different requests make the same bytes.
        bytes.extend_from_slice(&u32::try_from(piece.len()).unwrap_or(u32::MAX).to_le_bytes());
        bytes.extend_from_slice(piece);
    }
    Fingerprint::new(Bytes::from(bytes))
}

/// The front door, inside the request context, CORS and compression layers and outside the request timeout and
/// the router.
#[derive(Clone)]
pub struct FrontDoorLayer {
    pub state: Arc<AppState>,
    pub request_timeout: Duration,
}

impl<S> Layer<S> for FrontDoorLayer {
    type Service = FrontDoor<S>;

    fn layer(&self, inner: S) -> Self::Service {
        FrontDoor {
            inner,
            state: self.state.clone(),
            request_timeout: self.request_timeout,
        }
    }
}

#[derive(Clone)]
pub struct FrontDoor<S> {
    inner: S,
    state: Arc<AppState>,
    request_timeout: Duration,
}

impl<S> Service<Request> for FrontDoor<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<S::Future, BoxFuture<'static, Result<Response, Infallible>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let (parts, body) = request.into_parts();
        if !self.state.engine.knows_requests() || !may_fingerprint(&parts) {
            return Either::Left(self.inner.call(Request::from_parts(parts, body)));
        }
        // The request timeout is inside: this path keeps its own deadline, for the body and the barrier.
        let deadline = tokio::time::Instant::now() + self.request_timeout;
        let state = self.state.clone();
        let inner = self.inner.clone();
        Either::Right(Box::pin(async move {
            let mut parts = parts;
            let read = if parts.method == Method::POST {
                Some(
                    body::read(
                        body,
                        &parts.headers,
                        state.body_limit_bytes,
                        Some(deadline),
                        &state.deadlines,
                    )
                    .await,
                )
            } else {
                None
            };
            let fingerprint = match &read {
                None => Some(fingerprint(&parts, &[])),
                Some(body::Read::Complete(bytes)) => Some(fingerprint(&parts, bytes)),
                Some(_) => None,
            };
            if let Some(fingerprint) = &fingerprint {
                match state
                    .deadlines
                    .until(deadline, answer_known(&state, &parts.headers, fingerprint))
                    .await
                {
                    Ok(Some(response)) => return Ok(response),
                    Ok(None) => {}
                    Err(_) => {
                        return Ok(middleware::timed_out(
                            parts.headers.get(header::ACCEPT_LANGUAGE).cloned(),
                        ));
                    }
                }
            }
            parts.extensions.insert(Seen {
                fingerprint,
                body: read,
            });
            parts.extensions.insert(middleware::RequestDeadline(deadline));
            inner.oneshot(Request::from_parts(parts, Body::empty())).await
        }))
    }
}

/// The answer to a request sent before byte for byte, straight from the response cache; `None` when it is not
/// known or its answer is gone, and the request takes the whole way.
async fn answer_known(state: &AppState, headers: &HeaderMap, fingerprint: &Fingerprint) -> Option<Response> {
    let (known, answer) = state.engine.answer_known(fingerprint).await?;
    let scope = CacheScope {
        private: false,
        conditional: false,
    };
    Some(cached::response(
        known.content_type,
        &answer,
        Source::Hit,
        headers,
        known.locale,
        scope,
    ))
}

#[cfg(test)]
mod tests {
    use axum::http::Request;

    use super::*;

    fn parts(method: Method, target: &str, headers: &[(&str, &str)]) -> Parts {
        let mut request = Request::builder().method(method).uri(target);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(()).expect("request").into_parts().0
    }

    const JSON: (&str, &str) = ("content-type", "application/json");

    #[test]
    fn only_plain_anonymous_graphql_requests_with_a_small_announced_body_are_fingerprinted() {
        let post = |headers: &[(&str, &str)]| parts(Method::POST, "/graphql", headers);
        assert!(may_fingerprint(&post(&[JSON, ("content-length", "16384")])));
        assert!(may_fingerprint(&parts(Method::GET, "/graphql?query=%7Bx%7D", &[])));
        for refused in [
            post(&[JSON]),
            post(&[JSON, ("content-length", "16385")]),
            post(&[JSON, ("content-length", "ten")]),
            post(&[JSON, ("content-length", "10"), ("authorization", "Bearer token")]),
            post(&[JSON, ("content-length", "10"), ("if-none-match", "\"tag\"")]),
            post(&[JSON, ("content-length", "10"), ("expect", "100-continue")]),
            parts(Method::GET, "/graphql", &[("upgrade", "websocket")]),
            parts(Method::PUT, "/graphql", &[("content-length", "10")]),
            parts(Method::POST, "/graphql/", &[JSON, ("content-length", "10")]),
            parts(Method::GET, "/healthz", &[]),
        ] {
            assert!(!may_fingerprint(&refused), "{refused:?}");
        }
    }

    #[test]
    fn requests_differing_in_anything_the_answer_depends_on_have_different_fingerprints() {
        let base = [JSON, ("accept", "application/json"), ("accept-language", "fr")];
        let of =
            |method, target, headers: &[(&str, &str)], body: &[u8]| fingerprint(&parts(method, target, headers), body);
        let reference = of(Method::POST, "/graphql", &base, b"{}");
        assert_eq!(reference, of(Method::POST, "/graphql", &base, b"{}"));
        assert_eq!(
            reference,
            of(
                Method::POST,
                "/graphql",
                &[base[0], base[1], base[2], ("x-request-id", "abc")],
                b"{}"
            ),
            "a header the answer does not depend on is left out"
        );
        let different = [
            of(Method::GET, "/graphql", &base, b"{}"),
            of(Method::POST, "/graphql?locale=es", &base, b"{}"),
            of(
                Method::POST,
                "/graphql",
                &[base[0], base[1], ("accept-language", "es")],
                b"{}",
            ),
            of(
                Method::POST,
                "/graphql",
                &[base[0], ("accept", "application/graphql-response+json"), base[2]],
                b"{}",
            ),
            of(
                Method::POST,
                "/graphql",
                &[("content-type", "application/json; charset=utf-8"), base[1], base[2]],
                b"{}",
            ),
            of(Method::POST, "/graphql", &base, b"{} "),
            // Moving bytes from one piece to the next: the lengths keep them apart.
            of(
                Method::POST,
                "/graphql",
                &[base[0], base[1], ("accept-language", "fr{")],
                b"}",
            ),
        ];
        for (index, fingerprint) in different.iter().enumerate() {
            assert_ne!(&reference, fingerprint, "variant {index}");
        }
    }
}
