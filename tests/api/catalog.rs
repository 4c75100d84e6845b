//! Products, reservations and events: fixed statement counts, atomic stock under concurrency, access rules.

use alx_backend::{
    accounts::{Caller, Role, parse_new_user},
    catalog::NewProduct,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, assert_no_errors, error_code, error_field};

const CREATE_PRODUCT: &str = "mutation($input: CreateProductInput!) { createProduct(input: $input) { id databaseId name priceCents price initialStock currentStock } }";
const RESERVE: &str = "mutation($id: ID!, $q: Int) { reserveProduct(productId: $id, quantity: $q) { id quantity product { currentStock } user { name } } }";

async fn create_product(app: &TestApp, admin: &str, name: &str, price_cents: i32, stock: i32) -> Value {
    let (_, body) = app
        .gql_as(
            Some(admin),
            CREATE_PRODUCT,
            json!({ "input": { "name": name, "priceCents": price_cents, "initialStock": stock } }),
        )
        .await;
    assert_no_errors(&body);
    body["data"]["createProduct"].clone()
}

#[tokio::test]
async fn a_nested_query_costs_the_same_statements_for_5_products_as_for_50() {
    // A DataLoader batches the keys that arrive within its delay; an unoptimised build on a busy CI machine can
    // take longer than the 1 ms default to resolve 50 parents, so this test gives batches room to form.
    let app = TestApp::spawn_with(|settings| settings.dataloader_delay = std::time::Duration::from_millis(100)).await;
    let admin = app.admin_token().await;
    let mut buyers = Vec::new();
    for i in 0..3 {
        let new_user = parse_new_user(
            "",
            &format!("buyer{i}@example.com"),
            PASSWORD.into(),
            &format!("Buyer {i}"),
            Role::User,
            None,
            None,
        )
        .expect("valid");
        let user = app
            .app_services
            .accounts
            .create_user(new_user, "email")
            .await
            .expect("user");
        buyers.push(Caller {
            user_id: user.id,
            role: Role::User,
        });
    }
    let catalog = &app.app_services.catalog;
    for p in 0..50 {
        let product = catalog
            .create_product(NewProduct::parse(&format!("Product {p}"), 100 + p, 100).expect("valid"))
            .await
            .expect("product");
        for r in 0..(p % 4) {
            let quantity = alx_backend::catalog::model::Quantity::parse("quantity", 1).expect("valid");
            catalog
                .reserve(buyers[(r % 3) as usize], product.id, quantity)
                .await
                .expect("reserved");
        }
    }
    let query = "query($n: Int!) { products(first: $n) { nodes { name reservations(first: 10) { totalCount nodes { quantity user { name } } } } } }";
    // Once unmeasured: the response cache's first epoch read also catches up with the writes above.
    app.gql_as(Some(&admin), query, json!({ "n": 1 })).await;
    let mut costs = Vec::new();
    for n in [5, 50] {
        let before = app.statements.get();
        let (_, body) = app.gql_as(Some(&admin), query, json!({ "n": n })).await;
        assert_no_errors(&body);
        let nodes = body["data"]["products"]["nodes"].as_array().expect("nodes");
        assert_eq!(nodes.len(), n as usize);
        assert!(
            nodes
                .iter()
                .any(|node| node["reservations"]["nodes"][0]["user"]["name"].is_string())
        );
        costs.push(app.statements.get() - before);
    }
    assert_eq!(costs[0], costs[1], "statements for 5 and for 50 products: {costs:?}");
    // One per level (products, reservations, their counts, users), plus the edge's read of the caller's saved
    // locale and zone, and the response cache's read of the write epoch (the answer is cacheable, privately).
    assert!(costs[0] <= 6, "one statement per level: {costs:?}");
}

