//! Read leases: what lets a strict response cache on PostgreSQL serve hits without reading the epoch, on any number
//! of servers, and still never serve an answer older than a committed write.
//!
//! A server holds a shared advisory lock (`LEASE_KEY`) on a connection of its own while it trusts what it has
//! applied. A writer (see `fence`) must take that lock exclusively before it commits, so it cannot commit while any
//! server trusts: it asks for the lease back on the bus (`alx_lease`), and each server stops trusting *before* it
//! lets go. The server then waits for the writer to commit (the writer holds `BREAK_KEY` until then), takes the
//! lease again, reads the epoch once and trusts again. A request that finds the lease trusted therefore started
//! before any write it has not applied was committed.
//!
//! A lease lost with its connection (a killed backend, a network cut) is released by PostgreSQL without the server
//! having stopped trusting. So trust also expires `LEASE_TTL` after the last round trip that proved the connection
//! alive, and a writer that finds a registered lease neither held nor given back (`cache_leases` and
//! `pg_stat_activity`) waits `LEASE_TTL` before it commits: by then that server trusts no more.
//!
//! The cost moves from every read to every write: a write that touches cacheable data waits for each server to
//! give the lease back (a notification and a round trip), and a write that finds a lease lost waits `LEASE_TTL`.

use std::{
    convert::Infallible,
    future::Future,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use sea_orm::{
    DbErr,
    sqlx::{
        self, ConnectOptions, Connection,
        postgres::{PgConnectOptions, PgConnection},
    },
};
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use tokio_util::sync::CancellationToken;

use crate::bus::{BusEvent, Channel};

/// The advisory lock every trusting server holds shared. The keys spell "alx" and are only ever taken by us.
pub const LEASE_KEY: i64 = 0x616c_7800_0001;
/// Held by a writer from before it asks for the leases until it commits: a server that gave its lease back takes
/// it again only after that commit, so it cannot take it back before the writer gets it.
pub(super) const BREAK_KEY: i64 = 0x616c_7800_0002;
/// A lease connection's `application_name` while it holds the lease, and once it has given it back: a writer reads
/// it to tell a lease given back from one lost.
pub const HELD: &str = "alx-backend read lease: held";
pub(super) const RELEASED: &str = "alx-backend read lease: released";
/// How long trust outlives the last round trip on the lease connection; also how long a writer waits when a lease
/// may have been lost without being given back.
pub const LEASE_TTL: Duration = Duration::from_millis(500);
/// Well under `LEASE_TTL`, so that a live connection keeps the lease trusted between heartbeats.
const HEARTBEAT: Duration = Duration::from_millis(100);
const RETRY_FIRST: Duration = Duration::from_millis(50);
/// How long a server shutting down tries to unregister its lease.
const UNREGISTER_LIMIT: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// A reading of the clock trust is measured on: CLOCK_BOOTTIME on Linux, which goes on counting while the host
/// sleeps (a server suspended while trusted must find its trust expired when it wakes, as the writer that ended
/// its lease meanwhile assumed), where `Instant`'s monotonic clock stops; elsewhere the monotonic clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Moment(Duration);

impl Moment {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn now() -> Self {
        let now = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
        Self(Duration::new(
            u64::try_from(now.tv_sec).unwrap_or(0),
            u32::try_from(now.tv_nsec).unwrap_or(0),
        ))
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    fn now() -> Self {
        static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        Self(START.get_or_init(std::time::Instant::now).elapsed())
    }

    fn nanos(self) -> u64 {
        u64::try_from(self.0.as_nanos()).unwrap_or(u64::MAX)
    }
}

impl std::ops::Add<Duration> for Moment {
    type Output = Self;

    fn add(self, duration: Duration) -> Self {
        Self(self.0.saturating_add(duration))
    }
}

/// Whether a server may serve hits without reading the epoch: trusted until a deadline, which a writer's request
/// or a lost connection ends at once and every heartbeat moves on.
#[derive(Debug, Default)]
pub struct ReadLease {
    /// The `Moment` (in nanoseconds) until which the lease is trusted; 0 when it is not.
    trusted_until: AtomicU64,
}

impl ReadLease {
    pub fn trusts(&self) -> bool {
        let until = self.trusted_until.load(Ordering::SeqCst);
        until != 0 && Moment::now().nanos() < until
    }

    fn trust_until(&self, deadline: Moment) {
        self.trusted_until.store(deadline.nanos().max(1), Ordering::SeqCst);
    }

    fn distrust(&self) {
        self.trusted_until.store(0, Ordering::SeqCst);
    }

    /// Holds the lease until `shutdown`, taking it again after every writer's request and after a lost connection.
    /// `refresh` applies every write committed before it is called (the barrier's read); it runs each time the
    /// lease is taken, before trust.
    pub async fn hold<Refresh, Refreshed>(
        &self,
        options: &PgConnectOptions,
        mut news: broadcast::Receiver<BusEvent>,
        refresh: Refresh,
        shutdown: CancellationToken,
    ) where
        Refresh: Fn() -> Refreshed,
        Refreshed: Future<Output = Result<(), DbErr>>,
    {
        let mut wait = RETRY_FIRST;
        loop {
            let mut connection = None;
            // Shutdown may come at any step, a wait behind a writer included: the term is dropped wherever it is.
            let lost = tokio::select! {
                lost = self.term(options, &mut connection, &mut news, &refresh, &mut wait) => Some(lost),
                () = shutdown.cancelled() => None,
            };
            self.distrust();
            let Some(lost) = lost else {
                unregister(connection).await;
                return;
            };
            metrics::counter!("response_cache_lease_losses_total").increment(1);
            tracing::warn!(error = %lost, "the response cache's read lease was lost; hits read the epoch until it is back");
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
            wait = (wait * 2).min(RETRY_MAX);
        }
    }

    /// One lease connection's life, kept in `connection`: registered, then holding the lease and giving it back as
    /// writers ask, until it fails (a writer will find the registration orphaned).
    async fn term<Refresh, Refreshed>(
        &self,
        options: &PgConnectOptions,
        connection: &mut Option<PgConnection>,
        news: &mut broadcast::Receiver<BusEvent>,
        refresh: &Refresh,
        wait: &mut Duration,
    ) -> LeaseError
    where
        Refresh: Fn() -> Refreshed,
        Refreshed: Future<Output = Result<(), DbErr>>,
    {
        let connected = options.clone().application_name(RELEASED).connect().await;
        let connection = match connected {
            Ok(connected) => connection.insert(connected),
            Err(error) => return error.into(),
        };
        let registered = sqlx::query(
            "INSERT INTO cache_leases (pid, started) \
             SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()",
        )
        .execute(&mut *connection)
        .await;
        if let Err(error) = registered {
            return error.into();
        }
        *wait = RETRY_FIRST;
        match self.serve_writers(connection, news, refresh).await {
            Ok(never) => match never {},
            Err(error) => error,
        }
    }

    /// Takes the lease, trusts it, and gives it back whenever a writer asks, over and over; returns only on failure.
    async fn serve_writers<Refresh, Refreshed>(
        &self,
        connection: &mut PgConnection,
        news: &mut broadcast::Receiver<BusEvent>,
        refresh: &Refresh,
    ) -> Result<Infallible, LeaseError>
    where
        Refresh: Fn() -> Refreshed,
        Refreshed: Future<Output = Result<(), DbErr>>,
    {
        'lease: loop {
            let taken = take(connection).await?;
            // A request that arrived while the lease was being taken may be from a writer now waiting on it.
            if let Some(heard) = asked_back(news)? {
                give_back(connection, news, heard).await?;
                continue;
            }
            // Writers may be asking while the read waits for a pooled connection, which they may hold all of while
            // they queue on the epoch's row lock: the lease is given back at once, not after the read.
            let refreshed = refresh();
            tokio::pin!(refreshed);
            loop {
                tokio::select! {
                    result = &mut refreshed => {
                        result?;
                        break;
                    }
                    received = news.recv() => {
                        if let Some(heard) = heard(received)? {
                            give_back(connection, news, heard).await?;
                            continue 'lease;
                        }
                    }
                }
            }
            if let Some(heard) = asked_back(news)? {
                give_back(connection, news, heard).await?;
                continue;
            }
            self.trust_until(taken + LEASE_TTL);
            let mut heartbeat = tokio::time::interval(HEARTBEAT);
            loop {
                tokio::select! {
                    received = news.recv() => {
                        if let Some(heard) = heard(received)? {
                            self.distrust();
                            give_back(connection, news, heard).await?;
                            continue 'lease;
                        }
                    }
                    _ = heartbeat.tick() => {
                        let sent = Moment::now();
                        sqlx::query("SELECT 1").execute(&mut *connection).await?;
                        self.trust_until(sent + LEASE_TTL);
                    }
                }
            }
        }
    }
}

/// At shutdown: says the lease is given back for good, so that no writer waits for it to expire. Best effort: a
/// connection dropped in the middle of a statement (a wait behind a writer) may not answer in time, and then the
/// next writer finds the registration orphaned.
async fn unregister(connection: Option<PgConnection>) {
    let Some(mut connection) = connection else {
        return;
    };
    let unregistered = tokio::time::timeout(UNREGISTER_LIMIT, async {
        sqlx::query("DELETE FROM cache_leases WHERE pid = pg_backend_pid()")
            .execute(&mut connection)
            .await?;
        connection.close().await
    })
    .await;
    if !matches!(unregistered, Ok(Ok(()))) {
        tracing::info!("the read lease's registration is left for the next writer to forget");
    }
}

/// Takes the lease, after any writer that has asked for it has committed. Returns when its last statement was
/// sent: the session was alive after that, which is what trust may count from (not from the answer, which a
/// session killed just after sending it would still deliver).
async fn take(connection: &mut PgConnection) -> Result<Moment, sqlx::Error> {
    // A transaction lock, held for this statement only: a session lock held between two statements would stay
    // held, blocking every writer, if this server vanished between them without its connection being closed.
    // The subquery in `FROM` runs first: the lease is asked for once the writer has committed.
    sqlx::query("SELECT pg_advisory_lock_shared($1) FROM (SELECT pg_advisory_xact_lock_shared($2)) AS waited")
        .bind(LEASE_KEY)
        .bind(BREAK_KEY)
        .execute(&mut *connection)
        .await?;
    let sent = Moment::now();
    sqlx::query("SELECT set_config('application_name', $1, false)")
        .bind(HELD)
        .execute(&mut *connection)
        .await?;
    Ok(sent)
}

/// Gives the lease back, saying so first: a writer that gets the lock then knows this server stopped trusting. If
/// the bus is down, no request can reach this server, so it does not take the lease again until the bus is back.
async fn give_back(
    connection: &mut PgConnection,
    news: &mut broadcast::Receiver<BusEvent>,
    heard: Heard,
) -> Result<(), LeaseError> {
    metrics::counter!("response_cache_lease_breaks_total").increment(1);
    // The subquery in `FROM` runs first: the session says so before it lets go.
    sqlx::query("SELECT pg_advisory_unlock_shared($1) FROM (SELECT set_config('application_name', $2, false)) AS said")
        .bind(LEASE_KEY)
        .bind(RELEASED)
        .execute(&mut *connection)
        .await?;
    if heard == Heard::BusDown {
        loop {
            match news.recv().await {
                Ok(BusEvent::Reconnected) => return Ok(()),
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return Err(LeaseError::BusClosed),
            }
        }
    }
    Ok(())
}

/// What the bus said that makes the lease go back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Heard {
    /// A writer's request, or news that may have been lost (a reconnected listener, a subscriber fallen behind).
    Request,
    /// The listener lost its connection: requests cannot arrive until it is back.
    BusDown,
}

