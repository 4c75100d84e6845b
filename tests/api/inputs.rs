//! Hostile inputs at the edges of the domains: over-long filters, control characters in text, forged cursors,
//! unsupported methods, a public `/metrics`, `seed` in production and environment values that look like numbers.

use std::time::{Duration, Instant};

use alx_backend::config::Environment;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{JWT_SECRET, PASSWORD, TestApp, assert_no_errors, error_code, error_field, names_csv, read};

/// A refusal is answered in milliseconds; the margin is for a loaded machine running a debug build.
const FAST: Duration = Duration::from_secs(1);

const PAGE: &str = "query($filter: BabyNameFilter) { babyNamesPage(filter: $filter) { totalCount prevPage } }";

/// `gql`, timed.
async fn timed_gql(app: &TestApp, token: Option<&str>, query: &str, variables: Value) -> (Duration, Value) {
    let started = Instant::now();
    let (_, body) = app.gql_as(token, query, variables).await;
    (started.elapsed(), body)
}

fn assert_refused(elapsed: Duration, body: &Value, code: &str, field: &str) {
    assert_eq!(error_code(body), code, "{body}");
    assert_eq!(error_field(body), field, "{body}");
    assert!(elapsed < FAST, "answered in {elapsed:?}");
    assert!(body.to_string().len() < 1024, "a small answer: {body}");
}

#[tokio::test]
async fn a_101_character_name_prefix_is_refused_and_the_count_cache_does_not_grow() {
    let app = TestApp::spawn().await;
    app.import_names(&names_csv(30), false).await;
    let (_, body) = app.gql(PAGE, json!({ "filter": { "firstNamePrefix": "oli" } })).await;
    assert_no_errors(&body);
    let cached = app.app_services.names.cached_counts();
    assert_eq!(cached, 1, "the honest filter's count is remembered");

    let hostile = format!(
        "{{ babyNamesPage(filter: {{ firstNamePrefix: \"{}\" }}) {{ totalCount }} }}",
        "a".repeat(101)
    );
    let (elapsed, body) = timed_gql(&app, None, &hostile, json!({})).await;
    assert_refused(elapsed, &body, "BAD_USER_INPUT", "filter.firstNamePrefix");
    let (elapsed, body) = timed_gql(&app, None, PAGE, json!({ "filter": { "firstName": "a".repeat(65) } })).await;
    assert_refused(elapsed, &body, "BAD_USER_INPUT", "filter.firstName");
    assert_eq!(
        app.app_services.names.cached_counts(),
        cached,
        "no refused filter was counted"
    );

    let (_, body) = app
        .gql(PAGE, json!({ "filter": { "firstName": "a".repeat(64) } }))
        .await;
    assert_no_errors(&body);
    assert_eq!(
        body["data"]["babyNamesPage"]["totalCount"], 0,
        "64 characters is still a name"
    );
    app.assert_still_serving().await;
}

#[tokio::test]
async fn a_nul_in_a_name_filter_is_bad_user_input_on_every_paging_style() {
    let app = TestApp::spawn().await;
    app.import_names(&names_csv(30), false).await;
    let (elapsed, body) = timed_gql(&app, None, PAGE, json!({ "filter": { "firstName": "a\u{0}" } })).await;
    assert_refused(elapsed, &body, "BAD_USER_INPUT", "filter.firstName");
    let (elapsed, body) = timed_gql(
        &app,
        None,
        "query($filter: BabyNameFilter) { babyNamesFromIndex(filter: $filter) { pageSize } }",
        json!({ "filter": { "firstNamePrefix": "ol\u{1b}[2J" } }),
    )
    .await;
    assert_refused(elapsed, &body, "BAD_USER_INPUT", "filter.firstNamePrefix");
    let (elapsed, body) = timed_gql(
        &app,
        None,
        "query($filter: BabyNameFilter) { babyNames(filter: $filter) { totalCount } }",
        json!({ "filter": { "firstName": "\u{0}" } }),
    )
    .await;
    assert_refused(elapsed, &body, "BAD_USER_INPUT", "filter.firstName");
    app.assert_still_serving().await;
}

