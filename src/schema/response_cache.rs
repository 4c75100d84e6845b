//! The response cache: whole answers to queries, served without parsing, validating or executing, and never
//! stale.
//!
//! - **What may be cached** is decided by the fields' hints (`#[graphql(cache_control(...))]`, Apollo's semantics
//!   as async-graphql computes them: the smallest max age over the fields touched, private if any field is). An
//!   answer with an error, or to a mutation, is never stored.
//! - **Tags.** While an answer is computed, `TagRecorder` notes the types of every field resolved (`freshness`
//!   tags: `Product`, `BabyName`, …). Every write touches the tags it changes in its own transaction.
//! - **Never stale.** In the default `strict` mode a request first passes a barrier: one read of the write epoch,
//!   shared by every request that arrived before it was sent (on a SQLite file, no read at all while its wal-index
//!   shows no commit since the last one: `CommitWatch`; on PostgreSQL, none while the server holds its read
//!   lease, which every write takes back before it commits: `ReadLease`); if writes the cache has not heard of
//!   committed, their tags are read and the answers holding them dropped before the answer is served. So a read
//!   that starts after a write committed (on any server) never sees the old answer. An answer is stored only if
//!   no tag it read was touched after its computation began (the race where a slow read would store its answer
//!   after the invalidation).
//!   PostgreSQL's notifications evict early; a lost listener connection drops everything. `fast` mode trusts the
//!   notifications alone and skips the barrier.
//! - **Single flight.** Concurrent misses for one key run once; the others wait for that answer.

use std::{
    collections::{HashMap, VecDeque},
    io::Write,
    sync::{
        Arc, Mutex, MutexGuard, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use async_graphql::{
    ServerResult, Value,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo},
};
use sea_orm::{DatabaseConnection, DbErr};
use sha2::{Digest, Sha256};
use tokio::{
    sync::{broadcast::error::RecvError, watch},
    task::JoinHandle,
};
use tokio_util::sync::CancellationToken;

use crate::{
    bus::{Bus, BusEvent, Channel},
    cache::{Admission, Cache, CacheStats, Capacity, Policy},
    db::StatementCounter,
    freshness::{self, CommitWatch, FreshnessMode, ReadLease, Tags, Touched, Unwatched},
};

/// What the key of an answer is made of; `user` only for a private answer.
pub struct KeyParts<'a> {
    pub query: &'a str,
    /// The persisted document the request names (`documentId`, `extensions.persistedQuery`), if any: a request
    /// that sends a query with a hash it does not match must not find the answer of the query alone.
    pub reference: &'a str,
    pub operation_name: Option<&'a str>,
    /// The variables as JSON (top-level keys sorted; nested objects as the client ordered them, which at worst
    /// gives two keys for one answer).
    pub variables: &'a str,
    pub locale: &'a str,
    pub time_zone: &'a str,
}

pub type Key = [u8; 32];

impl KeyParts<'_> {
    pub fn key(&self, user: Option<i32>) -> Key {
        let mut hash = Sha256::new();
        for part in [
            self.query,
            self.reference,
            self.operation_name.unwrap_or(""),
            self.variables,
            self.locale,
            self.time_zone,
        ] {
            // Lengths first, so that no two different sets of parts hash the same bytes.
            hash.update((part.len() as u64).to_le_bytes());
            hash.update(part.as_bytes());
        }
        match user {
            Some(user) => hash.update(
                [1].iter()
                    .chain(user.to_le_bytes().iter())
                    .copied()
                    .collect::<Vec<u8>>(),
            ),
            None => hash.update([0]),
        }
        hash.finalize().into()
    }
}

