//! Parsed documents by query text. Clients send the same few operations over and over, and async-graphql's
//! parser costs more than the rest of a small request (about a fifth of the CPU of a `welcome` query here);
//! cloning a parsed document is far cheaper. A parse depends on the text alone, so one cache serves the process.
//! An entry also remembers whether its document passed async-graphql's strict validation, which for a document
//! without variables depends on the text and the schema's types alone (the same in every app of the process).

use std::{
    num::NonZeroUsize,
    sync::{LazyLock, Mutex},
};

use async_graphql::parser::types::ExecutableDocument;
use lru::LruCache;

const CAPACITY: usize = 512;
/// Longer documents are parsed every time: caching a few of them would crowd out many ordinary ones.
const MAX_CACHED_QUERY_BYTES: usize = 16 * 1024;

#[derive(Clone)]
pub struct Cached {
    pub document: ExecutableDocument,
    pub validated: bool,
}

static DOCUMENTS: LazyLock<Mutex<LruCache<String, Cached>>> =
    LazyLock::new(|| Mutex::new(LruCache::new(NonZeroUsize::new(CAPACITY).expect("non-zero capacity"))));

/// Whether `query`'s document is kept here at all.
pub fn cacheable(query: &str) -> bool {
    query.len() <= MAX_CACHED_QUERY_BYTES
}

pub fn get(query: &str) -> Option<Cached> {
    if !cacheable(query) {
        return None;
    }
    let mut documents = DOCUMENTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    documents.get(query).cloned()
}

pub fn put(query: &str, document: &ExecutableDocument) {
    if !cacheable(query) {
        return;
    }
    let mut documents = DOCUMENTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    documents.put(
        query.to_string(),
        Cached {
            document: document.clone(),
            validated: false,
        },
    );
}

/// Records that `query`'s document passed every validation rule.
pub fn mark_validated(query: &str) {
    let mut documents = DOCUMENTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(cached) = documents.get_mut(query) {
        cached.validated = true;
    }
}
