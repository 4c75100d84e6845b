//! Reading a request body within the body limit, so that even a client that sends a body over it before reading
//! anything gets to read the 413.

use std::future::Future;

use axum::{
    body::{Body, Bytes},
    http::{HeaderMap, header},
};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tokio::time::Instant;

use crate::deadlines::Deadlines;

/// How much more of an oversized body is read and thrown away, in multiples of the limit. A larger one is not
/// read on: the connection is closed on its client, which most likely gets a reset instead of the 413.
pub const DISCARD_FACTOR: usize = 8;

#[derive(Clone)]
pub enum Read {
    Complete(Bytes),
    /// Over the limit, or broken off by the client. The answer must close the connection: the rest of the body
    /// may still be on its way.
    TooLarge,
    /// The request's deadline passed before the body arrived.
    TimedOut,
}

/// Reads `body` whole if it holds at most `limit` bytes and arrives before `deadline`.
///
/// A server that answers 413 and closes while the client is still sending makes the client's kernel reset the
/// connection: clients that write the whole body before reading the answer (Node's `http`, most scripts) then see
/// `EPIPE` or a reset, never the 413. So the rest of an oversized body is read and discarded, up to
/// `DISCARD_FACTOR` times the limit and until the deadline, before the answer goes out. A client that sent
/// `Expect: 100-continue` waits for the answer before sending its body: its body is not asked for.
pub async fn read(
    mut body: Body,
    headers: &HeaderMap,
    limit: usize,
    deadline: Option<Instant>,
    deadlines: &Deadlines,
) -> Read {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if declared.is_none_or(|length| length <= limit) {
        match within(deadline, deadlines, Limited::new(&mut body, limit).collect()).await {
            Some(Ok(collected)) => return Read::Complete(collected.to_bytes()),
            Some(Err(error)) if error.is::<LengthLimitError>() => {}
            Some(Err(_broken_off)) => return Read::TooLarge,
            None => return Read::TimedOut,
        }
    }
    let discard_limit = limit.saturating_mul(DISCARD_FACTOR);
    let expects_continue = headers
        .get(header::EXPECT)
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if !expects_continue && declared.is_none_or(|length| length <= discard_limit) {
        within(deadline, deadlines, discard(&mut body, discard_limit)).await;
    }
    Read::TooLarge
}

/// Reads and drops the body until it ends, breaks off, or goes past `budget` bytes.
async fn discard(body: &mut Body, mut budget: usize) {
    while let Some(Ok(frame)) = body.frame().await {
        let Ok(data) = frame.into_data() else { continue };
        let Some(left) = budget.checked_sub(data.len()) else {
            return;
        };
        budget = left;
    }
}

async fn within<F: Future>(deadline: Option<Instant>, deadlines: &Deadlines, work: F) -> Option<F::Output> {
    match deadline {
        Some(deadline) => deadlines.until(deadline, work).await.ok(),
        None => Some(work.await),
    }
}
