//! GraphQL over WebSocket, both sub-protocols, authenticated by `connection_init`.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{Message, http::HeaderValue},
};

use crate::helpers::TestApp;

pub(crate) type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

pub(crate) async fn open(app: &TestApp, protocol: &'static str) -> Socket {
    let (socket, response) = connect_async(app.websocket_request(Some(protocol)))
        .await
        .expect("upgrade");
    assert_eq!(response.headers()["sec-websocket-protocol"], protocol);
    socket
}

pub(crate) async fn send(socket: &mut Socket, message: Value) {
    socket.send(Message::text(message.to_string())).await.expect("send");
}

/// The next protocol message, skipping keep-alives.
pub(crate) async fn receive(socket: &mut Socket) -> Value {
    loop {
        match socket.next().await.expect("open").expect("frame") {
            Message::Text(text) => {
                let message: Value = serde_json::from_str(&text).expect("json");
                if message["type"] != "ka" {
                    return message;
                }
            }
            Message::Close(frame) => {
                return json!({
                    "type": "closed",
                    "code": frame.as_ref().map(|f| u16::from(f.code)),
                    "reason": frame.map(|f| f.reason.to_string()),
                });
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn graphql_transport_ws_runs_an_operation_as_the_token_in_connection_init() {
    let app = TestApp::spawn().await;
    let session = app.register("ada@example.com").await;
    let mut socket = open(&app, "graphql-transport-ws").await;
    send(&mut socket, json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {}", session["accessToken"].as_str().expect("token")) } })).await;
    assert_eq!(receive(&mut socket).await["type"], "connection_ack");
    send(&mut socket, json!({ "type": "ping" })).await;
    assert_eq!(receive(&mut socket).await["type"], "pong");
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ me { email } }" } }),
    )
    .await;
    let next = receive(&mut socket).await;
    assert_eq!(next["type"], "next");
    assert_eq!(next["payload"]["data"]["me"]["email"], "ada@example.com");
    assert_eq!(receive(&mut socket).await, json!({ "id": "1", "type": "complete" }));
}

#[tokio::test]
async fn errors_over_websocket_carry_codes_too() {
    let app = TestApp::spawn().await;
    let mut socket = open(&app, "graphql-transport-ws").await;
    send(&mut socket, json!({ "type": "connection_init" })).await;
    assert_eq!(receive(&mut socket).await["type"], "connection_ack");
    send(
        &mut socket,
        json!({ "id": "a", "type": "subscribe", "payload": { "query": "{ users { totalCount } }" } }),
    )
    .await;
    let answer = receive(&mut socket).await;
    let errors = if answer["type"] == "error" {
        answer["payload"].clone()
    } else {
        answer["payload"]["errors"].clone()
    };
    assert_eq!(errors[0]["extensions"]["code"], "UNAUTHENTICATED", "{answer:#}");
}

#[tokio::test]
async fn an_invalid_token_in_connection_init_closes_the_connection() {
    let app = TestApp::spawn().await;
    let mut socket = open(&app, "graphql-transport-ws").await;
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": { "Authorization": "Bearer forged" } }),
    )
    .await;
    let answer = receive(&mut socket).await;
    assert_eq!(answer["type"], "closed");
    // async-graphql 7 closes a refused graphql-transport-ws init with 1002 and the error message as reason.
    assert_eq!(answer["code"], 1002);
    assert_eq!(answer["reason"], "The access token is not valid.");
    app.assert_still_serving().await;
}

#[tokio::test]
async fn the_legacy_graphql_ws_protocol_still_works() {
    let app = TestApp::spawn().await;
    let mut socket = open(&app, "graphql-ws").await;
    send(&mut socket, json!({ "type": "connection_init", "payload": {} })).await;
    assert_eq!(receive(&mut socket).await["type"], "connection_ack");
    send(
        &mut socket,
        json!({ "id": "1", "type": "start", "payload": { "query": "{ __typename }" } }),
    )
    .await;
    let data = receive(&mut socket).await;
    assert_eq!(data["type"], "data");
    assert_eq!(data["payload"]["data"]["__typename"], "Query");
    assert_eq!(receive(&mut socket).await["type"], "complete");
}

#[tokio::test]
async fn an_upgrade_without_a_graphql_sub_protocol_is_refused() {
    let app = TestApp::spawn().await;
    assert!(connect_async(app.websocket_request(None)).await.is_err());
    app.assert_still_serving().await;
}

/// Opens a socket and completes `connection_init`, with `token` if given.
pub(crate) async fn open_initialised(app: &TestApp, token: Option<&str>) -> Socket {
    let mut socket = open(app, "graphql-transport-ws").await;
    let payload = match token {
        Some(token) => json!({ "Authorization": format!("Bearer {token}") }),
        None => json!({}),
    };
    send(&mut socket, json!({ "type": "connection_init", "payload": payload })).await;
    assert_eq!(receive(&mut socket).await["type"], "connection_ack");
    socket
}

/// The next protocol message within `limit`; a socket that says nothing in time fails the test.
pub(crate) async fn receive_within(socket: &mut Socket, limit: std::time::Duration) -> Value {
    tokio::time::timeout(limit, receive(socket))
        .await
        .expect("the server answers in time")
}

/// A query that waits on a DataLoader for as long as the app's loader delay: an operation that stays live.
const SLOW_QUERY: &str = "{ node(id: \"VXNlcjox\") { id } }";

fn with_slow_loaders(settings: &mut alx_backend::config::Settings) {
    settings.dataloader_delay = std::time::Duration::from_secs(60);
    settings.execution_timeout = std::time::Duration::from_secs(60);
}

#[tokio::test]
async fn a_message_over_the_body_limit_closes_with_1009() {
    let app = TestApp::spawn_with(|settings| settings.body_limit_bytes = 64 * 1024).await;
    let mut socket = open_initialised(&app, None).await;
    let query = format!("{{{}}}", " __typename".repeat(200_000));
    let message = json!({ "id": "1", "type": "subscribe", "payload": { "query": query } });
    let _ = socket.send(Message::text(message.to_string())).await;
    let answer = receive_within(&mut socket, std::time::Duration::from_secs(10)).await;
    assert_eq!(answer["type"], "closed");
    assert_eq!(answer["code"], 1009, "{answer:#}");
    app.assert_still_serving().await;
}

#[tokio::test]
async fn a_socket_that_never_initialises_is_closed_with_4408() {
    let app = TestApp::spawn_with(|settings| settings.ws_init_timeout = std::time::Duration::from_millis(300)).await;
    let mut socket = open(&app, "graphql-transport-ws").await;
    let answer = receive_within(&mut socket, std::time::Duration::from_secs(10)).await;
    assert_eq!(answer["type"], "closed");
    assert_eq!(answer["code"], 4408, "{answer:#}");
}

#[tokio::test]
async fn a_subscribe_before_connection_init_closes_with_4401() {
    let app = TestApp::spawn().await;
    let mut socket = open(&app, "graphql-transport-ws").await;
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ __typename }" } }),
    )
    .await;
    assert_eq!(receive(&mut socket).await["code"], 4401);
}

