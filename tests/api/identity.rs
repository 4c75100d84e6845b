//! The caller's role and existence come from the database at every request, not from the token alone.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, error_code, run_sql};

#[tokio::test]
async fn a_demoted_admin_is_forbidden_at_the_next_request() {
    let app = TestApp::spawn().await;
    let admin = app.login_as_admin().await;
    let token = admin["accessToken"].as_str().expect("token");
    let (status, body) = app
        .gql_as(Some(token), "{ users(first: 1) { totalCount } }", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body:#}");
    run_sql(&app, "UPDATE users SET role = 'USER' WHERE email = 'admin@example.com'").await;
    let (_, body) = app
        .gql_as(Some(token), "{ users(first: 1) { totalCount } }", json!({}))
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body:#}");
    let (_, body) = app.gql_as(Some(token), "{ me { role } }", json!({})).await;
    assert_eq!(body["data"]["me"]["role"], "USER");
}

#[tokio::test]
async fn a_promoted_user_is_admin_at_the_next_request() {
    let app = TestApp::spawn().await;
    let session = app.register("rising@example.com").await;
    let token = session["accessToken"].as_str().expect("token");
    run_sql(
        &app,
        "UPDATE users SET role = 'ADMIN' WHERE email = 'rising@example.com'",
    )
    .await;
    let (status, body) = app
        .gql_as(Some(token), "{ users(first: 1) { totalCount } }", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body:#}");
    assert_eq!(body["data"]["users"]["totalCount"], 1);
}

#[tokio::test]
async fn the_token_of_a_deleted_user_is_unauthenticated() {
    let app = TestApp::spawn().await;
    let session = app.register("leaving@example.com").await;
    let token = session["accessToken"].as_str().expect("token");
    run_sql(&app, "DELETE FROM refresh_tokens").await;
    run_sql(&app, "DELETE FROM users WHERE email = 'leaving@example.com'").await;
    let (status, body) = app.gql_as(Some(token), "{ __typename }", json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body:#}");
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
    assert_eq!(body["errors"][0]["extensions"]["messageId"], "auth-user-gone");
}
