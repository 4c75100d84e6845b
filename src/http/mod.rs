//! The HTTP edge, and the only module that knows axum: routes, middleware, and the GraphQL transports.

mod body;
mod cached;
mod client_address;
mod compression;
mod cors;
mod edge;
mod graphql;
pub mod known;
mod middleware;
mod pages;
mod server;
mod ws;

use std::{sync::Arc, time::Duration};

use std::convert::Infallible;

use axum::{
    Router,
    extract::{FromRequestParts, Request, State, WebSocketUpgrade},
    http::header,
    response::Response,
    routing::get,
};
use metrics_exporter_prometheus::PrometheusHandle;
use sea_orm::DatabaseConnection;
use tower::{Service, ServiceBuilder};

pub use server::{ServerLimits, serve};
pub use ws::WebSocketLimits;

use crate::{
    accounts::AccountsService,
    config::{CorsOrigins, TrustedProxies},
    deadlines::Deadlines,
    error::Message,
    schema::Engine,
};

/// Everything a handler needs, shared by every request.
pub struct AppState {
    pub engine: Arc<Engine>,
    /// The app's shutdown, which open WebSockets watch to close with 1001.
    pub shutdown: tokio_util::sync::CancellationToken,
    /// Who a token names, read by the edge for HTTP and WebSocket alike.
    pub accounts: AccountsService,
    pub deadlines: Deadlines,
    pub websocket: WebSocketLimits,
    pub db: DatabaseConnection,
    pub metrics: PrometheusHandle,
    pub body_limit_bytes: usize,
    pub max_batch: usize,
    pub default_locale: &'static str,
    /// Whose `X-Forwarded-For` hops to skip; `None` ignores the header.
    pub trusted_proxies: Option<TrustedProxies>,
    pub sdl: String,
}

pub struct HttpOptions {
    pub cors_origins: CorsOrigins,
    pub request_timeout: Duration,
    pub deadlines: Deadlines,
    /// Whether the API listener answers `/metrics`: only in development without a metrics listener of its own.
    pub metrics_on_api: bool,
    pub server: ServerLimits,
}

/// The routes, as metrics label them.
const GRAPHQL: &str = "/graphql";
const GRAPHIQL: &str = "/";
const GRAPHIQL_ASSET: &str = "/assets/graphiql/{file}";
const GRAPHIQL_ASSETS: &str = "/assets/graphiql/";
const SCHEMA: &str = "/schema.graphql";
const HEALTH: &str = "/healthz";
const READY: &str = "/readyz";
const METRICS: &str = "/metrics";

/// The whole HTTP service: the router inside the middleware.
///
/// The middleware wraps the router from outside instead of going through `Router::layer`, which applies each
/// layer to every route: axum then boxes the route again per layer, and every request clones that chain of
/// boxes and boxes each layer's future — about a tenth of the instructions of a `{ __typename }` request
/// (bench/README.md). Outside the router, the layers are plain values cloned without allocating.
pub fn service(
    state: Arc<AppState>,
    options: &HttpOptions,
) -> impl Service<Request, Response = Response, Error = Infallible, Future: Send> + Clone + Send + Sync + 'static {
    let mut router = Router::new()
        .route(
            GRAPHQL,
            get(get_or_upgrade)
                .post(graphql::post_graphql)
                .fallback(graphql::method_not_allowed),
        )
        .route(GRAPHIQL, get(pages::graphiql))
        .route(GRAPHIQL_ASSET, get(pages::graphiql_asset))
        .route(SCHEMA, get(pages::schema_sdl))
        .route(HEALTH, get(pages::healthz))
        .route(READY, get(pages::readyz));
    if options.metrics_on_api {
        router = router.route(METRICS, get(pages::metrics));
    }
    let router = router.fallback(pages::not_found).with_state(state.clone());
    ServiceBuilder::new()
        .layer(middleware::RequestContextLayer)
        .layer(cors::layer(&options.cors_origins))
        .layer(compression::layer())
        .layer(known::FrontDoorLayer {
            state,
            request_timeout: options.request_timeout,
        })
        .layer(middleware::RequestTimeoutLayer {
            deadlines: options.deadlines.clone(),
            limit: options.request_timeout,
        })
        .service(router)
}

/// `GET /graphql` is a query over HTTP, or the opening of a WebSocket: the two transports are siblings.
async fn get_or_upgrade(State(state): State<Arc<AppState>>, request: Request) -> Response {
    if !request.headers().contains_key(header::UPGRADE) {
        return graphql::get_graphql(State(state), request).await;
    }
    let (mut parts, _body) = request.into_parts();
    match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(upgrade) => ws::upgrade(state.clone(), &mut parts, upgrade).await,
        Err(rejection) => graphql::refuse(
            &state,
            &parts,
            rejection.status(),
            Message::new("error-websocket-upgrade").arg("detail", rejection.body_text()),
        ),
    }
}

/// `/metrics` alone, for its own listener (`ALX_METRICS_LISTEN`), which scrapers reach and API clients do not.
pub fn metrics_service(state: Arc<AppState>) -> Router {
    Router::new()
        .route(METRICS, get(pages::metrics))
        .fallback(pages::not_found)
        .with_state(state)
}

/// What `alx-backend worker` serves on `ALX_WORKER_LISTEN`: liveness, readiness and metrics, no GraphQL.
pub fn worker_service(state: Arc<AppState>) -> Router {
    Router::new()
        .route(HEALTH, get(pages::healthz))
        .route(READY, get(pages::readyz))
        .route(METRICS, get(pages::metrics))
        .fallback(pages::not_found)
        .with_state(state)
}

/// The route a path falls under, the way the router matches it; `None` for the fallback.
fn route_of(path: &str) -> Option<&'static str> {
    [GRAPHQL, GRAPHIQL, SCHEMA, HEALTH, READY, METRICS]
        .into_iter()
        .find(|route| *route == path)
        .or_else(|| {
            path.strip_prefix(GRAPHIQL_ASSETS)
                .filter(|file| !file.is_empty() && !file.contains('/'))
                .map(|_| GRAPHIQL_ASSET)
        })
}
