//! The automatic persisted queries' store: each instance's bounded cache in front of the `persisted_queries`
//! table, so that a document registered on one instance is found on every other.

use std::{num::NonZeroUsize, sync::Arc};

use async_graphql::{Pos, ServerError};
use sea_orm::{DatabaseConnection, DbErr};

use super::{DocumentHash, repo};
use crate::{
    cache::{Admission, Cache, CacheStats, Capacity, Policy},
    error::AppError,
    graphql::errors::to_graphql_error,
};

/// How many documents the table keeps, newest registrations first.
///
/// Anyone may register: a document only has to pass the budget and validation, and distinct valid documents are
/// endless (`{ a1: __typename }`, `{ a2: __typename }`, …). A rate limit per address would slow that growth but
/// never end it, and a botnet spreads it over many addresses; a cap ends it. 10,000 is more operations than
/// client apps ship, and at most 640 MiB of text at the default 64 KiB document limit (`ALX_MAX_QUERY_BYTES`).
/// A document pruned while clients still use it costs them one round trip (`PERSISTED_QUERY_NOT_FOUND`, then the
/// query again), and the instances' caches keep the hot ones without reading the table.
pub const MAX_STORED_DOCUMENTS: u64 = 10_000;

/// The memory a cache counted in documents may still hold: documents run up to `ALX_MAX_QUERY_BYTES` each, so
/// 10,000 of the largest would take 640 MiB.
const MAX_BYTES_WHEN_COUNTING_DOCUMENTS: NonZeroUsize = NonZeroUsize::new(64 * 1024 * 1024).expect("non-zero");

/// What a document holds in memory: its text, its hash, and the cache's bookkeeping around them.
fn estimated_bytes(_: &DocumentHash, query: &Arc<str>) -> usize {
    query.len() + 64
}

pub struct Store {
    local: Cache<DocumentHash, Arc<str>>,
    db: DatabaseConnection,
    max_rows: u64,
}

impl Store {
    /// A store caching documents in this process as `policy` and `capacity` say (a count of documents also keeps
    /// their text under 64 MiB), and keeping at most `max_rows` in the table.
    pub fn new(db: DatabaseConnection, policy: Policy, capacity: Capacity, max_rows: u64) -> Self {
        let local = Cache::with_weigher(policy, capacity, estimated_bytes);
        let local = match capacity {
            Capacity::Entries(_) => local.with_max_weight(MAX_BYTES_WHEN_COUNTING_DOCUMENTS),
            Capacity::Bytes(_) => local,
        };
        Self { local, db, max_rows }
    }

    /// See `Cache::with_admission`.
    pub fn with_admission(mut self, admission: Admission) -> Self {
        self.local = self.local.with_admission(admission);
        self
    }

    /// Whether this instance has the document already. A lookup, counted: under frequency admission a document
    /// sent again and again with its hash must earn its place, or every such request would register it anew.
    pub fn holds(&self, hash: DocumentHash) -> bool {
        self.local.get(&hash).is_some()
    }

    /// The document under `hash`: from this instance's cache, or from the table (and then cached).
    pub async fn find(&self, hash: DocumentHash) -> Result<Option<Arc<str>>, DbErr> {
        if let Some(query) = self.local.get(&hash) {
            return Ok(Some(query));
        }
        let Some(query) = repo::find_query(&self.db, &hash.to_string()).await? else {
            return Ok(None);
        };
        let query: Arc<str> = query.into();
        self.local.put(hash, query.clone());
        Ok(Some(query))
    }

    /// The counters of this instance's cache (a miss there may still be found in the table).
    pub fn stats(&self) -> CacheStats {
        self.local.stats()
    }

    /// Keeps a validated document here and in the table, then prunes the table past its cap. A failure to write
    /// is logged, not the client's: its operation ran, and the next request will register the document again.
    pub async fn register(&self, hash: DocumentHash, query: &str) {
        self.local.put(hash, query.into());
        // An ordering stamp, read from the system clock rather than the services' (which tests may stop, and
        // then every registration would tie and none would ever be pruned).
        let created_at = chrono::Utc::now();
        match repo::insert_query(&self.db, &hash.to_string(), query, created_at).await {
            Ok(true) => {
                if let Err(error) = repo::keep_newest(&self.db, self.max_rows).await {
                    tracing::warn!(%error, "could not prune the persisted queries");
                }
            }
            // Another instance stored it first.
            Ok(false) => {}
            Err(error) => tracing::warn!(%error, %hash, "could not store a persisted query"),
        }
    }
}

/// The table could not be read: an internal error, logged and masked like any other.
pub fn lookup_failed(error: DbErr) -> ServerError {
    let mut failure = to_graphql_error(AppError::from(error)).into_server_error(Pos::default());
    failure.locations.clear();
    failure
}
