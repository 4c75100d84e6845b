//! The response cache through HTTP: hits without execution, headers, invalidation by writes (on one instance and
//! across two), private answers kept apart, single flight; and the server's caches under a flood of one-off keys.

use reqwest::{StatusCode, header};
use serde_json::{Value, json};

use alx_backend::{cache::Admission, freshness::FreshnessMode};

use crate::helpers::{TestApp, assert_no_errors, names_csv};

const PRODUCTS: &str = "{ products(first: 50) { nodes { name price currentStock } } }";

async fn post(app: &TestApp, token: Option<&str>, query: &str, variables: Value) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("sent")
}

fn x_cache(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get("x-cache")
        .and_then(|value| value.to_str().ok())
        .map(str::to_string)
}

fn cache_control(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(header::CACHE_CONTROL)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

async fn admin_creates_product(app: &TestApp, admin: &str, name: &str) -> String {
    let (_, body) = app
        .gql_as(
            Some(admin),
            "mutation($n: String!) { createProduct(input: { name: $n, priceCents: 1000, initialStock: 5 }) { id } }",
            json!({ "n": name }),
        )
        .await;
    assert_no_errors(&body);
    body["data"]["createProduct"]["id"].as_str().expect("id").to_string()
}

#[tokio::test]
async fn a_cacheable_query_misses_then_hits_with_etag_and_cache_control() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    admin_creates_product(&app, &admin, "Lamp").await;
    let first = post(&app, None, PRODUCTS, json!({})).await;
    assert_eq!(x_cache(&first).as_deref(), Some("MISS"));
    assert!(
        cache_control(&first).starts_with("public, max-age="),
        "{}",
        cache_control(&first)
    );
    let etag = first.headers()[header::ETAG].to_str().expect("etag").to_string();
    let first_body: Value = first.json().await.expect("json");
    let second = post(&app, None, PRODUCTS, json!({})).await;
    assert_eq!(x_cache(&second).as_deref(), Some("HIT"));
    assert_eq!(second.headers()[header::ETAG].to_str().expect("etag"), etag);
    assert_eq!(second.json::<Value>().await.expect("json"), first_body);
    let revalidated = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", PRODUCTS)])
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .expect("sent");
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(revalidated.headers()[header::ETAG].to_str().expect("etag"), etag);
    // RFC 9110's forms: a list, a weak tag (compared weakly), and `*`; a tag that differs is no match.
    for (if_none_match, status) in [
        (format!("\"other\", {etag}"), StatusCode::NOT_MODIFIED),
        (format!("W/{etag}"), StatusCode::NOT_MODIFIED),
        ("*".to_string(), StatusCode::NOT_MODIFIED),
        ("\"other\", W/\"another\"".to_string(), StatusCode::OK),
        ("W/*".to_string(), StatusCode::OK),
    ] {
        let answer = app
            .client
            .get(app.url("/graphql"))
            .query(&[("query", PRODUCTS)])
            .header(header::IF_NONE_MATCH, &if_none_match)
            .send()
            .await
            .expect("sent");
        assert_eq!(answer.status(), status, "If-None-Match: {if_none_match}");
    }
    let on_a_second_line = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", PRODUCTS)])
        .header(header::IF_NONE_MATCH, "\"other\"")
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .expect("sent");
    assert_eq!(
        on_a_second_line.status(),
        StatusCode::NOT_MODIFIED,
        "a field sent twice is one list"
    );
    let get = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", PRODUCTS)])
        .send()
        .await
        .expect("sent");
    assert_eq!(x_cache(&get).as_deref(), Some("HIT"), "GET and POST share an answer");
    assert!(cache_control(&get).starts_with("public, max-age="));
}

