//! GraphQL over WebSocket: `graphql-transport-ws` and the legacy `graphql-ws`, authenticated by the upgrade
//! request or `connection_init`. The protocol is ours rather than async-graphql's, so that every operation runs
//! through the engine (budget, permits, timeout, metrics) and a connection is bounded like a request: message
//! size, time to initialise, live operations, and the lifetime of the caller's access token.

use std::{collections::HashMap, sync::Arc, time::Duration};

use async_graphql::Request;
use axum::{
    extract::{
        WebSocketUpgrade,
        ws::{CloseFrame, Message as WsMessage, WebSocket},
    },
    http::{StatusCode, header, request::Parts},
    response::Response as HttpResponse,
};
use futures_util::{SinkExt, StreamExt, stream::SplitSink};
use serde::Deserialize;
use serde_json::{Value, json, value::RawValue};
use tokio::{sync::mpsc, task::AbortHandle, time::Instant};

use super::{
    AppState,
    edge::{self, LocaleHints, Refusal},
};
use crate::{accounts::Identity, error::Message, graphql::RequestContext, i18n, schema::Executed};

/// How a WebSocket connection is bounded.
#[derive(Clone, Debug)]
pub struct WebSocketLimits {
    /// How long a client may take to send `connection_init` (close 4408 after).
    pub init_timeout: Duration,
    /// Operations one connection may have running at once (close 4429 past it).
    pub max_operations: usize,
    /// How often the server shows it is alive: a `ka` message (graphql-ws) or a ping frame.
    pub keep_alive: Duration,
    /// The largest message and frame (close 1009 past it); the HTTP body limit.
    pub max_message_bytes: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Protocol {
    /// The `graphql-ws` library's protocol.
    TransportWs,
    /// subscriptions-transport-ws, which names itself `graphql-ws`.
    Legacy,
}

impl Protocol {
    fn from_header(value: &str) -> Option<Self> {
        value.split(',').map(str::trim).find_map(|name| match name {
            "graphql-transport-ws" => Some(Self::TransportWs),
            "graphql-ws" => Some(Self::Legacy),
            _ => None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::TransportWs => "graphql-transport-ws",
            Self::Legacy => "graphql-ws",
        }
    }
}

/// The close codes graphql-transport-ws gives these situations.
mod close {
    pub const BAD_MESSAGE: u16 = 4400;
    pub const UNAUTHORISED: u16 = 4401;
    pub const FORBIDDEN: u16 = 4403;
    pub const INIT_TIMEOUT: u16 = 4408;
    pub const DUPLICATE_ID: u16 = 4409;
    pub const TOO_MANY: u16 = 4429;
    pub const TOO_BIG: u16 = 1009;
    /// What async-graphql answered a refused `connection_init` with; clients written against it expect it.
    pub const INIT_REFUSED: u16 = 1002;
}

pub async fn upgrade(state: Arc<AppState>, parts: &mut Parts, upgrade: WebSocketUpgrade) -> HttpResponse {
    let protocol = parts
        .headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|value| value.to_str().ok())
        .and_then(Protocol::from_header);
    let Some(protocol) = protocol else {
        return super::graphql::refuse(
            &state,
            parts,
            StatusCode::BAD_REQUEST,
            Message::new("error-websocket-protocol"),
        );
    };
    let (context, identity, hints) = match super::graphql::identified_context(&state, parts).await {
        Ok(found) => found,
        Err(response) => return *response,
    };
    let limit = state.websocket.max_message_bytes;
    let connection = Connection {
        hints,
        state,
        protocol,
        context,
        identity,
        initialised: false,
        operations: HashMap::new(),
        generation: 0,
    };
    upgrade
        .protocols([protocol.name()])
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| connection.run(socket))
}

/// What an operation's task tells the connection.
enum Outgoing {
    Text {
        generation: u64,
        text: String,
    },
    /// The operation is over: forget its id, then send its last message (so the id is free when the client
    /// reads that message and may reuse it).
    Finished {
        generation: u64,
        id: String,
        last: String,
    },
    Close(u16, String),
}

struct Connection {
    state: Arc<AppState>,
    protocol: Protocol,
    context: RequestContext,
    hints: LocaleHints,
    identity: Option<Identity>,
    initialised: bool,
    /// Live operations by id, each with the generation it was started in: a message from an operation that has
    /// since been completed and its id reused must not touch the new one.
    operations: HashMap<String, (u64, AbortHandle)>,
    generation: u64,
}

/// A client message of either protocol as it arrives: its payload is kept as raw text and read once its type
/// says what it is (an internally tagged enum would buffer the whole message into a tree first).
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    #[serde(default)]
    id: Option<String>,
    #[serde(default, borrow)]
    payload: Option<&'a RawValue>,
}