#[tokio::test]
async fn a_forged_cursor_with_a_nul_in_its_text_is_refused_like_any_malformed_cursor() {
    let app = TestApp::spawn().await;
    app.import_names(&names_csv(30), false).await;
    let query = "query($after: String) { babyNames(first: 2, after: $after, orderBy: { field: FIRST_NAME }) { edges { cursor } } }";
    let (_, honest) = app.gql(query, json!({})).await;
    assert_no_errors(&honest);
    let forged = URL_SAFE_NO_PAD.encode("babyNames.firstName.asc|3:so\u{0}livia");
    let (elapsed, body) = timed_gql(&app, None, query, json!({ "after": forged })).await;
    assert_refused(elapsed, &body, "BAD_USER_INPUT", "after");
    let (_, malformed) = app.gql(query, json!({ "after": "not-a-cursor" })).await;
    assert_eq!(
        body["errors"][0]["message"], malformed["errors"][0]["message"],
        "the same answer as a malformed cursor"
    );
    app.assert_still_serving().await;
}

#[tokio::test]
async fn control_characters_in_account_names_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let register = "mutation($input: RegisterInput!) { register(input: $input) { user { id } } }";
    let (elapsed, body) = timed_gql(
        &app,
        None,
        register,
        json!({ "input": { "email": "nul@example.com", "password": PASSWORD, "name": "Ada\u{0}" } }),
    )
    .await;
    assert_refused(elapsed, &body, "BAD_USER_INPUT", "input.name");
    let (_, body) = app.login("nul@example.com", PASSWORD).await;
    assert!(
        body["data"].is_null() || body["data"]["login"].is_null(),
        "no account: {body}"
    );

    let token = app.register("ada@example.com").await["accessToken"]
        .as_str()
        .expect("token")
        .to_string();
    let update = "mutation($input: UpdateMeInput!) { updateMe(input: $input) { name } }";
    for hostile in ["Ada\u{0}Lovelace", "Ada\u{7}", "Ada\u{85}Lovelace"] {
        let (elapsed, body) = timed_gql(&app, Some(&token), update, json!({ "input": { "name": hostile } })).await;
        assert_refused(elapsed, &body, "BAD_USER_INPUT", "input.name");
    }
    let (_, body) = app.gql_as(Some(&token), "{ me { name } }", json!({})).await;
    assert_eq!(body["data"]["me"]["name"], "Test User", "the name is unchanged");
}

#[tokio::test]
async fn a_nul_in_a_product_name_is_refused_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let create = "mutation($input: CreateProductInput!) { createProduct(input: $input) { id } }";
    let (elapsed, body) = timed_gql(
        &app,
        Some(&admin),
        create,
        json!({ "input": { "name": "Suitcase\u{0}", "priceCents": 100, "initialStock": 1 } }),
    )
    .await;
    assert_refused(elapsed, &body, "BAD_USER_INPUT", "input.name");
    let (_, body) = app.gql("{ products(first: 10) { totalCount } }", json!({})).await;
    assert_eq!(body["data"]["products"]["totalCount"], 0);
    app.assert_still_serving().await;
}

#[tokio::test]
async fn a_page_past_the_end_points_back_to_the_page_before_it() {
    let app = TestApp::spawn().await;
    app.import_names(&names_csv(25), false).await;
    let (_, body) = app
        .gql(
            "{ babyNamesPage(page: 3000, pageSize: 10) { page totalPages prevPage nextPage pageSize } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["babyNamesPage"],
        json!({ "page": 3000, "totalPages": 3, "prevPage": 2999, "nextPage": null, "pageSize": 0 })
    );
}