#[tokio::test]
async fn errors_mutations_and_uncacheable_answers_say_no_store() {
    let app = TestApp::spawn().await;
    for query in [
        "{ welcome { title } }",
        "{ __typename }",
        "{ products(first: -1) { nodes { name } } }",
    ] {
        let response = post(&app, None, query, json!({})).await;
        assert_eq!(cache_control(&response), "no-store", "{query}");
        assert!(response.headers().get(header::ETAG).is_none(), "{query}");
        let again = post(&app, None, query, json!({})).await;
        assert_ne!(x_cache(&again).as_deref(), Some("HIT"), "{query}");
    }
    let admin = app.admin_token().await;
    let response = post(
        &app,
        Some(&admin),
        "mutation { createProduct(input: { name: \"Desk\", priceCents: 100, initialStock: 1 }) { id } }",
        json!({}),
    )
    .await;
    assert_eq!(cache_control(&response), "no-store");
}

#[tokio::test]
async fn a_write_invalidates_the_entity_and_a_create_invalidates_the_lists() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let id = admin_creates_product(&app, &admin, "Chair").await;
    let one = "query($id: ID!) { product(id: $id) { name } }";
    assert_eq!(
        x_cache(&post(&app, None, one, json!({ "id": id })).await).as_deref(),
        Some("MISS")
    );
    assert_eq!(
        x_cache(&post(&app, None, PRODUCTS, json!({})).await).as_deref(),
        Some("MISS")
    );
    assert_eq!(
        x_cache(&post(&app, None, one, json!({ "id": id })).await).as_deref(),
        Some("HIT")
    );
    let (_, body) = app
        .gql_as(
            Some(&admin),
            "mutation($id: ID!) { updateProduct(id: $id, input: { name: \"Armchair\" }) { name } }",
            json!({ "id": id }),
        )
        .await;
    assert_no_errors(&body);
    let after: Value = post(&app, None, one, json!({ "id": id }))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(after["data"]["product"]["name"], "Armchair");
    admin_creates_product(&app, &admin, "Stool").await;
    let list: Value = post(&app, None, PRODUCTS, json!({})).await.json().await.expect("json");
    let names: Vec<&str> = list["data"]["products"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|node| node["name"].as_str())
        .collect();
    assert_eq!(names, vec!["Armchair", "Stool"]);
    let user = app.register("buyer@example.com").await["accessToken"]
        .as_str()
        .expect("token")
        .to_string();
    post(&app, None, PRODUCTS, json!({})).await;
    let (_, body) = app
        .gql_as(
            Some(&user),
            "mutation($id: ID!) { reserveProduct(productId: $id, quantity: 2) { quantity } }",
            json!({ "id": id }),
        )
        .await;
    assert_no_errors(&body);
    let list: Value = post(&app, None, PRODUCTS, json!({})).await.json().await.expect("json");
    assert_eq!(
        list["data"]["products"]["nodes"][0]["currentStock"], 3,
        "a reservation changes the stock shown"
    );
}

#[tokio::test]
async fn one_users_private_answer_is_never_served_to_another_user_or_to_anonymous_callers() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let id = admin_creates_product(&app, &admin, "Bed").await;
    let buyer = app.register("private@example.com").await["accessToken"]
        .as_str()
        .expect("token")
        .to_string();
    let (_, body) = app
        .gql_as(
            Some(&buyer),
            "mutation($id: ID!) { reserveProduct(productId: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert_no_errors(&body);
    let private = "query($id: ID!) { product(id: $id) { name reservations { totalCount nodes { user { email } } } } }";
    let first = post(&app, Some(&admin), private, json!({ "id": id })).await;
    assert!(
        cache_control(&first).starts_with("private, max-age="),
        "{}",
        cache_control(&first)
    );
    assert_eq!(x_cache(&first).as_deref(), Some("MISS"));
    let again = post(&app, Some(&admin), private, json!({ "id": id })).await;
    assert_eq!(
        x_cache(&again).as_deref(),
        Some("HIT"),
        "the same user hits their own private answer"
    );
    let anonymous = post(&app, None, private, json!({ "id": id })).await;
    assert_ne!(x_cache(&anonymous).as_deref(), Some("HIT"));
    let body: Value = anonymous.json().await.expect("json");
    assert!(
        body["errors"].is_array(),
        "an anonymous caller is refused, not served: {body}"
    );
    let stranger = post(&app, Some(&buyer), private, json!({ "id": id })).await;
    assert_ne!(x_cache(&stranger).as_deref(), Some("HIT"));
    let body: Value = stranger.json().await.expect("json");
    assert!(body["errors"].is_array(), "another user is refused, not served: {body}");
}

