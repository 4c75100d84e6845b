//! The document budget against what a hostile client sends: fragment fan-out, floods of tokens, directives and
//! arguments, huge texts, id lists, error floods. Each is answered with its code, quickly, with a small answer,
//! and the server keeps serving. The time bounds are generous for a debug build on a loaded 2-core machine; they
//! exist to catch the exponential cases (seconds to minutes before the budget), not to measure speed.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_code, error_field};

const QUICK: Duration = Duration::from_secs(2);

/// `{ ...F0 }` where each fragment spreads the next twice, ending in `__typename`: 2^levels leaves from ~40 bytes a level.
fn doubling_chain(levels: usize) -> String {
    let mut query = String::from("{ ...F0 }");
    for level in 0..levels {
        query.push_str(&format!(
            " fragment F{level} on Query {{ ...F{next} ...F{next} }}",
            next = level + 1
        ));
    }
    query.push_str(&format!(" fragment F{levels} on Query {{ __typename }}"));
    query
}

/// Sends `query` and checks it is refused with `code` quickly, with a small answer.
async fn assert_refused_quickly(app: &TestApp, query: &str, code: &str) -> Value {
    let started = Instant::now();
    let (status, body) = app.post_raw(json!({ "query": query }).to_string()).await;
    let elapsed = started.elapsed();
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body:#}");
    assert_eq!(error_code(&body), code, "{body:#}");
    assert!(elapsed < QUICK, "took {elapsed:?}");
    assert!(
        body.to_string().len() < 4096,
        "a {} byte answer",
        body.to_string().len()
    );
    body
}

#[tokio::test]
async fn a_twenty_level_fragment_chain_is_too_complex_at_once() {
    let app = TestApp::spawn().await;
    let body = assert_refused_quickly(&app, &doubling_chain(20), "QUERY_TOO_COMPLEX").await;
    assert_eq!(body["errors"][0]["extensions"]["messageId"], "error-too-many-fields");
    app.assert_still_serving().await;
}

#[tokio::test]
async fn two_thirty_one_level_fragment_chains_at_once_leave_the_server_serving() {
    let app = TestApp::spawn().await;
    let query = doubling_chain(31);
    let (first, second) = tokio::join!(
        assert_refused_quickly(&app, &query, "QUERY_TOO_COMPLEX"),
        assert_refused_quickly(&app, &query, "QUERY_TOO_COMPLEX"),
    );
    assert_eq!(first, second);
    app.assert_still_serving().await;
}

#[tokio::test]
async fn a_fragment_cycle_is_a_validation_error() {
    let app = TestApp::spawn().await;
    let body = assert_refused_quickly(
        &app,
        "{ ...A } fragment A on Query { __typename ...B } fragment B on Query { ...A }",
        "GRAPHQL_VALIDATION_FAILED",
    )
    .await;
    assert_eq!(body["errors"][0]["extensions"]["messageId"], "error-fragment-cycle");
}

#[tokio::test]
async fn a_quarter_million_directives_are_refused_before_parsing() {
    let app = TestApp::spawn().await;
    let query = format!("{{ locales {} {{ code }} }}", "@a ".repeat(250_000));
    let body = assert_refused_quickly(&app, &query, "BAD_REQUEST").await;
    assert_eq!(body["errors"][0]["extensions"]["messageId"], "error-document-too-large");
    app.assert_still_serving().await;
}

#[tokio::test]
async fn directives_within_the_size_limit_are_bounded_per_field() {
    let app = TestApp::spawn().await;
    let body = assert_refused_quickly(
        &app,
        &format!("{{ locales {} {{ code }} }}", "@a ".repeat(11)),
        "QUERY_TOO_COMPLEX",
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["messageId"],
        "error-too-many-directives"
    );
}

