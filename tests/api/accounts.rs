//! Accounts and access: registration, login, tokens, roles, rate limits.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{JWT_SECRET, PASSWORD, TestApp, assert_no_errors, error_code, error_field};

const ME: &str = "{ me { id databaseId name email role locale timezone createdAt } }";

#[tokio::test]
async fn registering_logs_the_user_in() {
    let app = TestApp::spawn().await;
    let payload = app.register("Ada@Example.com").await;
    assert_eq!(payload["user"]["email"], "ada@example.com");
    assert_eq!(payload["user"]["role"], "USER");
    let (status, body) = app.gql_as(payload["accessToken"].as_str(), ME, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["me"]["email"], "ada@example.com");
    assert_eq!(body["data"]["me"]["id"], payload["user"]["id"]);
}

#[tokio::test]
async fn me_is_null_for_an_anonymous_request() {
    let app = TestApp::spawn().await;
    let (status, body) = app.gql(ME, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["me"], Value::Null);
    assert_no_errors(&body);
}

#[tokio::test]
async fn a_duplicate_email_is_bad_user_input_naming_the_field() {
    let app = TestApp::spawn().await;
    app.register("ada@example.com").await;
    let (_, body) = app
        .gql(
            "mutation($input: RegisterInput!) { register(input: $input) { accessToken } }",
            json!({ "input": { "email": "ADA@example.com", "password": PASSWORD, "name": "Other" } }),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    assert_eq!(error_field(&body), "input.email");
    assert_eq!(
        body["errors"][0]["message"],
        "An account with this email already exists."
    );
    app.assert_still_serving().await;
}

#[tokio::test]
async fn bad_registrations_name_their_field_and_create_nothing() {
    let app = TestApp::spawn().await;
    for (input, field) in [
        (
            json!({ "email": "a@example.com", "password": "short", "name": "A" }),
            "input.password",
        ),
        (
            json!({ "email": "not-an-email", "password": PASSWORD, "name": "A" }),
            "input.email",
        ),
        (
            json!({ "email": "a@example.com", "password": PASSWORD, "name": "   " }),
            "input.name",
        ),
        (
            json!({ "email": "a@example.com", "password": PASSWORD, "name": "A", "locale": "xx" }),
            "input.locale",
        ),
        (
            json!({ "email": "a@example.com", "password": PASSWORD, "name": "A", "timezone": "Mars/Base" }),
            "input.timezone",
        ),
    ] {
        let (_, body) = app
            .gql(
                "mutation($input: RegisterInput!) { register(input: $input) { accessToken } }",
                json!({ "input": input }),
            )
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{input}");
        assert_eq!(error_field(&body), field, "{input}");
    }
    let (_, body) = app.login("a@example.com", PASSWORD).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "no account was created");
}

#[tokio::test]
async fn a_wrong_email_and_a_wrong_password_get_the_same_answer() {
    let app = TestApp::spawn().await;
    app.register("ada@example.com").await;
    let (_, wrong_password) = app.login("ada@example.com", "wrong password").await;
    let (_, wrong_email) = app.login("bob@example.com", PASSWORD).await;
    assert_eq!(error_code(&wrong_password), "UNAUTHENTICATED");
    assert_eq!(
        wrong_password["errors"][0]["message"],
        wrong_email["errors"][0]["message"]
    );
    assert_eq!(
        wrong_password["errors"][0]["extensions"],
        wrong_email["errors"][0]["extensions"]
    );
    let (_, ok) = app.login("ADA@example.com", PASSWORD).await;
    assert_no_errors(&ok);
}

#[tokio::test]
async fn repeated_login_attempts_are_rate_limited() {
    let app = TestApp::spawn_with(|settings| settings.login_attempts_per_minute = 3).await;
    app.register("ada@example.com").await;
    for _ in 0..3 {
        let (_, body) = app.login("ada@example.com", "wrong password").await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED");
    }
    let (_, body) = app.login("ada@example.com", PASSWORD).await;
    assert_eq!(error_code(&body), "RATE_LIMITED");
    assert!(
        body["errors"][0]["extensions"]["retryAfter"]
            .as_u64()
            .expect("retryAfter")
            >= 1
    );
    app.assert_still_serving().await;
}

#[tokio::test]
async fn refresh_rotates_and_a_reused_token_revokes_the_family() {
    let app = TestApp::spawn().await;
    let first = app.register("ada@example.com").await;
    let refresh = |token: Value| {
        let app = &app;
        async move {
            app.gql(
                "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken user { email } } }",
                json!({ "t": token }),
            )
            .await
            .1
        }
    };
    let second = refresh(first["refreshToken"].clone()).await;
    assert_no_errors(&second);
    let second = &second["data"]["refreshToken"];
    assert_ne!(second["refreshToken"], first["refreshToken"]);
    assert_eq!(second["user"]["email"], "ada@example.com");

    let reused = refresh(first["refreshToken"].clone()).await;
    assert_eq!(error_code(&reused), "UNAUTHENTICATED");
    assert_eq!(
        reused["errors"][0]["extensions"]["messageId"],
        "auth-refresh-token-reused"
    );

    let after_revocation = refresh(second["refreshToken"].clone()).await;
    assert_eq!(
        error_code(&after_revocation),
        "UNAUTHENTICATED",
        "the whole family is revoked"
    );
}