/// A stored answer, as the client receives it.
pub struct CachedResponse {
    pub body: bytes::Bytes,
    /// Quoted, as the `ETag` header carries it; shared, so that each response's header is a reference to it.
    pub etag: bytes::Bytes,
    /// The gzipped body's own tag: a strong validator names one representation (RFC 9110 8.8.1), and a cache
    /// that revalidates one must not be told it holds the other.
    pub gzipped_etag: bytes::Bytes,
    pub max_age: u32,
    pub private: bool,
    tags: Tags,
    expires: Instant,
    /// The body gzipped, made by the first hit that accepts it: compressed once, not on every response.
    gzipped: OnceLock<Option<bytes::Bytes>>,
}

impl CachedResponse {
    pub fn new(body: bytes::Bytes, max_age: u32, private: bool, tags: Tags) -> Self {
        let digest = Sha256::digest(&body);
        let tag = hex(&digest[..16]);
        Self {
            body,
            etag: bytes::Bytes::from(format!("\"{tag}\"")),
            gzipped_etag: bytes::Bytes::from(format!("\"{tag}-gzip\"")),
            max_age,
            private,
            tags,
            expires: Instant::now() + Duration::from_secs(u64::from(max_age)),
            gzipped: OnceLock::new(),
        }
    }

    /// What the answer may come to hold, as its cache entry is weighed: the body, the gzipped copy a hit may add
    /// later (never longer than the body, plus deflate's 5 bytes a 16 KiB block and gzip's 18 of framing), its
    /// two tags, and the rest. Counted up front, since the entry is not weighed again when the copy is made.
    fn most_bytes(&self) -> usize {
        let body = self.body.len();
        body + body + body.div_ceil(16 * 1024) * 5 + 18 + self.etag.len() + self.gzipped_etag.len() + 128
    }

    /// The body, gzipped (`None` if that failed, which writing to memory does not).
    pub fn gzipped(&self) -> Option<&bytes::Bytes> {
        self.gzipped
            .get_or_init(|| {
                let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                encoder.write_all(&self.body).ok()?;
                encoder.finish().ok().map(bytes::Bytes::from)
            })
            .as_ref()
    }