#[tokio::test]
async fn an_event_written_in_its_own_domain_invalidates_the_cached_event_lists() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let create = "mutation($n: String!) { createEvent(input: { name: $n, startsAt: \"2030-01-01T18:00:00Z\", capacity: 5 }) { id } }";
    let (_, body) = app.gql_as(Some(&admin), create, json!({ "n": "Launch" })).await;
    assert_no_errors(&body);
    let id = body["data"]["createEvent"]["id"].as_str().expect("id").to_string();
    let events = "{ events(first: 10) { nodes { name capacity } } }";
    post(&app, None, events, json!({})).await;
    assert_eq!(
        x_cache(&post(&app, None, events, json!({})).await).as_deref(),
        Some("HIT")
    );
    let (_, body) = app
        .gql_as(
            Some(&admin),
            "mutation($id: ID!) { updateEvent(id: $id, input: { name: \"Relaunch\", capacity: 7 }) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert_no_errors(&body);
    let after = post(&app, None, events, json!({})).await;
    assert_eq!(x_cache(&after).as_deref(), Some("MISS"));
    let body: Value = after.json().await.expect("json");
    assert_eq!(
        body["data"]["events"]["nodes"][0],
        json!({ "name": "Relaunch", "capacity": 7 })
    );
    let (_, body) = app.gql_as(Some(&admin), create, json!({ "n": "Encore" })).await;
    assert_no_errors(&body);
    let after = post(&app, None, events, json!({})).await;
    assert_eq!(
        x_cache(&after).as_deref(),
        Some("MISS"),
        "a create makes the lists miss"
    );
    let body: Value = after.json().await.expect("json");
    assert_eq!(body["data"]["events"]["nodes"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn a_hundred_concurrent_identical_misses_execute_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    admin_creates_product(&app, &admin, "Shelf").await;
    let requests = (0..100).map(|_| {
        let client = app.client.clone();
        let url = app.url("/graphql");
        async move {
            let response = client
                .post(url)
                .json(&json!({ "query": PRODUCTS }))
                .send()
                .await
                .expect("sent");
            x_cache(&response)
        }
    });
    let outcomes = futures_util::future::join_all(requests).await;
    let misses = outcomes
        .iter()
        .filter(|outcome| outcome.as_deref() == Some("MISS"))
        .count();
    let hits = outcomes
        .iter()
        .filter(|outcome| outcome.as_deref() == Some("HIT"))
        .count();
    assert_eq!((misses, hits), (1, 99));
}

#[tokio::test]
async fn with_the_cache_off_every_answer_is_computed_and_sent_no_store() {
    let app = TestApp::spawn_with(|settings| settings.response_cache_mode = FreshnessMode::Off).await;
    let admin = app.admin_token().await;
    admin_creates_product(&app, &admin, "Lamp").await;
    for _ in 0..2 {
        let response = post(&app, None, PRODUCTS, json!({})).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(x_cache(&response), None);
        assert_eq!(cache_control(&response), "no-store");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["data"]["products"]["nodes"][0]["name"], "Lamp");
    }
    let (_, body) = app
        .gql_as(Some(&admin), "{ cacheStats { size hits misses } }", json!({}))
        .await;
    assert_no_errors(&body);
    assert_eq!(body["data"]["cacheStats"]["size"], 0);
    assert_eq!(body["data"]["cacheStats"]["hits"], 0);
}

/// Reads the listing until it is cached and hot, floods the cache with 40 answers asked for once (a new variable
/// each), and tells whether the listing is still a hit.
async fn listing_survives_a_flood(admission: Admission) -> bool {
    let app = TestApp::spawn_with(|settings| {
        settings.cache_admission = admission;
        settings.response_cache_capacity = "4".parse().expect("entries");
    })
    .await;
    for _ in 0..3 {
        assert_eq!(post(&app, None, PRODUCTS, json!({})).await.status(), StatusCode::OK);
    }
    let flood = "query($n: Int) { products(first: $n) { nodes { name } } }";
    for first in 1..=40 {
        let response = post(&app, None, flood, json!({ "n": first })).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(x_cache(&response).as_deref(), Some("MISS"));
    }
    let survived = x_cache(&post(&app, None, PRODUCTS, json!({})).await).as_deref() == Some("HIT");
    let admin = app.admin_token().await;
    let (_, body) = app
        .gql_as(Some(&admin), "{ cacheStats { admission refusals } }", json!({}))
        .await;
    assert_no_errors(&body);
    let refused = body["data"]["cacheStats"]["refusals"].as_i64().expect("refusals");
    match admission {
        Admission::Frequency => {
            assert_eq!(body["data"]["cacheStats"]["admission"], "FREQUENCY");
            assert!(refused > 0, "the flood's answers were refused: {body}");
        }
        Admission::Always => {
            assert_eq!(body["data"]["cacheStats"]["admission"], "ALWAYS");
            assert_eq!(refused, 0);
        }
    }
    survived
}

#[tokio::test]
async fn with_frequency_admission_a_flood_of_one_off_answers_leaves_the_hot_answer_cached() {
    assert!(listing_survives_a_flood(Admission::Frequency).await);
    assert!(
        !listing_survives_a_flood(Admission::Always).await,
        "without admission the flood pushes it out"
    );
}

/// Asks for the parsed-document cache's hits three times (the asking document itself is the hot one), floods
/// the cache with 40 documents sent once, then asks again: true if that last lookup of the hot document hit.
async fn hot_document_survives_a_flood(admission: Admission) -> bool {
    let app = TestApp::spawn_with(|settings| {
        settings.cache_admission = admission;
        settings.document_cache_capacity = "4".parse().expect("entries");
    })
    .await;
    let admin = app.admin_token().await;
    let stats = "{ cacheStats(name: DOCUMENTS) { hits } }";
    let hits = |body: Value| body["data"]["cacheStats"]["hits"].as_i64().expect("hits");
    let mut before = 0;
    for _ in 0..3 {
        let (_, body) = app.gql_as(Some(&admin), stats, json!({})).await;
        assert_no_errors(&body);
        before = hits(body);
    }
    for index in 0..40 {
        let (_, body) = app.gql(&format!("{{ flood{index}: __typename }}"), json!({})).await;
        assert_no_errors(&body);
    }
    let (_, body) = app.gql_as(Some(&admin), stats, json!({})).await;
    // Its own lookup is counted before the field reads the counters.
    hits(body) == before + 1
}

#[tokio::test]
async fn with_frequency_admission_a_flood_of_one_off_documents_leaves_the_hot_document_parsed() {
    assert!(hot_document_survives_a_flood(Admission::Frequency).await);
    assert!(
        !hot_document_survives_a_flood(Admission::Always).await,
        "without admission the flood pushes it out"
    );
}

#[tokio::test]
async fn cache_stats_report_the_response_cache() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    post(&app, None, PRODUCTS, json!({})).await;
    post(&app, None, PRODUCTS, json!({})).await;
    let (_, body) = app
        .gql_as(
            Some(&admin),
            "{ cacheStats { name policy size hits misses } }",
            json!({}),
        )
        .await;
    assert_no_errors(&body);
    assert_eq!(body["data"]["cacheStats"]["name"], "RESPONSES");
    assert_eq!(body["data"]["cacheStats"]["size"], 1);
    assert!(body["data"]["cacheStats"]["hits"].as_i64() >= Some(1));
}

