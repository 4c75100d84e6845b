//! GraphQL over HTTP: negotiation, status codes, CSRF, limits, and the non-GraphQL routes.

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{TestApp, error_code, read};

#[tokio::test]
async fn a_query_answers_in_the_media_type_the_client_accepts() {
    let app = TestApp::spawn().await;
    for (accept, expected) in [
        (
            Some("application/graphql-response+json"),
            "application/graphql-response+json",
        ),
        (Some("application/json"), "application/json"),
        (Some("*/*"), "application/json"),
        (None, "application/json"),
        (
            Some("application/json;q=0.5, application/graphql-response+json"),
            "application/graphql-response+json",
        ),
    ] {
        let mut request = app
            .client
            .post(app.url("/graphql"))
            .header("content-type", "application/json")
            .body(r#"{"query":"{ __typename }"}"#);
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        let response = request.send().await.expect("sent");
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response.headers()["content-type"].to_str().expect("ascii").to_string();
        assert!(content_type.starts_with(expected), "{accept:?} gave {content_type}");
    }
}

#[tokio::test]
async fn an_unacceptable_accept_header_is_406() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .header("accept", "text/html")
        .body(r#"{"query":"{ __typename }"}"#)
        .send()
        .await
        .expect("sent");
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(error_code(&body), "BAD_REQUEST");
}

#[tokio::test]
async fn malformed_json_is_a_bad_request() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body(r#"{ "query": "{ __typename }""#)
        .send()
        .await
        .expect("sent");
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "BAD_REQUEST");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .expect("message")
            .contains("not valid JSON")
    );
    app.assert_still_serving().await;
}

#[tokio::test]
async fn a_query_that_is_not_a_string_is_a_bad_request() {
    let app = TestApp::spawn().await;
    for body in [
        r#"{"query":{"obj":"ect"}}"#,
        r#"{"query":0}"#,
        r#"{"query":"{ __typename }","variables":"x"}"#,
    ] {
        let response = app
            .client
            .post(app.url("/graphql"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
    }
    app.assert_still_serving().await;
}

#[tokio::test]
async fn text_plain_without_a_preflight_header_is_refused_as_csrf() {
    let app = TestApp::spawn().await;
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        let mut request = app
            .client
            .post(app.url("/graphql"))
            .body(r#"{"query":"mutation { logout(refreshToken: \"x\") }"}"#);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let (status, body) = read(request.send().await.expect("sent")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{content_type:?}");
        assert_eq!(error_code(&body), "BAD_REQUEST");
        assert_eq!(body["errors"][0]["extensions"]["messageId"], "error-csrf");
    }
    app.assert_still_serving().await;
}

#[tokio::test]
async fn a_wrong_content_type_with_a_preflight_header_is_415() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "text/plain")
        .header("apollo-require-preflight", "true")
        .body(r#"{"query":"{ __typename }"}"#)
        .send()
        .await
        .expect("sent");
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(error_code(&body), "BAD_REQUEST");
}

#[tokio::test]
async fn an_empty_or_missing_query_is_a_bad_request() {
    let app = TestApp::spawn().await;
    for body in ["", r#"{}"#, r#"{"query":""}"#, r#"{"query":"   "}"#, r#"[]"#] {
        let response = app
            .client
            .post(app.url("/graphql"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("sent");
        let (status, json) = read(response).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body:?}");
        assert_eq!(error_code(&json), "BAD_REQUEST");
    }
    app.assert_still_serving().await;
}

#[tokio::test]
async fn a_two_mebibyte_body_is_refused_before_it_is_read_whole() {
    let app = TestApp::spawn().await;
    let padding = "x".repeat(2 * 1024 * 1024);
    let body = serde_json::to_string(&json!({ "query": format!("{{ __typename }} # {padding}") })).expect("json");
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("sent");
    let (status, json) = read(response).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(&json), "BAD_REQUEST");
    app.assert_still_serving().await;
}

#[tokio::test]
async fn get_runs_queries_but_never_mutations() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/graphql"))
        .query(&[
            ("query", "query Q($n: String!) { __type(name: $n) { name } }"),
            ("variables", r#"{"n":"Query"}"#),
        ])
        .send()
        .await
        .expect("sent");
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["__type"]["name"], "Query");

    let response = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", "mutation { logout(refreshToken: \"x\") }")])
        .send()
        .await
        .expect("sent");
    assert_eq!(response.headers()["allow"], "POST");
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(error_code(&body), "BAD_REQUEST");
    app.assert_still_serving().await;
}