    /// Seconds of `max-age` left for an HTTP cache downstream.
    pub fn remaining_age(&self) -> u32 {
        u32::try_from(self.expires.saturating_duration_since(Instant::now()).as_secs()).unwrap_or(u32::MAX)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// What a request knew of writes when it began: answers computed for it are stored only if nothing they read
/// changed after this.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket {
    epoch: i64,
    generation: u64,
}

/// The writes this cache has applied, and the latest ones with their tags, for the check at store time.
struct Applied {
    /// Every write up to this epoch has been applied (its answers dropped).
    epoch: i64,
    /// Recent writes, in the order they were applied.
    recent: VecDeque<(i64, Tags)>,
    /// The latest epoch among the writes no longer in `recent`: an answer whose computation began before it
    /// cannot be checked, and is not stored.
    forgotten_after: i64,
    /// Grows when everything is dropped (a lost listener): answers computed before are not stored.
    generation: u64,
}

/// Writes remembered for the store-time check: far more than can commit while one answer is computed.
const RECENT_WRITES: usize = 4096;

/// How long `close` waits for the read lease to be given back and unregistered.
const LEASE_GIVE_UP: Duration = Duration::from_secs(5);

/// How long after a busy probe the wal-index watch is tried again.
const WATCH_RETRY: Duration = Duration::from_secs(1);

/// Larger answers are not stored: a small document can ask for a very large answer (aliases times rows), and one
/// such answer must not be able to fill the cache.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// The barrier's bookkeeping: a request takes a number on arrival; a read of the epoch covers every number taken
/// before it was sent.
#[derive(Default)]
struct Barrier {
    arrivals: AtomicU64,
    covered: AtomicU64,
    gate: tokio::sync::Mutex<()>,
}

type Flight = (Ticket, watch::Receiver<Option<Option<Arc<CachedResponse>>>>);

pub struct ResponseCache {
    entries: Cache<Key, Arc<CachedResponse>>,
    db: DatabaseConnection,
    statements: StatementCounter,
    mode: FreshnessMode,
    applied: Mutex<Applied>,
    barrier: Barrier,
    /// On a SQLite file, what lets the barrier skip its read while nothing commits (see `watch_commits`).
    commits: OnceLock<CommitWatch>,
    /// Set by `close`: a watch opened after it is closed at once, not kept.
    watch_closed: Mutex<bool>,
    /// On PostgreSQL, while held and trusted, what lets the barrier skip its read (see `hold_lease`).
    lease: ReadLease,
    lease_holder: Mutex<Option<JoinHandle<()>>>,
    flights: Mutex<HashMap<Key, Flight>>,
}

/// How a lookup went.
pub enum Lookup {
    Hit(Arc<CachedResponse>),
    /// Run the operation, then `finish` with its answer.
    Lead(Leader),
    /// Another request for this key is running; its answer (if storable) will do.
    Follow(watch::Receiver<Option<Option<Arc<CachedResponse>>>>),
}

/// The request that runs a missed key; others wait on it. Dropping it without `finish` releases them.
pub struct Leader {
    key: Key,
    ticket: Ticket,
    sender: watch::Sender<Option<Option<Arc<CachedResponse>>>>,
    cache: Arc<ResponseCache>,
}

impl Leader {
    /// Stores the answer if it may be — a private one under `private_key`, the caller's — and hands a stored
    /// public one to the requests waiting on this key (a private one is nobody else's: they run the operation
    /// themselves). Returns the answer, stored or not, for the caller's own response.
    pub fn finish(self, answer: Option<CachedResponse>, private_key: Option<Key>) -> Option<Arc<CachedResponse>> {
        let Some(answer) = answer.map(Arc::new) else {
            let _ = self.sender.send(Some(None));
            return None;
        };
        let key = if answer.private { private_key } else { Some(self.key) };
        let stored = key.is_some_and(|key| self.cache.store(key, self.ticket, answer.clone()));
        let shared = (stored && !answer.private).then(|| answer.clone());
        let _ = self.sender.send(Some(shared));
        Some(answer)
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        // A newer flight for the key (started after a write this one did not know of) is not this one's to end.
        let mut flights = self.cache.lock_flights();
        if flights.get(&self.key).is_some_and(|(ticket, _)| *ticket == self.ticket) {
            flights.remove(&self.key);
        }
        drop(flights);
        // Waiters of a leader that never finished (its request was dropped) run the operation themselves.
        self.sender.send_if_modified(|value| {
            if value.is_none() {
                *value = Some(None);
                true
            } else {
                false
            }
        });
    }
}

impl ResponseCache {
    pub fn new(
        db: DatabaseConnection,
        statements: StatementCounter,
        policy: Policy,
        capacity: Capacity,
        mode: FreshnessMode,
    ) -> Self {
        // SQLite has no notifications to trust: `fast` would never hear of a write, so it is strict there.
        let mode = if mode == FreshnessMode::Fast && db.get_database_backend() == sea_orm::DatabaseBackend::Sqlite {
            FreshnessMode::Strict
        } else {
            mode
        };
        Self {
            entries: Cache::with_weigher(policy, capacity, |_, answer| answer.most_bytes()),
            db,
            statements,
            mode,
            applied: Mutex::new(Applied {
                epoch: 0,
                recent: VecDeque::new(),
                forgotten_after: 0,
                generation: 0,
            }),
            barrier: Barrier::default(),
            commits: OnceLock::new(),
            watch_closed: Mutex::new(false),
            lease: ReadLease::default(),
            lease_holder: Mutex::new(None),
            flights: Mutex::default(),
        }
    }