#[tokio::test]
async fn operations_past_the_cap_close_with_4429() {
    let app = TestApp::spawn_with(|settings| {
        with_slow_loaders(settings);
        settings.ws_max_operations = 2;
    })
    .await;
    let mut socket = open_initialised(&app, None).await;
    for id in ["1", "2", "3"] {
        send(
            &mut socket,
            json!({ "id": id, "type": "subscribe", "payload": { "query": SLOW_QUERY } }),
        )
        .await;
    }
    let answer = receive_within(&mut socket, std::time::Duration::from_secs(10)).await;
    assert_eq!(answer["type"], "closed");
    assert_eq!(answer["code"], 4429, "{answer:#}");
    app.assert_still_serving().await;
}

#[tokio::test]
async fn a_duplicate_operation_id_closes_with_4409() {
    let app = TestApp::spawn_with(with_slow_loaders).await;
    let mut socket = open_initialised(&app, None).await;
    for _ in 0..2 {
        send(
            &mut socket,
            json!({ "id": "same", "type": "subscribe", "payload": { "query": SLOW_QUERY } }),
        )
        .await;
    }
    let answer = receive_within(&mut socket, std::time::Duration::from_secs(10)).await;
    assert_eq!(answer["code"], 4409, "{answer:#}");
}

#[tokio::test]
async fn an_id_is_free_again_once_its_operation_completed() {
    let app = TestApp::spawn().await;
    let mut socket = open_initialised(&app, None).await;
    for _ in 0..3 {
        send(
            &mut socket,
            json!({ "id": "again", "type": "subscribe", "payload": { "query": "{ __typename }" } }),
        )
        .await;
        assert_eq!(receive(&mut socket).await["type"], "next");
        assert_eq!(receive(&mut socket).await, json!({ "id": "again", "type": "complete" }));
    }
}