/// Whether what the bus said means the lease must go back, and why.
fn heard(received: Result<BusEvent, RecvError>) -> Result<Option<Heard>, LeaseError> {
    match received {
        Ok(BusEvent::Message {
            channel: Channel::Lease,
            ..
        })
        | Ok(BusEvent::Reconnected)
        | Err(RecvError::Lagged(_)) => Ok(Some(Heard::Request)),
        Ok(BusEvent::Interrupted) => Ok(Some(Heard::BusDown)),
        Ok(BusEvent::Message { .. }) => Ok(None),
        Err(RecvError::Closed) => Err(LeaseError::BusClosed),
    }
}

/// Whether anything the bus has said so far means the lease must go back (the bus being down outweighs a
/// request).
fn asked_back(news: &mut broadcast::Receiver<BusEvent>) -> Result<Option<Heard>, LeaseError> {
    let mut asked = None;
    loop {
        let received = match news.try_recv() {
            Ok(event) => Ok(event),
            Err(TryRecvError::Empty) => return Ok(asked),
            Err(TryRecvError::Lagged(missed)) => Err(RecvError::Lagged(missed)),
            Err(TryRecvError::Closed) => Err(RecvError::Closed),
        };
        asked = asked.max(heard(received)?);
    }
}

#[derive(Debug, thiserror::Error)]
enum LeaseError {
    #[error("{0}")]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Refresh(#[from] DbErr),
    #[error("the bus stopped")]
    BusClosed,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_ends_at_its_deadline_or_when_withdrawn() {
        let lease = ReadLease::default();
        assert!(!lease.trusts(), "a new lease is not trusted");
        lease.trust_until(Moment::now() + Duration::from_secs(60));
        assert!(lease.trusts());
        lease.distrust();
        assert!(!lease.trusts());
        lease.trust_until(Moment::now());
        assert!(!lease.trusts(), "a deadline already passed");
    }