/// Operation ids are echoed in every message of their operation; clients use short ones.
const MAX_ID_BYTES: usize = 128;

/// The client's messages of both protocols (`start`/`stop` are the legacy names of `subscribe`/`complete`).
enum ClientMessage {
    ConnectionInit { payload: Option<Value> },
    Subscribe { id: String, payload: Box<Request> },
    Complete { id: String },
    Ping { payload: Option<Value> },
    Pong,
    ConnectionTerminate,
}

impl ClientMessage {
    fn parse(text: &str) -> Option<Self> {
        let envelope: Envelope<'_> = serde_json::from_str(text).ok()?;
        let payload = |raw: Option<&RawValue>| match raw {
            Some(raw) => serde_json::from_str::<Value>(raw.get()).ok().map(Some),
            None => Some(None),
        };
        let id = || envelope.id.clone().filter(|id| id.len() <= MAX_ID_BYTES);
        Some(match envelope.kind {
            "connection_init" => Self::ConnectionInit {
                payload: payload(envelope.payload)?,
            },
            "subscribe" | "start" => Self::Subscribe {
                id: id()?,
                payload: serde_json::from_str(envelope.payload?.get()).ok()?,
            },
            "complete" | "stop" => Self::Complete { id: id()? },
            "ping" => Self::Ping {
                payload: payload(envelope.payload)?,
            },
            "pong" => Self::Pong,
            "connection_terminate" => Self::ConnectionTerminate,
            _ => return None,
        })
    }
}

type Sink = SplitSink<WebSocket, WsMessage>;

impl Connection {
    async fn run(mut self, socket: WebSocket) {
        let (mut sink, mut incoming) = socket.split();
        let limits = self.state.websocket.clone();
        let (outgoing, mut from_operations) = mpsc::channel::<Outgoing>(64);
        let init_deadline = Instant::now() + limits.init_timeout;
        let mut keep_alive = tokio::time::interval_at(Instant::now() + limits.keep_alive, limits.keep_alive);
        let mut last_heard = Instant::now();
        let closing = loop {
            let expiry = self.identity.as_ref().map(|identity| expires_in(identity.expires_at));
            tokio::select! {
                message = incoming.next() => {
                    last_heard = Instant::now();
                    match message {
                        Some(Ok(WsMessage::Text(text))) => {
                            if let Some(closing) = self.on_text(text.as_str(), &mut sink, &outgoing).await {
                                break Some(closing);
                            }
                        }
                        Some(Ok(WsMessage::Binary(_))) => {
                            break Some((close::BAD_MESSAGE, "Binary messages are not part of the protocol.".into()));
                        }
                        Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => {}
                        Some(Ok(WsMessage::Close(_))) | None => break None,
                        Some(Err(error)) => {
                            // tungstenite refuses a message over `max_message_size` as a read error.
                            let too_big = error.to_string().contains("Space limit exceeded")
                                || error.to_string().contains("too long");
                            break too_big.then(|| (close::TOO_BIG, "The message is too large.".into()));
                        }
                    }
                }
                Some(message) = from_operations.recv() => {
                    let text = match message {
                        Outgoing::Text { generation, text } => self.is_live(generation).then_some(text),
                        Outgoing::Finished { generation, id, last } => {
                            if self.operations.get(&id).is_some_and(|(live, _)| *live == generation) {
                                self.operations.remove(&id);
                                Some(last)
                            } else {
                                None
                            }
                        }
                        Outgoing::Close(code, reason) => break Some((code, reason)),
                    };
                    if let Some(text) = text
                        && !send_in_time(&mut sink, WsMessage::text(text), limits.keep_alive).await
                    {
                        break None;
                    }
                }
                () = self.state.shutdown.cancelled() => {
                    break Some((1001, "The server is shutting down".into()));
                }
                () = tokio::time::sleep_until(init_deadline), if !self.initialised => {
                    break Some((close::INIT_TIMEOUT, "Connection initialisation timeout".into()));
                }
                () = tokio::time::sleep(expiry.unwrap_or_default()), if expiry.is_some() => {
                    let reason = i18n::translate_id(self.context.effective_locale(), "auth-token-expired", Vec::new());
                    break Some((close::FORBIDDEN, reason));
                }
                _ = keep_alive.tick() => {
                    // A transport-ws peer answers pings (browsers do it themselves); one silent for three
                    // rounds is gone or stalled, and its operations' answers would only pile up.
                    if self.protocol == Protocol::TransportWs && last_heard.elapsed() > limits.keep_alive * 3 {
                        break Some((1001, "No answer to keep-alive pings".into()));
                    }
                    let alive = match self.protocol {
                        Protocol::Legacy => WsMessage::text(json!({ "type": "ka" }).to_string()),
                        Protocol::TransportWs => WsMessage::Ping(Default::default()),
                    };
                    if !send_in_time(&mut sink, alive, limits.keep_alive).await {
                        break None;
                    }
                }
            }
        };
        for (_, operation) in self.operations.values() {
            operation.abort();
        }
        if let Some((code, reason)) = closing {
            let frame = CloseFrame {
                code,
                reason: close_reason(&reason).into(),
            };
            let _ = sink.send(WsMessage::Close(Some(frame))).await;
        }
        let _ = sink.close().await;
    }

