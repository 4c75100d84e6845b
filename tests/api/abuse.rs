//! Abuse limits from outside: registration floods, forged and rotated client addresses, oversized login emails.

use std::time::{Duration, Instant};

use alx_backend::config::Settings;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, assert_no_errors, error_code, read};

const REGISTER: &str = "mutation($input: RegisterInput!) { register(input: $input) { accessToken } }";
const LOGIN: &str =
    "mutation($email: String!, $password: String!) { login(email: $email, password: $password) { accessToken } }";

/// An app with the shipped registration limit (the harness raises it for the other tests).
async fn spawn_with_default_register_limit() -> TestApp {
    let default = Settings::development().register_attempts_per_minute;
    assert_eq!(default, 5);
    TestApp::spawn_with(|settings| settings.register_attempts_per_minute = default).await
}

async fn register(app: &TestApp, email: &str) -> Value {
    app.gql(
        REGISTER,
        json!({ "input": { "email": email, "password": PASSWORD, "name": "Flood" } }),
    )
    .await
    .1
}

/// A login as it reaches us through a proxy that set `X-Forwarded-For`.
async fn login_forwarded(app: &TestApp, email: &str, forwarded_for: &str) -> Value {
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({ "query": LOGIN, "variables": { "email": email, "password": "wrong password" } }))
        .send()
        .await
        .expect("request sent");
    read(response).await.1
}

fn retry_after(body: &Value) -> u64 {
    body["errors"][0]["extensions"]["retryAfter"]
        .as_u64()
        .unwrap_or_else(|| panic!("no retryAfter in {body:#}"))
}

#[tokio::test]
async fn a_sixth_registration_from_one_client_within_a_minute_is_rate_limited() {
    let app = spawn_with_default_register_limit().await;
    for i in 1..=5 {
        assert_no_errors(&register(&app, &format!("user{i}@example.com")).await);
    }
    let body = register(&app, "user6@example.com").await;
    assert_eq!(error_code(&body), "RATE_LIMITED");
    assert!((1..=60).contains(&retry_after(&body)), "{body:#}");
    let (_, login) = app.login("user6@example.com", PASSWORD).await;
    assert_eq!(
        error_code(&login),
        "UNAUTHENTICATED",
        "the sixth account was not created"
    );
    app.assert_still_serving().await;
}

#[tokio::test]
async fn asking_register_which_emails_are_taken_is_rate_limited_like_any_registration() {
    let app = spawn_with_default_register_limit().await;
    assert_no_errors(&register(&app, "ada@example.com").await);
    for _ in 0..4 {
        let body = register(&app, "ADA@example.com").await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT");
    }
    let body = register(&app, "ada@example.com").await;
    assert_eq!(
        error_code(&body),
        "RATE_LIMITED",
        "the probe gets no answer about the email"
    );
    app.assert_still_serving().await;
}

#[tokio::test]
async fn a_batch_of_ten_operations_of_thirty_aliased_registers_is_answered_fast_and_mostly_rate_limited() {
    let app = spawn_with_default_register_limit().await;
    let operations: Vec<Value> = (0..10)
        .map(|operation| {
            let aliases: String = (0..30)
                .map(|alias| {
                    format!(
                        r#"r{alias}: register(input: {{email: "flood{operation}-{alias}@example.com", password: "{PASSWORD}", name: "Flood"}}) {{ accessToken }} "#
                    )
                })
                .collect();
            json!({ "query": format!("mutation {{ {aliases} }}") })
        })
        .collect();
    let started = Instant::now();
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .json(&operations)
        .send()
        .await
        .expect("request sent");
    let (status, body) = read(response).await;
    let elapsed = started.elapsed();
    assert_eq!(status, StatusCode::OK);
    let answers = body.as_array().unwrap_or_else(|| panic!("a batch answer: {body:#}"));
    assert_eq!(answers.len(), 10);
    let registered: usize = answers
        .iter()
        .map(|answer| answer["data"].as_object().map_or(0, |data| data.len()))
        .sum();
    assert_eq!(registered, 5, "only the address's five registrations ran");
    for answer in answers {
        let errors = answer["errors"].as_array().expect("refusals");
        assert!(!errors.is_empty());
        for error in errors {
            assert_eq!(error["extensions"]["code"], "RATE_LIMITED", "{error:#}");
            // The list is capped; its last entry then counts the rest, under the same code.
            if error["extensions"]["messageId"] != "error-more-errors" {
                assert!(
                    error["extensions"]["retryAfter"]
                        .as_u64()
                        .is_some_and(|seconds| seconds >= 1)
                );
            }
        }
    }
    assert!(elapsed < Duration::from_secs(5), "answered in {elapsed:?}");
    app.assert_still_serving().await;
}

