//! GraphQL over WebSocket: `graphql-transport-ws` and the legacy `graphql-ws`, authenticated by `connection_init`.

use std::sync::{Arc, Mutex};

use async_graphql::{Data, Executor, Request, Response, futures_util::stream::BoxStream};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::{
    extract::{FromRequestParts, WebSocketUpgrade},
    http::{StatusCode, request::Parts},
    response::{IntoResponse, Response as HttpResponse},
};
use futures_util::StreamExt;

use super::{AppState, graphql::edge};
use crate::{
    error::{AppError, Message},
    graphql::{self, RequestContext, errors},
    i18n,
};

/// Runs every operation of one connection with that connection's caller and locale.
#[derive(Clone)]
struct ConnectionExecutor {
    state: Arc<AppState>,
    context: Arc<Mutex<RequestContext>>,
}

impl ConnectionExecutor {
    fn context(&self) -> RequestContext {
        self.context
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl Executor for ConnectionExecutor {
    async fn execute(&self, request: Request) -> Response {
        let state = &self.state;
        graphql::execute(&state.schemas, &state.services, &state.limits, request, self.context())
            .await
            .response
    }

    fn execute_stream(&self, mut request: Request, session_data: Option<Arc<Data>>) -> BoxStream<'static, Response> {
        let context = self.context();
        if let Err(error) = graphql::prepare(&mut request, &self.state.limits) {
            let mut errors = vec![error];
            errors::localize(&mut errors, context.effective_locale(), &context.request_id);
            return futures_util::stream::once(async move { Response::from_errors(errors) }).boxed();
        }
        let request = graphql::with_request_data(request, &self.state.services, context.clone());
        self.state
            .schemas
            .strict
            .execute_stream_with_session_data(request, session_data.unwrap_or_default())
            .map(move |mut response| {
                errors::localize(&mut response.errors, context.effective_locale(), &context.request_id);
                response
            })
            .boxed()
    }
}

/// Reads `Authorization` (or `authToken`) from the `connection_init` payload, as graphql-ws clients send it.
fn bearer_token(payload: &serde_json::Value) -> Option<String> {
    let object = payload.as_object()?;
    let raw = ["Authorization", "authorization", "authToken", "token"]
        .iter()
        .find_map(|key| object.get(*key).and_then(|value| value.as_str()))
        .or_else(|| object.get("headers")?.get("Authorization")?.as_str())?;
    Some(raw.strip_prefix("Bearer ").unwrap_or(raw).trim().to_string())
}

/// Applies `connection_init`: its token names the caller; its `locale` (then the caller's saved locale) outranks
/// what the upgrade request's URL and `Accept-Language` gave. Browsers cannot set headers on a WebSocket, so the
/// payload is where their clients say who they are.
async fn init_connection(
    state: &AppState,
    context: &Mutex<RequestContext>,
    payload: &serde_json::Value,
) -> async_graphql::Result<()> {
    let caller =
        match bearer_token(payload) {
            Some(token) => Some(state.services.accounts.authenticate(&token).map_err(|_| {
                errors::to_graphql_error(AppError::Unauthenticated(Message::new("auth-token-invalid")))
            })?),
            None => None,
        };
    let saved = match caller {
        Some(caller) => state.services.accounts.user(caller.user_id).await.ok().flatten(),
        None => None,
    };
    let requested_locale = payload.get("locale").and_then(|value| value.as_str());
    let requested_zone = payload.get("timezone").and_then(|value| value.as_str());
    let mut context = context.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    context.caller = caller;
    // A connection outlives any copy of the account read now; each operation loads it afresh.
    context.caller_profile = None;
    if let Some(locale) =
        i18n::first_supported([requested_locale, saved.as_ref().and_then(|user| user.locale.as_deref())])
    {
        context.locale = locale;
    }
    if let Some(zone) =
        i18n::first_time_zone([requested_zone, saved.as_ref().and_then(|user| user.timezone.as_deref())])
    {
        context.timezone = zone;
    }
    Ok(())
}

pub async fn upgrade(state: Arc<AppState>, parts: &mut Parts, upgrade: WebSocketUpgrade) -> HttpResponse {
    let Ok(protocol) = GraphQLProtocol::from_request_parts(parts, &()).await else {
        return (
            StatusCode::BAD_REQUEST,
            "Use the graphql-transport-ws or graphql-ws sub-protocol.",
        )
            .into_response();
    };
    let context = match edge(&state, parts).await {
        Ok(edge) => edge.context,
        Err(response) => return *response,
    };
    let context = Arc::new(Mutex::new(context));
    let executor = ConnectionExecutor {
        state: state.clone(),
        context: context.clone(),
    };
    upgrade
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| async move {
            GraphQLWebSocket::new(socket, executor, protocol)
                .on_connection_init(move |payload| async move {
                    init_connection(&state, &context, &payload).await?;
                    Ok(Data::default())
                })
                .serve()
                .await;
        })
}
