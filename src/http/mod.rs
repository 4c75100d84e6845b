//! The HTTP edge, and the only module that knows axum: routes, middleware, and the GraphQL transports.

mod body;
mod compression;
mod cors;
mod graphql;
mod middleware;
mod pages;
mod server;
mod ws;

use std::{sync::Arc, time::Duration};

use std::convert::Infallible;

use axum::{Router, extract::Request, response::Response, routing::get};
use metrics_exporter_prometheus::PrometheusHandle;
use sea_orm::DatabaseConnection;
use tower::{Service, ServiceBuilder};

pub use server::{ServerLimits, serve};

use crate::{
    config::CorsOrigins,
    deadlines::Deadlines,
    graphql::{GraphqlLimits, Schemas, Services},
};

/// Everything a handler needs, shared by every request.
pub struct AppState {
    pub schemas: Schemas,
    pub services: Arc<Services>,
    pub limits: GraphqlLimits,
    pub db: DatabaseConnection,
    pub metrics: PrometheusHandle,
    pub body_limit_bytes: usize,
    pub max_batch: usize,
    pub default_locale: &'static str,
    pub trust_forwarded_for: bool,
    pub sdl: String,
}

pub struct HttpOptions {
    pub cors_origins: CorsOrigins,
    pub request_timeout: Duration,
    pub deadlines: Deadlines,
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
    let router = Router::new()
        .route(GRAPHQL, get(graphql::get_graphql).post(graphql::post_graphql))
        .route(GRAPHIQL, get(pages::graphiql))
        .route(GRAPHIQL_ASSET, get(pages::graphiql_asset))
        .route(SCHEMA, get(pages::schema_sdl))
        .route(HEALTH, get(pages::healthz))
        .route(READY, get(pages::readyz))
        .route(METRICS, get(pages::metrics))
        .fallback(pages::not_found)
        .with_state(state);
    ServiceBuilder::new()
        .layer(middleware::RequestContextLayer)
        .layer(cors::layer(&options.cors_origins))
        .layer(compression::layer())
        .layer(middleware::RequestTimeoutLayer {
            deadlines: options.deadlines.clone(),
            limit: options.request_timeout,
        })
        .service(router)
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