#[tokio::test]
async fn logout_revokes_the_refresh_token() {
    let app = TestApp::spawn().await;
    let session = app.register("ada@example.com").await;
    let logout = "mutation($t: String!) { logout(refreshToken: $t) }";
    let (_, body) = app.gql(logout, json!({ "t": session["refreshToken"] })).await;
    assert_eq!(body["data"]["logout"], true);
    let (_, body) = app.gql(logout, json!({ "t": session["refreshToken"] })).await;
    assert_eq!(body["data"]["logout"], false);
    let (_, body) = app
        .gql(
            "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }",
            json!({ "t": session["refreshToken"] }),
        )
        .await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
}

fn forge(secret: &str, claims: Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("encode")
}

#[tokio::test]
async fn missing_expired_tampered_and_foreign_tokens_are_unauthenticated() {
    let app = TestApp::spawn().await;
    let session = app.register("ada@example.com").await;
    let now = chrono::Utc::now().timestamp();
    let user_id = session["user"]["databaseId"].to_string();

    let (_, body) = app
        .gql("mutation { updateMe(input: { name: \"X\" }) { name } }", json!({}))
        .await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "missing token");

    let expired = forge(
        JWT_SECRET,
        json!({ "sub": user_id, "role": "USER", "iat": now - 7200, "exp": now - 3600 }),
    );
    let valid = session["accessToken"].as_str().expect("token");
    let (header, payload, signature) = {
        let mut parts = valid.split('.');
        (
            parts.next().expect("h"),
            parts.next().expect("p"),
            parts.next().expect("s"),
        )
    };
    let admin_claims =
        base64_url(&json!({ "sub": user_id, "role": "ADMIN", "iat": now, "exp": now + 600 }).to_string());
    let tampered = format!("{header}.{admin_claims}.{signature}");
    let foreign = forge(
        "some-other-secret-of-sufficient-length",
        json!({ "sub": user_id, "role": "ADMIN", "iat": now, "exp": now + 600 }),
    );
    let truncated = format!("{header}.{payload}");

    for (token, message_id) in [
        (expired.as_str(), "auth-token-expired"),
        (tampered.as_str(), "auth-token-invalid"),
        (foreign.as_str(), "auth-token-invalid"),
        (truncated.as_str(), "auth-token-invalid"),
        ("garbage", "auth-token-invalid"),
    ] {
        let (status, body) = app.gql_as(Some(token), ME, json!({})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{message_id}: {body:#}");
        assert_eq!(error_code(&body), "UNAUTHENTICATED");
        assert_eq!(body["errors"][0]["extensions"]["messageId"], message_id);
    }
    app.assert_still_serving().await;
}

fn base64_url(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

#[tokio::test]
async fn a_user_cannot_call_admin_fields_or_read_another_users_email() {
    let app = TestApp::spawn().await;
    let ada = app.register("ada@example.com").await;
    let bob = app.register("bob@example.com").await;
    let ada_token = ada["accessToken"].as_str();

    let (_, body) = app.gql_as(ada_token, "{ users { totalCount } }", json!({})).await;
    assert_eq!(error_code(&body), "FORBIDDEN");

    let (_, body) = app
        .gql_as(
            ada_token,
            "query($id: ID!) { node(id: $id) { ... on User { name email } } }",
            json!({ "id": bob["user"]["id"] }),
        )
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN");
    assert_eq!(body["errors"][0]["path"], json!(["node", "email"]));

    let admin = app.login_as_admin().await;
    let (_, body) = app
        .gql_as(
            admin["accessToken"].as_str(),
            "query($id: ID!) { node(id: $id) { ... on User { email } } }",
            json!({ "id": bob["user"]["id"] }),
        )
        .await;
    assert_no_errors(&body);
    assert_eq!(body["data"]["node"]["email"], "bob@example.com");
}

#[tokio::test]
async fn admins_page_through_users_with_cursors() {
    let app = TestApp::spawn().await;
    for i in 0..5 {
        app.register(&format!("user{i}@example.com")).await;
    }
    let admin = app.login_as_admin().await;
    let token = admin["accessToken"].as_str();
    let query = "query($first: Int, $after: String, $last: Int, $before: String) {
        users(first: $first, after: $after, last: $last, before: $before) {
            totalCount edges { cursor node { email } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        } }";
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let (_, body) = app.gql_as(token, query, json!({ "first": 2, "after": after })).await;
        assert_no_errors(&body);
        let users = &body["data"]["users"];
        assert_eq!(users["totalCount"], 6);
        for edge in users["edges"].as_array().expect("edges") {
            seen.push(edge["node"]["email"].as_str().expect("email").to_string());
        }
        if users["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = users["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen.len(), 6);
    assert_eq!(seen[0], "user0@example.com");

    let (_, body) = app.gql_as(token, query, json!({ "last": 2 })).await;
    let emails: Vec<_> = body["data"]["users"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["email"].clone())
        .collect();
    assert_eq!(emails, vec![json!("user4@example.com"), json!("admin@example.com")]);
    assert_eq!(body["data"]["users"]["pageInfo"]["hasPreviousPage"], true);

    for (variables, field) in [
        (json!({ "first": 101 }), "first"),
        (json!({ "first": -1 }), "first"),
        (json!({ "after": "not-a-cursor" }), "after"),
        (json!({ "first": 1, "last": 1 }), "first"),
    ] {
        let (_, body) = app.gql_as(token, query, variables.clone()).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{variables}");
        assert_eq!(error_field(&body), field, "{variables}");
    }
}

#[tokio::test]
async fn update_me_validates_locale_and_time_zone() {
    let app = TestApp::spawn().await;
    let session = app.register("ada@example.com").await;
    let token = session["accessToken"].as_str();
    let update = "mutation($input: UpdateMeInput!) { updateMe(input: $input) { name locale timezone } }";
    let (_, body) = app
        .gql_as(
            token,
            update,
            json!({ "input": { "name": "Ada L.", "locale": "EN", "timezone": "Europe/Paris" } }),
        )
        .await;
    assert_no_errors(&body);
    assert_eq!(
        body["data"]["updateMe"],
        json!({ "name": "Ada L.", "locale": "en", "timezone": "Europe/Paris" })
    );
    for (input, field) in [
        (json!({ "locale": "tlh" }), "input.locale"),
        (json!({ "timezone": "Europe/Atlantis" }), "input.timezone"),
        (json!({ "name": "" }), "input.name"),
    ] {
        let (_, body) = app.gql_as(token, update, json!({ "input": input })).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT");
        assert_eq!(error_field(&body), field);
    }
    let (_, body) = app.gql_as(token, ME, json!({})).await;
    assert_eq!(
        body["data"]["me"]["timezone"], "Europe/Paris",
        "failed updates changed nothing"
    );
}

#[tokio::test]
async fn node_and_nodes_resolve_users_by_global_id() {
    let app = TestApp::spawn().await;
    let ada = app.register("ada@example.com").await;
    let id = ada["user"]["id"].clone();
    let (_, body) = app
        .gql(
            "query($id: ID!) { node(id: $id) { id ... on User { name } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(body["data"]["node"]["id"], id);
    assert_eq!(body["data"]["node"]["name"], "Test User");

    let missing = "VXNlcjo5OTk5"; // User:9999
    let (_, body) = app
        .gql(
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": [id, missing] }),
        )
        .await;
    assert_eq!(body["data"]["nodes"][0]["id"], ada["user"]["id"]);
    assert_eq!(body["data"]["nodes"][1], Value::Null);

    for bad in ["garbage", "Q2F0OjE=" /* Cat:1 */, ""] {
        let (_, body) = app
            .gql("query($id: ID!) { node(id: $id) { id } }", json!({ "id": bad }))
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{bad}");
        assert_eq!(error_field(&body), "id");
    }
}

#[tokio::test]
async fn the_user_create_command_makes_an_admin_who_can_log_in() {
    let dir = tempfile::tempdir().expect("dir");
    let database_url = format!("sqlite://{}", dir.path().join("cli.db").display());
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_alx-backend"))
        .args([
            "user",
            "create",
            "--email",
            "root@example.com",
            "--name",
            "Root",
            "--password",
            PASSWORD,
            "--admin",
        ])
        .env("DATABASE_URL", &database_url)
        .env("ALX_JWT_SECRET", JWT_SECRET)
        .current_dir(dir.path())
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_alx-backend"))
        .args([
            "user",
            "create",
            "--email",
            "root@example.com",
            "--name",
            "Root",
            "--password",
            PASSWORD,
        ])
        .env("DATABASE_URL", &database_url)
        .env("ALX_JWT_SECRET", JWT_SECRET)
        .current_dir(dir.path())
        .output()
        .expect("runs");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    let app = TestApp::spawn_with(|settings| settings.database_url = database_url.clone()).await;
    let (_, body) = app.login("root@example.com", PASSWORD).await;
    assert_no_errors(&body);
    assert_eq!(body["data"]["login"]["user"]["role"], "ADMIN");
}

#[tokio::test]
async fn production_refuses_to_start_without_a_jwt_secret() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_alx-backend"))
        .arg("serve")
        .env("ALX_ENV", "production")
        .env_remove("ALX_JWT_SECRET")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("ALX_JWT_SECRET"), "{stderr}");
}