    #[test]
    fn a_writers_request_and_possibly_lost_news_ask_for_the_lease_back_other_news_does_not() {
        let (sender, mut news) = broadcast::channel(4);
        let message = |channel| BusEvent::Message {
            channel,
            payload: "1".into(),
        };
        sender.send(message(Channel::Jobs)).expect("sent");
        sender.send(message(Channel::Cache)).expect("sent");
        assert_eq!(asked_back(&mut news).expect("open"), None);
        sender.send(message(Channel::Lease)).expect("sent");
        sender.send(message(Channel::Jobs)).expect("sent");
        assert_eq!(asked_back(&mut news).expect("open"), Some(Heard::Request));
        assert_eq!(asked_back(&mut news).expect("open"), None, "read once");
        sender.send(BusEvent::Reconnected).expect("sent");
        assert_eq!(asked_back(&mut news).expect("open"), Some(Heard::Request));
        sender.send(BusEvent::Interrupted).expect("sent");
        sender.send(message(Channel::Lease)).expect("sent");
        assert_eq!(
            asked_back(&mut news).expect("open"),
            Some(Heard::BusDown),
            "the bus being down outweighs a request"
        );
        for _ in 0..5 {
            sender.send(message(Channel::Jobs)).expect("sent");
        }
        assert_eq!(
            asked_back(&mut news).expect("open"),
            Some(Heard::Request),
            "a lagged subscriber may have missed a request"
        );
        drop(sender);
        assert!(asked_back(&mut news).is_err());
    }
}