    /// Lets the strict barrier trust SQLite's wal-index (see `CommitWatch`): while it shows no commit since the last
    /// epoch read, that read still tells the current epoch, and a request passes at once. Called by the server
    /// before it takes requests, not at build: a worker process serves no hits, and would hold the watch's
    /// connection for nothing. If another writer held the database through the probe, later tries run in the
    /// background until one succeeds or `shutdown`; meanwhile every wave of requests reads the epoch, as without
    /// a watch.
    pub async fn watch_commits(self: &Arc<Self>, shutdown: CancellationToken) {
        if self.mode != FreshnessMode::Strict {
            return;
        }
        match CommitWatch::open(&self.db).await {
            Ok(commits) => self.install(commits).await,
            Err(Unwatched::Never) => {}
            Err(Unwatched::Busy) => {
                let cache = self.clone();
                tokio::spawn(async move {
                    loop {
                        tokio::select! {
                            () = shutdown.cancelled() => return,
                            () = tokio::time::sleep(WATCH_RETRY) => {}
                        }
                        match CommitWatch::open(&cache.db).await {
                            Ok(commits) => return cache.install(commits).await,
                            Err(Unwatched::Never) => return,
                            Err(Unwatched::Busy) => {}
                        }
                    }
                });
            }
        }
    }

    async fn install(&self, commits: CommitWatch) {
        let refused = {
            let closed = self.lock_watch_closed();
            if *closed {
                Err(commits)
            } else {
                self.commits.set(commits)
            }
        };
        if let Err(commits) = refused {
            commits.close().await;
        }
    }

    /// Holds a read lease on PostgreSQL in strict mode until `shutdown` (see `ReadLease`): while it is trusted,
    /// hits read nothing. Called by the server before it takes requests; a worker process serves no hits.
    pub fn hold_lease(self: &Arc<Self>, bus: &Bus, shutdown: CancellationToken) {
        if self.mode != FreshnessMode::Strict || self.db.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
            return;
        }
        let options = self.db.get_postgres_connection_pool().connect_options();
        let news = bus.subscribe();
        let cache = self.clone();
        let holder = tokio::spawn(async move {
            cache
                .lease
                .hold(&options, news, || cache.read_barrier(), shutdown)
                .await;
        });
        *self.lock_lease_holder() = Some(holder);
    }

    /// Whether hits pass without reading the epoch now, on a trusted read lease.
    pub fn trusts_lease(&self) -> bool {
        self.lease.trusts()
    }

    /// Whether the barrier trusts SQLite's wal-index.
    pub fn watches_commits(&self) -> bool {
        self.commits.get().is_some()
    }

    /// See `Cache::with_admission`.
    pub fn with_admission(mut self, admission: Admission) -> Self {
        self.entries = self.entries.with_admission(admission);
        self
    }

    /// At shutdown, before the pool closes: lets go of what the cache holds open in the database.
    pub async fn close(&self) {
        let holder = self.lock_lease_holder().take();
        if let Some(mut holder) = holder
            && tokio::time::timeout(LEASE_GIVE_UP, &mut holder).await.is_err()
        {
            holder.abort();
            tracing::warn!("the read lease was not given back in time; writers will wait for it to expire");
        }
        *self.lock_watch_closed() = true;
        if let Some(commits) = self.commits.get() {
            commits.close().await;
        }
    }

    /// Whether the cache is turned off (`ALX_RESPONSE_CACHE_MODE=off`): every answer is computed.
    pub fn is_off(&self) -> bool {
        self.mode == FreshnessMode::Off
    }

    pub fn stats(&self) -> CacheStats {
        self.entries.stats()
    }

