//! The automatic persisted queries' store: each instance's bounded cache in front of the `persisted_queries`
//! table, so that a document registered on one instance is found on every other.

use std::{
    num::NonZeroUsize,
    sync::{Arc, Mutex},
};

use async_graphql::{Pos, ServerError};
use lru::LruCache;
use sea_orm::{DatabaseConnection, DbErr};

use super::{DocumentHash, repo};
use crate::{error::AppError, graphql::errors::to_graphql_error};

/// How many documents the table keeps, newest registrations first.
///
/// Anyone may register: a document only has to pass the budget and validation, and distinct valid documents are
/// endless (`{ a1: __typename }`, `{ a2: __typename }`, …). A rate limit per address would slow that growth but
/// never end it, and a botnet spreads it over many addresses; a cap ends it. 10,000 is more operations than
/// client apps ship, and at most 640 MiB of text at the default 64 KiB document limit (`ALX_MAX_QUERY_BYTES`).
/// A document pruned while clients still use it costs them one round trip (`PERSISTED_QUERY_NOT_FOUND`, then the
/// query again), and the instances' caches keep the hot ones without reading the table.
pub const MAX_STORED_DOCUMENTS: u64 = 10_000;

pub struct Store {
    local: Mutex<LruCache<DocumentHash, Arc<str>>>,
    db: DatabaseConnection,
    max_rows: u64,
}

impl Store {
    /// A store caching `capacity` documents in this process and keeping at most `max_rows` in the table.
    pub fn new(db: DatabaseConnection, capacity: NonZeroUsize, max_rows: u64) -> Self {
        Self {
            local: Mutex::new(LruCache::new(capacity)),
            db,
            max_rows,
        }
    }

    /// Whether this instance has the document already, without counting a lookup.
    pub fn holds(&self, hash: DocumentHash) -> bool {
        self.local().contains(&hash)
    }

    /// The document under `hash`: from this instance's cache, or from the table (and then cached).
    pub async fn find(&self, hash: DocumentHash) -> Result<Option<Arc<str>>, DbErr> {
        if let Some(query) = self.local().get(&hash) {
            return Ok(Some(query.clone()));
        }
        let Some(query) = repo::find_query(&self.db, &hash.to_string()).await? else {
            return Ok(None);
        };
        let query: Arc<str> = query.into();
        self.local().put(hash, query.clone());
        Ok(Some(query))
    }

    /// Keeps a validated document here and in the table, then prunes the table past its cap. A failure to write
    /// is logged, not the client's: its operation ran, and the next request will register the document again.
    pub async fn register(&self, hash: DocumentHash, query: &str) {
        self.local().put(hash, query.into());
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

    fn local(&self) -> std::sync::MutexGuard<'_, LruCache<DocumentHash, Arc<str>>> {
        self.local.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The table could not be read: an internal error, logged and masked like any other.
pub fn lookup_failed(error: DbErr) -> ServerError {
    let mut failure = to_graphql_error(AppError::from(error)).into_server_error(Pos::default());
    failure.locations.clear();
    failure
}
