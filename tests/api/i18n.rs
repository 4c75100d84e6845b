//! Every answer in the caller's language, zone and format: resolution chains, formatting, translated errors,
//! and a catalogue with no missing translations.

use std::collections::{BTreeMap, BTreeSet};

use alx_backend::clock::fixed_clock;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_no_errors, error_code, read};

const WELCOME: &str = "query($locale: String, $timezone: String) {
    welcome(locale: $locale, timezone: $timezone) { locale timezone title greeting loggedInAs currentTime { iso formatted } } }";

/// POSTs `query` with an optional `?locale=&timezone=` query string, `Accept-Language` and bearer token.
async fn ask(
    app: &TestApp,
    url_params: &str,
    accept_language: Option<&str>,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> (StatusCode, Value, String) {
    let mut request = app
        .client
        .post(app.url(&format!("/graphql{url_params}")))
        .header("content-type", "application/json")
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(accept_language) = accept_language {
        request = request.header("accept-language", accept_language);
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("sent");
    let content_language = response
        .headers()
        .get("content-language")
        .map(|value| value.to_str().expect("ascii").to_string())
        .unwrap_or_default();
    let (status, body) = read(response).await;
    (status, body, content_language)
}

async fn welcome_locale(
    app: &TestApp,
    url_params: &str,
    accept_language: Option<&str>,
    token: Option<&str>,
    argument: Option<&str>,
) -> String {
    let (_, body, content_language) = ask(
        app,
        url_params,
        accept_language,
        token,
        WELCOME,
        json!({ "locale": argument }),
    )
    .await;
    assert_no_errors(&body);
    let locale = body["data"]["welcome"]["locale"].as_str().expect("locale").to_string();
    assert_eq!(content_language, locale, "Content-Language matches the answer");
    locale
}

/// A user whose saved locale is `locale`, and their access token.
async fn user_with_locale(app: &TestApp, email: &str, locale: &str, timezone: &str) -> String {
    let session = app.register(email).await;
    let token = session["accessToken"].as_str().expect("token").to_string();
    let (_, body) = app
        .gql_as(
            Some(&token),
            "mutation($input: UpdateMeInput!) { updateMe(input: $input) { locale } }",
            json!({ "input": { "locale": locale, "timezone": timezone } }),
        )
        .await;
    assert_no_errors(&body);
    token
}

#[tokio::test]
async fn locale_resolution_follows_the_chain_and_skips_unsupported_values() {
    let app = TestApp::spawn().await;
    let french_user = user_with_locale(&app, "amelie@example.com", "fr", "Europe/Paris").await;
    let french = Some(french_user.as_str());

    // The default, when nothing is said.
    assert_eq!(welcome_locale(&app, "", None, None, None).await, "en");
    // Accept-Language: absent / unsupported / present.
    assert_eq!(
        welcome_locale(&app, "", Some("de-DE, ja;q=0.8"), None, None).await,
        "en"
    );
    assert_eq!(welcome_locale(&app, "", Some("es"), None, None).await, "es");
    // The saved locale outranks Accept-Language.
    assert_eq!(welcome_locale(&app, "", Some("es"), french, None).await, "fr");
    // ?locale= outranks the saved locale; unsupported is skipped.
    assert_eq!(
        welcome_locale(&app, "?locale=en", None, french, None).await,
        "en",
        "a French user asking with ?locale=en"
    );
    assert_eq!(welcome_locale(&app, "?locale=xx", None, french, None).await, "fr");
    assert_eq!(welcome_locale(&app, "?locale=xx", Some("es"), None, None).await, "es");
    // The argument outranks everything; unsupported is skipped.
    assert_eq!(
        welcome_locale(&app, "?locale=en", Some("en"), french, Some("es")).await,
        "es"
    );
    assert_eq!(
        welcome_locale(&app, "?locale=es", None, None, Some("klingon")).await,
        "es"
    );
    assert_eq!(
        welcome_locale(&app, "", None, None, Some("fr-CA")).await,
        "fr",
        "region falls back to the language"
    );
}

#[tokio::test]
async fn accept_language_weights_pick_the_best_supported_entry() {
    let app = TestApp::spawn().await;
    assert_eq!(
        welcome_locale(&app, "", Some("de;q=1.0, fr-CA;q=0.9, es;q=0.8"), None, None).await,
        "fr"
    );
    assert_eq!(
        welcome_locale(&app, "", Some("en;q=0.1, es;q=0.7, fr;q=0.5"), None, None).await,
        "es"
    );
    assert_eq!(welcome_locale(&app, "", Some("*"), None, None).await, "en");
}

async fn welcome_zone(app: &TestApp, url_params: &str, token: Option<&str>, argument: Option<&str>) -> String {
    let (_, body, _) = ask(app, url_params, None, token, WELCOME, json!({ "timezone": argument })).await;
    assert_no_errors(&body);
    body["data"]["welcome"]["timezone"].as_str().expect("zone").to_string()
}

#[tokio::test]
async fn time_zone_resolution_follows_the_chain_and_skips_invalid_zones() {
    let app = TestApp::spawn().await;
    let token = user_with_locale(&app, "amelie@example.com", "fr", "Europe/Paris").await;
    let user = Some(token.as_str());
    assert_eq!(welcome_zone(&app, "", None, None).await, "UTC");
    assert_eq!(welcome_zone(&app, "", user, None).await, "Europe/Paris");
    assert_eq!(
        welcome_zone(&app, "?timezone=America/Chicago", user, None).await,
        "America/Chicago"
    );
    assert_eq!(
        welcome_zone(&app, "?timezone=Mars/Olympus", user, None).await,
        "Europe/Paris"
    );
    assert_eq!(welcome_zone(&app, "?timezone=Mars/Olympus", None, None).await, "UTC");
    assert_eq!(
        welcome_zone(&app, "?timezone=America/Chicago", user, Some("Asia/Tokyo")).await,
        "Asia/Tokyo"
    );
    assert_eq!(
        welcome_zone(&app, "?timezone=America/Chicago", None, Some("Not/AZone")).await,
        "America/Chicago"
    );
}

#[tokio::test]
async fn the_time_is_formatted_for_the_locale_in_the_zone() {
    let instant = chrono::DateTime::parse_from_rfc3339("2020-01-21T04:55:39Z")
        .expect("instant")
        .to_utc();
    let app = TestApp::spawn_with_clock(fixed_clock(instant)).await;
    let cases = [
        ("en", "Europe/Paris", "Jan 21, 2020, 5:55:39 AM"),
        ("fr", "Europe/Paris", "21 janv. 2020, 05:55:39"),
        ("en", "America/Chicago", "Jan 20, 2020, 10:55:39 PM"),
        ("fr", "America/Chicago", "20 janv. 2020, 22:55:39"),
    ];
    for (locale, zone, expected) in cases {
        let (_, body, _) = ask(
            &app,
            "",
            None,
            None,
            WELCOME,
            json!({ "locale": locale, "timezone": zone }),
        )
        .await;
        let current = &body["data"]["welcome"]["currentTime"];
        // CLDR puts a narrow no-break space before AM/PM.
        let formatted = current["formatted"]
            .as_str()
            .expect("formatted")
            .replace('\u{202f}', " ");
        assert_eq!(formatted, expected, "{locale} {zone}");
        assert!(current["iso"].as_str().expect("iso").starts_with("2020-01-21T04:55:39"));
    }
}

#[tokio::test]
async fn welcome_is_translated_and_names_the_user() {
    let app = TestApp::spawn().await;
    let token = user_with_locale(&app, "amelie@example.com", "fr", "Europe/Paris").await;
    let (_, body, _) = ask(&app, "", None, Some(&token), WELCOME, json!({})).await;
    let welcome = &body["data"]["welcome"];
    assert_eq!(welcome["title"], "Bienvenue sur alx-backend");
    assert_eq!(welcome["loggedInAs"], "Vous êtes connecté en tant que Test User.");
    let (_, body, _) = ask(&app, "", None, None, WELCOME, json!({})).await;
    assert_eq!(body["data"]["welcome"]["loggedInAs"], "You are not logged in.");
    let (_, body, _) = ask(&app, "?locale=es", None, None, "{ locales { code name } }", json!({})).await;
    assert_eq!(
        body["data"]["locales"],
        json!([{ "code": "en", "name": "English" }, { "code": "fr", "name": "Français" }, { "code": "es", "name": "Español" }])
    );
}

async fn french_error(app: &TestApp, token: Option<&str>, query: &str, variables: Value) -> (String, String) {
    let (_, body, content_language) = ask(app, "?locale=fr", None, token, query, variables).await;
    assert_eq!(content_language, "fr");
    (
        error_code(&body).to_string(),
        body["errors"][0]["message"].as_str().expect("message").to_string(),
    )
}

#[tokio::test]
async fn error_messages_are_rendered_in_the_resolved_locale() {
    let app = TestApp::spawn().await;
    let user = app.register("ada@example.com").await;
    let token = user["accessToken"].as_str();

    let (code, message) = french_error(
        &app,
        None,
        "mutation { login(email: \"x@example.com\", password: \"nope nope\") { accessToken } }",
        json!({}),
    )
    .await;
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("UNAUTHENTICATED", "L'adresse e-mail ou le mot de passe est incorrect.")
    );

    let (code, message) = french_error(
        &app,
        None,
        "query($id: ID!) { node(id: $id) { id } }",
        json!({ "id": "garbage" }),
    )
    .await;
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("BAD_USER_INPUT", "L'identifiant donné pour id n'est pas valide.")
    );

    let (code, message) = french_error(
        &app,
        token,
        "mutation($id: ID!) { cancelReservation(id: $id) { id } }",
        json!({ "id": "UmVzZXJ2YXRpb246OTk5" }),
    )
    .await;
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("NOT_FOUND", "Aucun élément ne correspond à cet identifiant.")
    );

    let (code, message) = french_error(&app, token, "{ users { totalCount } }", json!({})).await;
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("FORBIDDEN", "Vous n'avez pas le droit de faire ceci.")
    );

    let (code, message) = french_error(&app, None, "{ noSuchField }", json!({})).await;
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "GRAPHQL_VALIDATION_FAILED",
            "La requête GraphQL n'est pas valide pour ce schéma."
        )
    );

    let (code, message) = french_error(
        &app,
        None,
        "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }",
        json!({ "t": "unknown" }),
    )
    .await;
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "UNAUTHENTICATED",
            "Le jeton de renouvellement n'est pas valide ou a expiré."
        )
    );
}