#[tokio::test]
async fn a_write_on_one_instance_is_never_read_stale_on_another() {
    let first = TestApp::spawn().await;
    let second = TestApp::spawn_sharing(&first, |_| {}).await;
    let admin = first.admin_token().await;
    let id = admin_creates_product(&first, &admin, "v0").await;
    let read = "query($id: ID!) { product(id: $id) { name } }";
    for round in 1..=30 {
        // Warm the second instance's cache, then write on the first and read at once on the second.
        post(&second, None, read, json!({ "id": id })).await;
        let name = format!("v{round}");
        let (_, body) = first
            .gql_as(
                Some(&admin),
                "mutation($id: ID!, $n: String!) { updateProduct(id: $id, input: { name: $n }) { name } }",
                json!({ "id": id, "n": name }),
            )
            .await;
        assert_no_errors(&body);
        let seen: Value = post(&second, None, read, json!({ "id": id }))
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(seen["data"]["product"]["name"], name.as_str(), "round {round}");
    }
}

#[tokio::test]
async fn reads_racing_writes_on_another_instance_never_see_a_version_older_than_the_last_committed() {
    let first = TestApp::spawn().await;
    let second = TestApp::spawn_sharing(&first, |_| {}).await;
    let admin = first.admin_token().await;
    let id = admin_creates_product(&first, &admin, "0").await;
    let committed = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(0));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (client, url, id) = (second.client.clone(), second.url("/graphql"), id.clone());
        let (committed, stop) = (committed.clone(), stop.clone());
        tokio::spawn(async move {
            let mut reads = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                // Whatever committed before this read began must be visible in its answer.
                let floor = committed.load(std::sync::atomic::Ordering::SeqCst);
                let body: Value = client
                    .post(&url)
                    .json(
                        &json!({ "query": "query($id: ID!) { product(id: $id) { name } }", "variables": { "id": id } }),
                    )
                    .send()
                    .await
                    .expect("sent")
                    .json()
                    .await
                    .expect("json");
                let seen: i64 = body["data"]["product"]["name"]
                    .as_str()
                    .and_then(|name| name.parse().ok())
                    .expect("a numbered name");
                assert!(seen >= floor, "read {seen} after {floor} had committed");
                reads += 1;
            }
            reads
        })
    };
    for version in 1..=40_i64 {
        let (_, body) = first
            .gql_as(
                Some(&admin),
                "mutation($id: ID!, $n: String!) { updateProduct(id: $id, input: { name: $n }) { name } }",
                json!({ "id": id, "n": version.to_string() }),
            )
            .await;
        assert_no_errors(&body);
        committed.store(version, std::sync::atomic::Ordering::SeqCst);
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let reads = reader.await.expect("the reader finished");
    assert!(reads > 0);
}