#[tokio::test]
async fn two_hundred_concurrent_reservations_never_oversell_fifty_units() {
    let app = TestApp::spawn_with(|settings| settings.db_max_connections = 10).await;
    let admin = app.admin_token().await;
    let product = create_product(&app, &admin, "Limited", 1_000, 50).await;
    let mut tokens = Vec::new();
    for i in 0..8 {
        tokens.push(
            app.register(&format!("racer{i}@example.com")).await["accessToken"]
                .as_str()
                .expect("token")
                .to_string(),
        );
    }
    let mut tasks = Vec::new();
    for i in 0..200 {
        // Many clients, many connections: each task has its own HTTP client.
        let client = reqwest::Client::new();
        let url = app.url("/graphql");
        let token = tokens[i % tokens.len()].clone();
        let id = product["id"].clone();
        tasks.push(tokio::spawn(async move {
            let response = client
                .post(url)
                .header("content-type", "application/json")
                .bearer_auth(token)
                .json(&json!({ "query": RESERVE, "variables": { "id": id, "q": 1 } }))
                .send()
                .await
                .expect("sent");
            response.json::<Value>().await.expect("json")
        }));
    }
    let (mut confirmed, mut out_of_stock) = (0, 0);
    for task in tasks {
        let body = task.await.expect("task");
        match body.get("errors") {
            None => confirmed += 1,
            Some(_) => {
                assert_eq!(error_code(&body), "OUT_OF_STOCK", "{body}");
                out_of_stock += 1;
            }
        }
    }
    assert_eq!((confirmed, out_of_stock), (50, 150));
    let (_, body) = app
        .gql(
            "query($id: ID!) { product(id: $id) { currentStock } }",
            json!({ "id": product["id"] }),
        )
        .await;
    assert_eq!(body["data"]["product"]["currentStock"], 0);
}

#[tokio::test]
async fn reserving_beyond_stock_returns_out_of_stock_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let product = create_product(&app, &admin, "Suitcase 650", 35_000, 2).await;
    let user = app.register("ada@example.com").await;
    let token = user["accessToken"].as_str();
    let (_, body) = app.gql_as(token, RESERVE, json!({ "id": product["id"], "q": 3 })).await;
    assert_eq!(error_code(&body), "OUT_OF_STOCK");
    assert_eq!(body["errors"][0]["message"], "Only 2 left in stock; 3 requested.");
    let (_, body) = app.gql_as(token, RESERVE, json!({ "id": product["id"], "q": 2 })).await;
    assert_no_errors(&body);
    assert_eq!(body["data"]["reserveProduct"]["product"]["currentStock"], 0);
    let (_, body) = app.gql_as(token, RESERVE, json!({ "id": product["id"] })).await;
    assert_eq!(error_code(&body), "OUT_OF_STOCK");
}

#[tokio::test]
async fn cancelling_gives_the_stock_back_and_only_owners_and_admins_may() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let product = create_product(&app, &admin, "Suitcase 250", 5_000, 4).await;
    let ada = app.register("ada@example.com").await;
    let bob = app.register("bob@example.com").await;
    let (_, body) = app
        .gql_as(
            ada["accessToken"].as_str(),
            RESERVE,
            json!({ "id": product["id"], "q": 3 }),
        )
        .await;
    let reservation = body["data"]["reserveProduct"]["id"].clone();
    let cancel = "mutation($id: ID!) { cancelReservation(id: $id) { quantity product { currentStock } } }";

    let (_, body) = app
        .gql_as(bob["accessToken"].as_str(), cancel, json!({ "id": reservation }))
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "another user cannot cancel it");
    let (_, body) = app
        .gql_as(
            bob["accessToken"].as_str(),
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": reservation }),
        )
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "nor see it");
    let (_, body) = app
        .gql_as(
            bob["accessToken"].as_str(),
            "query($id: ID!) { node(id: $id) { ... on User { reservations { nodes { id } } } } }",
            json!({ "id": ada["user"]["id"] }),
        )
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "nor list another user's reservations");

    let (_, body) = app.gql_as(Some(&admin), cancel, json!({ "id": reservation })).await;
    assert_no_errors(&body);
    assert_eq!(body["data"]["cancelReservation"]["product"]["currentStock"], 4);
    let (_, body) = app.gql_as(Some(&admin), cancel, json!({ "id": reservation })).await;
    assert_eq!(error_code(&body), "NOT_FOUND", "a cancelled reservation is gone");

    let (_, body) = app
        .gql_as(
            ada["accessToken"].as_str(),
            RESERVE,
            json!({ "id": product["id"], "q": 1 }),
        )
        .await;
    let own = body["data"]["reserveProduct"]["id"].clone();
    let (_, body) = app
        .gql_as(ada["accessToken"].as_str(), cancel, json!({ "id": own }))
        .await;
    assert_no_errors(&body);
}