#[tokio::test]
async fn a_login_with_a_300_character_email_is_unauthenticated_and_spends_no_attempt() {
    // One attempt per email a minute: four per address, fewer than the oversized emails sent below.
    let app = TestApp::spawn_with(|settings| settings.login_attempts_per_minute = 1).await;
    app.register("ada@example.com").await;
    let oversized = format!("{}@example.com", "a".repeat(300 - "@example.com".len()));
    let (_, wrong) = app.login("bob@example.com", PASSWORD).await;
    for _ in 0..6 {
        let started = Instant::now();
        let (status, body) = app.login(&oversized, PASSWORD).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(error_code(&body), "UNAUTHENTICATED");
        assert_eq!(body["errors"][0]["message"], wrong["errors"][0]["message"]);
        assert!(started.elapsed() < Duration::from_secs(1));
    }
    let (_, ok) = app.login("ada@example.com", PASSWORD).await;
    assert_no_errors(&ok);
}

/// Logs in with a new email each time, through a proxy that forwards `hops(i)`, until refused, and returns the
/// refusal. Per address the shipped limit is 4 × 5 attempts at once, then one more every 3 s: each attempt costs
/// an Argon2 verification, so on a loaded machine a slot may come back during the run, and the bound allows it.
async fn logins_until_limited(app: &TestApp, hops: impl Fn(u32) -> String) -> Value {
    let started = Instant::now();
    for i in 1..=60 {
        let body = login_forwarded(app, &format!("user{i}@example.com"), &hops(i)).await;
        if error_code(&body) == "RATE_LIMITED" {
            let allowed = u64::from(i - 1);
            let refilled = started.elapsed().as_secs() / 3;
            assert!(
                (20..=20 + refilled).contains(&allowed),
                "limited after {allowed} attempts in {:?}",
                started.elapsed()
            );
            assert!(retry_after(&body) >= 1);
            return body;
        }
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "attempt {i}");
    }
    panic!("sixty attempts from one client were never limited");
}

#[tokio::test]
async fn twenty_one_logins_forwarded_from_one_client_with_forged_left_hops_are_limited_on_that_client() {
    let app = TestApp::spawn_with(|settings| settings.trust_forwarded_for = true).await;
    logins_until_limited(&app, |i| format!("198.51.100.{i}, 203.0.113.7")).await;
    let other_client = login_forwarded(&app, "other@example.com", "198.51.100.1, 203.0.113.8").await;
    assert_eq!(
        error_code(&other_client),
        "UNAUTHENTICATED",
        "keyed on 203.0.113.7 only"
    );
    let (_, direct) = app.login("direct@example.com", PASSWORD).await;
    assert_eq!(
        error_code(&direct),
        "UNAUTHENTICATED",
        "not keyed on the connection's address"
    );
}

#[tokio::test]
async fn a_forged_forwarded_for_is_ignored_unless_trusted() {
    let app = TestApp::spawn().await;
    // Every attempt names a new address; only the connection's counts, so the usual limit applies.
    logins_until_limited(&app, |i| format!("198.51.100.{i}")).await;
}

#[tokio::test]
async fn rotating_ipv6_addresses_inside_one_64_earns_no_fresh_login_attempts() {
    let app = TestApp::spawn_with(|settings| settings.trust_forwarded_for = true).await;
    logins_until_limited(&app, |i| format!("2001:db8:1:2:{i:x}::{i:x}")).await;
    let next_subnet = login_forwarded(&app, "other@example.com", "2001:db8:1:3::1").await;
    assert_eq!(error_code(&next_subnet), "UNAUTHENTICATED");
}