#[tokio::test]
async fn parse_and_validation_failures_are_400_without_data_for_graphql_response_json() {
    let app = TestApp::spawn().await;
    let (status, body) = app.gql("{", json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "GRAPHQL_PARSE_FAILED");
    assert!(body.get("data").is_none());
    assert!(body["errors"][0]["extensions"]["detail"].is_string());

    let (status, body) = app.gql("{ noSuchField }", json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED");
    assert!(body.get("data").is_none());
}

#[tokio::test]
async fn validation_failures_are_200_for_plain_json_clients() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .body(r#"{"query":"{ noSuchField }"}"#)
        .send()
        .await
        .expect("sent");
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED");
}

#[tokio::test]
async fn an_unknown_operation_name_fails_validation() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": "query A { __typename } query B { __typename }", "operationName": "C" }))
        .send()
        .await
        .expect("sent");
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED");
    app.assert_still_serving().await;
}

#[tokio::test]
async fn variables_of_the_wrong_type_are_refused_with_a_code() {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .gql(
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": 42.5 }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body:#}");
    assert!(
        ["GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT"].contains(&error_code(&body)),
        "{body:#}"
    );
    app.assert_still_serving().await;
}

#[tokio::test]
async fn batches_run_each_operation_and_are_capped() {
    let app = TestApp::spawn_with(|settings| settings.max_batch = 2).await;
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body(r#"[{"query":"{ __typename }"},{"query":"{ me { id } }"}]"#)
        .send()
        .await
        .expect("sent");
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body[0]["data"]["__typename"], "Query");
    assert_eq!(body[1]["data"]["me"], serde_json::Value::Null);

    let response = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body(r#"[{"query":"{ __typename }"},{"query":"{ __typename }"},{"query":"{ __typename }"}]"#)
        .send()
        .await
        .expect("sent");
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "BAD_REQUEST");
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_a_sane_client_id_is_echoed() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "client-chosen-42")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.headers()["x-request-id"], "client-chosen-42");
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "bad id\twith spaces")
        .send()
        .await
        .expect("sent");
    let generated = response.headers()["x-request-id"].to_str().expect("ascii");
    assert_eq!(generated.len(), 36, "a fresh UUID replaces an unsafe id");
}

#[tokio::test]
async fn cors_preflight_allows_the_configured_origin_only() {
    let app = TestApp::spawn_with(|settings| {
        settings.cors_origins = alx_backend::config::CorsOrigins::List(vec!["https://app.example.com".into()]);
    })
    .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/graphql"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type, authorization")
            .send()
    };
    let allowed = preflight("https://app.example.com").await.expect("sent");
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let refused = preflight("https://evil.example.com").await.expect("sent");
    assert!(refused.headers().get("access-control-allow-origin").is_none());
    // The answer echoes the caller's origin, so shared caches must key it by origin.
    assert!(varies_by(allowed.headers(), "origin"), "{:?}", allowed.headers());
}

fn varies_by(headers: &reqwest::header::HeaderMap, name: &str) -> bool {
    headers
        .get_all("vary")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|value| value.trim().eq_ignore_ascii_case(name))
}

#[tokio::test]
async fn any_origin_answers_do_not_vary_by_origin() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("origin", "https://anywhere.example.com")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    assert!(!varies_by(response.headers(), "origin"), "{:?}", response.headers());
}

/// A request without `Origin` is not a CORS request: it gets no CORS headers, and its answer says it varies by
/// origin, so a shared cache never serves it to a browser's cross-origin request. Both for any origin and for a list.
#[tokio::test]
async fn answers_to_requests_without_an_origin_vary_by_origin_and_carry_no_cors_headers() {
    let any = TestApp::spawn().await;
    let listed = TestApp::spawn_with(|settings| {
        settings.cors_origins = alx_backend::config::CorsOrigins::List(vec!["https://app.example.com".into()]);
    })
    .await;
    for app in [&any, &listed] {
        let response = app
            .client
            .post(app.url("/graphql"))
            .json(&json!({ "query": "{ __typename }" }))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 200);
        let headers = response.headers().clone();
        assert!(headers.get("access-control-allow-origin").is_none(), "{headers:?}");
        assert!(headers.get("access-control-expose-headers").is_none(), "{headers:?}");
        assert!(varies_by(&headers, "origin"), "{headers:?}");
        // The GraphQL answer's own Vary survives next to it.
        assert!(varies_by(&headers, "accept-language"), "{headers:?}");
        let body: serde_json::Value = response.json().await.expect("json");
        assert_eq!(body["data"]["__typename"], "Query");
    }
    // With an origin the same request is a CORS request again: the listed origin is echoed back.
    let response = listed
        .client
        .post(listed.url("/graphql"))
        .header("origin", "https://app.example.com")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .expect("sent");
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(response.headers()["access-control-expose-headers"], "x-request-id");
}