#[tokio::test]
async fn forty_thousand_arguments_are_refused_before_the_quadratic_overlap_check() {
    let app = TestApp::spawn().await;
    let arguments: String = (0..40_000).map(|index| format!("x{index}:0 ")).collect();
    let query = format!("{{ __typename({arguments}) __typename({arguments}) }}");
    assert_refused_quickly(&app, &query, "BAD_REQUEST").await;
    // Within the byte limit, the token budget refuses the same shape.
    let arguments: String = (0..6_000).map(|index| format!("x{index}:0 ")).collect();
    let body = assert_refused_quickly(&app, &format!("{{ __typename({arguments}) }}"), "QUERY_TOO_COMPLEX").await;
    assert_eq!(body["errors"][0]["extensions"]["messageId"], "error-too-many-tokens");
    // And below the token budget, the per-field argument limit.
    let arguments: String = (0..21).map(|index| format!("x{index}:0 ")).collect();
    let body = assert_refused_quickly(&app, &format!("{{ __typename({arguments}) }}"), "QUERY_TOO_COMPLEX").await;
    assert_eq!(body["errors"][0]["extensions"]["messageId"], "error-too-many-arguments");
    app.assert_still_serving().await;
}

#[tokio::test]
async fn a_mebibyte_of_fields_is_refused_before_parsing_and_not_cached() {
    let app = TestApp::spawn().await;
    let before = app.engine.cached_documents();
    // Just under the 1 MiB body limit once wrapped in JSON.
    let query = format!("{{{}}}", " a".repeat(520_000));
    let body = assert_refused_quickly(&app, &query, "BAD_REQUEST").await;
    assert_eq!(body["errors"][0]["extensions"]["messageId"], "error-document-too-large");
    assert_eq!(app.engine.cached_documents(), before);
    app.assert_still_serving().await;
}

