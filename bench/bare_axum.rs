//! The ceiling for `bench/http_overhead.sh` and `bench/response_cache.sh`: a bare axum handler that parses the same
//! JSON body as a GraphQL request and writes, with no middleware, the same JSON answer as `{ __typename }` — or,
//! given a file, that file's bytes (the response cache's comparison, with the cached answer's own body).
//!
//! Usage: `bare_axum [address] [answer file]`

use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::header,
    response::{IntoResponse, Response},
    routing::post,
};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
struct GraphqlBody {
    #[serde(rename = "query")]
    _query: String,
    #[serde(default, rename = "variables")]
    _variables: Option<serde_json::Value>,
}

async fn graphql(Json(_body): Json<GraphqlBody>) -> Json<serde_json::Value> {
    Json(json!({ "data": { "__typename": "Query" } }))
}

async fn graphql_with_answer(State(answer): State<Bytes>, Json(_body): Json<GraphqlBody>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], answer).into_response()
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let address = args.next().unwrap_or_else(|| "127.0.0.1:18081".into());
    let router = match args.next() {
        Some(file) => Router::new()
            .route("/graphql", post(graphql_with_answer))
            .with_state(Bytes::from(std::fs::read(file)?)),
        None => Router::new().route("/graphql", post(graphql)),
    };
    let listener = tokio::net::TcpListener::bind(&address).await?;
    axum::serve(listener, router).await
}
