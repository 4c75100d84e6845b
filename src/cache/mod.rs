//! One bounded, thread-safe cache whose replacement policy — FIFO, LIFO, LRU, MRU or LFU — is chosen when it is
//! built, bounded by a number of entries or by bytes, with counters. It knows no domain type: the server's caches
//! (parsed documents, persisted queries, responses, known requests, name counts) are built on it.
//!
//! The rules are the curriculum's (0x01-caching: `BaseCaching` with FIFO, LIFO, LRU, MRU and LFU subclasses that
//! print `DISCARD: key`), and they hold exactly: putting a present key updates its value and discards nothing
//! (with a weigher, a heavier value may make others go, and one heavier than the whole capacity takes the entry
//! out rather than leave its old value); LIFO counts an update as the newest put; the victim is always chosen
//! among the entries present before the new key; LFU breaks ties by least recent use; an entry heavier than the
//! whole capacity is not stored. `put` returns the discarded keys, in order.
//!
//! One departure is offered, off unless asked for (`with_admission`; the server's caches ask for it): frequency admission (`admission`), with which
//! a full cache refuses a new key that was looked up no more often lately than the victim it would displace.
//!
//! Every operation is O(1) (`retain` and `clear` excepted): a hash table of indices into a slab of linked entries
//! (`store`, `list`), ordered per policy (`policy`). Hand-written rather than taken from a crate because the
//! policies are this module's subject: no crate offers all five with the curriculum's rules (the `lru` crate is
//! LRU only; quick_cache and moka use their own admission schemes, which discard other keys than these rules do).
//! One mutex guards it; a hit takes it once, for a table probe, a few link updates and a clone of the value.

mod admission;
mod capacity;
mod list;
mod policy;
mod store;
#[cfg(test)]
mod tests;

use std::{
    borrow::Borrow,
    hash::Hash,
    num::NonZeroUsize,
    sync::{Mutex, MutexGuard, PoisonError},
};

pub use admission::{Admission, UnknownAdmission};
pub use capacity::{Capacity, InvalidCapacity};
pub use policy::{Policy, UnknownPolicy};
use store::{Limits, Looked, Store};

/// A snapshot of a cache's counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheStats {
    pub policy: Policy,
    pub admission: Admission,
    pub capacity: Capacity,
    /// Entries held.
    pub size: u64,
    /// Their total weight (their number, without a weigher).
    pub weight: u64,
    pub hits: u64,
    pub misses: u64,
    /// Entries discarded to make room (not those removed, retained out or cleared).
    pub evictions: u64,
    /// New entries a full cache did not store, frequency admission judging them less wanted than their victim.
    pub refusals: u64,
}

/// A bounded cache. `Send + Sync` when its keys and values are `Send`.
pub struct Cache<K, V> {
    policy: Policy,
    admission: Admission,
    capacity: Capacity,
    store: Mutex<Store<K, V>>,
}

impl<K: Hash + Eq + Clone, V: Clone> Cache<K, V> {
    /// A cache whose entries weigh 1 each.
    pub fn new(policy: Policy, capacity: Capacity) -> Self {
        Self::build(policy, capacity, None)
    }

    /// A cache whose entries weigh what `weigher` says (at least 1): with `Capacity::Bytes`, an estimate of the
    /// memory each holds. With `Capacity::Entries` the weight is only measured (see `with_max_weight`).
    pub fn with_weigher(policy: Policy, capacity: Capacity, weigher: fn(&K, &V) -> usize) -> Self {
        Self::build(policy, capacity, Some(weigher))
    }

    /// Also bounds the total weight, whatever the capacity counts: a cache sized in entries whose entries vary
    /// widely in size (parsed documents) keeps its number and its memory bounded.
    pub fn with_max_weight(mut self, max_weight: NonZeroUsize) -> Self {
        let limits = self
            .store
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .limits_mut();
        limits.weight = limits.weight.min(max_weight.get());
        self
    }

