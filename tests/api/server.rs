//! The listener against hostile and stuck clients, over raw TCP: slow headers, idle connections, bodies over the
//! limit sent before reading, the connection cap, and shutdown with requests that never finish.

use std::{
    io::BufRead,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async, tungstenite::Message};

use crate::helpers::{TestApp, error_code};

const HEALTH_KEPT_ALIVE: &str = "GET /healthz HTTP/1.1\r\nhost: test\r\n\r\n";

/// Reads one response (head and a `content-length` body) and leaves the connection open.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(stream.read_u8().await.expect("a response head"));
    }
    let head = String::from_utf8(head).expect("a UTF-8 head");
    let length = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().expect("a length"))
        })
        .unwrap_or_default();
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.expect("the response body");
    head + &String::from_utf8_lossy(&body)
}

/// Waits up to `limit` for the server to close `stream`, discarding anything it still sends; returns how long
/// that took, or `None` if the connection was still open at the limit.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buffer = [0; 1024];
    tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await
    .ok()
    .map(|()| started.elapsed())
}

/// The JSON body of a whole response read as text.
fn json_body(response: &str) -> Value {
    serde_json::from_str(response.split_once("\r\n\r\n").expect("a body").1).expect("a JSON body")
}

/// A request head promising a 64-byte body and asking `100 Continue`; once that arrives, the handler is reading
/// the body, so the request is in flight, and it stays so as long as the body does not come.
async fn start_a_request_that_never_finishes(address: std::net::SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let head = "POST /graphql HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\ncontent-length: 64\r\nexpect: 100-continue\r\n\r\n";
    stream.write_all(head.as_bytes()).await.expect("head");
    let mut interim = Vec::new();
    while !interim.ends_with(b"\r\n\r\n") {
        interim.push(stream.read_u8().await.expect("interim response"));
    }
    assert!(String::from_utf8_lossy(&interim).starts_with("HTTP/1.1 100"));
    stream
}

#[tokio::test]
async fn a_slowloris_client_that_never_finishes_its_headers_is_closed_after_the_header_read_timeout() {
    let app = TestApp::spawn_with(|settings| settings.header_read_timeout = Duration::from_secs(1)).await;
    let mut stream = TcpStream::connect(app.address).await.expect("connect");
    stream
        .write_all(b"POST /graphql HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("a partial head");
    let waited = closed_within(&mut stream, Duration::from_secs(5))
        .await
        .expect("the server closes the connection");
    assert!(
        waited >= Duration::from_millis(500),
        "closed after {waited:?}, before the timeout"
    );
    app.assert_still_serving().await;
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_keep_alive_timeout() {
    let app = TestApp::spawn_with(|settings| {
        settings.keep_alive_timeout = Duration::from_secs(1);
        settings.header_read_timeout = Duration::from_secs(60);
    })
    .await;
    let mut stream = TcpStream::connect(app.address).await.expect("connect");
    stream.write_all(HEALTH_KEPT_ALIVE.as_bytes()).await.expect("request");
    assert!(read_response(&mut stream).await.starts_with("HTTP/1.1 200"));
    // Between one and two keep-alive timeouts after the request started.
    let waited = closed_within(&mut stream, Duration::from_secs(5))
        .await
        .expect("the server closes the idle connection");
    assert!(
        waited >= Duration::from_millis(500),
        "closed after {waited:?}, before the timeout"
    );
    app.assert_still_serving().await;
}

#[tokio::test]
async fn a_client_that_writes_a_five_megabyte_body_before_reading_reads_the_413() {
    let app = TestApp::spawn().await;
    let mut stream = TcpStream::connect(app.address).await.expect("connect");
    let body = format!(
        r#"{{"query":"{{ __typename }}","padding":"{}"}}"#,
        "x".repeat(5_000_000)
    );
    let head = format!(
        "POST /graphql HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\naccept-language: fr\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    // Everything first, as Node's `http` client does; the server must not close the connection under it.
    stream.write_all(head.as_bytes()).await.expect("head");
    stream
        .write_all(body.as_bytes())
        .await
        .expect("the whole body is taken");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("the answer");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("connection: close"), "{answer}");
    let json = json_body(&answer);
    assert_eq!(error_code(&json), "BAD_REQUEST");
    assert_eq!(json["errors"][0]["extensions"]["messageId"], "error-body-too-large");
    assert!(answer.to_ascii_lowercase().contains("content-language: fr"), "{answer}");
    app.assert_still_serving().await;
}

#[tokio::test]
async fn an_oversized_body_announced_with_expect_100_continue_is_refused_without_asking_for_it() {
    let app = TestApp::spawn().await;
    let mut stream = TcpStream::connect(app.address).await.expect("connect");
    let head = "POST /graphql HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\ncontent-length: 5000000\r\nexpect: 100-continue\r\n\r\n";
    stream.write_all(head.as_bytes()).await.expect("head");
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut answer))
        .await
        .expect("answered without the body")
        .expect("the answer");
    assert!(answer.starts_with("HTTP/1.1 413"), "no 100 Continue first: {answer}");
    assert_eq!(error_code(&json_body(&answer)), "BAD_REQUEST");
    app.assert_still_serving().await;
}

