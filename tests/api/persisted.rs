//! Persisted documents: Apollo's automatic persisted queries over POST and GET, GraphQL-over-HTTP's `documentId`,
//! the store shared by instances through the database, and the trusted-documents mode.

use std::num::NonZeroUsize;

use alx_backend::{
    app::App,
    cache::{Capacity, Policy},
    schema::{
        cache_stats::CacheName,
        persisted::{DocumentHash, Store},
    },
};
use futures_util::{SinkExt, StreamExt};
use reqwest::{StatusCode, header::HeaderMap};
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Value, json};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async, tungstenite::Message};

use crate::helpers::{TestApp, assert_no_errors, error_code, fresh_database, names_csv, read, test_settings};

const LOCALES: &str = "query Locales { locales { code } }";

fn hash_of(query: &str) -> String {
    DocumentHash::of(query).to_string()
}

fn apq(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

fn message_id(body: &Value) -> &str {
    body["errors"][0]["extensions"]["messageId"]
        .as_str()
        .unwrap_or_else(|| panic!("no message id in {body:#}"))
}

/// POSTs `body` as JSON, asking for `application/graphql-response+json`; returns the headers too.
async fn post(app: &TestApp, body: Value) -> (StatusCode, HeaderMap, Value) {
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .header("accept", "application/graphql-response+json")
        .json(&body)
        .send()
        .await
        .expect("request sent");
    let headers = response.headers().clone();
    let (status, body) = read(response).await;
    (status, headers, body)
}

async fn get(app: &TestApp, parameters: &[(&str, String)]) -> (StatusCode, Value) {
    let response = app
        .client
        .get(app.url("/graphql"))
        .header("accept", "application/graphql-response+json")
        .query(parameters)
        .send()
        .await
        .expect("request sent");
    read(response).await
}

/// A hash-only request, as Apollo Client sends it first.
async fn by_hash(app: &TestApp, query: &str) -> (StatusCode, HeaderMap, Value) {
    post(app, json!({ "extensions": apq(&hash_of(query)) })).await
}

fn assert_not_found(status: StatusCode, body: &Value) {
    assert_eq!(status, StatusCode::OK, "{body:#}");
    assert_eq!(error_code(body), "PERSISTED_QUERY_NOT_FOUND");
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound");
}

fn assert_bad_request(status: StatusCode, body: &Value, message: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body:#}");
    assert_eq!(error_code(body), "BAD_REQUEST");
    assert_eq!(message_id(body), message);
    assert!(body.get("data").is_none(), "{body:#}");
}

#[tokio::test]
async fn an_unknown_hash_is_not_found_then_registered_with_its_query_then_served_by_hash() {
    let app = TestApp::spawn().await;
    let (status, headers, body) = by_hash(&app, LOCALES).await;
    assert_not_found(status, &body);
    assert_eq!(headers["cache-control"], "private, no-cache, must-revalidate");

    let (status, _, body) = post(&app, json!({ "query": LOCALES, "extensions": apq(&hash_of(LOCALES)) })).await;
    assert_eq!(status, StatusCode::OK);
    assert_no_errors(&body);
    let registered = body["data"].clone();

    let (status, headers, body) = by_hash(&app, LOCALES).await;
    assert_eq!(status, StatusCode::OK);
    assert_no_errors(&body);
    assert_eq!(body["data"], registered);
    assert_ne!(headers["cache-control"], "private, no-cache, must-revalidate");
}

#[tokio::test]
async fn the_not_found_message_is_the_protocol_token_in_every_locale() {
    let app = TestApp::spawn().await;
    for locale in ["fr", "es"] {
        let response = app
            .client
            .post(app.url(&format!("/graphql?locale={locale}")))
            .header("content-type", "application/json")
            .json(&json!({ "extensions": apq(&hash_of("{ __typename }")) }))
            .send()
            .await
            .expect("request sent");
        assert_eq!(response.headers()["content-language"], locale);
        let (status, body) = read(response).await;
        assert_not_found(status, &body);
    }
}

#[tokio::test]
async fn a_hash_only_get_runs_a_registered_query_with_its_variables() {
    let app = TestApp::spawn().await;
    let query = "query Welcome($locale: String) { welcome(locale: $locale) { locale } }";
    let hash = hash_of(query);
    let extensions = apq(&hash).to_string();
    let (status, body) = get(&app, &[("extensions", extensions.clone())]).await;
    assert_not_found(status, &body);

    let (status, body) = get(
        &app,
        &[("query", query.to_string()), ("extensions", extensions.clone())],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body:#}");
    assert_no_errors(&body);

    let (status, body) = get(
        &app,
        &[
            ("extensions", extensions),
            ("operationName", "Welcome".into()),
            ("variables", json!({ "locale": "fr" }).to_string()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body:#}");
    assert_no_errors(&body);
    assert_eq!(body["data"]["welcome"]["locale"], "fr");
}

#[tokio::test]
async fn a_mutation_is_never_registered_or_run_over_get() {
    let app = TestApp::spawn().await;
    let mutation = "mutation { logout(refreshToken: \"x\") }";
    let extensions = apq(&hash_of(mutation)).to_string();
    let (status, body) = get(&app, &[("query", mutation.into()), ("extensions", extensions.clone())]).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body:#}");
    let (status, _, body) = by_hash(&app, mutation).await;
    assert_not_found(status, &body);

    // Registered over POST, it still does not run over GET by its hash.
    let (status, _, body) = post(
        &app,
        json!({ "query": mutation, "extensions": apq(&hash_of(mutation)) }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body:#}");
    let (status, _, body) = by_hash(&app, mutation).await;
    assert_eq!(status, StatusCode::OK, "registered: {body:#}");
    let (status, body) = get(&app, &[("extensions", extensions)]).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body:#}");
}

#[tokio::test]
async fn a_query_that_does_not_match_its_hash_is_refused_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let other = "{ __typename }";
    let (status, _, body) = post(&app, json!({ "query": LOCALES, "extensions": apq(&hash_of(other)) })).await;
    assert_bad_request(status, &body, "error-persisted-query-mismatch");
    for query in [LOCALES, other] {
        let (status, _, body) = by_hash(&app, query).await;
        assert_not_found(status, &body);
    }
}

#[tokio::test]
async fn a_persisted_query_version_other_than_1_is_refused() {
    let app = TestApp::spawn().await;
    let hash = hash_of(LOCALES);
    for persisted in [
        json!({ "version": 2, "sha256Hash": hash }),
        json!({ "version": "1", "sha256Hash": hash }),
        json!({ "sha256Hash": hash }),
        json!(hash),
    ] {
        let (status, _, body) = post(
            &app,
            json!({ "query": LOCALES, "extensions": { "persistedQuery": persisted } }),
        )
        .await;
        assert_bad_request(status, &body, "error-persisted-query-version");
    }
}

#[tokio::test]
async fn a_malformed_hash_is_refused_however_it_is_malformed() {
    let app = TestApp::spawn().await;
    let hash = hash_of(LOCALES);
    for malformed in [
        json!(&hash[..63]),
        json!(hash.replace(|c: char| c.is_ascii_digit(), "z")),
        json!("é".repeat(32)),
        json!("f".repeat(500_000)),
        json!(42),
        Value::Null,
    ] {
        let (status, _, body) = post(
            &app,
            json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": malformed } } }),
        )
        .await;
        assert_bad_request(status, &body, "error-persisted-query-hash");
    }
    app.assert_still_serving().await;
}

#[tokio::test]
async fn a_document_that_fails_validation_or_parsing_is_not_stored() {
    let app = TestApp::spawn().await;
    for (query, code) in [
        ("{ noSuchField }", "GRAPHQL_VALIDATION_FAILED"),
        ("query ($n: Int!) { locales { code } }", "GRAPHQL_VALIDATION_FAILED"),
        ("{ locales { code }", "GRAPHQL_PARSE_FAILED"),
    ] {
        let (_, _, body) = post(&app, json!({ "query": query, "extensions": apq(&hash_of(query)) })).await;
        assert_eq!(error_code(&body), code, "{query}: {body:#}");
        let (status, _, body) = by_hash(&app, query).await;
        assert_not_found(status, &body);
    }
}

#[tokio::test]
async fn a_query_registered_on_one_instance_is_found_on_another() {
    let first = TestApp::spawn().await;
    let second = TestApp::spawn_sharing(&first, |_| {}).await;
    let (status, _, body) = by_hash(&second, LOCALES).await;
    assert_not_found(status, &body);
    let (_, _, body) = post(
        &first,
        json!({ "query": LOCALES, "extensions": apq(&hash_of(LOCALES)) }),
    )
    .await;
    assert_no_errors(&body);
    let (status, _, body) = by_hash(&second, LOCALES).await;
    assert_eq!(status, StatusCode::OK);
    assert_no_errors(&body);
    assert!(
        body["data"]["locales"]
            .as_array()
            .is_some_and(|locales| !locales.is_empty())
    );
}

#[tokio::test]
async fn a_document_id_names_a_registered_document_over_post_and_get() {
    let app = TestApp::spawn().await;
    let document_id = format!("sha256:{}", hash_of(LOCALES));
    let (status, _, body) = post(&app, json!({ "documentId": document_id })).await;
    assert_not_found(status, &body);
    post(&app, json!({ "query": LOCALES, "extensions": apq(&hash_of(LOCALES)) })).await;
    for id in [document_id.clone(), hash_of(LOCALES)] {
        let (status, _, body) = post(&app, json!({ "documentId": id })).await;
        assert_eq!(status, StatusCode::OK, "{body:#}");
        assert_no_errors(&body);
    }
    let (status, body) = get(&app, &[("documentId", document_id.clone())]).await;
    assert_eq!(status, StatusCode::OK, "{body:#}");
    assert_no_errors(&body);

    let (status, _, body) = post(&app, json!({ "documentId": document_id, "query": LOCALES })).await;
    assert_bad_request(status, &body, "error-document-id-with-query");
    let (status, _, body) = post(&app, json!({ "documentId": format!("md5:{}", hash_of(LOCALES)) })).await;
    assert_bad_request(status, &body, "error-document-id-invalid");
}

#[tokio::test]
async fn the_store_keeps_only_its_newest_registrations() {
    let app = TestApp::spawn().await;
    let db = Database::connect(&app.database_url).await.expect("connect");
    let capacity = Capacity::Entries(NonZeroUsize::new(16).expect("non-zero"));
    let store = Store::new(db.clone(), Policy::Lru, capacity, 3);
    let queries: Vec<String> = (0..5).map(|index| format!("{{ a{index}: __typename }}")).collect();
    for query in &queries {
        store.register(DocumentHash::of(query), query).await;
    }
    let rows = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM persisted_queries",
        ))
        .await
        .expect("count")
        .expect("a row");
    assert_eq!(rows.try_get::<i64>("", "n").expect("a count"), 3);
    // A store with an empty cache reads the table alone.
    let reader = Store::new(db, Policy::Lru, capacity, 3);
    for (index, query) in queries.iter().enumerate() {
        let found = reader.find(DocumentHash::of(query)).await.expect("lookup");
        assert_eq!(found.is_some(), index >= 2, "{query}");
    }
}

/// An app in trusted-documents mode with `documents` as a flat manifest.
async fn trusted_app(documents: &[&str], introspection: bool) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("manifest.json");
    let manifest: serde_json::Map<String, Value> = documents
        .iter()
        .map(|document| (hash_of(document), json!(document)))
        .collect();
    std::fs::write(&path, Value::Object(manifest).to_string()).expect("manifest written");
    TestApp::spawn_with(|settings| {
        settings.trusted_documents = Some(path);
        settings.introspection = introspection;
    })
    .await
}

fn assert_not_in_list(status: StatusCode, body: &Value, message: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body:#}");
    assert_eq!(error_code(body), "PERSISTED_QUERY_NOT_IN_LIST");
    assert_eq!(message_id(body), message);
}

#[tokio::test]
async fn trusted_mode_runs_listed_documents_by_document_id_hash_or_text() {
    let app = trusted_app(&[LOCALES], false).await;
    let hash = hash_of(LOCALES);
    for body in [
        json!({ "documentId": format!("sha256:{hash}") }),
        json!({ "documentId": hash }),
        json!({ "extensions": apq(&hash) }),
        json!({ "query": LOCALES, "extensions": apq(&hash) }),
        json!({ "query": LOCALES }),
    ] {
        let (status, _, answer) = post(&app, body.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body}: {answer:#}");
        assert_no_errors(&answer);
        assert!(answer["data"]["locales"].is_array());
    }
    let (status, body) = get(&app, &[("documentId", format!("sha256:{hash}"))]).await;
    assert_eq!(status, StatusCode::OK, "{body:#}");
    assert_no_errors(&body);
}

#[tokio::test]
async fn trusted_mode_refuses_unlisted_documents_and_apq_registration() {
    let app = trusted_app(&[LOCALES], false).await;
    let unlisted = "{ locales { code name } }";
    let (status, _, body) = post(&app, json!({ "query": unlisted })).await;
    assert_not_in_list(status, &body, "error-document-not-trusted");
    let (status, _, body) = post(
        &app,
        json!({ "query": unlisted, "extensions": apq(&hash_of(unlisted)) }),
    )
    .await;
    assert_not_in_list(status, &body, "error-document-not-trusted");
    let (status, _, body) = by_hash(&app, unlisted).await;
    assert_not_in_list(status, &body, "error-document-id-not-listed");
    let (status, _, body) = post(&app, json!({ "documentId": format!("sha256:{}", hash_of(unlisted)) })).await;
    assert_not_in_list(status, &body, "error-document-id-not-listed");
    // A listed hash does not lend itself to another text.
    let (status, _, body) = post(&app, json!({ "query": unlisted, "extensions": apq(&hash_of(LOCALES)) })).await;
    assert_bad_request(status, &body, "error-persisted-query-mismatch");
    let (status, _, body) = post(&app, json!({ "query": "{ __typename }" })).await;
    assert_not_in_list(status, &body, "error-document-not-trusted");
}

#[tokio::test]
async fn trusted_mode_leaves_introspection_to_its_own_setting() {
    let introspection = "{ __schema { queryType { name } } }";
    let open = trusted_app(&[LOCALES], true).await;
    for query in [introspection, "{ __typename }"] {
        let (status, _, body) = post(&open, json!({ "query": query })).await;
        assert_eq!(status, StatusCode::OK, "{query}: {body:#}");
        assert_no_errors(&body);
    }
    let (status, _, body) = post(&open, json!({ "query": "{ __typename locales { code } }" })).await;
    assert_not_in_list(status, &body, "error-document-not-trusted");

    let closed = trusted_app(&[LOCALES], false).await;
    let (_, _, body) = post(&closed, json!({ "query": introspection })).await;
    assert_eq!(message_id(&body), "error-introspection-disabled", "{body:#}");
}

#[tokio::test]
async fn a_bad_manifest_stops_start_up_naming_the_setting() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mismatched = dir.path().join("mismatched.json");
    std::fs::write(&mismatched, json!({ "0".repeat(64): LOCALES }).to_string()).expect("written");
    let not_json = dir.path().join("not-json.json");
    std::fs::write(&not_json, "operations:").expect("written");
    for path in [mismatched, not_json, dir.path().join("missing.json")] {
        let mut settings = test_settings(&dir, fresh_database(&dir).await);
        settings.trusted_documents = Some(path.clone());
        let Err(error) = App::build(&settings).await else {
            panic!("{} was accepted", path.display());
        };
        let line = format!("{error:#}");
        assert!(line.starts_with("invalid setting ALX_TRUSTED_DOCUMENTS: "), "{line}");
        assert!(line.contains(&path.display().to_string()), "{line}");
        assert!(!line.contains('\n'), "{line}");
    }
}

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// A `graphql-transport-ws` connection, past `connection_ack`.
async fn open_socket(app: &TestApp) -> Socket {
    let (mut socket, _) = connect_async(app.websocket_request(Some("graphql-transport-ws")))
        .await
        .expect("connected");
    send(&mut socket, json!({ "type": "connection_init" })).await;
    assert_eq!(next_message(&mut socket).await["type"], "connection_ack");
    socket
}

async fn send(socket: &mut Socket, message: Value) {
    socket.send(Message::text(message.to_string())).await.expect("sent");
}

/// The next protocol message, skipping pings.
async fn next_message(socket: &mut Socket) -> Value {
    loop {
        if let Message::Text(text) = socket.next().await.expect("open").expect("a frame") {
            return serde_json::from_str(&text).expect("JSON");
        }
    }
}

/// The first `next` or `error` message of operation `id`.
async fn answer_to(socket: &mut Socket, id: &str) -> Value {
    loop {
        let message = next_message(socket).await;
        if message["id"] == id && (message["type"] == "next" || message["type"] == "error") {
            return message;
        }
    }
}

#[tokio::test]
async fn a_hash_only_request_over_the_websocket_is_answered_too() {
    let app = TestApp::spawn().await;
    post(&app, json!({ "query": LOCALES, "extensions": apq(&hash_of(LOCALES)) })).await;
    let mut socket = open_socket(&app).await;
    let payload = json!({ "extensions": apq(&hash_of(LOCALES)) });
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": payload }),
    )
    .await;
    let answer = answer_to(&mut socket, "1").await;
    assert_eq!(answer["type"], "next", "{answer:#}");
    assert_no_errors(&answer["payload"]);
    assert!(answer["payload"]["data"]["locales"].is_array());
}

#[tokio::test]
async fn a_subscription_sent_with_its_hash_is_registered_once_it_answers() {
    let app = TestApp::spawn().await;
    let subscription = "subscription Follow($id: ID!) { jobUpdated(id: $id) { state } }";
    let mut socket = open_socket(&app).await;
    let mut payload = json!({
        "query": subscription,
        "extensions": apq(&hash_of(subscription)),
        "variables": { "id": "not-a-job" },
    });
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": payload }),
    )
    .await;
    let registering = answer_to(&mut socket, "1").await;
    payload.as_object_mut().expect("an object").remove("query");
    send(
        &mut socket,
        json!({ "id": "2", "type": "subscribe", "payload": payload }),
    )
    .await;
    let by_hash = answer_to(&mut socket, "2").await;
    assert_eq!(
        registering["type"], "next",
        "validated, then refused by the field: {registering:#}"
    );
    assert_eq!(by_hash["type"], "next", "{by_hash:#}");
    assert_eq!(by_hash["payload"], registering["payload"]);
}

const CACHE_STATS: &str = "query Stats($name: CacheName) { cacheStats(name: $name) { name policy capacity size hits misses evictions hitRatio } }";

async fn cache_stats(app: &TestApp, token: &str, name: &str) -> Value {
    let (_, body) = app.gql_as(Some(token), CACHE_STATS, json!({ "name": name })).await;
    assert_no_errors(&body);
    body["data"]["cacheStats"].clone()
}

#[tokio::test]
async fn cache_stats_are_for_admins_only() {
    let app = TestApp::spawn().await;
    let query = "{ cacheStats { name } }";
    let (_, body) = app.gql(query, json!({})).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
    let user = app.register("user@example.com").await["accessToken"]
        .as_str()
        .expect("a token")
        .to_string();
    let (_, body) = app.gql_as(Some(&user), query, json!({})).await;
    assert_eq!(error_code(&body), "FORBIDDEN");
    let (_, body) = app.gql_as(Some(&app.admin_token().await), query, json!({})).await;
    assert_no_errors(&body);
    assert_eq!(body["data"]["cacheStats"]["name"], "RESPONSES", "the default");
}

#[tokio::test]
async fn cache_stats_report_the_configured_policy_and_capacities() {
    let app = TestApp::spawn_with(|settings| {
        settings.cache_policy = Policy::Lfu;
        settings.document_cache_capacity = "64MiB".parse().expect("a capacity");
        settings.name_count_cache_capacity = "256KiB".parse().expect("a capacity");
    })
    .await;
    let admin = app.admin_token().await;
    let responses = cache_stats(&app, &admin, "RESPONSES").await;
    assert_eq!(responses["policy"], "LFU");
    assert_eq!(responses["capacity"], "64MiB", "the default, in bytes");
    assert_eq!(responses["size"], 0, "cacheStats itself is never cached");
    let documents = cache_stats(&app, &admin, "DOCUMENTS").await;
    assert_eq!(documents["policy"], "LFU");
    assert_eq!(documents["capacity"], "64MiB");
    assert_eq!(
        cache_stats(&app, &admin, "PERSISTED_QUERIES").await["capacity"],
        "10000 entries"
    );
    let known_requests = cache_stats(&app, &admin, "KNOWN_REQUESTS").await;
    assert_eq!(
        (&known_requests["policy"], &known_requests["capacity"]),
        (&json!("LFU"), &json!("8MiB"))
    );
    let name_counts = cache_stats(&app, &admin, "NAME_COUNTS").await;
    assert_eq!(
        (&name_counts["policy"], &name_counts["capacity"]),
        (&json!("LFU"), &json!("256KiB"))
    );
}

#[tokio::test]
async fn a_request_sent_again_byte_for_byte_moves_the_known_requests_counters() {
    let app = TestApp::spawn().await;
    // Logging in is an anonymous request too, looked up (and missed) by its bytes; an admin's are not.
    let admin = app.admin_token().await;
    let before = cache_stats(&app, &admin, "KNOWN_REQUESTS").await;
    // Anonymous and cacheable: the first is answered the whole way and remembered, the next two by their bytes.
    for _ in 0..3 {
        let (status, headers, _) = post(&app, json!({ "query": LOCALES })).await;
        assert_eq!(status, StatusCode::OK);
        assert!(headers.contains_key("x-cache"));
    }
    let after = cache_stats(&app, &admin, "KNOWN_REQUESTS").await;
    let moved = |counter: &str| after[counter].as_i64().expect("a count") - before[counter].as_i64().expect("a count");
    assert_eq!(
        (moved("size"), moved("hits"), moved("misses")),
        (1, 2, 1),
        "{before} then {after}"
    );
}

#[tokio::test]
async fn pages_of_one_filter_share_a_count_in_the_name_counts_cache() {
    let app = TestApp::spawn().await;
    app.import_names(&names_csv(40), false).await;
    let admin = app.admin_token().await;
    let page = "query Page($page: Int!) { babyNamesPage(page: $page, pageSize: 5, filter: { gender: FEMALE }) { totalPages } }";
    for number in 1..=3 {
        let (_, body) = app.gql(page, json!({ "page": number })).await;
        assert_no_errors(&body);
    }
    let stats = cache_stats(&app, &admin, "NAME_COUNTS").await;
    assert_eq!(
        (&stats["size"], &stats["hits"], &stats["misses"]),
        (&json!(1), &json!(2), &json!(1)),
        "three pages, one count: {stats}"
    );
}

#[tokio::test]
async fn counts_of_an_older_dataset_are_dropped_when_it_changes_even_under_lfu() {
    let app = TestApp::spawn_with(|settings| settings.cache_policy = Policy::Lfu).await;
    app.import_names(&names_csv(40), false).await;
    let page = "query Page($page: Int!, $gender: Gender) { babyNamesPage(page: $page, pageSize: 5, filter: { gender: $gender }) { totalCount } }";
    let total = |gender: &'static str, number: i32| {
        let app = &app;
        async move {
            let (_, body) = app.gql(page, json!({ "page": number, "gender": gender })).await;
            assert_no_errors(&body);
            body["data"]["babyNamesPage"]["totalCount"].as_i64().expect("a count")
        }
    };
    // Both counts used often (new pages each time, so that the response cache does not answer instead).
    for number in 1..=4 {
        total("FEMALE", number).await;
        total("MALE", number).await;
    }
    assert_eq!(app.app_services.names.cached_counts(), 2);
    let before = total("FEMALE", 1).await;
    app.import_names(&names_csv(60), false).await;
    let after = total("FEMALE", 5).await;
    assert!(after > before, "{before} then {after}");
    assert_eq!(
        app.app_services.names.cached_counts(),
        1,
        "the older version's counts are gone, however often they were used"
    );
}