    /// Handles one client message; `Some` closes the connection with that code and reason.
    async fn on_text(
        &mut self,
        text: &str,
        sink: &mut Sink,
        outgoing: &mpsc::Sender<Outgoing>,
    ) -> Option<(u16, String)> {
        let Some(message) = ClientMessage::parse(text) else {
            return Some((close::BAD_MESSAGE, "Invalid message received".into()));
        };
        match message {
            ClientMessage::ConnectionInit { payload } => {
                if self.initialised {
                    return Some((close::TOO_MANY, "Too many initialisation requests".into()));
                }
                if let Err(refusal) = self.initialise(payload.unwrap_or_default()).await {
                    let reason = i18n::translate(self.context.effective_locale(), &refusal.message);
                    if self.protocol == Protocol::Legacy {
                        let error = json!({ "type": "connection_error", "payload": { "message": reason } });
                        let _ = sink.send(WsMessage::text(error.to_string())).await;
                    }
                    return Some((close_code_for(&refusal, close::INIT_REFUSED), reason));
                }
                self.initialised = true;
                let ack = json!({ "type": "connection_ack" }).to_string();
                sink.send(WsMessage::text(ack))
                    .await
                    .err()
                    .map(|_| (1000, String::new()))
            }
            ClientMessage::Subscribe { id, payload } => self.subscribe(id, *payload, outgoing),
            ClientMessage::Complete { id } => {
                if let Some((_, operation)) = self.operations.remove(&id) {
                    operation.abort();
                    if self.protocol == Protocol::Legacy {
                        let complete = json!({ "id": id, "type": "complete" }).to_string();
                        return sink
                            .send(WsMessage::text(complete))
                            .await
                            .err()
                            .map(|_| (1000, String::new()));
                    }
                }
                None
            }
            ClientMessage::Ping { payload } => {
                let mut pong = json!({ "type": "pong" });
                if let Some(payload) = payload {
                    pong["payload"] = payload;
                }
                sink.send(WsMessage::text(pong.to_string()))
                    .await
                    .err()
                    .map(|_| (1000, String::new()))
            }
            ClientMessage::Pong => None,
            ClientMessage::ConnectionTerminate => Some((1000, String::new())),
        }
    }

    /// Applies `connection_init`: its token names the caller (a token on the upgrade request stands when the
    /// payload has none); its `locale` outranks what the upgrade request's URL gave. Browsers cannot set headers
    /// on a WebSocket, so the payload is where their clients say who they are.
    async fn initialise(&mut self, payload: Value) -> Result<(), Refusal> {
        match bearer_token(&payload) {
            Credential::Token(token) => self.identity = Some(edge::identify(&self.state, &token).await?),
            Credential::Unusable => return Err(Refusal::unauthenticated("auth-token-invalid")),
            Credential::None => {}
        }
        if let Some(locale) = payload.get("locale").and_then(Value::as_str) {
            self.hints.requested_locale = Some(locale.to_string());
        }
        if let Some(zone) = payload.get("timezone").and_then(Value::as_str) {
            self.hints.requested_timezone = Some(zone.to_string());
        }
        let saved = self.identity.as_ref().map(|identity| identity.user.clone());
        self.hints
            .apply(&mut self.context, saved.as_deref(), self.state.default_locale);
        Ok(())
    }

    fn subscribe(&mut self, id: String, request: Request, outgoing: &mpsc::Sender<Outgoing>) -> Option<(u16, String)> {
        if !self.initialised {
            return Some((close::UNAUTHORISED, "Unauthorized".into()));
        }
        if self.operations.contains_key(&id) {
            return Some((close::DUPLICATE_ID, format!("Subscriber for {id} already exists")));
        }
        if self.operations.len() >= self.state.websocket.max_operations {
            return Some((close::TOO_MANY, "Too many operations on one connection".into()));
        }
        // The expiry timer and this message may be ready together; the token must not outlive itself here.
        if self
            .identity
            .as_ref()
            .is_some_and(|identity| identity.expires_at <= chrono::Utc::now())
        {
            let reason = i18n::translate_id(self.context.effective_locale(), "auth-token-expired", Vec::new());
            return Some((close::FORBIDDEN, reason));
        }
        self.generation += 1;
        let operation = Operation {
            generation: self.generation,
            state: self.state.clone(),
            protocol: self.protocol,
            context: self.context.clone(),
            identity: self.identity.clone(),
            id: id.clone(),
            outgoing: outgoing.clone(),
        };
        let task = tokio::spawn(operation.run(request));
        self.operations.insert(id, (self.generation, task.abort_handle()));
        None
    }

