//! One PostgreSQL `LISTEN` connection per process (an in-process channel on SQLite), fanned out to everything that
//! waits on another process's writes: the job workers' wake-ups, the job subscriptions and cache invalidation.
//!
//! On PostgreSQL the database itself sends the notifications, from triggers or `pg_notify` inside the writing
//! transaction, so they are delivered at commit, to every process including the writer. On SQLite there is only
//! one process, and the writer publishes here after its commit.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use sea_orm::{DatabaseBackend, DatabaseConnection, sqlx::postgres::PgListener};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// What a subscriber receives.
#[derive(Clone, Debug)]
pub enum BusEvent {
    Message {
        channel: Channel,
        payload: Arc<str>,
    },
    /// The listener lost its connection and is connecting again: nothing arrives until `Reconnected`.
    Interrupted,
    /// The listener lost its connection and has a new one: notifications sent in between are lost, so every
    /// subscriber must re-read what it follows (and caches drop what they hold).
    Reconnected,
}

/// The notification channels, one per kind of news.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    /// Jobs were created or changed; the payload is a `jobs::events` batch.
    Jobs,
    /// Cached answers that read these tags are stale.
    Cache,
    /// A writer is about to commit and asks every server for its read lease back (see `freshness::lease`).
    Lease,
}

impl Channel {
    const ALL: [Self; 3] = [Self::Jobs, Self::Cache, Self::Lease];

    pub fn name(self) -> &'static str {
        match self {
            Self::Jobs => "alx_jobs",
            Self::Cache => "alx_cache",
            Self::Lease => "alx_lease",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|channel| channel.name() == name)
    }
}

/// A subscriber that falls this far behind misses messages and is told so (`RecvError::Lagged`); it then re-reads
/// what it follows, as after a reconnect. This bounds the memory a slow subscriber can hold.
const CAPACITY: usize = 4096;

/// How long the listener waits before connecting again after a failure, doubling up to the maximum.
const RETRY_FIRST: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct Bus {
    sender: broadcast::Sender<BusEvent>,
    backend: DatabaseBackend,
}

impl Bus {
    /// Starts listening (on PostgreSQL, once `LISTEN` is in place, so nothing committed after this returns is
    /// missed) until `shutdown`.
    pub async fn start(
        db: &DatabaseConnection,
        database_url: &str,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Self> {
        let (sender, _) = broadcast::channel(CAPACITY);
        let backend = db.get_database_backend();
        if backend == DatabaseBackend::Postgres {
            let listener = listen(database_url).await.context("cannot LISTEN for notifications")?;
            tokio::spawn(relay(listener, database_url.to_string(), sender.clone(), shutdown));
        }
        Ok(Self { sender, backend })
    }

    /// A bus for a command that only writes (seed, user create): nobody in this process listens, and on PostgreSQL
    /// the database sends the writes' news to the servers that do.
    pub fn publishing_only(db: &DatabaseConnection) -> Self {
        Self {
            sender: broadcast::channel(1).0,
            backend: db.get_database_backend(),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<BusEvent> {
        self.sender.subscribe()
    }

    /// Whether writers must publish their own news after committing (SQLite): on PostgreSQL the database does.
    pub fn is_local(&self) -> bool {
        self.backend != DatabaseBackend::Postgres
    }

    /// Hands a message to this process's subscribers, as the listener would. Only the writer on SQLite calls it.
    pub fn publish_local(&self, channel: Channel, payload: impl Into<Arc<str>>) {
        // No subscriber is not an error: nobody is waiting.
        let _ = self.sender.send(BusEvent::Message {
            channel,
            payload: payload.into(),
        });
    }
}

async fn listen(database_url: &str) -> Result<PgListener, sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect(database_url).await?;
    listener.listen_all(Channel::ALL.into_iter().map(Channel::name)).await?;
    Ok(listener)
}

/// Relays notifications until shutdown. A lost connection is replaced (with backoff while the database is away),
/// and subscribers hear `Reconnected` once the new one listens.
async fn relay(
    mut listener: PgListener,
    database_url: String,
    sender: broadcast::Sender<BusEvent>,
    shutdown: CancellationToken,
) {
    loop {
        let received = tokio::select! {
            () = shutdown.cancelled() => return,
            received = listener.try_recv() => received,
        };
        match received {
            Ok(Some(notification)) => {
                if let Some(channel) = Channel::from_name(notification.channel()) {
                    let _ = sender.send(BusEvent::Message {
                        channel,
                        payload: Arc::from(notification.payload()),
                    });
                }
            }
            // sqlx has already connected again and re-issued the LISTENs.
            Ok(None) => reconnected(&sender),
            Err(error) => {
                tracing::warn!(%error, "the notification listener failed; connecting again");
                let _ = sender.send(BusEvent::Interrupted);
                let mut wait = RETRY_FIRST;
                listener = loop {
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(wait) => {}
                    }
                    match listen(&database_url).await {
                        Ok(listener) => break listener,
                        Err(error) => {
                            tracing::warn!(%error, "the notification listener cannot connect yet");
                            wait = (wait * 2).min(RETRY_MAX);
                        }
                    }
                };
                reconnected(&sender);
            }
        }
    }
}

fn reconnected(sender: &broadcast::Sender<BusEvent>) {
    metrics::counter!("bus_listener_reconnects_total").increment(1);
    tracing::info!("the notification listener reconnected; subscribers re-read what they follow");
    let _ = sender.send(BusEvent::Reconnected);
}