/// On a SQLite file, a hit reads nothing while nothing commits (the strict barrier trusts the wal-index), and a
/// commit by another process (`alx-backend import-names`) is seen by the very next request.
#[tokio::test]
async fn on_a_sqlite_file_hits_read_nothing_until_another_process_commits_and_the_next_request_sees_it() {
    let app = TestApp::spawn().await;
    if !app.database_url.starts_with("sqlite:") {
        eprintln!("skipped: the wal-index is SQLite's");
        return;
    }
    app.import_names(&names_csv(5), false).await;
    let count = "{ babyNamesPage(page: 1, pageSize: 10) { totalCount } }";
    let total = |response: reqwest::Response| async move {
        let body: Value = response.json().await.expect("json");
        assert_no_errors(&body);
        body["data"]["babyNamesPage"]["totalCount"].as_i64().expect("a count")
    };
    post(&app, None, count, json!({})).await;
    assert!(
        app.engine.responses().watches_commits(),
        "the server watches the wal-index from its first request"
    );
    let before = app.statements.get();
    for _ in 0..20 {
        let hit = post(&app, None, count, json!({})).await;
        assert_eq!(x_cache(&hit).as_deref(), Some("HIT"));
        assert_eq!(total(hit).await, 5);
    }
    assert_eq!(
        app.statements.get(),
        before,
        "hits ran statements while nothing committed"
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let csv = dir.path().join("more.csv");
    std::fs::write(&csv, names_csv(8)).expect("write the file");
    let database_url = app.database_url.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_alx-backend"))
            .arg("import-names")
            .arg(&csv)
            .env("DATABASE_URL", database_url)
            .env("ALX_LOG", "warn")
            .output()
            .expect("the binary runs")
    })
    .await
    .expect("command task");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    let after = post(&app, None, count, json!({})).await;
    assert_eq!(x_cache(&after).as_deref(), Some("MISS"));
    assert_eq!(total(after).await, 8);
}