#[tokio::test]
async fn a_locale_argument_translates_the_errors_of_its_request() {
    let app = TestApp::spawn().await;
    let (_, body, content_language) = ask(
        &app,
        "",
        None,
        None,
        "query($id: ID!) { welcome(locale: \"es\") { title } node(id: $id) { id } }",
        json!({ "id": "garbage" }),
    )
    .await;
    assert_eq!(content_language, "es");
    assert_eq!(body["data"]["welcome"]["title"], "Bienvenido a alx-backend");
    assert_eq!(
        body["errors"][0]["message"],
        "El identificador dado para id no es válido."
    );
}

#[tokio::test]
async fn a_missing_route_error_before_execution_is_translated_too() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "text/plain")
        .header("accept-language", "fr-FR,fr;q=0.9")
        .body("{}")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.headers()["vary"], "Accept-Language");
    let (_, body) = read(response).await;
    assert_eq!(error_code(&body), "BAD_REQUEST");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .expect("message")
            .starts_with("Cette requête a été bloquée")
    );
}

#[tokio::test]
async fn the_websocket_resolves_the_locale_from_connection_init() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let app = TestApp::spawn().await;
    let token = user_with_locale(&app, "amelie@example.com", "fr", "Europe/Paris").await;
    for (payload, expected) in [
        (json!({ "locale": "es" }), "es"),
        (json!({ "Authorization": format!("Bearer {token}") }), "fr"),
        (
            json!({ "Authorization": format!("Bearer {token}"), "locale": "en" }),
            "en",
        ),
    ] {
        let (mut socket, _) = tokio_tungstenite::connect_async(app.websocket_request(Some("graphql-transport-ws")))
            .await
            .expect("upgrade");
        let send = |message: Value| Message::text(message.to_string());
        socket
            .send(send(json!({ "type": "connection_init", "payload": payload })))
            .await
            .expect("init");
        socket
            .send(send(
                json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ welcome { locale } }" } }),
            ))
            .await
            .expect("subscribe");
        let mut locale = None;
        while let Some(Ok(Message::Text(text))) = socket.next().await {
            let message: Value = serde_json::from_str(&text).expect("json");
            if message["type"] == "next" {
                locale = message["payload"]["data"]["welcome"]["locale"]
                    .as_str()
                    .map(String::from);
                break;
            }
        }
        assert_eq!(locale.as_deref(), Some(expected), "{payload}");
    }
}

