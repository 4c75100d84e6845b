//! The server's caches by name, as `cacheStats` (admins) and `/metrics` report them. The engine owns them and
//! hands the schema this registry; a new cache is one more `CacheName` and one more arm in `Caches::stats`.

use std::sync::Arc;

use async_graphql::{Context, Enum, Object, SimpleObject};

use super::{known_requests::KnownRequests, persisted::PersistedDocuments, response_cache::ResponseCache};
use crate::{
    cache::{Admission, CacheStats, Capacity, Policy},
    graphql::{documents::DocumentCache, guards::AdminOnly},
    names::NamesService,
};

/// The server's caches.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheName {
    /// Answers of cacheable queries.
    Responses,
    /// Automatic persisted queries by hash (in trusted-documents mode: the manifest).
    PersistedQueries,
    /// Parsed and validated documents by query text.
    Documents,
    /// Requests answered from the response cache before, by their bytes: the way a request sent again is answered
    /// without being parsed.
    KnownRequests,
    /// Counts of baby names by filter, for `babyNamesPage`'s totals.
    NameCounts,
}

impl CacheName {
    pub const ALL: [Self; 5] = [
        Self::Responses,
        Self::PersistedQueries,
        Self::Documents,
        Self::KnownRequests,
        Self::NameCounts,
    ];

    /// The `cache` label of its metrics.
    fn label(self) -> &'static str {
        match self {
            Self::Responses => "responses",
            Self::PersistedQueries => "persisted_queries",
            Self::Documents => "documents",
            Self::KnownRequests => "known_requests",
            Self::NameCounts => "name_counts",
        }
    }
}

/// The replacement policy of a cache: which entry a full cache discards.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(name = "CachePolicy")]
pub enum PolicyName {
    /// The first one put.
    Fifo,
    /// The last one put.
    Lifo,
    /// The least recently used.
    Lru,
    /// The most recently used.
    Mru,
    /// The least frequently used; among equals, the least recently.
    Lfu,
}

impl From<Policy> for PolicyName {
    fn from(policy: Policy) -> Self {
        match policy {
            Policy::Fifo => Self::Fifo,
            Policy::Lifo => Self::Lifo,
            Policy::Lru => Self::Lru,
            Policy::Mru => Self::Mru,
            Policy::Lfu => Self::Lfu,
        }
    }
}

/// Whether a full cache stores every new entry (`ALX_CACHE_ADMISSION`).
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(name = "CacheAdmission")]
pub enum AdmissionName {
    /// Every new entry, discarding the policy's victim.
    Always,
    /// Only an entry looked up more often lately than the victim it would displace.
    Frequency,
}

impl From<Admission> for AdmissionName {
    fn from(admission: Admission) -> Self {
        match admission {
            Admission::Always => Self::Always,
            Admission::Frequency => Self::Frequency,
        }
    }
}

/// The caches of one engine, shared with the schema so that a resolver can read them.
pub struct Caches {
    pub documents: DocumentCache,
    pub persisted: PersistedDocuments,
    /// `ALX_CACHE_POLICY`, which every cache uses.
    pub policy: Policy,
    pub responses: Arc<ResponseCache>,
    pub known: KnownRequests,
    /// The names service, whose count cache is reported with the others.
    pub names: NamesService,
}

impl Caches {
    pub fn stats(&self, name: CacheName) -> CacheStats {
        match name {
            CacheName::Responses => self.responses.stats(),
            CacheName::PersistedQueries => self.persisted.stats(self.policy),
            CacheName::Documents => self.documents.stats(),
            CacheName::KnownRequests => self.known.stats(),
            CacheName::NameCounts => self.names.count_cache_stats(),
        }
    }

    /// Sets the caches' gauges and counters, at scrape time: their counters are the caches' own, so nothing is
    /// recorded on the hot path.
    pub fn record_metrics(&self) {
        for name in CacheName::ALL {
            let stats = self.stats(name);
            let cache = name.label();
            metrics::gauge!("cache_entries", "cache" => cache).set(stats.size as f64);
            metrics::counter!("cache_hits_total", "cache" => cache).absolute(stats.hits);
            metrics::counter!("cache_misses_total", "cache" => cache).absolute(stats.misses);
            metrics::counter!("cache_evictions_total", "cache" => cache).absolute(stats.evictions);
            metrics::counter!("cache_refusals_total", "cache" => cache).absolute(stats.refusals);
        }
    }
}