#[tokio::test]
async fn a_cached_query_does_not_answer_a_request_whose_hash_does_not_match_and_a_registration_still_registers() {
    let app = TestApp::spawn().await;
    let query = "{ locales { code } }";
    assert_eq!(
        x_cache(&post(&app, None, query, json!({})).await).as_deref(),
        Some("MISS")
    );
    let hash = {
        use sha2::Digest;
        sha2::Sha256::digest(query.as_bytes())
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect::<String>()
    };
    let apq = |hash: &str| json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let mismatched = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": query, "extensions": apq(&"0".repeat(64)) }))
        .send()
        .await
        .expect("sent");
    assert_eq!(mismatched.status(), StatusCode::BAD_REQUEST);
    let registering = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": query, "extensions": apq(&hash) }))
        .send()
        .await
        .expect("sent");
    assert_eq!(registering.status(), StatusCode::OK);
    let by_hash: Value = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "extensions": apq(&hash) }))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_no_errors(&by_hash);
}

#[tokio::test]
async fn a_logged_in_callers_answer_is_private_downstream_even_when_cacheable() {
    let app = TestApp::spawn().await;
    let user = app.register("reader@example.com").await["accessToken"]
        .as_str()
        .expect("token")
        .to_string();
    let response = post(&app, Some(&user), "{ locales { code } }", json!({})).await;
    assert!(
        cache_control(&response).starts_with("private, max-age="),
        "{}",
        cache_control(&response)
    );
    let anonymous = post(&app, None, "{ locales { code } }", json!({})).await;
    assert!(cache_control(&anonymous).starts_with("public, max-age="));
}

// The front door (`http::known`): a request sent again byte for byte is answered from the cache by its bytes.

async fn post_with(app: &TestApp, path: &str, headers: &[(&str, &str)], body: &str) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url(path))
        .header("content-type", "application/json")
        .body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("sent")
}

fn header_of(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// What a client sees of a cached answer, but for the seconds left of its max age.
async fn seen(response: reqwest::Response) -> (Vec<String>, Value) {
    let headers = ["content-type", "content-language", "vary", "etag", "x-cache"]
        .iter()
        .map(|name| header_of(&response, name))
        .chain([cache_control(&response)
            .split(',')
            .next()
            .unwrap_or_default()
            .to_string()])
        .collect();
    (headers, response.json().await.expect("json"))
}

#[tokio::test]
async fn a_request_sent_again_byte_for_byte_gets_what_the_whole_way_gives() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    admin_creates_product(&app, &admin, "Lamp").await;
    let body = json!({ "query": PRODUCTS }).to_string();
    let first = post_with(&app, "/graphql", &[], &body).await;
    assert_eq!(x_cache(&first).as_deref(), Some("MISS"));
    let at_the_door = seen(post_with(&app, "/graphql", &[], &body).await).await;
    // `If-None-Match` on a POST changes nothing in the answer, but keeps the request off the front door.
    let whole_way = seen(post_with(&app, "/graphql", &[("if-none-match", "\"other\"")], &body).await).await;
    assert_eq!(at_the_door, whole_way);
    assert_eq!(at_the_door.0[4], "HIT");
    assert_eq!(at_the_door.0[5], "public");
    assert_eq!(at_the_door.1["data"]["products"]["nodes"][0]["name"], "Lamp");
    // The same bytes over GET are another request, answered from the same stored answer.
    let get = |app: &TestApp| app.client.get(app.url("/graphql")).query(&[("query", PRODUCTS)]).send();
    get(&app).await.expect("sent");
    let again = get(&app).await.expect("sent");
    assert_eq!(x_cache(&again).as_deref(), Some("HIT"));
    assert_eq!(seen(again).await.1, at_the_door.1);
}

