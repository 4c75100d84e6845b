//! The HTTP edge, and the only module that knows axum: routes, middleware, and the GraphQL transports.

mod cors;
mod graphql;
mod middleware;
mod pages;
mod ws;

use std::{sync::Arc, time::Duration};

use axum::{Router, routing::get};
use metrics_exporter_prometheus::PrometheusHandle;
use sea_orm::DatabaseConnection;
use tower_http::compression::CompressionLayer;

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
}

pub fn router(state: Arc<AppState>, options: &HttpOptions) -> Router {
    Router::new()
        .route("/graphql", get(graphql::get_graphql).post(graphql::post_graphql))
        .route("/", get(pages::graphiql))
        .route("/assets/graphiql/{file}", get(pages::graphiql_asset))
        .route("/schema.graphql", get(pages::schema_sdl))
        .route("/healthz", get(pages::healthz))
        .route("/readyz", get(pages::readyz))
        .route("/metrics", get(pages::metrics))
        .fallback(pages::not_found)
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            middleware::RequestTimeout {
                deadlines: options.deadlines.clone(),
                limit: options.request_timeout,
            },
            middleware::request_timeout,
        ))
        .layer(CompressionLayer::new())
        .layer(cors::layer(&options.cors_origins))
        .layer(axum::middleware::from_fn(middleware::request_context))
}