/// How one cache of the instance that answers is doing; every instance has its own.
#[derive(SimpleObject)]
#[graphql(name = "CacheStats")]
pub struct CacheReport {
    name: CacheName,
    policy: PolicyName,
    admission: AdmissionName,
    /// Its bound as the `ALX_…_CAPACITY` settings write it, a count followed by `entries` (`10000 entries`) or a
    /// size (`64MiB`).
    capacity: String,
    /// Entries held.
    size: i32,
    /// Lookups that found their entry (the counters saturate at 2,147,483,647; `/metrics` has them whole).
    hits: i32,
    /// Lookups that did not.
    misses: i32,
    /// Entries discarded to make room.
    evictions: i32,
    /// New entries not stored because admission judged them less wanted than the entry they would displace.
    refusals: i32,
    /// Hits over lookups, from 0 to 1; 0 before the first lookup.
    hit_ratio: f64,
}

impl CacheReport {
    fn new(name: CacheName, stats: CacheStats) -> Self {
        let saturated = |count: u64| i32::try_from(count).unwrap_or(i32::MAX);
        Self {
            name,
            policy: stats.policy.into(),
            admission: stats.admission.into(),
            capacity: match stats.capacity {
                Capacity::Entries(entries) => format!("{entries} entries"),
                bytes @ Capacity::Bytes(_) => bytes.to_string(),
            },
            size: saturated(stats.size),
            hits: saturated(stats.hits),
            misses: saturated(stats.misses),
            evictions: saturated(stats.evictions),
            refusals: saturated(stats.refusals),
            hit_ratio: match stats.hits + stats.misses {
                0 => 0.0,
                lookups => stats.hits as f64 / lookups as f64,
            },
        }
    }
}

#[derive(Default)]
pub struct CacheStatsQuery;

#[Object]
impl CacheStatsQuery {
    /// How one of the server's caches is doing on the instance that answers. Admins only.
    #[graphql(guard = "AdminOnly", cache_control(no_cache))]
    async fn cache_stats(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(CacheName::Responses)")] name: Option<CacheName>,
    ) -> CacheReport {
        let name = name.unwrap_or(CacheName::Responses);
        CacheReport::new(name, ctx.data_unchecked::<Arc<Caches>>().stats(name))
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroUsize;

    use super::*;

    fn stats(capacity: Capacity, hits: u64) -> CacheStats {
        CacheStats {
            policy: Policy::Lfu,
            admission: Admission::Frequency,
            capacity,
            size: 3,
            weight: 3,
            hits,
            misses: 1,
            evictions: 0,
            refusals: 2,
        }
    }

    #[test]
    fn a_capacity_reads_as_its_setting_is_written() {
        let entries = Capacity::Entries(NonZeroUsize::new(10_000).expect("non-zero"));
        assert_eq!(
            CacheReport::new(CacheName::Documents, stats(entries, 0)).capacity,
            "10000 entries"
        );
        let bytes = Capacity::Bytes(NonZeroUsize::new(64 << 20).expect("non-zero"));
        assert_eq!(
            CacheReport::new(CacheName::Documents, stats(bytes, 0)).capacity,
            "64MiB"
        );
    }

    #[test]
    fn counters_past_the_graphql_int_saturate_and_the_ratio_stays_exact() {
        let entries = Capacity::Entries(NonZeroUsize::new(1).expect("non-zero"));
        let report = CacheReport::new(CacheName::Responses, stats(entries, 3_000_000_000));
        assert_eq!(report.hits, i32::MAX);
        assert_eq!(report.policy, PolicyName::Lfu);
        assert_eq!(report.admission, AdmissionName::Frequency);
        assert_eq!(report.refusals, 2);
        assert!((report.hit_ratio - 3e9 / (3e9 + 1.0)).abs() < 1e-12);
    }
}