#[tokio::test]
async fn requests_that_differ_in_language_format_target_or_caller_never_share_an_answer_at_the_front_door() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    admin_creates_product(&app, &admin, "Lamp").await;
    let body = json!({ "query": PRODUCTS }).to_string();
    for _ in 0..2 {
        let french = post_with(&app, "/graphql", &[("accept-language", "fr")], &body).await;
        assert_eq!(header_of(&french, "content-language"), "fr");
    }
    let spanish = post_with(&app, "/graphql", &[("accept-language", "es")], &body).await;
    assert_eq!(header_of(&spanish, "content-language"), "es");
    assert_eq!(
        x_cache(&spanish).as_deref(),
        Some("MISS"),
        "another locale is another answer"
    );
    let by_target = post_with(&app, "/graphql?locale=es", &[("accept-language", "fr")], &body).await;
    assert_eq!(header_of(&by_target, "content-language"), "es");
    for _ in 0..2 {
        let json = post_with(&app, "/graphql", &[("accept", "application/json")], &body).await;
        assert_eq!(header_of(&json, "content-type"), "application/json; charset=utf-8");
    }
    let newer = post_with(
        &app,
        "/graphql",
        &[("accept", "application/graphql-response+json")],
        &body,
    )
    .await;
    assert_eq!(
        header_of(&newer, "content-type"),
        "application/graphql-response+json; charset=utf-8"
    );
    let user = app.register("reader@example.com").await["accessToken"]
        .as_str()
        .expect("token")
        .to_string();
    let bearer = format!("Bearer {user}");
    let logged_in = post_with(&app, "/graphql", &[("authorization", &bearer)], &body).await;
    assert!(
        cache_control(&logged_in).starts_with("private, max-age="),
        "a caller's answer is theirs downstream, whatever an anonymous request left at the door: {}",
        cache_control(&logged_in)
    );
    let broken_token = post_with(&app, "/graphql", &[("authorization", "Bearer nonsense")], &body).await;
    assert_eq!(broken_token.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn hostile_bodies_at_the_front_door_get_the_usual_translated_errors_and_leave_the_hot_answer_alone() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    admin_creates_product(&app, &admin, "Lamp").await;
    let hot = json!({ "query": PRODUCTS }).to_string();
    post_with(&app, "/graphql", &[], &hot).await;
    for _ in 0..2 {
        let malformed = post_with(&app, "/graphql", &[("accept-language", "fr")], "{\"query\": ").await;
        assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
        let body: Value = malformed.json().await.expect("json");
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST");
        assert_eq!(body["errors"][0]["extensions"]["messageId"], "error-invalid-json");
        assert!(
            body["errors"][0]["message"].as_str().expect("message").contains("JSON"),
            "{body}"
        );
    }
    // Whitespace after the JSON is another request with the same operation: the stored answer serves it.
    let padded = post_with(&app, "/graphql", &[], &format!("{hot}  ")).await;
    assert_eq!(x_cache(&padded).as_deref(), Some("HIT"));
    // A body over the front door's 16 KiB bound takes the whole way, with the same answer.
    let long = post_with(&app, "/graphql", &[], &format!("{hot}{}", " ".repeat(20 * 1024))).await;
    assert_eq!(x_cache(&long).as_deref(), Some("HIT"));
    // A flood of one-off targets, each remembered at the door, is answered right and pushes nothing hot out.
    for n in 0..100 {
        let one_off = post_with(&app, &format!("/graphql?n={n}"), &[], &hot).await;
        assert_eq!(one_off.status(), StatusCode::OK);
        assert_eq!(x_cache(&one_off).as_deref(), Some("HIT"));
    }
    let hot_again = post_with(&app, "/graphql", &[], &hot).await;
    assert_eq!(x_cache(&hot_again).as_deref(), Some("HIT"));
    app.assert_still_serving().await;
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut plain)
        .expect("a gzip stream");
    plain
}

/// Enough of a listing (over 150 bytes) for gzip to make it shorter, so that a cached answer is kept gzipped too.
async fn admin_creates_a_listing_worth_gzipping(app: &TestApp, admin: &str) {
    for name in ["Lamp", "Desk", "Chair", "Shelf"] {
        admin_creates_product(app, admin, name).await;
    }
}