    fn is_live(&self, generation: u64) -> bool {
        self.operations.values().any(|(live, _)| *live == generation)
    }
}

/// Sends one message unless the peer has stopped reading for longer than `patience`.
async fn send_in_time(sink: &mut Sink, message: WsMessage, patience: Duration) -> bool {
    matches!(tokio::time::timeout(patience, sink.send(message)).await, Ok(Ok(())))
}

/// One operation of a connection, run on its own task so that a slow one does not hold up the others.
struct Operation {
    generation: u64,
    state: Arc<AppState>,
    protocol: Protocol,
    context: RequestContext,
    identity: Option<Identity>,
    id: String,
    outgoing: mpsc::Sender<Outgoing>,
}

impl Operation {
    async fn run(mut self, request: Request) {
        // The caller is who the database says now: a demoted or deleted user loses their rights here too.
        if let Some(identity) = &self.identity {
            match self
                .state
                .accounts
                .refresh_identity(identity.caller.user_id, identity.expires_at)
                .await
                .map_err(Refusal::from)
            {
                Ok(fresh) => edge::set_identity(&mut self.context, &fresh),
                Err(refusal) => {
                    let reason = i18n::translate(self.context.effective_locale(), &refusal.message);
                    let code = close_code_for(&refusal, close::FORBIDDEN);
                    let _ = self.outgoing.send(Outgoing::Close(code, reason)).await;
                    return;
                }
            }
        }
        let mut results = self
            .state
            .engine
            .execute_stream(request.into(), self.context.clone())
            .await;
        while let Some(executed) = results.next().await {
            if executed.request_failed && self.protocol == Protocol::TransportWs {
                // graphql-transport-ws: an operation refused before it ran ends with `error`, and no `complete`.
                let errors = serde_json::to_value(&executed.response.errors).unwrap_or_default();
                let error = json!({ "id": self.id, "type": "error", "payload": errors }).to_string();
                self.finish(error).await;
                return;
            }
            let next = Outgoing::Text {
                generation: self.generation,
                text: self.next_message(&executed),
            };
            if self.outgoing.send(next).await.is_err() {
                return;
            }
        }
        let complete = json!({ "id": self.id, "type": "complete" }).to_string();
        self.finish(complete).await;
    }

    fn next_message(&self, executed: &Executed) -> String {
        let kind = match self.protocol {
            Protocol::TransportWs => "next",
            Protocol::Legacy => "data",
        };
        json!({ "id": self.id, "type": kind, "payload": executed.response }).to_string()
    }

    async fn finish(&self, last: String) {
        let _ = self
            .outgoing
            .send(Outgoing::Finished {
                generation: self.generation,
                id: self.id.clone(),
                last,
            })
            .await;
    }
}

/// What a `connection_init` payload says of who is calling.
enum Credential {
    None,
    Token(String),
    /// A credential that is there but is not text: refused, never silently anonymous.
    Unusable,
}

/// Reads `Authorization` (or `authToken`) from the `connection_init` payload, as graphql-ws clients send it.
fn bearer_token(payload: &Value) -> Credential {
    let Some(object) = payload.as_object() else {
        return Credential::None;
    };
    let found = ["Authorization", "authorization", "authToken", "token"]
        .iter()
        .find_map(|key| object.get(*key))
        .or_else(|| object.get("headers")?.get("Authorization"));
    match found {
        None | Some(Value::Null) => Credential::None,
        Some(Value::String(raw)) => Credential::Token(raw.strip_prefix("Bearer ").unwrap_or(raw).trim().to_string()),
        Some(_) => Credential::Unusable,
    }
}

/// The close code for a refused identity: the server's own failure is 1011 (the client may try again), the
/// caller's is `refused`.
fn close_code_for(refusal: &Refusal, refused: u16) -> u16 {
    if refusal.status == StatusCode::SERVICE_UNAVAILABLE {
        1011
    } else {
        refused
    }
}

fn expires_in(expires_at: chrono::DateTime<chrono::Utc>) -> Duration {
    (expires_at - chrono::Utc::now()).to_std().unwrap_or_default()
}

/// A close frame's reason must fit in 123 bytes; a translated one is cut at a character boundary.
fn close_reason(reason: &str) -> String {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_string()
}
