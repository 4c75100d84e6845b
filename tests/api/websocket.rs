//! GraphQL over WebSocket, both sub-protocols, authenticated by `connection_init`.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};

use crate::helpers::TestApp;

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

async fn open(app: &TestApp, protocol: &'static str) -> Socket {
    let mut request = format!("ws://{}/graphql", app.address)
        .into_client_request()
        .expect("request");
    request
        .headers_mut()
        .insert("sec-websocket-protocol", HeaderValue::from_static(protocol));
    let (socket, response) = connect_async(request).await.expect("upgrade");
    assert_eq!(response.headers()["sec-websocket-protocol"], protocol);
    socket
}

async fn send(socket: &mut Socket, message: Value) {
    socket.send(Message::text(message.to_string())).await.expect("send");
}

/// The next protocol message, skipping keep-alives.
async fn receive(socket: &mut Socket) -> Value {
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
    let request = format!("ws://{}/graphql", app.address)
        .into_client_request()
        .expect("request");
    assert!(connect_async(request).await.is_err());
    app.assert_still_serving().await;
}