/// The gzipped and the plain answer are two representations, each with its own strong `ETag` (RFC 9110 8.8.1):
/// revalidating one answers 304 only for a request that would get that one, so a cache downstream that holds the
/// gzipped copy is never told it may give it to a client that did not ask for gzip.
#[tokio::test]
async fn the_gzipped_and_the_plain_answer_have_their_own_etags_and_each_revalidates_only_itself() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    admin_creates_a_listing_worth_gzipping(&app, &admin).await;
    let get = |headers: &'static [(&'static str, &'static str)], if_none_match: Option<String>| {
        let mut request = app.client.get(app.url("/graphql")).query(&[("query", PRODUCTS)]);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(tag) = if_none_match {
            request = request.header(header::IF_NONE_MATCH, tag);
        }
        async move { request.send().await.expect("sent") }
    };
    const GZIP: &[(&str, &str)] = &[("accept-encoding", "gzip")];
    let plain = get(&[], None).await;
    let plain_tag = header_of(&plain, "etag");
    let gzipped = get(GZIP, None).await;
    assert_eq!(header_of(&gzipped, "content-encoding"), "gzip");
    let gzipped_tag = header_of(&gzipped, "etag");
    assert!(!plain_tag.is_empty() && !gzipped_tag.is_empty());
    assert_ne!(plain_tag, gzipped_tag);
    for (headers, tag, status) in [
        (&[][..], &plain_tag, StatusCode::NOT_MODIFIED),
        (GZIP, &gzipped_tag, StatusCode::NOT_MODIFIED),
        (&[], &gzipped_tag, StatusCode::OK),
        (GZIP, &plain_tag, StatusCode::OK),
    ] {
        let answer = get(headers, Some(tag.clone())).await;
        assert_eq!(answer.status(), status, "{headers:?} If-None-Match: {tag}");
        let expected_tag = if headers.is_empty() { &plain_tag } else { &gzipped_tag };
        assert_eq!(
            &header_of(&answer, "etag"),
            expected_tag,
            "{headers:?} If-None-Match: {tag}"
        );
        if status == StatusCode::OK {
            let encoding = if headers.is_empty() { "" } else { "gzip" };
            assert_eq!(header_of(&answer, "content-encoding"), encoding);
        }
    }
}

#[tokio::test]
async fn a_cached_answer_goes_gzipped_to_clients_that_take_gzip_and_plain_to_the_others() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    admin_creates_a_listing_worth_gzipping(&app, &admin).await;
    let body = json!({ "query": PRODUCTS }).to_string();
    let plain = post_with(&app, "/graphql", &[], &body).await;
    assert_eq!(header_of(&plain, "content-encoding"), "");
    let plain = plain.bytes().await.expect("a body");
    // The whole way (a caller's request), then twice by its bytes (the front door, whose fingerprint leaves
    // Accept-Encoding out: each response is encoded for its own request).
    let mut seen = Vec::new();
    for headers in [
        &[
            ("accept-encoding", "gzip"),
            ("authorization", &format!("Bearer {admin}")),
        ][..],
        &[("accept-encoding", "gzip")],
        &[("accept-encoding", "br;q=1, gzip;q=0.5")],
    ] {
        let answer = post_with(&app, "/graphql", headers, &body).await;
        assert_eq!(answer.status(), StatusCode::OK);
        assert_eq!(header_of(&answer, "content-encoding"), "gzip", "{headers:?}");
        let vary = answer
            .headers()
            .get_all(header::VARY)
            .iter()
            .map(|value| value.to_str().expect("text").to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join(", ");
        assert!(
            vary.contains("accept-encoding") && vary.contains("accept-language"),
            "{vary}"
        );
        seen.push(header_of(&answer, "x-cache"));
        assert_eq!(gunzip(&answer.bytes().await.expect("a body")), plain, "{headers:?}");
    }
    assert_eq!(seen, ["HIT", "HIT", "HIT"]);
    for refused in ["gzip;q=0", "identity", "*;q=0"] {
        let answer = post_with(&app, "/graphql", &[("accept-encoding", refused)], &body).await;
        assert_eq!(header_of(&answer, "content-encoding"), "", "{refused}");
        assert_eq!(answer.bytes().await.expect("a body"), plain, "{refused}");
    }
}
