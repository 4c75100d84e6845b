//! Everything on HTTP that is not GraphQL: GraphiQL and its assets, the SDL, health, readiness, metrics.

use std::sync::{Arc, OnceLock};

use axum::{
    body::{Body, Bytes},
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use sea_orm::ConnectionTrait;

use super::{
    AppState,
    compression::{accepts_gzip, gzip},
};

pub async fn graphiql() -> Html<&'static str> {
    Html(include_str!("../../assets/graphiql/index.html"))
}

/// One of GraphiQL's assets, which ship inside the binary so that the IDE works with no internet.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    /// Made by the first request that accepts gzip, not on every response: graphiql.min.js alone is 978 kB, which
    /// an anonymous client could otherwise have compressed again and again. Copied to its exact length, since it
    /// is kept for good (the compressor's buffer has room to spare).
    gzipped: OnceLock<Option<Bytes>>,
}

impl Asset {
    const fn new(name: &'static str, content_type: &'static str, body: &'static [u8]) -> Self {
        Self {
            name,
            content_type,
            body,
            gzipped: OnceLock::new(),
        }
    }
}

static ASSETS: [Asset; 5] = [
    Asset::new(
        "graphiql.min.js",
        "text/javascript",
        include_bytes!("../../assets/graphiql/graphiql.min.js"),
    ),
    Asset::new(
        "graphiql.min.css",
        "text/css",
        include_bytes!("../../assets/graphiql/graphiql.min.css"),
    ),
    Asset::new(
        "react.production.min.js",
        "text/javascript",
        include_bytes!("../../assets/graphiql/react.production.min.js"),
    ),
    Asset::new(
        "react-dom.production.min.js",
        "text/javascript",
        include_bytes!("../../assets/graphiql/react-dom.production.min.js"),
    ),
    Asset::new(
        "graphql-ws.min.js",
        "text/javascript",
        include_bytes!("../../assets/graphiql/graphql-ws.min.js"),
    ),
];

pub async fn graphiql_asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some(asset) = ASSETS.iter().find(|asset| asset.name == file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let gzipped = accepts_gzip(&headers)
        .then(|| {
            asset
                .gzipped
                .get_or_init(|| gzip(asset.body).map(|gzipped| Bytes::copy_from_slice(&gzipped)))
                .clone()
        })
        .flatten();
    let mut response = (
        [
            (header::CONTENT_TYPE, asset.content_type),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        gzipped.clone().map_or_else(|| Body::from(asset.body), Body::from),
    )
        .into_response();
    if gzipped.is_some() {
        // The compression layer leaves an answer with an encoding alone.
        response
            .headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

pub async fn schema_sdl(State(state): State<Arc<AppState>>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], state.sdl.clone()).into_response()
}

pub async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the database answers and no migration is pending.
pub async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    use migration::MigratorTrait;
    if let Err(error) = state.db.execute_unprepared("SELECT 1").await {
        tracing::warn!(%error, "readiness: database unreachable");
        return (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response();
    }
    match migration::Migrator::get_pending_migrations_read_only(&state.db).await {
        Ok(pending) if pending.is_empty() => "ready".into_response(),
        Ok(pending) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{} migrations pending", pending.len()),
        )
            .into_response(),
        Err(error) => {
            tracing::warn!(%error, "readiness: cannot read migrations");
            (StatusCode::SERVICE_UNAVAILABLE, "cannot read migrations").into_response()
        }
    }
}

pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    crate::telemetry::record_pool_gauges(&state.db);
    state.engine.record_cache_metrics();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        state.metrics.render(),
    )
        .into_response()
}

pub async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found").into_response()
}