    fn lock_applied(&self) -> MutexGuard<'_, Applied> {
        self.applied.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock_lease_holder(&self) -> MutexGuard<'_, Option<JoinHandle<()>>> {
        self.lease_holder
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock_watch_closed(&self) -> MutexGuard<'_, bool> {
        self.watch_closed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock_flights(&self) -> MutexGuard<'_, HashMap<Key, Flight>> {
        self.flights.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Learns the current epoch at start-up and follows the bus: notified writes evict early, a lost listener
    /// drops everything.
    pub fn start(self: &Arc<Self>, bus: &Bus) {
        if self.is_off() {
            return;
        }
        let mut news = bus.subscribe();
        let cache = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let received = news.recv().await;
                let Some(cache) = cache.upgrade() else { return };
                match received {
                    Ok(BusEvent::Message {
                        channel: Channel::Cache,
                        payload,
                    }) => {
                        if let Some(touched) = Touched::parse(&payload) {
                            cache.apply(touched.epoch, touched.tags(), true);
                        }
                    }
                    // Everything is dropped once it is back (`Reconnected`).
                    Ok(BusEvent::Message { .. } | BusEvent::Interrupted) => {}
                    Ok(BusEvent::Reconnected) | Err(RecvError::Lagged(_)) => cache.drop_everything(),
                    Err(RecvError::Closed) => return,
                }
            }
        });
    }

    fn ticket(&self) -> Ticket {
        let applied = self.lock_applied();
        Ticket {
            epoch: applied.epoch,
            generation: applied.generation,
        }
    }

    /// Looks `key` up (and `private_key`, the caller's own, when given), in strict mode after the barrier. A miss
    /// passes it too: its ticket must name every write committed before it began, or the next barrier would find
    /// those writes and drop its fresh answer for nothing. (Documents known to be uncacheable skip the cache, and
    /// so the barrier, altogether: see `Engine::answer`.)
    pub async fn lookup(self: &Arc<Self>, key: Key, private_key: Option<Key>) -> Result<Lookup, DbErr> {
        if self.mode == FreshnessMode::Strict {
            self.pass_barrier().await?;
        }
        Ok(self.lookup_known(self.ticket(), key, private_key))
    }

    /// The answer under `key` if it is held and fresh, after the barrier in strict mode; only a hit is counted,
    /// since a miss goes on to `lookup`, which counts it.
    pub async fn hit(&self, key: &Key) -> Result<Option<Arc<CachedResponse>>, DbErr> {
        if self.mode == FreshnessMode::Strict {
            self.pass_barrier().await?;
        }
        let now = Instant::now();
        Ok(self.entries.get_present_valid(key, |answer| answer.expires > now))
    }

    /// Makes sure every write committed before this call is applied: one epoch read per wave of requests.
    async fn pass_barrier(&self) -> Result<(), DbErr> {
        if self.lease.trusts() || self.commits.get().is_some_and(CommitWatch::unchanged) {
            return Ok(());
        }
        self.read_barrier().await
    }

    /// The barrier's read, shared by every request that arrived before it is sent.
    async fn read_barrier(&self) -> Result<(), DbErr> {
        let number = self.barrier.arrivals.fetch_add(1, Ordering::SeqCst) + 1;
        let _turn = self.barrier.gate.lock().await;
        if self.barrier.covered.load(Ordering::SeqCst) >= number {
            return Ok(());
        }
        // Everyone who took a number so far arrived before this read is sent: it covers them all.
        let covering = self.barrier.arrivals.load(Ordering::SeqCst);
        // Taken before the read is sent: every commit it shows, the read sees.
        let seen = self.commits.get().and_then(CommitWatch::header);
        let epoch = freshness::current_epoch(&self.db, &self.statements).await?;
        let known = self.lock_applied().epoch;
        if epoch > known {
            let changed = freshness::changed_since(&self.db, known).await?;
            for (tags, at) in changed {
                self.apply(at, tags, false);
            }
            let mut applied = self.lock_applied();
            applied.epoch = applied.epoch.max(epoch);
        }
        self.barrier.covered.store(covering, Ordering::SeqCst);
        if let Some(commits) = self.commits.get() {
            commits.verified(seen);
        }
        Ok(())
    }

    /// Drops the answers that read `tags`, changed at `epoch`. A notification (`in_order`) also moves the applied
    /// epoch: they arrive in commit order, which is epoch order.
    fn apply(&self, epoch: i64, tags: Tags, in_order: bool) {
        let mut applied = self.lock_applied();
        // A notification the barrier overtook: its write is applied, and the answers stored since were checked
        // against it. Applying it again would drop them for nothing (a fresh answer lost to a late notification).
        if in_order && epoch <= applied.epoch {
            return;
        }
        self.entries.retain(|_, answer| !answer.tags.intersects(tags));
        applied.recent.push_back((epoch, tags));
        if applied.recent.len() > RECENT_WRITES
            && let Some((forgotten, _)) = applied.recent.pop_front()
        {
            applied.forgotten_after = applied.forgotten_after.max(forgotten);
        }
        if in_order {
            applied.epoch = applied.epoch.max(epoch);
        }
    }

    fn drop_everything(&self) {
        let mut applied = self.lock_applied();
        self.entries.clear();
        applied.generation += 1;
        tracing::info!("the response cache dropped everything: it may have missed invalidations");
    }

    fn lookup_known(self: &Arc<Self>, ticket: Ticket, key: Key, private_key: Option<Key>) -> Lookup {
        let now = Instant::now();
        for key in std::iter::once(key).chain(private_key) {
            if let Some(answer) = self.entries.get_valid(&key, |answer| answer.expires > now) {
                return Lookup::Hit(answer);
            }
        }
        let mut flights = self.lock_flights();
        // A request joins a running computation only if it knows of no write that one did not know of.
        if let Some((started, waiting)) = flights.get(&key)
            && *started == ticket
        {
            return Lookup::Follow(waiting.clone());
        }
        let (sender, receiver) = watch::channel(None);
        flights.insert(key, (ticket, receiver));
        Lookup::Lead(Leader {
            key,
            ticket,
            sender,
            cache: self.clone(),
        })
    }

    /// Offers `answer` to the cache under `key` unless a tag it read was touched after `ticket`, or it is too
    /// large; true if it passed those checks, and so may be handed to the requests waiting on it (frequency
    /// admission may still decline to keep it).
    fn store(&self, key: Key, ticket: Ticket, answer: Arc<CachedResponse>) -> bool {
        if answer.body.len() > MAX_ANSWER_BYTES {
            return false;
        }
        let applied = self.lock_applied();
        if applied.generation != ticket.generation || applied.forgotten_after > ticket.epoch {
            return false;
        }
        let touched_since = applied
            .recent
            .iter()
            .any(|(epoch, tags)| *epoch > ticket.epoch && tags.intersects(answer.tags));
        if touched_since {
            return false;
        }
        // The lock on `applied` is held across the insert, so an invalidation cannot slip between check and store.
        self.entries.put(key, answer);
        true
    }
}