#[tokio::test]
async fn websocket_operations_wait_for_a_permit_and_time_out_like_http() {
    let app = TestApp::spawn_with(|settings| {
        settings.dataloader_delay = std::time::Duration::from_secs(60);
        settings.execution_timeout = std::time::Duration::from_millis(300);
        settings.max_concurrent_operations = 1;
    })
    .await;
    let mut socket = open_initialised(&app, None).await;
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": SLOW_QUERY } }),
    )
    .await;
    let answer = receive_within(&mut socket, std::time::Duration::from_secs(10)).await;
    assert_eq!(answer["type"], "error", "{answer:#}");
    assert_eq!(answer["payload"][0]["extensions"]["messageId"], "error-query-timeout");
}

#[tokio::test]
async fn a_hostile_document_over_websocket_gets_the_same_budget_error() {
    let app = TestApp::spawn().await;
    let mut socket = open_initialised(&app, None).await;
    let mut query = String::from("{ ...F0 }");
    for level in 0..31 {
        query.push_str(&format!(
            " fragment F{level} on Query {{ ...F{next} ...F{next} }}",
            next = level + 1
        ));
    }
    query.push_str(" fragment F31 on Query { __typename }");
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": query } }),
    )
    .await;
    let answer = receive_within(&mut socket, std::time::Duration::from_secs(5)).await;
    assert_eq!(answer["type"], "error", "{answer:#}");
    assert_eq!(answer["payload"][0]["extensions"]["code"], "QUERY_TOO_COMPLEX");
    app.assert_still_serving().await;
}

#[tokio::test]
async fn the_connection_closes_with_4403_when_the_access_token_expires() {
    let app = TestApp::spawn_with(|settings| settings.access_token_ttl = std::time::Duration::from_secs(1)).await;
    let session = app.register("expiring@example.com").await;
    let token = session["accessToken"].as_str().expect("token");
    let mut socket = open_initialised(&app, Some(token)).await;
    let answer = receive_within(&mut socket, std::time::Duration::from_secs(10)).await;
    assert_eq!(answer["type"], "closed");
    assert_eq!(answer["code"], 4403, "{answer:#}");
    assert_eq!(
        answer["reason"],
        "The access token has expired. Refresh it and try again."
    );
}

#[tokio::test]
async fn a_demoted_admin_loses_admin_rights_on_an_open_socket() {
    let app = TestApp::spawn().await;
    let admin = app.login_as_admin().await;
    let mut socket = open_initialised(&app, Some(admin["accessToken"].as_str().expect("token"))).await;
    let users = json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ users(first: 1) { totalCount } }" } });
    send(&mut socket, users.clone()).await;
    let answer = receive(&mut socket).await;
    assert_eq!(answer["payload"]["data"]["users"]["totalCount"], 1, "{answer:#}");
    assert_eq!(receive(&mut socket).await["type"], "complete");
    crate::helpers::run_sql(&app, "UPDATE users SET role = 'USER' WHERE email = 'admin@example.com'").await;
    send(&mut socket, users).await;
    let answer = receive(&mut socket).await;
    assert_eq!(
        answer["payload"]["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{answer:#}"
    );
}