#[tokio::test]
async fn responses_are_gzip_compressed_when_asked() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/schema.graphql"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.headers()["content-encoding"], "gzip");
    assert!(varies_by(response.headers(), "accept-encoding"));
}

/// Answers the response cache does not hold (here errors, and a batch) are gzipped per response from 1 KiB on, by
/// one deflate state per thread reused from answer to answer: each must still decode to its own plain bytes.
/// Smaller ones are sent plain: resetting deflate's tables costs more than the few bytes gzip would save. Every
/// answer names `Accept-Encoding` in `Vary` exactly once.
#[tokio::test]
async fn uncached_answers_from_one_kib_are_gzipped_each_to_its_own_bytes_and_smaller_ones_are_not() {
    let app = TestApp::spawn().await;
    let post = |body: String, gzip: bool| {
        let mut request = app
            .client
            .post(app.url("/graphql"))
            .header("content-type", "application/json")
            .body(body);
        if gzip {
            request = request.header("accept-encoding", "gzip");
        }
        async move { request.send().await.expect("sent") }
    };
    let accept_encoding_in_vary = |response: &reqwest::Response| {
        response
            .headers()
            .get_all("vary")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter(|value| value.trim().eq_ignore_ascii_case("accept-encoding"))
            .count()
    };
    for round in 0..3 {
        // One error per unknown field: well over 1 KiB of answer.
        let unknown_fields = (0..10)
            .map(|field| format!("field{round}x{field} "))
            .collect::<String>();
        for body in [
            json!({ "query": format!("{{ {unknown_fields}}}") }).to_string(),
            json!(
                (0..6)
                    .map(|operation| json!({ "query": format!("{{ other{round}x{operation} }}") }))
                    .collect::<Vec<_>>()
            )
            .to_string(),
        ] {
            let plain = post(body.clone(), false).await;
            assert!(plain.headers().get("content-encoding").is_none());
            let plain = plain.bytes().await.expect("a body");
            assert!(plain.len() >= 1024, "{} bytes: {body}", plain.len());
            let gzipped = post(body.clone(), true).await;
            assert_eq!(gzipped.headers()["content-encoding"], "gzip", "{body}");
            assert_eq!(accept_encoding_in_vary(&gzipped), 1, "{body}");
            let mut unzipped = Vec::new();
            std::io::Read::read_to_end(
                &mut flate2::read::GzDecoder::new(&gzipped.bytes().await.expect("a body")[..]),
                &mut unzipped,
            )
            .expect("a gzip stream");
            assert_eq!(unzipped, plain, "{body}");
        }
    }
    for small in [
        json!({ "query": "{ __typename }" }).to_string(),
        json!({ "query": "{ oneUnknownField }" }).to_string(),
    ] {
        let answer = post(small.clone(), true).await;
        assert!(answer.headers().get("content-encoding").is_none(), "{small}");
        assert_eq!(accept_encoding_in_vary(&answer), 1, "{small}");
        let text = answer.text().await.expect("text");
        assert!(text.len() < 1024 && text.starts_with('{'), "{small}: {text}");
    }
}

#[tokio::test]
async fn answers_to_requests_without_accept_encoding_are_plain_and_vary_by_encoding() {
    let app = TestApp::spawn().await;
    for path in ["/schema.graphql", "/graphql?query=%7B__typename%7D"] {
        let response = app.client.get(app.url(path)).send().await.expect("sent");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert!(response.headers().get("content-encoding").is_none(), "{path}");
        assert!(varies_by(response.headers(), "accept-encoding"), "{path}");
        let body = response.text().await.expect("a plain-text body");
        assert!(
            body.contains("__typename") || body.contains("type Query"),
            "{path}: {body}"
        );
    }
}

