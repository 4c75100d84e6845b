//! Everything on HTTP that is not GraphQL: GraphiQL and its assets, the SDL, health, readiness, metrics.

use std::sync::Arc;

use axum::{
    extract::{Path, State},
    http::{StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use sea_orm::ConnectionTrait;

use super::AppState;

pub async fn graphiql() -> Html<&'static str> {
    Html(include_str!("../../assets/graphiql/index.html"))
}

/// GraphiQL's assets ship inside the binary, so the IDE works with no internet.
pub async fn graphiql_asset(Path(file): Path<String>) -> Response {
    let (body, content_type): (&'static [u8], &str) = match file.as_str() {
        "graphiql.min.js" => (
            include_bytes!("../../assets/graphiql/graphiql.min.js"),
            "text/javascript",
        ),
        "graphiql.min.css" => (include_bytes!("../../assets/graphiql/graphiql.min.css"), "text/css"),
        "react.production.min.js" => (
            include_bytes!("../../assets/graphiql/react.production.min.js"),
            "text/javascript",
        ),
        "react-dom.production.min.js" => (
            include_bytes!("../../assets/graphiql/react-dom.production.min.js"),
            "text/javascript",
        ),
        "graphql-ws.min.js" => (
            include_bytes!("../../assets/graphiql/graphql-ws.min.js"),
            "text/javascript",
        ),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        body,
    )
        .into_response()
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