#[tokio::test]
async fn past_the_connection_cap_a_connection_waits_until_another_closes() {
    let app = TestApp::spawn_with(|settings| settings.max_connections = 2).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(app.address).await.expect("connect");
        stream.write_all(HEALTH_KEPT_ALIVE.as_bytes()).await.expect("request");
        assert!(read_response(&mut stream).await.starts_with("HTTP/1.1 200"));
        held.push(stream);
    }
    // The kernel completes the handshake, but the server does not accept the connection while both slots are held.
    let mut waiting = TcpStream::connect(app.address).await.expect("connect");
    waiting
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n")
        .await
        .expect("request");
    let mut first = [0; 1];
    // Proving that nothing happens takes a wait: 300 ms is an eternity for a local answer to `/healthz`.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), waiting.read(&mut first))
            .await
            .is_err(),
        "served past the cap"
    );
    drop(held.remove(0));
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(5), waiting.read_to_string(&mut answer))
        .await
        .expect("served once a slot is free")
        .expect("the answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    app.assert_still_serving().await;
}

/// A graphql-transport-ws connection, initialised and acknowledged.
async fn open_websocket(app: &TestApp) -> WebSocketStream<MaybeTlsStream<TcpStream>> {
    let (mut socket, _) = connect_async(app.websocket_request(Some("graphql-transport-ws")))
        .await
        .expect("upgrade");
    let init = json!({ "type": "connection_init", "payload": {} }).to_string();
    socket.send(Message::text(init)).await.expect("init sent");
    let ack = socket.next().await.expect("a message").expect("a frame");
    assert!(ack.to_text().expect("text").contains("connection_ack"), "{ack:?}");
    socket
}

#[tokio::test]
async fn an_open_websocket_holds_its_slot_under_the_connection_cap() {
    let app = TestApp::spawn_with(|settings| settings.max_connections = 1).await;
    let socket = open_websocket(&app).await;
    let mut waiting = TcpStream::connect(app.address).await.expect("connect");
    waiting
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n")
        .await
        .expect("request");
    let mut first = [0; 1];
    assert!(
        tokio::time::timeout(Duration::from_millis(300), waiting.read(&mut first))
            .await
            .is_err(),
        "served past the cap"
    );
    drop(socket);
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(5), waiting.read_to_string(&mut answer))
        .await
        .expect("served once the WebSocket has closed")
        .expect("the answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn shutdown_ends_soon_after_the_grace_with_a_websocket_still_open() {
    let mut app = TestApp::spawn_with(|settings| settings.shutdown_grace = Duration::from_secs(1)).await;
    let _socket = open_websocket(&app).await;
    app.trigger_shutdown();
    tokio::time::timeout(Duration::from_secs(4), app.wait_stopped())
        .await
        .expect("serve returns with the WebSocket open")
        .expect("clean exit");
}