#[tokio::test]
async fn graphiql_and_its_assets_are_served_from_the_binary() {
    let app = TestApp::spawn().await;
    let page = app
        .client
        .get(app.url("/"))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("html");
    assert!(page.contains("GraphiQL.createFetcher"));
    assert!(!page.contains("https://"), "no CDN in the page");
    for asset in [
        "graphiql.min.js",
        "graphiql.min.css",
        "react.production.min.js",
        "react-dom.production.min.js",
        "graphql-ws.min.js",
    ] {
        assert!(page.contains(asset), "{asset} is referenced");
        let response = app
            .client
            .get(app.url(&format!("/assets/graphiql/{asset}")))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
    }
    let missing = app
        .client
        .get(app.url("/assets/graphiql/nope.js"))
        .send()
        .await
        .expect("sent");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

/// Assets are gzipped for clients that take it (once, and kept: graphiql.min.js is 978 kB); every request gets the
/// same bytes, which decode to the plain asset.
#[tokio::test]
async fn graphiql_assets_go_gzipped_to_clients_that_take_it_the_same_bytes_each_time() {
    let app = TestApp::spawn().await;
    for asset in ["graphiql.min.js", "graphql-ws.min.js"] {
        let url = app.url(&format!("/assets/graphiql/{asset}"));
        let plain = app.client.get(&url).send().await.expect("sent");
        assert!(plain.headers().get("content-encoding").is_none(), "{asset}");
        let plain = plain.bytes().await.expect("a body");
        let mut seen = Vec::new();
        for _ in 0..3 {
            let gzipped = app
                .client
                .get(&url)
                .header("accept-encoding", "gzip, br")
                .send()
                .await
                .expect("sent");
            assert_eq!(gzipped.status(), StatusCode::OK, "{asset}");
            assert_eq!(gzipped.headers()["content-encoding"], "gzip", "{asset}");
            assert!(varies_by(gzipped.headers(), "accept-encoding"), "{asset}");
            seen.push(gzipped.bytes().await.expect("a body"));
        }
        assert!(seen.windows(2).all(|pair| pair[0] == pair[1]), "{asset}");
        assert!(seen[0].len() < plain.len() / 2, "{asset} compresses");
        let mut unzipped = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&seen[0][..]), &mut unzipped)
            .expect("a gzip stream");
        assert_eq!(unzipped, plain, "{asset}");
    }
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = TestApp::spawn().await;
    app.assert_still_serving().await;
    let health = app.client.get(app.url("/healthz")).send().await.expect("sent");
    assert_eq!(health.status(), StatusCode::OK);
    let ready = app.client.get(app.url("/readyz")).send().await.expect("sent");
    assert_eq!(ready.status(), StatusCode::OK);
    for path in ["/assets/graphiql/missing.js", "/no/such/page"] {
        let missing = app.client.get(app.url(path)).send().await.expect("sent");
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    }
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("text");
    // Requests are counted by route template, and paths no route matches share one label.
    for route in [
        "/healthz",
        "/readyz",
        "/graphql",
        "/assets/graphiql/{file}",
        "unmatched",
    ] {
        assert!(
            metrics.contains(&format!("route=\"{route}\"")),
            "no http_requests_total for {route}: {metrics}"
        );
    }
    assert!(!metrics.contains("route=\"/no/such/page\""), "{metrics}");
    assert!(metrics.contains("graphql_operations_total"), "{metrics}");
    assert!(metrics.contains("db_pool_connections"), "{metrics}");
    // Buckets, not quantiles: the histograms of several processes must add up.
    assert!(
        metrics.contains("graphql_operation_duration_seconds_bucket{"),
        "{metrics}"
    );
    assert!(!metrics.contains("quantile="), "{metrics}");
}

