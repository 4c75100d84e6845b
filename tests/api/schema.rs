//! The checked-in `schema.graphql` is the schema the server runs.

use crate::helpers::TestApp;

#[tokio::test]
async fn schema_graphql_matches_the_running_schema() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let checked_in = std::fs::read_to_string(path).unwrap_or_default();
    let app = TestApp::spawn().await;
    let served = app
        .client
        .get(app.url("/schema.graphql"))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("sdl");
    assert!(
        checked_in == served,
        "schema.graphql is out of date; regenerate it with `cargo run -q -- schema > schema.graphql`"
    );
}