#[tokio::test]
async fn shutdown_abandons_a_request_that_never_finishes_once_the_grace_has_passed() {
    let mut app = TestApp::spawn_with(|settings| {
        settings.shutdown_grace = Duration::from_secs(1);
        settings.request_timeout = Duration::from_secs(600);
    })
    .await;
    let mut stuck = start_a_request_that_never_finishes(app.address).await;
    let address = app.address;
    let started = Instant::now();
    app.trigger_shutdown();
    tokio::time::timeout(Duration::from_secs(10), app.wait_stopped())
        .await
        .expect("serve returns despite the stuck request")
        .expect("clean exit");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "the grace was not given: {waited:?}"
    );
    assert!(waited < Duration::from_secs(4), "stopped only after {waited:?}");
    assert!(
        closed_within(&mut stuck, Duration::from_secs(2)).await.is_some(),
        "the abandoned connection is closed"
    );
    assert!(TcpStream::connect(address).await.is_err(), "no longer accepting");
}

#[tokio::test]
async fn shutdown_closes_idle_and_kept_alive_connections_without_waiting_for_the_grace() {
    let mut app = TestApp::spawn_with(|settings| settings.shutdown_grace = Duration::from_secs(60)).await;
    let mut kept_alive = TcpStream::connect(app.address).await.expect("connect");
    kept_alive
        .write_all(HEALTH_KEPT_ALIVE.as_bytes())
        .await
        .expect("request");
    assert!(read_response(&mut kept_alive).await.starts_with("HTTP/1.1 200"));
    let mut silent = TcpStream::connect(app.address).await.expect("connect");
    // A second request proves that the silent connection has been accepted before shutdown.
    kept_alive
        .write_all(HEALTH_KEPT_ALIVE.as_bytes())
        .await
        .expect("request");
    assert!(read_response(&mut kept_alive).await.starts_with("HTTP/1.1 200"));
    app.trigger_shutdown();
    tokio::time::timeout(Duration::from_secs(5), app.wait_stopped())
        .await
        .expect("serve returns without waiting for idle connections")
        .expect("clean exit");
    for stream in [&mut kept_alive, &mut silent] {
        assert!(closed_within(stream, Duration::from_secs(2)).await.is_some(), "closed");
    }
}

/// Kills the server if the test fails while it runs.
struct Server(Option<std::process::Child>);

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test]
async fn sigterm_stops_the_binary_after_the_grace_even_with_a_request_that_never_finishes() {
    let dir = tempfile::tempdir().expect("dir");
    let mut server = Server(Some(
        Command::new(env!("CARGO_BIN_EXE_alx-backend"))
            .arg("serve")
            .env(
                "DATABASE_URL",
                format!("sqlite://{}", dir.path().join("server.db").display()),
            )
            .env("ALX_LISTEN", "127.0.0.1:0")
            .env("ALX_SHUTDOWN_GRACE_SECS", "1")
            .env("ALX_REQUEST_TIMEOUT_SECS", "600")
            .env("ALX_LOG_FORMAT", "json")
            .env("ALX_LOG", "info")
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server starts"),
    ));
    let child = server.0.as_mut().expect("running");
    let stderr = child.stderr.take().expect("stderr");
    let (lines, logged) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let address = loop {
        let line = logged
            .recv_timeout(Duration::from_secs(60))
            .expect("the server logs its address");
        if let Ok(entry) = serde_json::from_str::<Value>(&line)
            && let Some(address) = entry["address"].as_str()
        {
            break address.parse::<std::net::SocketAddr>().expect("an address");
        }
    };
    let _stuck = start_a_request_that_never_finishes(address).await;
    let started = Instant::now();
    let terminated = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(terminated.success());
    let mut child = server.0.take().expect("running");
    let pid = child.id().to_string();
    let exit = tokio::task::spawn_blocking(move || child.wait());
    // Past the grace (1 s) plus a margin, but before the signal thread's backstop (grace + 5 s) would exit it.
    let Ok(exited) = tokio::time::timeout(Duration::from_secs(5), exit).await else {
        let _ = Command::new("kill").args(["-KILL", &pid]).status();
        let log: Vec<String> = logged.try_iter().collect();
        panic!("still running 5 s after SIGTERM; it logged:\n{}", log.join("\n"));
    };
    let exited = exited.expect("waited").expect("the exit status");
    let waited = started.elapsed();
    assert!(exited.success(), "{exited:?}");
    assert!(
        waited >= Duration::from_millis(900),
        "the grace was not given: {waited:?}"
    );
}
