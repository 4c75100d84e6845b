//! How long the response cache of one server serves an answer after another server committed a write that changes
//! it (issue 13, `ALX_RESPONSE_CACHE_MODE=fast`, which trusts PostgreSQL's notifications alone). Run by
//! `bench/cache_staleness.sh`, against two servers on one database.
//!
//! Each round: read a product on the reader until the answer is a cache hit with the current name; rename the
//! product on the writer; then read on the reader, back to back, until the new name comes back. Staleness is what
//! a client sees: the time to that first fresh answer, counted from the writer's answer (the commit came before
//! it) and from the moment the rename was sent (before the commit); both include the fresh read's own round trip,
//! so they are upper bounds of the time from commit to eviction. It also counts the rounds whose first read after
//! the writer's answer was stale: in `strict` mode there must be none. And it reports the write's own time, sent to
//! answered: in `strict` mode the write waits for both servers to give their read leases back before it commits.
//!
//! Usage: `cache_staleness WRITER_URL READER_URL [ROUNDS]` (URLs of `/graphql`).

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

const READ: &str = "query($id: ID!) { product(id: $id) { name } }";
const RENAME: &str = "mutation($id: ID!, $name: String!) { updateProduct(id: $id, input: { name: $name }) { name } }";

struct Client {
    http: reqwest::Client,
    token: String,
}

impl Client {
    async fn post(&self, url: &str, query: &str, variables: Value) -> anyhow::Result<(Value, bool)> {
        let response = self
            .http
            .post(url)
            .bearer_auth(&self.token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await?;
        let hit = response
            .headers()
            .get("x-cache")
            .is_some_and(|value| value.as_bytes() == b"HIT");
        let body: Value = response.json().await?;
        if body.get("errors").is_some() {
            bail!("{body}");
        }
        Ok((body, hit))
    }

    /// Reads on the reader as an anonymous caller, so that the answer is public and cached.
    async fn read_name(&self, url: &str, id: &str) -> anyhow::Result<(String, bool)> {
        let response = self
            .http
            .post(url)
            .json(&json!({ "query": READ, "variables": { "id": id } }))
            .send()
            .await?;
        let hit = response
            .headers()
            .get("x-cache")
            .is_some_and(|value| value.as_bytes() == b"HIT");
        let body: Value = response.json().await?;
        let name = body["data"]["product"]["name"]
            .as_str()
            .with_context(|| format!("no product in {body}"))?;
        Ok((name.to_string(), hit))
    }
}

fn percentile(sorted: &[Duration], share: f64) -> Duration {
    let index = ((sorted.len() as f64 * share).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

fn report(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |duration: Duration| duration.as_secs_f64() * 1e3;
    println!(
        "  {label:<34} p50 {:6.2} ms  p90 {:6.2} ms  p99 {:6.2} ms  max {:6.2} ms",
        ms(percentile(&samples, 0.5)),
        ms(percentile(&samples, 0.9)),
        ms(percentile(&samples, 0.99)),
        ms(*samples.last().unwrap_or(&Duration::ZERO)),
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(writer), Some(reader)) = (args.next(), args.next()) else {
        bail!("usage: cache_staleness WRITER_URL READER_URL [ROUNDS]");
    };
    let rounds: usize = args.next().map_or(Ok(1000), |text| text.parse())?;
    let http = reqwest::Client::new();
    let login: Value = http
        .post(&writer)
        .json(&json!({ "query": "mutation { login(email: \"bench-admin@example.com\", password: \"bench-password\") { accessToken } }" }))
        .send()
        .await?
        .json()
        .await?;
    let token = login["data"]["login"]["accessToken"]
        .as_str()
        .with_context(|| format!("login: {login}"))?
        .to_string();
    let client = Client { http, token };
    let (created, _) = client
        .post(
            &writer,
            "mutation { createProduct(input: { name: \"v0\", priceCents: 100, initialStock: 1 }) { id } }",
            json!({}),
        )
        .await?;
    let id = created["data"]["createProduct"]["id"]
        .as_str()
        .context("product id")?
        .to_string();

    let mut from_answer = Vec::with_capacity(rounds);
    let mut from_send = Vec::with_capacity(rounds);
    let mut writes = Vec::with_capacity(rounds);
    let mut stale_first_reads = 0;
    let mut reads_after = 0usize;
    let deadline = Duration::from_secs(10);
    for round in 1..=rounds {
        let current = format!("v{}", round - 1);
        let warm_until = Instant::now() + deadline;
        loop {
            let (name, hit) = client.read_name(&reader, &id).await?;
            if name == current && hit {
                break;
            }
            if Instant::now() > warm_until {
                bail!("round {round}: the reader never cached {current} (last read {name}, hit {hit})");
            }
        }
        let next = format!("v{round}");
        let sent = Instant::now();
        client.post(&writer, RENAME, json!({ "id": id, "name": next })).await?;
        let answered = Instant::now();
        let mut first = true;
        loop {
            let (name, _) = client.read_name(&reader, &id).await?;
            reads_after += 1;
            if name == next {
                break;
            }
            if first {
                stale_first_reads += 1;
            }
            first = false;
            if answered.elapsed() > deadline {
                bail!("round {round}: the reader still answers {name} after {deadline:?}");
            }
        }
        let fresh = Instant::now();
        from_answer.push(fresh - answered);
        from_send.push(fresh - sent);
        writes.push(answered - sent);
    }
    println!(
        "{rounds} rounds; first read after the writer's answer stale in {stale_first_reads}; {:.1} reads per round until fresh",
        reads_after as f64 / rounds as f64
    );
    report("until fresh, from the writer's answer", from_answer);
    report("until fresh, from sending the write", from_send);
    report("the write itself, sent to answered", writes);
    Ok(())
}