/// The tags an answer read, gathered while it is computed (request data).
#[derive(Default)]
pub struct ReadTags(AtomicU64);

impl ReadTags {
    pub fn tags(&self) -> Tags {
        Tags::from_bits(self.0.load(Ordering::Relaxed))
    }
}

/// Notes the type of every field resolved for a request that carries `ReadTags`.
pub struct TagRecorder;

impl ExtensionFactory for TagRecorder {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(TagRecorderExtension)
    }
}

struct TagRecorderExtension;

/// Root fields name the type they read (`products` → `Product`): a root field's own parent is `Query`.
fn root_field_tag(field: &str) -> Option<Tags> {
    const ROOTS: [(&str, &str); 3] = [("babyName", "BabyName"), ("product", "Product"), ("event", "Event")];
    ROOTS
        .iter()
        .find(|(prefix, _)| field.starts_with(prefix))
        .and_then(|(_, tag)| Tags::named(tag))
}

#[async_graphql::async_trait::async_trait]
impl Extension for TagRecorderExtension {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if let Some(read) = ctx.data_opt::<Arc<ReadTags>>() {
            let tags = if info.parent_type == "Query" {
                root_field_tag(info.name)
            } else {
                Tags::of_type(info.parent_type)
            };
            if let Some(tags) = tags {
                read.0.fetch_or(tags.bits(), Ordering::Relaxed);
            }
        }
        next.run(ctx, info).await
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroUsize;

    use super::*;

