//! Where notifications go: the log by default (as the curriculum's queue does), or a webhook that a delivery
//! service (an SMS gateway's adapter) answers.

use std::time::Duration;

use futures_util::future::BoxFuture;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Uri, body::Bytes};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};

/// Why a send did not happen; every such failure is worth another attempt.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SendFailed(pub String);

pub trait Notifier: Send + Sync + 'static {
    fn send<'a>(
        &'a self,
        job_id: i32,
        phone_number: &'a str,
        message: &'a str,
    ) -> BoxFuture<'a, Result<(), SendFailed>>;
}

/// Writes each notification to the log.
pub struct LogNotifier;

impl Notifier for LogNotifier {
    fn send<'a>(
        &'a self,
        job_id: i32,
        phone_number: &'a str,
        message: &'a str,
    ) -> BoxFuture<'a, Result<(), SendFailed>> {
        Box::pin(async move {
            tracing::info!(
                job.id = job_id,
                "Sending notification to {phone_number}, with message: {message}"
            );
            Ok(())
        })
    }
}

/// POSTs `{"jobId", "phoneNumber", "message"}` as JSON to a URL; any 2xx answer means sent. Plain HTTP only: a
/// sidecar or a gateway on the same network terminates TLS (this keeps a TLS stack out of the server).
pub struct WebhookNotifier {
    url: Uri,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// How long one delivery may take before the attempt counts as failed.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

impl WebhookNotifier {
    pub fn new(url: Uri) -> Self {
        Self {
            url,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }
}

impl Notifier for WebhookNotifier {
    fn send<'a>(
        &'a self,
        job_id: i32,
        phone_number: &'a str,
        message: &'a str,
    ) -> BoxFuture<'a, Result<(), SendFailed>> {
        Box::pin(async move {
            let body = serde_json::json!({ "jobId": job_id, "phoneNumber": phone_number, "message": message });
            let request = Request::post(self.url.clone())
                .header(hyper::header::CONTENT_TYPE, "application/json")
                .body(Full::new(Bytes::from(body.to_string())))
                .map_err(|error| SendFailed(error.to_string()))?;
            let response = tokio::time::timeout(WEBHOOK_TIMEOUT, self.client.request(request))
                .await
                .map_err(|_| SendFailed("the notification webhook did not answer in time".into()))?
                .map_err(|error| SendFailed(error.to_string()))?;
            let status = response.status();
            // Read the answer to its end so the connection can be reused.
            let _ = response.into_body().collect().await;
            if status.is_success() {
                Ok(())
            } else {
                Err(SendFailed(format!("the notification webhook answered {status}")))
            }
        })
    }
}