#[tokio::test]
async fn readiness_fails_while_migrations_are_pending() {
    let app = TestApp::spawn_with(|settings| settings.migrate_on_start = false).await;
    let ready = app.client.get(app.url("/readyz")).send().await.expect("sent");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn shutdown_finishes_the_request_in_flight_then_stops_accepting() {
    let mut app = TestApp::spawn().await;
    let body = r#"{"query":"{ __typename }"}"#;
    let mut stream = tokio::net::TcpStream::connect(app.address).await.expect("connect");
    let head = format!(
        "POST /graphql HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\ncontent-length: {}\r\nexpect: 100-continue\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    // "100 Continue" arrives only once the handler reads the body: from here on the request is in flight.
    let mut interim = Vec::new();
    while !interim.ends_with(b"\r\n\r\n") {
        interim.push(stream.read_u8().await.expect("interim response"));
    }
    assert!(String::from_utf8_lossy(&interim).starts_with("HTTP/1.1 100"));
    let address = app.address;
    app.trigger_shutdown();
    stream.write_all(body.as_bytes()).await.expect("body");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#""__typename":"Query""#), "{answer}");
    app.wait_stopped().await.expect("clean exit");
    assert!(
        tokio::net::TcpStream::connect(address).await.is_err(),
        "no longer accepting"
    );
}

#[tokio::test]
async fn a_request_whose_body_never_arrives_gets_a_translated_408() {
    let app = TestApp::spawn_with(|settings| settings.request_timeout = std::time::Duration::from_secs(1)).await;
    let mut stream = tokio::net::TcpStream::connect(app.address).await.expect("connect");
    // A head that promises a body, then nothing: the server waits for the body until the request timeout.
    let head = "POST /graphql HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\naccept-language: fr\r\ncontent-length: 64\r\nconnection: close\r\n\r\n{";
    stream.write_all(head.as_bytes()).await.expect("head");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("answer");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let body: serde_json::Value =
        serde_json::from_str(answer.split("\r\n\r\n").nth(1).expect("a body")).expect("a JSON body");
    assert_eq!(error_code(&body), "BAD_REQUEST");
    assert_eq!(body["errors"][0]["extensions"]["messageId"], "error-body-timeout");
    assert!(answer.to_ascii_lowercase().contains("content-language: fr"), "{answer}");
    app.assert_still_serving().await;
}

#[tokio::test]
async fn an_internal_error_is_masked_and_carries_the_request_id() {
    let app = TestApp::spawn().await;
    let session = app.register("ada@example.com").await;
    // Break the database behind the server's back: the next refresh-token query fails in SQL.
    let db = sea_orm::Database::connect(&app.database_url).await.expect("connect");
    sea_orm::ConnectionTrait::execute_unprepared(&db, "DROP TABLE refresh_tokens")
        .await
        .expect("drop");
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .header("x-request-id", "trace-me-1")
        .json(&json!({ "query": "mutation($t: String!) { logout(refreshToken: $t) }", "variables": { "t": session["refreshToken"] } }))
        .send()
        .await
        .expect("sent");
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(error_code(&body), "INTERNAL_SERVER_ERROR");
    assert_eq!(body["errors"][0]["extensions"]["requestId"], "trace-me-1");
    let text = body.to_string().to_lowercase();
    for leak in ["refresh_tokens", "sql", "no such table", "relation", "src/"] {
        assert!(!text.contains(leak), "{leak} leaked: {body}");
    }
    app.assert_still_serving().await;
}

#[tokio::test]
async fn the_migrate_commands_apply_report_and_revert() {
    let dir = tempfile::tempdir().expect("dir");
    let database_url = format!("sqlite://{}", dir.path().join("migrate.db").display());
    let run = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_alx-backend"))
            .args(args)
            .env("DATABASE_URL", &database_url)
            .current_dir(dir.path())
            .output()
            .expect("runs");
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
    };
    run(&["migrate", "up"]);
    let status = run(&["migrate", "status"]);
    assert!(
        status.contains("create_users") && status.contains("Applied"),
        "{status}"
    );
    run(&["migrate", "down"]);
    let status = run(&["migrate", "status"]);
    assert!(status.contains("Pending"), "{status}");
    run(&["migrate", "fresh"]);
    let status = run(&["migrate", "status"]);
    assert!(!status.contains("Pending"), "{status}");
}

#[tokio::test]
async fn an_invalid_setting_stops_start_up_with_one_line_naming_it() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_alx-backend"))
        .arg("serve")
        .env("ALX_LISTEN", "not-an-address")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("ALX_LISTEN"), "{stderr}");
}

#[tokio::test]
async fn a_request_past_its_deadline_gets_a_translated_json_408() {
    let app = TestApp::spawn_with(|settings| {
        settings.request_timeout = std::time::Duration::from_millis(500);
        settings.dataloader_delay = std::time::Duration::from_secs(60);
        settings.execution_timeout = std::time::Duration::from_secs(60);
    })
    .await;
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .header("accept-language", "fr")
        .json(&json!({ "query": "{ node(id: \"VXNlcjox\") { id } }" }))
        .send()
        .await
        .expect("request");
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST", "{body:#}");
    assert_eq!(body["errors"][0]["extensions"]["messageId"], "error-request-timeout");
    assert_eq!(
        body["errors"][0]["message"],
        "La requête a pris trop de temps et a été interrompue."
    );
}

#[tokio::test]
async fn a_websocket_upgrade_that_cannot_be_made_is_a_json_error() {
    let app = TestApp::spawn().await;
    let upgrade = |protocol: Option<&'static str>| {
        let mut request = app
            .client
            .get(app.url("/graphql"))
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
        if let Some(protocol) = protocol {
            request = request.header("sec-websocket-protocol", protocol);
        }
        request.send()
    };
    let (status, body) = read(upgrade(None).await.expect("request")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["errors"][0]["extensions"]["messageId"], "error-websocket-protocol",
        "{body:#}"
    );
    let (status, body) = read(upgrade(Some("chat")).await.expect("request")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST", "{body:#}");
    app.assert_still_serving().await;
}