#[tokio::test]
async fn a_token_on_the_upgrade_request_stands_when_connection_init_has_none() {
    let app = TestApp::spawn().await;
    let session = app.register("header@example.com").await;
    let mut request = app.websocket_request(Some("graphql-transport-ws"));
    let bearer = format!("Bearer {}", session["accessToken"].as_str().expect("token"));
    request
        .headers_mut()
        .insert("authorization", HeaderValue::from_str(&bearer).expect("header"));
    let (mut socket, _) = connect_async(request).await.expect("upgrade");
    send(&mut socket, json!({ "type": "connection_init", "payload": {} })).await;
    assert_eq!(receive(&mut socket).await["type"], "connection_ack");
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ me { email } }" } }),
    )
    .await;
    assert_eq!(
        receive(&mut socket).await["payload"]["data"]["me"]["email"],
        "header@example.com"
    );
}

#[tokio::test]
async fn an_id_reused_right_after_complete_is_still_counted_against_the_cap() {
    let app = TestApp::spawn_with(|settings| {
        with_slow_loaders(settings);
        settings.ws_max_operations = 1;
    })
    .await;
    let mut socket = open_initialised(&app, None).await;
    for message in [
        json!({ "id": "a", "type": "subscribe", "payload": { "query": "{ __typename }" } }),
        json!({ "id": "a", "type": "complete" }),
        json!({ "id": "a", "type": "subscribe", "payload": { "query": SLOW_QUERY } }),
        json!({ "id": "b", "type": "subscribe", "payload": { "query": SLOW_QUERY } }),
    ] {
        send(&mut socket, message).await;
    }
    loop {
        let answer = receive_within(&mut socket, std::time::Duration::from_secs(10)).await;
        if answer["type"] == "closed" {
            assert_eq!(answer["code"], 4429, "{answer:#}");
            break;
        }
        assert_ne!(answer["id"], "b", "b must not run: {answer:#}");
    }
}

#[tokio::test]
async fn hostile_messages_close_with_4400() {
    let app = TestApp::spawn().await;
    let long_id = "i".repeat(129);
    for message in [
        json!({ "id": long_id, "type": "subscribe", "payload": { "query": "{ __typename }" } }),
        json!({ "type": "subscribe", "payload": { "query": "{ __typename }" } }),
        json!({ "id": "1", "type": "subscribe" }),
        json!({ "type": "nonsense" }),
    ] {
        let mut socket = open_initialised(&app, None).await;
        send(&mut socket, message).await;
        assert_eq!(receive(&mut socket).await["code"], 4400);
    }
    app.assert_still_serving().await;
}

#[tokio::test]
async fn an_authorization_that_is_not_text_refuses_the_connection() {
    let app = TestApp::spawn().await;
    let mut socket = open(&app, "graphql-transport-ws").await;
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": { "Authorization": 42 } }),
    )
    .await;
    let answer = receive(&mut socket).await;
    assert_eq!(answer["type"], "closed");
    assert_eq!(answer["code"], 1002, "{answer:#}");
}

#[tokio::test]
async fn open_sockets_are_closed_with_1001_when_the_server_shuts_down() {
    let mut app = TestApp::spawn().await;
    let mut socket = open_initialised(&app, None).await;
    app.trigger_shutdown();
    let answer = receive_within(&mut socket, std::time::Duration::from_secs(10)).await;
    assert_eq!(answer["type"], "closed");
    assert_eq!(answer["code"], 1001, "{answer:#}");
    app.wait_stopped().await.expect("a clean stop");
}