#[tokio::test]
async fn admin_crud_validates_every_field() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    for (input, field) in [
        (
            json!({ "name": "X", "priceCents": -1, "initialStock": 1 }),
            "input.priceCents",
        ),
        (
            json!({ "name": "X", "priceCents": 1, "initialStock": -1 }),
            "input.initialStock",
        ),
        (
            json!({ "name": "  ", "priceCents": 1, "initialStock": 1 }),
            "input.name",
        ),
    ] {
        let (_, body) = app
            .gql_as(Some(&admin), CREATE_PRODUCT, json!({ "input": input }))
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{input}");
        assert_eq!(error_field(&body), field, "{input}");
    }
    let product = create_product(&app, &admin, "Suitcase 450", 10_000, 10).await;
    let user = app.register("ada@example.com").await;
    let (_, body) = app
        .gql_as(
            user["accessToken"].as_str(),
            RESERVE,
            json!({ "id": product["id"], "q": 6 }),
        )
        .await;
    assert_no_errors(&body);
    let update = "mutation($id: ID!, $input: UpdateProductInput!) { updateProduct(id: $id, input: $input) { name initialStock currentStock } }";
    let (_, body) = app
        .gql_as(
            Some(&admin),
            update,
            json!({ "id": product["id"], "input": { "initialStock": 5 } }),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    assert_eq!(error_field(&body), "input.initialStock");
    let (_, body) = app
        .gql_as(
            Some(&admin),
            update,
            json!({ "id": product["id"], "input": { "initialStock": 6, "name": "Suitcase 450 XL" } }),
        )
        .await;
    assert_no_errors(&body);
    assert_eq!(
        body["data"]["updateProduct"],
        json!({ "name": "Suitcase 450 XL", "initialStock": 6, "currentStock": 0 })
    );
    let (_, body) = app
        .gql_as(
            user["accessToken"].as_str(),
            RESERVE,
            json!({ "id": product["id"], "q": 0 }),
        )
        .await;
    assert_eq!(error_field(&body), "quantity");

    let (_, body) = app
        .gql_as(
            user["accessToken"].as_str(),
            CREATE_PRODUCT,
            json!({ "input": { "name": "X", "priceCents": 1, "initialStock": 1 } }),
        )
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "users cannot create products");

    let delete = "mutation($id: ID!) { deleteProduct(id: $id) }";
    let (_, body) = app.gql_as(Some(&admin), delete, json!({ "id": product["id"] })).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "a product with reservations stays");
    let spare = create_product(&app, &admin, "Spare", 1, 1).await;
    let (_, body) = app.gql_as(Some(&admin), delete, json!({ "id": spare["id"] })).await;
    assert_eq!(body["data"]["deleteProduct"], spare["id"]);
    let (_, body) = app.gql_as(Some(&admin), delete, json!({ "id": spare["id"] })).await;
    assert_eq!(error_code(&body), "NOT_FOUND");

    let create_event = "mutation($input: CreateEventInput!) { createEvent(input: $input) { id capacity availableSeats reservationEnabled } }";
    let (_, body) = app
        .gql_as(
            Some(&admin),
            create_event,
            json!({ "input": { "name": "Launch", "startsAt": "2030-01-01T18:00:00Z", "capacity": -5 } }),
        )
        .await;
    assert_eq!(error_field(&body), "input.capacity");
    let (_, body) = app
        .gql_as(
            Some(&admin),
            create_event,
            json!({ "input": { "name": "Launch", "startsAt": "2030-01-01T18:00:00Z", "capacity": 50 } }),
        )
        .await;
    assert_no_errors(&body);
    let event = body["data"]["createEvent"].clone();
    let (_, body) = app
        .gql_as(
            Some(&admin),
            "mutation($id: ID!) { updateEvent(id: $id, input: { capacity: 40, reservationEnabled: false }) { capacity availableSeats reservationEnabled } }",
            json!({ "id": event["id"] }),
        )
        .await;
    assert_eq!(
        body["data"]["updateEvent"],
        json!({ "capacity": 40, "availableSeats": 40, "reservationEnabled": false })
    );
}