#[tokio::test]
async fn unsupported_methods_on_graphql_answer_a_json_error_with_allow() {
    let app = TestApp::spawn().await;
    for method in [reqwest::Method::PUT, reqwest::Method::DELETE, reqwest::Method::PATCH] {
        let started = Instant::now();
        let response = app
            .client
            .request(method.clone(), app.url("/graphql"))
            .header("accept-language", "fr")
            .header("content-type", "application/json")
            .body(r#"{"query":"{ __typename }"}"#)
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(response.headers()["allow"], "GET, POST");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .expect("ascii")
                .starts_with("application/json"),
            "{method}"
        );
        let (_, body) = read(response).await;
        assert!(started.elapsed() < FAST);
        assert_eq!(error_code(&body), "BAD_REQUEST", "{method}: {body}");
        let message = body["errors"][0]["message"].as_str().expect("message");
        assert!(
            message.contains("GET et POST") && message.contains(method.as_str()),
            "{message}"
        );
    }
    app.assert_still_serving().await;
}

#[tokio::test]
async fn metrics_move_to_their_own_listener_and_stop_with_the_app() {
    let mut app = TestApp::spawn_with(|settings| {
        settings.metrics_listen = Some("127.0.0.1:0".parse().expect("address"));
    })
    .await;
    app.assert_still_serving().await;
    let metrics_address = app.metrics_address.expect("a metrics listener");
    let metrics = app
        .client
        .get(format!("http://{metrics_address}/metrics"))
        .send()
        .await
        .expect("sent");
    assert_eq!(metrics.status(), StatusCode::OK);
    let text = metrics.text().await.expect("text");
    assert!(text.contains("graphql_operations_total"), "{text}");

    let on_api = app.client.get(app.url("/metrics")).send().await.expect("sent");
    assert_eq!(on_api.status(), StatusCode::NOT_FOUND, "not on the public listener");
    let graphql_there = app
        .client
        .get(format!("http://{metrics_address}/graphql?query=%7B__typename%7D"))
        .send()
        .await
        .expect("sent");
    assert_eq!(
        graphql_there.status(),
        StatusCode::NOT_FOUND,
        "only metrics on the metrics listener"
    );

    app.trigger_shutdown();
    app.wait_stopped().await.expect("stopped cleanly");
    assert!(
        tokio::net::TcpStream::connect(metrics_address).await.is_err(),
        "the metrics listener closed with the app"
    );
}

#[tokio::test]
async fn production_keeps_metrics_off_the_api_listener() {
    let app = TestApp::spawn_with(|settings| settings.env = Environment::Production).await;
    app.assert_still_serving().await;
    assert_eq!(app.metrics_address, None);
    let on_api = app.client.get(app.url("/metrics")).send().await.expect("sent");
    assert_eq!(on_api.status(), StatusCode::NOT_FOUND);
    let health = app.client.get(app.url("/healthz")).send().await.expect("sent");
    assert_eq!(health.status(), StatusCode::OK);
}

#[tokio::test]
async fn seed_refuses_to_run_in_production_and_touches_no_database() {
    let dir = tempfile::tempdir().expect("dir");
    let database = dir.path().join("seed.db");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_alx-backend"))
        .arg("seed")
        .env("ALX_ENV", "production")
        .env("ALX_JWT_SECRET", JWT_SECRET)
        .env("DATABASE_URL", format!("sqlite://{}", database.display()))
        .current_dir(dir.path())
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("ALX_ENV"), "{stderr}");
    assert!(!database.exists(), "no database was created");
    assert!(!String::from_utf8_lossy(&output.stdout).contains("admin@example.com"));
}

#[tokio::test]
async fn environment_values_that_look_like_numbers_start_the_binary_as_text() {
    let dir = tempfile::tempdir().expect("dir");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_alx-backend"))
        .args(["migrate", "status"])
        .env("ALX_BLOCKED_PHONE_NUMBERS", "4153518780")
        .env("ALX_JWT_SECRET", "1234567890".repeat(4))
        .env("ALX_MAX_DEPTH", "12")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("env.db").display()),
        )
        .current_dir(dir.path())
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}
