//! Parsed documents by query text. Clients send the same few operations over and over, and async-graphql's
//! parser costs more than the rest of a small request (about a fifth of the CPU of a `welcome` query here).
//!
//! Only documents that passed the budget and validation are kept, so junk cannot crowd out real operations, and
//! the cache is bounded by an estimate of the memory its parsed documents hold, not only by their number: a parsed
//! document is many times larger than its text. It is the cache toolkit's (`crate::cache`), with the configured
//! policy. Entries are shared (`Arc`): the lock is held only to find one, and the copy async-graphql's `Request`
//! needs is made outside it.

use std::{num::NonZeroUsize, sync::Arc};

use async_graphql::parser::types::ExecutableDocument;

use super::limits::DocumentCost;
use crate::cache::{Admission, Cache, CacheStats, Capacity, Policy};

/// Longer documents are parsed every time: caching a few of them would crowd out many ordinary ones.
const MAX_CACHED_QUERY_BYTES: usize = 16 * 1024;
/// A rough size of what one token becomes once parsed (a selection's node, a name, a value, with positions
/// and vectors): about 70 bytes for a list value, more for a field; for the memory estimate.
const BYTES_PER_TOKEN: usize = 128;
/// The estimated memory a cache sized in documents may still hold: about the parsed form of a few hundred
/// ordinary operations, while a thousand documents of the largest kind would take gigabytes.
const MAX_BYTES_WHEN_COUNTING_DOCUMENTS: NonZeroUsize = NonZeroUsize::new(32 * 1024 * 1024).expect("non-zero");

#[derive(Clone)]
pub struct CachedDocument {
    pub document: Arc<ExecutableDocument>,
    /// The document has no variables, so passing strict validation once means it always passes: it may run on the
    /// schema that skips the rules whose outcome depends on the document alone.
    pub trusted: bool,
    /// The estimated memory its query text and parsed form hold.
    bytes: usize,
}

fn estimated_bytes<Query>(_: &Query, cached: &CachedDocument) -> usize {
    cached.bytes
}

pub struct DocumentCache {
    documents: Cache<Box<str>, CachedDocument>,
}

impl DocumentCache {
    /// A cache of documents bounded by `capacity`: a number of documents (whose estimated size also stays under
    /// 32 MiB), or their estimated size in bytes.
    pub fn new(policy: Policy, capacity: Capacity) -> Self {
        let documents = Cache::with_weigher(policy, capacity, estimated_bytes);
        let documents = match capacity {
            Capacity::Entries(_) => documents.with_max_weight(MAX_BYTES_WHEN_COUNTING_DOCUMENTS),
            Capacity::Bytes(_) => documents,
        };
        Self { documents }
    }

    /// See `Cache::with_admission`.
    pub fn with_admission(mut self, admission: Admission) -> Self {
        self.documents = self.documents.with_admission(admission);
        self
    }

    /// Whether `query`'s document may be kept here at all.
    pub fn cacheable(query: &str) -> bool {
        query.len() <= MAX_CACHED_QUERY_BYTES
    }

    pub fn get(&self, query: &str) -> Option<CachedDocument> {
        if !Self::cacheable(query) {
            return None;
        }
        self.documents.get(query)
    }

    /// Keeps a document that passed validation, discarding others as the policy chooses past the bounds; one
    /// estimated larger than the whole bound is not kept.
    pub fn insert(&self, query: &str, document: Arc<ExecutableDocument>, cost: DocumentCost, trusted: bool) {
        if !Self::cacheable(query) {
            return;
        }
        let bytes = query.len().saturating_add(cost.tokens.saturating_mul(BYTES_PER_TOKEN));
        self.documents.put(
            query.into(),
            CachedDocument {
                document,
                trusted,
                bytes,
            },
        );
    }

    /// How many documents are kept, and their estimated size in bytes.
    pub fn usage(&self) -> (usize, usize) {
        let stats = self.documents.stats();
        (stats.size as usize, stats.weight as usize)
    }

    /// The cache's counters (for `cacheStats(name: DOCUMENTS)`).
    pub fn stats(&self) -> CacheStats {
        self.documents.stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(query: &str) -> Arc<ExecutableDocument> {
        Arc::new(async_graphql::parser::parse_query(query).expect("parses"))
    }

    fn cost(tokens: usize) -> DocumentCost {
        DocumentCost { tokens }
    }

    #[test]
    fn the_cache_stays_under_its_byte_bound_evicting_the_least_recent() {
        let bound = NonZeroUsize::new(3 * (BYTES_PER_TOKEN + 20)).expect("non-zero");
        let cache = DocumentCache::new(Policy::Lru, Capacity::Bytes(bound));
        for index in 0..5 {
            let query = format!("{{ a{index:02}: __typename }}");
            cache.insert(&query, parsed(&query), cost(1), true);
        }
        let (entries, bytes) = cache.usage();
        assert!(bytes <= 3 * (BYTES_PER_TOKEN + 20), "{bytes}");
        assert!(entries < 5);
        assert!(cache.get("{ a04: __typename }").is_some());
        assert!(cache.get("{ a00: __typename }").is_none());
    }

    #[test]
    fn a_document_larger_than_the_whole_bound_is_not_kept() {
        let cache = DocumentCache::new(
            Policy::Lru,
            Capacity::Bytes(NonZeroUsize::new(1_000).expect("non-zero")),
        );
        cache.insert("{ a }", parsed("{ a }"), cost(10), true);
        assert_eq!(cache.usage(), (0, 0));
    }

    #[test]
    fn replacing_an_entry_does_not_count_it_twice() {
        let cache = DocumentCache::new(
            Policy::Lru,
            Capacity::Entries(NonZeroUsize::new(100).expect("non-zero")),
        );
        cache.insert("{ a }", parsed("{ a }"), cost(1), false);
        cache.insert("{ a }", parsed("{ a }"), cost(1), true);
        assert_eq!(cache.usage(), (1, 5 + BYTES_PER_TOKEN));
        assert!(cache.get("{ a }").expect("kept").trusted);
    }

    #[test]
    fn counted_in_documents_the_cache_keeps_both_their_number_and_their_estimated_size_bounded() {
        let cache = DocumentCache::new(Policy::Lru, Capacity::Entries(NonZeroUsize::new(2).expect("non-zero")));
        for query in ["{ a }", "{ b }", "{ c }"] {
            cache.insert(query, parsed(query), cost(1), true);
        }
        assert_eq!(cache.usage().0, 2);
        assert!(cache.get("{ a }").is_none());

        let cache = DocumentCache::new(
            Policy::Lru,
            Capacity::Entries(NonZeroUsize::new(100).expect("non-zero")),
        );
        // 100,000 tokens estimate 12.8 MB: three of them exceed 32 MiB.
        for query in ["{ a }", "{ b }", "{ c }"] {
            cache.insert(query, parsed(query), cost(100_000), true);
        }
        let (entries, bytes) = cache.usage();
        assert_eq!(entries, 2);
        assert!(bytes <= MAX_BYTES_WHEN_COUNTING_DOCUMENTS.get(), "{bytes}");
        assert!(cache.get("{ a }").is_none());
        assert_eq!(cache.stats().evictions, 1);
    }
}