    async fn strict_cache() -> Arc<ResponseCache> {
        // One connection: every connection to `:memory:` opens a database of its own.
        let (db, statements) = crate::db::connect("sqlite::memory:", 1)
            .await
            .expect("an in-memory database");
        crate::db::migrate_up(&db).await.expect("migrations");
        let capacity = Capacity::Entries(NonZeroUsize::new(8).expect("non-zero"));
        Arc::new(ResponseCache::new(
            db,
            statements,
            Policy::Lru,
            capacity,
            FreshnessMode::Strict,
        ))
    }

    #[tokio::test]
    async fn a_watch_refused_while_another_writer_held_the_database_is_tried_again_and_kept() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("cache.db").display());
        let (db, statements) = crate::db::connect(&url, 2).await.expect("connect");
        crate::db::migrate_up(&db).await.expect("migrations");
        let capacity = Capacity::Entries(NonZeroUsize::new(8).expect("non-zero"));
        let cache = Arc::new(ResponseCache::new(
            db.clone(),
            statements,
            Policy::Lru,
            capacity,
            FreshnessMode::Strict,
        ));
        let mut writer = db.get_sqlite_connection_pool().acquire().await.expect("a connection");
        sea_orm::sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut *writer)
            .await
            .expect("begin");
        cache.watch_commits(CancellationToken::new()).await;
        assert!(!cache.watches_commits());
        sea_orm::sqlx::query("COMMIT")
            .execute(&mut *writer)
            .await
            .expect("commit");
        tokio::time::timeout(Duration::from_secs(60), async {
            while !cache.watches_commits() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("a later try keeps the watch");
    }

    async fn store(cache: &Arc<ResponseCache>, key: Key, max_age: u32) {
        let Lookup::Lead(leader) = cache.lookup(key, None).await.expect("the epoch is read") else {
            panic!("an empty cache has nothing to hit or follow");
        };
        let answer = CachedResponse::new(bytes::Bytes::from_static(b"{}"), max_age, false, Tags::of(&["Product"]));
        leader.finish(Some(answer), None);
    }

    #[test]
    fn an_answer_is_weighed_with_room_for_its_gzipped_copy_even_when_it_does_not_compress() {
        // Bytes from a linear congruential generator: nothing for deflate to find.
        let mut state = 12_345_u64;
        let noise: Vec<u8> = (0..100_000)
            .map(|_| {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                (state >> 56) as u8
            })
            .collect();
        for body in [noise, b"{\"data\":{}}".repeat(1000), Vec::new()] {
            let answer = CachedResponse::new(bytes::Bytes::from(body), 60, false, Tags::of(&["Product"]));
            let held = answer.body.len() + answer.gzipped().expect("gzipped").len();
            assert!(answer.most_bytes() >= held, "{} < {held}", answer.most_bytes());
        }
    }

    #[tokio::test]
    async fn an_answer_past_its_max_age_is_a_miss_and_is_dropped_never_a_hit() {
        let cache = strict_cache().await;
        let (fresh, expired) = ([1; 32], [2; 32]);
        store(&cache, fresh, 60).await;
        // Its max age is over as soon as it is stored.
        store(&cache, expired, 0).await;
        assert_eq!(cache.stats().size, 2);

        assert!(cache.hit(&fresh).await.expect("read").is_some());
        assert!(cache.hit(&expired).await.expect("read").is_none());
        assert_eq!(cache.stats().size, 1, "the expired answer is taken out");
        assert!(matches!(
            cache.lookup(expired, None).await.expect("read"),
            Lookup::Lead(_)
        ));
        store(&cache, expired, 0).await;
        assert!(matches!(
            cache.lookup(expired, None).await.expect("read"),
            Lookup::Lead(_)
        ));
        assert!(matches!(cache.lookup(fresh, None).await.expect("read"), Lookup::Hit(_)));

        let stats = cache.stats();
        // Lookups: the three that stored (misses), the fresh hit twice; the expired one twice through `lookup`
        // (misses); the front door's `hit` on it counts nothing, its caller looks it up again.
        assert_eq!((stats.hits, stats.misses), (2, 5), "{stats:?}");
    }
}
