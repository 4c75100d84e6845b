//! A second reference for `bench/http_overhead.sh`: async-graphql alone behind a bare axum handler (no
//! middleware, no error mapping), to separate the library's own cost from ours.

use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};
use axum::{Json, Router, extract::State, routing::post};

struct Query;

#[Object]
impl Query {
    async fn ping(&self) -> bool {
        true
    }
}

type BareSchema = Schema<Query, EmptyMutation, EmptySubscription>;

async fn graphql(
    State(schema): State<BareSchema>,
    Json(request): Json<async_graphql::Request>,
) -> Json<async_graphql::Response> {
    Json(schema.execute(request).await)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let address = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18082".into());
    let schema = Schema::new(Query, EmptyMutation, EmptySubscription);
    let listener = tokio::net::TcpListener::bind(&address).await?;
    axum::serve(
        listener,
        Router::new().route("/graphql", post(graphql)).with_state(schema),
    )
    .await
}