#[tokio::test]
async fn an_invalid_document_is_not_cached_however_often_it_is_sent() {
    let app = TestApp::spawn().await;
    let junk = format!("{{ {} }}", "nope ".repeat(3_000));
    let before = app.engine.cached_documents();
    for _ in 0..2 {
        let (status, body) = app.gql(&junk, json!({})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED");
    }
    assert_eq!(app.engine.cached_documents(), before);
    app.assert_still_serving().await;
    assert_eq!(
        app.engine.cached_documents().0,
        before.0 + 1,
        "a valid document is kept"
    );
}

#[tokio::test]
async fn at_most_twenty_errors_are_returned_and_the_last_says_how_many_more() {
    let app = TestApp::spawn().await;
    let fields: String = (0..30).map(|index| format!("a{index}: nope ")).collect();
    let (status, body) = app.gql(&format!("{{ {fields} }}"), json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let errors = body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 20, "{body:#}");
    assert_eq!(errors[19]["extensions"]["messageId"], "error-more-errors");
    assert_eq!(errors[19]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED");
    assert_eq!(errors[19]["message"], "…and 11 more errors.");
}

#[tokio::test]
async fn nodes_takes_at_most_a_hundred_ids() {
    let app = TestApp::spawn().await;
    let ids: Vec<String> = (1..=101).map(|_| "VXNlcjox".to_string()).collect();
    let started = Instant::now();
    let (_, body) = app
        .gql("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", json!({ "ids": ids }))
        .await;
    assert!(started.elapsed() < QUICK);
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body:#}");
    assert_eq!(error_field(&body), "ids");
    let (_, body) = app
        .gql(
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": &ids[..100] }),
        )
        .await;
    assert_eq!(body["data"]["nodes"].as_array().map(Vec::len), Some(100), "{body:#}");
}

#[tokio::test]
async fn thirty_aliases_of_a_hundred_ids_count_every_id_in_the_complexity() {
    let app = TestApp::spawn_with(|settings| settings.max_complexity = 500).await;
    let ids: Vec<String> = (1..=100).map(|_| "VXNlcjox".to_string()).collect();
    let aliases: String = (0..30)
        .map(|index| format!("a{index}: nodes(ids: $ids) {{ id }} "))
        .collect();
    let started = Instant::now();
    let (status, body) = app
        .gql(&format!("query($ids: [ID!]!) {{ {aliases} }}"), json!({ "ids": ids }))
        .await;
    assert!(started.elapsed() < QUICK);
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body:#}");
    assert_eq!(error_code(&body), "QUERY_TOO_COMPLEX");
    app.assert_still_serving().await;
}

#[tokio::test]
async fn get_reads_the_operation_name_the_spec_names() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/graphql"))
        .query(&[
            ("query", "query A { a: __typename } query B { b: __typename }"),
            ("operationName", "B"),
        ])
        .send()
        .await
        .expect("request");
    let (status, body) = crate::helpers::read(response).await;
    assert_eq!(status, StatusCode::OK, "{body:#}");
    assert_eq!(body, json!({ "data": { "b": "Query" } }));
}

#[tokio::test]
async fn a_flood_of_tokens_over_get_is_refused_before_parsing() {
    let app = TestApp::spawn().await;
    let query = format!("{{{}}}", " a".repeat(30_000));
    let started = Instant::now();
    let response = app
        .client
        .get(app.url("/graphql"))
        .header("accept", "application/graphql-response+json")
        .query(&[("query", query.as_str())])
        .send()
        .await
        .expect("request");
    let (status, body) = crate::helpers::read(response).await;
    assert!(started.elapsed() < QUICK);
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errors"][0]["extensions"]["messageId"], "error-too-many-tokens");
}

#[tokio::test]
async fn sixteen_hundred_nested_lists_in_a_value_are_refused_instead_of_overflowing_the_stack() {
    let app = TestApp::spawn().await;
    let query = format!(
        "{{ node(id: {}\"x\"{}) {{ id }} }}",
        "[".repeat(1_600),
        "]".repeat(1_600)
    );
    let body = assert_refused_quickly(&app, &query, "QUERY_TOO_COMPLEX").await;
    assert_eq!(body["errors"][0]["extensions"]["messageId"], "error-query-too-deep");
    let objects = format!(
        "{{ node(id: {}1{}) {{ id }} }}",
        "{a: ".repeat(1_500),
        "}".repeat(1_500)
    );
    assert_refused_quickly(&app, &objects, "QUERY_TOO_COMPLEX").await;
    app.assert_still_serving().await;
}

#[tokio::test]
async fn unused_fragments_spreading_a_wide_one_count_every_time() {
    let app = TestApp::spawn().await;
    let mut query = format!(
        "{{ __typename }} fragment F on Query {{ {} }}",
        "locales { code } ".repeat(300)
    );
    for index in 0..600 {
        query.push_str(&format!(" fragment G{index} on Query {{ ...F }}"));
    }
    let body = assert_refused_quickly(&app, &query, "QUERY_TOO_COMPLEX").await;
    assert_eq!(body["errors"][0]["extensions"]["messageId"], "error-too-many-fields");
}

#[tokio::test]
async fn thousands_of_typenames_under_a_list_are_refused() {
    let app = TestApp::spawn().await;
    let query = format!(
        "{{ products(first: 100) {{ edges {{ node {{ ...F }} }} }} }} fragment F on Product {{ {} }}",
        "__typename ".repeat(2_400)
    );
    let body = assert_refused_quickly(&app, &query, "QUERY_TOO_COMPLEX").await;
    assert_eq!(body["errors"][0]["extensions"]["messageId"], "error-too-many-typenames");
    app.assert_still_serving().await;
}

#[tokio::test]
async fn ten_thousand_zeros_are_ten_thousand_tokens_and_fill_no_cache() {
    let app = TestApp::spawn().await;
    let before = app.engine.cached_documents();
    let query = format!("{{ nodes(ids: [{}]) {{ id }} }}", "0".repeat(10_000));
    let body = assert_refused_quickly(&app, &query, "QUERY_TOO_COMPLEX").await;
    assert_eq!(body["errors"][0]["extensions"]["messageId"], "error-too-many-tokens");
    // Under the token budget, a document refused when it runs (101 ids) is not cached either.
    let ids = format!("{{ nodes(ids: [{}]) {{ id }} }}", "0".repeat(101));
    let (_, body) = app.gql(&ids, json!({})).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body:#}");
    assert_eq!(app.engine.cached_documents(), before);
}

#[tokio::test]
async fn a_batch_of_seventy_thousand_operations_is_refused_as_it_is_read() {
    let app = TestApp::spawn().await;
    let body = format!("[{}]", vec![r#"{"query":"a"}"#; 70_000].join(","));
    let started = Instant::now();
    let (status, answer) = app.post_raw(body).await;
    assert!(started.elapsed() < QUICK);
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer:#}");
    assert_eq!(answer["errors"][0]["extensions"]["messageId"], "error-batch-too-large");
    app.assert_still_serving().await;
}

mod random_documents {
    use std::time::{Duration, Instant};

    use alx_backend::graphql::RequestContext;
    use async_graphql::Request;
    use proptest::{
        prelude::*,
        test_runner::{Config, TestRunner},
    };

    use crate::helpers::TestApp;

    /// One selection of a generated fragment: plain fields, aliases, arguments, directives, spreads (repeated).
    fn selection(fragments: usize) -> impl Strategy<Value = String> {
        prop_oneof![
            Just("__typename".to_string()),
            (0..50u32).prop_map(|alias| format!("a{alias}: __typename")),
            Just("locales { code name }".to_string()),
            (0..30usize).prop_map(|count| format!("locales {} {{ code }}", "@include(if: true) ".repeat(count))),
            (0..40usize).prop_map(|count| {
                let arguments: String = (0..count).map(|index| format!("x{index}: {index} ")).collect();
                format!("__typename({arguments})")
            }),
            (0..fragments, 1..5usize).prop_map(|(target, times)| format!("...F{target} ").repeat(times)),
            Just("nope".to_string()),
        ]
    }

    /// A document of up to 40 fragments spreading each other at random (cycles, fan-out and chains included).
    fn document() -> impl Strategy<Value = String> {
        (1..40usize).prop_flat_map(|fragments| {
            (
                prop::collection::vec(selection(fragments), 1..6),
                prop::collection::vec(prop::collection::vec(selection(fragments), 1..6), fragments),
            )
                .prop_map(|(operation, bodies)| {
                    let mut text = format!("{{ {} }}", operation.join(" "));
                    for (index, body) in bodies.iter().enumerate() {
                        text.push_str(&format!(" fragment F{index} on Query {{ {} }}", body.join(" ")));
                    }
                    text
                })
        })
    }

    #[test]
    fn random_documents_are_answered_within_the_budget() {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let app = runtime.block_on(TestApp::spawn());
        let mut runner = TestRunner::new(Config {
            cases: 96,
            failure_persistence: None,
            ..Config::default()
        });
        let outcome = runner.run(&prop_oneof![document(), "\\PC{0,400}"], |query| {
            let started = Instant::now();
            let executed = runtime.block_on(
                app.engine
                    .execute(Request::new(query.clone()).into(), RequestContext::new("random", "en")),
            );
            let elapsed = started.elapsed();
            prop_assert!(elapsed < Duration::from_secs(2), "{elapsed:?} for {query}");
            prop_assert!(executed.response.errors.len() <= 20);
            Ok(())
        });
        drop(app);
        outcome.expect("every random document is answered in time");
    }
}

#[tokio::test]
async fn get_also_reads_operation_name_and_refuses_variables_that_are_not_an_object() {
    let app = TestApp::spawn().await;
    let get = |pairs: Vec<(&'static str, &'static str)>| app.client.get(app.url("/graphql")).query(&pairs).send();
    let (_, body) = crate::helpers::read(
        get(vec![
            ("query", "query A { a: __typename } query B { b: __typename }"),
            ("operation_name", "A"),
        ])
        .await
        .expect("request"),
    )
    .await;
    assert_eq!(body, json!({ "data": { "a": "Query" } }));
    let (status, body) = crate::helpers::read(
        get(vec![("query", "{ __typename }"), ("variables", "[1]")])
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body:#}");
    assert_eq!(error_code(&body), "BAD_REQUEST");
}
