//! CORS: tower-http's `Cors` with the configured origins, run for the requests that are CORS requests.

use std::{
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use axum::http::{HeaderName, HeaderValue, Method, Request, Response, header};
use futures_util::{
    FutureExt,
    future::{Either, Map},
};
use tower::{Layer, Service, ServiceExt, util::Oneshot};
use tower_http::cors::{AllowOrigin, Cors, CorsLayer, Vary};

use crate::config::CorsOrigins;

/// CORS for the configured origins. A request without an `Origin` header is not a CORS request (Fetch standard,
/// "CORS protocol"): browsers send `Origin` on every cross-origin request and every preflight, and nothing reads
/// CORS headers on the others. tower-http's `Cors` builds and merges its headers on every request all the same,
/// and inside axum's router (where it ran then) it was cloned with its whole configuration per request — more than
/// a quarter of the server's CPU on a `{ __typename }` request (bench/README.md). So requests without `Origin`
/// skip it, and their answers say `Vary: Origin` so that a shared cache never hands one to a request that has an
/// origin.
pub fn layer(origins: &CorsOrigins) -> CorsForOriginsLayer {
    CorsForOriginsLayer {
        cors: Arc::new(rules(origins)),
    }
}

fn rules(origins: &CorsOrigins) -> CorsLayer {
    let allow_origin = match origins {
        CorsOrigins::Any => AllowOrigin::any(),
        CorsOrigins::List(list) => AllowOrigin::list(list.iter().filter_map(|origin| origin.parse().ok())),
    };
    // Only an answer that echoes the caller's origin differs by origin; `*` and "no origin at all" do not, and
    // building the `Vary` value on every response was 3 % of a small request's instructions.
    let varies_by_origin = matches!(origins, CorsOrigins::List(list) if !list.is_empty());
    let vary = if varies_by_origin {
        Vary::default()
    } else {
        Vary::list([])
    };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .vary(vary)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::ACCEPT,
            header::ACCEPT_LANGUAGE,
            HeaderName::from_static("apollo-require-preflight"),
            HeaderName::from_static("x-apollo-operation-name"),
            HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([HeaderName::from_static("x-request-id")])
        .max_age(Duration::from_secs(3600))
}

#[derive(Clone)]
pub struct CorsForOriginsLayer {
    cors: Arc<CorsLayer>,
}

impl<S> Layer<S> for CorsForOriginsLayer {
    type Service = CorsForOrigins<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CorsForOrigins {
            cors: Arc::clone(&self.cors),
            inner,
        }
    }
}

#[derive(Clone)]
pub struct CorsForOrigins<S> {
    cors: Arc<CorsLayer>,
    inner: S,
}

type WithVary<F, B, E> = Map<F, fn(Result<Response<B>, E>) -> Result<Response<B>, E>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for CorsForOrigins<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Either<Oneshot<Cors<S>, Request<ReqBody>>, WithVary<S::Future, ResBody, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        if request.headers().contains_key(header::ORIGIN) {
            Either::Left(self.cors.layer(self.inner.clone()).oneshot(request))
        } else {
            Either::Right(
                self.inner
                    .call(request)
                    .map(vary_by_origin::<ResBody, S::Error> as fn(_) -> _),
            )
        }
    }
}

fn vary_by_origin<B, E>(response: Result<Response<B>, E>) -> Result<Response<B>, E> {
    response.map(|mut response| {
        response
            .headers_mut()
            .append(header::VARY, HeaderValue::from_static("origin"));
        response
    })
}