/// Message ids and the variables each uses, per locale folder, read with Fluent's own parser.
fn catalogue(locale: &str) -> BTreeMap<String, BTreeSet<String>> {
    use fluent_syntax::ast::{Entry, Expression, InlineExpression, Pattern, PatternElement};

    fn variables(pattern: &Pattern<&str>, found: &mut BTreeSet<String>) {
        for element in &pattern.elements {
            if let PatternElement::Placeable { expression } = element {
                let inline = match expression {
                    Expression::Inline(inline) => inline,
                    Expression::Select { selector, variants } => {
                        for variant in variants {
                            variables(&variant.value, found);
                        }
                        selector
                    }
                };
                if let InlineExpression::VariableReference { id } = inline {
                    found.insert(id.name.to_string());
                }
            }
        }
    }

    let dir = format!("{}/locales/{locale}", env!("CARGO_MANIFEST_DIR"));
    let mut messages = BTreeMap::new();
    for file in std::fs::read_dir(&dir).expect("locale folder") {
        let path = file.expect("entry").path();
        if path.extension().is_some_and(|ext| ext == "ftl") {
            let source = std::fs::read_to_string(&path).expect("ftl");
            let resource = fluent_syntax::parser::parse(source.as_str())
                .unwrap_or_else(|(_, errors)| panic!("{path:?}: {errors:?}"));
            for entry in resource.body {
                if let Entry::Message(message) = entry {
                    let mut found = BTreeSet::new();
                    if let Some(value) = &message.value {
                        variables(value, &mut found);
                    }
                    messages.insert(message.id.name.to_string(), found);
                }
            }
        }
    }
    messages
}

