//! Depth, complexity, alias and introspection limits.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, error_code, read};

#[tokio::test]
async fn a_two_hundred_level_nested_query_is_too_complex() {
    let app = TestApp::spawn().await;
    let query = format!(
        "{{ {}__typename{} }}",
        "__schema { types { fields { type { ofType { ".repeat(40),
        " } } } } }".repeat(40)
    );
    let (status, body) = app.gql(&query, json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body:#}");
    assert_eq!(error_code(&body), "QUERY_TOO_COMPLEX");
    app.assert_still_serving().await;
}

#[tokio::test]
async fn a_query_deeper_than_the_limit_is_too_complex() {
    let app = TestApp::spawn_with(|settings| settings.max_depth = 3).await;
    let (status, body) = app.gql("{ __schema { types { fields { name } } } }", json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "QUERY_TOO_COMPLEX");
}

#[tokio::test]
async fn an_alias_flood_is_too_complex() {
    let app = TestApp::spawn().await;
    let aliases: String = (0..500).map(|i| format!("a{i}: __typename ")).collect();
    let (status, body) = app.gql(&format!("{{ {aliases} }}"), json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "QUERY_TOO_COMPLEX");
    assert_eq!(body["errors"][0]["extensions"]["messageId"], "error-too-many-aliases");
    app.assert_still_serving().await;
}

#[tokio::test]
async fn long_aliases_written_once_per_row_are_refused_in_the_callers_language() {
    let app = TestApp::spawn().await;
    // 30 aliases of 600 bytes over nested pages: each is written once per row of the answer.
    let alias = "a".repeat(600);
    let fields: String = (0..30).map(|index| format!("{alias}{index}: name ")).collect();
    let query = format!("{{ products(first: 100) {{ nodes {{ {fields} }} }} }}");
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("accept", "application/graphql-response+json")
        .header("accept-language", "fr")
        .json(&json!({ "query": query }))
        .send()
        .await
        .expect("sent");
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body:#}");
    assert_eq!(error_code(&body), "QUERY_TOO_COMPLEX");
    assert_eq!(body["errors"][0]["extensions"]["messageId"], "error-alias-too-long");
    assert_eq!(
        body["errors"][0]["message"],
        "Un alias de la requête dépasse 64 octets."
    );
    app.assert_still_serving().await;
}

#[tokio::test]
async fn connection_cost_counts_the_page_size() {
    let app = TestApp::spawn_with(|settings| settings.max_complexity = 50).await;
    let admin = app.login_as_admin().await;
    let token = admin["accessToken"].as_str().expect("token");
    let (status, body) = app
        .gql_as(Some(token), "{ users(first: 10) { nodes { id name } } }", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body:#}");
    let (status, body) = app
        .gql_as(Some(token), "{ users(first: 100) { nodes { id name } } }", json!({}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "QUERY_TOO_COMPLEX");
}

#[tokio::test]
async fn production_turns_introspection_and_suggestions_off() {
    let app = TestApp::spawn_with(|settings| settings.introspection = false).await;
    let (status, body) = app.gql("{ __schema { queryType { name } } }", json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED");
    assert_eq!(
        body["errors"][0]["extensions"]["messageId"],
        "error-introspection-disabled"
    );
    let (_, body) = app.gql("{ mee { id } }", json!({})).await;
    let detail = body["errors"][0]["extensions"]["detail"].as_str().unwrap_or_default();
    assert!(!detail.contains("Did you mean"), "{detail}");
    app.assert_still_serving().await;
}

#[tokio::test]
async fn operations_over_the_concurrency_limit_wait_their_turn_and_all_succeed() {
    let app = TestApp::spawn_with(|settings| settings.max_concurrent_operations = 1).await;
    let single = json!({ "query": "{ locales { code } products(first: 5) { totalCount } }" });
    let batch = json!([
        { "query": "{ __typename }" },
        { "query": "{ locales { code } }" },
        { "query": "{ products(first: 1) { totalCount } }" },
    ]);
    let requests = (0..24).map(|i| {
        let body = if i % 6 == 0 { batch.clone() } else { single.clone() };
        let request = app.client.post(app.url("/graphql")).json(&body).send();
        async move { read(request.await.expect("request sent")).await }
    });
    let answers = futures_util::future::join_all(requests).await;
    for (status, body) in answers {
        assert_eq!(status, StatusCode::OK, "{body:#}");
        let bodies = body.as_array().cloned().unwrap_or_else(|| vec![body]);
        for body in &bodies {
            assert!(body.get("errors").is_none() && !body["data"].is_null(), "{body:#}");
        }
    }
    app.assert_still_serving().await;
}

#[tokio::test]
async fn a_document_answers_the_same_once_it_is_trusted_and_an_invalid_one_stays_invalid() {
    let app = TestApp::spawn_with(|settings| settings.max_depth = 4).await;
    // The first run validates every rule and remembers the outcome; later runs of the same variable-free document
    // skip the rules it passed, but not depth, complexity or our own limits.
    let query = "{ locales { code name } welcome(locale: \"fr\") { title } }";
    let (first_status, first) = app.gql(query, json!({})).await;
    assert_eq!(first_status, StatusCode::OK, "{first:#}");
    for _ in 0..3 {
        let (status, body) = app.gql(query, json!({})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, first);
    }
    for _ in 0..3 {
        let (status, body) = app.gql("{ locales { code nope } }", json!({})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body:#}");
        assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED");
    }
    let too_deep = "{ __schema { types { fields { type { name } } } } }";
    for _ in 0..2 {
        let (status, body) = app.gql(too_deep, json!({})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body:#}");
        assert_eq!(error_code(&body), "QUERY_TOO_COMPLEX");
    }
}
