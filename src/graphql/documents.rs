//! Parsed documents by query text. Clients send the same few operations over and over, and async-graphql's
//! parser costs more than the rest of a small request (about a fifth of the CPU of a `welcome` query here).
//!
//! Only documents that passed the budget and validation are kept, so junk cannot crowd out real operations, and
//! the cache is bounded by an estimate of the memory its parsed documents hold, not only by their number: a parsed
//! document is many times larger than its text. Entries are shared (`Arc`): the lock is held only to find one,
//! and the copy async-graphql's `Request` needs is made outside it.

use std::{num::NonZeroUsize, sync::Arc};

use async_graphql::parser::types::ExecutableDocument;
use lru::LruCache;
use std::sync::Mutex;

use super::limits::DocumentCost;

/// Longer documents are parsed every time: caching a few of them would crowd out many ordinary ones.
const MAX_CACHED_QUERY_BYTES: usize = 16 * 1024;
/// A rough size of what one token becomes once parsed (a selection's node, a name, a value, with positions
/// and vectors): about 70 bytes for a list value, more for a field; for the memory estimate.
const BYTES_PER_TOKEN: usize = 128;

pub struct CachedDocument {
    pub document: Arc<ExecutableDocument>,
    /// The document has no variables, so passing strict validation once means it always passes: it may run on the
    /// schema that skips the rules whose outcome depends on the document alone.
    pub trusted: bool,
}

pub struct DocumentCache {
    inner: Mutex<Inner>,
    max_bytes: usize,
}

struct Inner {
    entries: LruCache<Box<str>, Entry>,
    bytes: usize,
}

struct Entry {
    document: Arc<ExecutableDocument>,
    trusted: bool,
    bytes: usize,
}

impl DocumentCache {
    /// A cache of at most `max_entries` documents whose estimated size stays under `max_bytes`.
    pub fn new(max_entries: usize, max_bytes: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                entries: LruCache::new(NonZeroUsize::new(max_entries.max(1)).expect("non-zero capacity")),
                bytes: 0,
            }),
            max_bytes,
        }
    }

    /// Whether `query`'s document may be kept here at all.
    pub fn cacheable(query: &str) -> bool {
        query.len() <= MAX_CACHED_QUERY_BYTES
    }

    pub fn get(&self, query: &str) -> Option<CachedDocument> {
        if !Self::cacheable(query) {
            return None;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        inner.entries.get(query).map(|entry| CachedDocument {
            document: entry.document.clone(),
            trusted: entry.trusted,
        })
    }

    /// Keeps a document that passed validation, evicting the least recently used ones past the size bound.
    pub fn insert(&self, query: &str, document: Arc<ExecutableDocument>, cost: DocumentCost, trusted: bool) {
        if !Self::cacheable(query) {
            return;
        }
        let bytes = query.len().saturating_add(cost.tokens.saturating_mul(BYTES_PER_TOKEN));
        if bytes > self.max_bytes {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = Entry {
            document,
            trusted,
            bytes,
        };
        if let Some((_, replaced)) = inner.entries.push(query.into(), entry) {
            inner.bytes -= replaced.bytes;
        }
        inner.bytes += bytes;
        while inner.bytes > self.max_bytes {
            match inner.entries.pop_lru() {
                Some((_, evicted)) => inner.bytes -= evicted.bytes,
                None => break,
            }
        }
    }

    /// How many documents are kept, and their estimated size in bytes.
    pub fn usage(&self) -> (usize, usize) {
        let inner = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        (inner.entries.len(), inner.bytes)
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
        let cache = DocumentCache::new(100, 3 * (BYTES_PER_TOKEN + 20));
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
        let cache = DocumentCache::new(100, 1_000);
        cache.insert("{ a }", parsed("{ a }"), cost(10), true);
        assert_eq!(cache.usage(), (0, 0));
    }

    #[test]
    fn replacing_an_entry_does_not_count_it_twice() {
        let cache = DocumentCache::new(100, 10_000);
        cache.insert("{ a }", parsed("{ a }"), cost(1), false);
        cache.insert("{ a }", parsed("{ a }"), cost(1), true);
        assert_eq!(cache.usage(), (1, 5 + BYTES_PER_TOKEN));
        assert!(cache.get("{ a }").expect("kept").trusted);
    }
}
