//! The ceiling for `bench/http_overhead.sh`: a bare axum handler that parses the same JSON body as a GraphQL
//! request and writes the same JSON answer as `{ __typename }`, with no middleware.

use axum::{Json, Router, routing::post};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
struct GraphqlBody {
    #[serde(rename = "query")]
    _query: String,
    #[serde(default, rename = "variables")]
    _variables: Option<Value>,
}

async fn graphql(Json(_body): Json<GraphqlBody>) -> Json<Value> {
    Json(json!({ "data": { "__typename": "Query" } }))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let address = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18081".into());
    let listener = tokio::net::TcpListener::bind(&address).await?;
    axum::serve(listener, Router::new().route("/graphql", post(graphql))).await
}