#[test]
fn every_locale_translates_every_message_with_the_same_variables() {
    let english = catalogue("en");
    assert!(english.len() > 20, "the English catalogue was read");
    for (code, _) in alx_backend::i18n::SUPPORTED_LOCALES
        .iter()
        .filter(|(code, _)| *code != "en")
    {
        let other = catalogue(code);
        for (id, variables) in &english {
            let translated = other
                .get(id)
                .unwrap_or_else(|| panic!("{code} has no translation of {id}"));
            assert_eq!(translated, variables, "{code}: {id} uses other variables than en");
        }
        for id in other.keys() {
            assert!(english.contains_key(id), "{code} has {id}, which en does not");
        }
    }
}

#[test]
fn every_message_id_the_code_uses_exists_in_english() {
    let english = catalogue("en");
    let mut missing = Vec::new();
    for file in walk(&format!("{}/src", env!("CARGO_MANIFEST_DIR"))) {
        let source = std::fs::read_to_string(&file).expect("source");
        for (index, _) in source.match_indices("Message::new(\"") {
            let rest = &source[index + "Message::new(\"".len()..];
            let id = &rest[..rest.find('"').expect("closing quote")];
            if !english.contains_key(id) {
                missing.push(format!("{id} ({file})"));
            }
        }
    }
    assert!(missing.is_empty(), "message ids without an English text: {missing:?}");
}

fn walk(dir: &str) -> Vec<String> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files.extend(walk(path.to_str().expect("utf-8 path")));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path.to_string_lossy().into_owned());
        }
    }
    files
}