#[tokio::test]
async fn node_resolves_every_catalog_type_and_prices_follow_the_locale() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let product = create_product(&app, &admin, "Suitcase 1050", 55_000, 5).await;
    assert_eq!(product["price"], "$550.00");
    let (_, body) = app
        .gql_as(
            Some(&admin),
            "mutation { createEvent(input: { name: \"Launch\", startsAt: \"2030-01-01T18:00:00Z\", capacity: 50 }) { id } }",
            json!({}),
        )
        .await;
    let event = body["data"]["createEvent"]["id"].clone();
    let (_, body) = app
        .gql_as(Some(&admin), RESERVE, json!({ "id": product["id"], "q": 1 }))
        .await;
    let reservation = body["data"]["reserveProduct"]["id"].clone();
    let (status, body) = app
        .gql_as(
            Some(&admin),
            "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } welcome(locale: \"fr\") { locale } product(id: \"UHJvZHVjdDox\") { price } }",
            json!({ "ids": [product["id"], event, reservation] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_no_errors(&body);
    let types: Vec<_> = body["data"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|node| node["__typename"].clone())
        .collect();
    assert_eq!(types, vec![json!("Product"), json!("Event"), json!("Reservation")]);
    let price = body["data"]["product"]["price"]
        .as_str()
        .expect("price")
        .replace(['\u{a0}', '\u{202f}'], " ");
    assert_eq!(price, "550,00 $US");

    let (_, body) = app
        .gql("query($id: ID!) { product(id: $id) { id } }", json!({ "id": event }))
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "an event id is not a product id");
    let (_, body) = app.gql("{ product(id: \"UHJvZHVjdDo5OTk=\") { id } }", json!({})).await;
    assert_eq!(body["data"]["product"], Value::Null);
}

#[tokio::test]
async fn the_seed_command_is_idempotent_and_prints_the_demo_credentials() {
    let dir = tempfile::tempdir().expect("dir");
    let database_url = format!("sqlite://{}", dir.path().join("seed.db").display());
    for _ in 0..2 {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_alx-backend"))
            .arg("seed")
            .env("DATABASE_URL", &database_url)
            .env("ALX_JWT_SECRET", crate::helpers::JWT_SECRET)
            .current_dir(dir.path())
            .output()
            .expect("runs");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        assert!(String::from_utf8_lossy(&output.stdout).contains("admin@example.com"));
    }
    let app = TestApp::spawn_with(|settings| settings.database_url = database_url.clone()).await;
    let (_, body) = app.gql("{ products(first: 10) { totalCount nodes { name priceCents currentStock } } events { totalCount nodes { capacity } } }", json!({})).await;
    assert_eq!(body["data"]["products"]["totalCount"], 4, "seeding twice adds nothing");
    assert_eq!(
        body["data"]["products"]["nodes"][0],
        json!({ "name": "Suitcase 250", "priceCents": 5000, "currentStock": 4 })
    );
    assert_eq!(body["data"]["events"]["nodes"][0]["capacity"], 50);
    let (_, body) = app.login("admin@example.com", alx_backend::seed::DEMO_PASSWORD).await;
    assert_eq!(body["data"]["login"]["user"]["role"], "ADMIN");
}

#[tokio::test]
async fn products_and_reservations_are_stamped_by_the_apps_clock() {
    let instant = chrono::DateTime::parse_from_rfc3339("2020-01-21T04:55:39Z")
        .expect("instant")
        .to_utc();
    let app = TestApp::spawn_with_clock(alx_backend::clock::fixed_clock(instant)).await;
    let admin = app.admin_token().await;
    let (_, body) = app
        .gql_as(
            Some(&admin),
            "mutation { createProduct(input: { name: \"Clock\", priceCents: 100, initialStock: 2 }) { id createdAt } }",
            json!({}),
        )
        .await;
    assert_no_errors(&body);
    let stamped = |value: &Value| {
        chrono::DateTime::parse_from_rfc3339(value.as_str().expect("a date"))
            .expect("RFC 3339")
            .to_utc()
    };
    assert_eq!(stamped(&body["data"]["createProduct"]["createdAt"]), instant);
    let id = body["data"]["createProduct"]["id"].as_str().expect("id").to_string();
    let (_, body) = app
        .gql_as(
            Some(&admin),
            "mutation($id: ID!) { reserveProduct(productId: $id) { createdAt } }",
            json!({ "id": id }),
        )
        .await;
    assert_no_errors(&body);
    assert_eq!(stamped(&body["data"]["reserveProduct"]["createdAt"]), instant);
}