    /// With `Admission::Frequency`, a full cache stores a new key only if it was looked up more often lately than
    /// the entry the policy would discard for it (`admission`); such a refused put discards nothing. This departs
    /// from the curriculum's rules, which store every put, so the toolkit leaves it off unless asked for (the server
    /// asks, `ALX_CACHE_ADMISSION`). It suits LRU and LFU, whose
    /// victims are the entries least likely to be wanted; FIFO, LIFO and MRU may offer a hot entry as the victim,
    /// and a hot key that is out then ties with it and stays out.
    pub fn with_admission(mut self, admission: Admission) -> Self {
        self.admission = admission;
        self.store
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .set_admission(admission);
        self
    }

    fn build(policy: Policy, capacity: Capacity, weigher: Option<fn(&K, &V) -> usize>) -> Self {
        let limits = match capacity {
            Capacity::Entries(entries) => Limits {
                entries: entries.get(),
                weight: usize::MAX,
            },
            Capacity::Bytes(bytes) => Limits {
                entries: usize::MAX,
                weight: bytes.get(),
            },
        };
        Self {
            policy,
            admission: Admission::Always,
            capacity,
            store: Mutex::new(Store::new(policy, limits, weigher)),
        }
    }

    /// Every operation leaves the store consistent before it runs code it does not control (hashing, comparing
    /// and cloning keys and values, `retain`'s predicate), so a panic there cannot leave it half-changed: a
    /// poisoned lock is taken over.
    fn lock(&self) -> MutexGuard<'_, Store<K, V>> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value for `key`, counted as a hit or a miss; a hit is a use (LRU, MRU, LFU).
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.lock().get(key, |_| true).value
    }

    /// As `get`, for values that go bad: one `valid` refuses is removed and counted as a miss, not a hit.
    pub fn get_valid<Q>(&self, key: &Q, valid: impl FnOnce(&V) -> bool) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let looked = self.lock().get(key, valid);
        unlocked(looked)
    }

    /// The value for `key` if present and `valid` accepts it, counted as a hit and a use; otherwise nothing is
    /// counted (the caller looks it up again through a path that counts the miss), and a refused value is removed.
    pub fn get_present_valid<Q>(&self, key: &Q, valid: impl FnOnce(&V) -> bool) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let looked = self.lock().get_present(key, valid);
        unlocked(looked)
    }

    /// The value for `key`, neither counted nor used.
    pub fn peek<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.lock().peek(key).cloned()
    }

    /// Stores `value` under `key`, or updates the present one; returns the keys discarded to make room, in the
    /// order they went (the curriculum's `DISCARD: key` lines).
    pub fn put(&self, key: K, value: V) -> Vec<K> {
        self.lock().put(key, value)
    }

    /// Takes `key` out (not counted as an eviction).
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.lock().remove(key)
    }

    /// Keeps only the entries `keep` accepts, for invalidation. O(n) under the lock.
    pub fn retain(&self, keep: impl FnMut(&K, &V) -> bool) {
        self.lock().retain(keep);
    }

    /// Empties the cache; the counters go on.
    pub fn clear(&self) {
        self.lock().clear();
    }

    pub fn stats(&self) -> CacheStats {
        let store = self.lock();
        CacheStats {
            policy: self.policy,
            admission: self.admission,
            capacity: self.capacity,
            size: store.len() as u64,
            weight: store.weight() as u64,
            hits: store.hits,
            misses: store.misses,
            evictions: store.evictions,
            refusals: store.refusals,
        }
    }

    /// Lookups between two halvings of the admission sketch's counts.
    #[cfg(test)]
    fn sketch_period(&self) -> Option<usize> {
        self.lock().sketch_period()
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    pub fn capacity(&self) -> Capacity {
        self.capacity
    }
}

/// A lookup's value, once the lock is released: only then is the entry it refused dropped, since that runs code we
/// do not control (and may free a large answer).
fn unlocked<K, V>(looked: Looked<K, V>) -> Option<V> {
    drop(looked.refused);
    looked.value
}