#[tokio::test]
async fn a_document_cache_hit_moves_its_counters() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    // Reading the counters is an operation too: the first read is a miss, every later one a hit.
    let before = cache_stats(&app, &admin, "DOCUMENTS").await;
    // Not cacheable as a response, so both requests reach the document cache.
    let uncached = "query Welcome { welcome { title } }";
    app.gql(uncached, json!({})).await;
    app.gql(uncached, json!({})).await;
    let after = cache_stats(&app, &admin, "DOCUMENTS").await;
    let moved = |counter: &str| after[counter].as_i64().expect("a count") - before[counter].as_i64().expect("a count");
    assert_eq!(moved("hits"), 2, "{before} then {after}");
    assert_eq!(moved("misses"), 1, "{before} then {after}");
    // The second query, and the first read of the counters (kept once it had run).
    assert_eq!(moved("size"), 2, "{before} then {after}");
}

#[tokio::test]
async fn persisted_query_lookups_move_their_counters() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    by_hash(&app, LOCALES).await;
    post(&app, json!({ "query": LOCALES, "extensions": apq(&hash_of(LOCALES)) })).await;
    by_hash(&app, LOCALES).await;
    let stats = cache_stats(&app, &admin, "PERSISTED_QUERIES").await;
    // Two misses: the hash alone, then the request that registers it (it looks the hash up first).
    assert_eq!(
        (&stats["size"], &stats["hits"], &stats["misses"]),
        (&json!(1), &json!(1), &json!(2)),
        "{stats}"
    );

    // In trusted mode the manifest is the store (read from the engine: logging in is not a listed document).
    let trusted = trusted_app(&[LOCALES, "{ __typename }"], false).await;
    by_hash(&trusted, LOCALES).await;
    by_hash(&trusted, "{ locales { name } }").await;
    let stats = trusted.engine.cache_stats(CacheName::PersistedQueries);
    assert_eq!(
        (stats.size, stats.hits, stats.misses, stats.evictions),
        (2, 1, 1, 0),
        "{stats:?}"
    );
}

#[tokio::test]
async fn metrics_export_every_caches_counters() {
    let app = TestApp::spawn().await;
    app.gql(LOCALES, json!({})).await;
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("request sent")
        .text()
        .await
        .expect("a body");
    for cache in [
        "responses",
        "persisted_queries",
        "documents",
        "known_requests",
        "name_counts",
    ] {
        for metric in [
            "cache_entries",
            "cache_hits_total",
            "cache_misses_total",
            "cache_evictions_total",
        ] {
            let series = format!("{metric}{{cache=\"{cache}\"}}");
            assert!(metrics.contains(&series), "no {series} in {metrics}");
        }
    }
}
