//! The cache without its lock: a hash table of slab indices in front of the slab of entries, and the policy's
//! order linked through that slab.
//!
//! The table holds only `u32` indices; keys live once, in the slab, and the table compares against them. So a
//! lookup clones nothing, a put stores its key without cloning it, and the entry keeps its hash, so discarding
//! one and growing the table never hash a key again (document keys are query texts of up to 16 KiB).

use std::{
    borrow::Borrow,
    hash::{BuildHasher, Hash},
};

use foldhash::fast::RandomState;
use hashbrown::HashTable;

use super::{
    admission::{Admission, FrequencySketch},
    list::{MAX_NODES, NIL, Slab},
    policy::{Order, Policy},
};

pub(super) struct Entry<K, V> {
    pub(super) key: K,
    pub(super) value: V,
    pub(super) hash: u64,
    pub(super) weight: usize,
}

/// What the store may hold: entries and total weight.
#[derive(Clone, Copy, Debug)]
pub(super) struct Limits {
    pub(super) entries: usize,
    pub(super) weight: usize,
}

/// The entries' slab: a free slot holds `None`.
type Entries<K, V> = Slab<Option<Entry<K, V>>>;

fn entry<K, V>(entries: &Entries<K, V>, index: u32) -> &Entry<K, V> {
    entries.get(index).as_ref().expect("a linked slot holds an entry")
}

fn entry_mut<K, V>(entries: &mut Entries<K, V>, index: u32) -> &mut Entry<K, V> {
    entries.get_mut(index).as_mut().expect("a linked slot holds an entry")
}

/// What a lookup found, and the entry it took out because `valid` refused it: the caller drops that once the
/// lock is released, since dropping a value runs code we do not control (and may free a large answer).
pub(super) struct Looked<K, V> {
    pub(super) value: Option<V>,
    pub(super) refused: Option<(K, V)>,
}

pub(super) struct Store<K, V> {
    table: HashTable<u32>,
    /// foldhash, which hashbrown's own maps use, seeded at random per cache. On the benchmark's trace ahash was as
    /// fast and std's SipHash cost half as much again per operation (`bench/README.md`).
    hasher: RandomState,
    entries: Entries<K, V>,
    order: Order,
    limits: Limits,
    weigher: Option<fn(&K, &V) -> usize>,
    weight: usize,
    /// With frequency admission: how often keys were looked up lately.
    sketch: Option<FrequencySketch>,
    pub(super) hits: u64,
    pub(super) misses: u64,
    pub(super) evictions: u64,
    pub(super) refusals: u64,
}

impl<K: Hash + Eq, V> Store<K, V> {
    pub(super) fn new(policy: Policy, limits: Limits, weigher: Option<fn(&K, &V) -> usize>) -> Self {
        Self {
            table: HashTable::new(),
            hasher: RandomState::default(),
            entries: Slab::new(),
            order: Order::new(policy),
            limits: Limits {
                entries: limits.entries.min(MAX_NODES),
                weight: limits.weight,
            },
            weigher,
            weight: 0,
            sketch: None,
            hits: 0,
            misses: 0,
            evictions: 0,
            refusals: 0,
        }
    }

    pub(super) fn limits_mut(&mut self) -> &mut Limits {
        &mut self.limits
    }

    /// With `Frequency`, from now on a new key is stored in a full cache only if it was looked up more often
    /// lately than its victims; with `Always`, every new key is stored again. The sketch is sized by the entries
    /// the cache can hold: its entry bound, or, bounded by weight, as many 1 KiB entries as fit (whichever is
    /// smaller), so that its counts age at the pace of the cache's own turnover.
    pub(super) fn set_admission(&mut self, admission: Admission) {
        match admission {
            Admission::Always => {
                self.sketch = None;
                self.order.enter_at_one();
            }
            Admission::Frequency => {
                let by_weight = self.limits.weight / 1024;
                let entries = self.limits.entries.min(by_weight).max(1);
                self.sketch = Some(FrequencySketch::new(entries));
                self.order.enter_at_estimates();
            }
        }
    }

    /// Lookups between two halvings of the sketch's counts, if there is one.
    #[cfg(test)]
    pub(super) fn sketch_period(&self) -> Option<usize> {
        self.sketch.as_ref().map(FrequencySketch::period)
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn weight(&self) -> usize {
        self.weight
    }

    #[inline]
    fn find<Q>(&self, hash: u64, key: &Q) -> Option<u32>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let entries = &self.entries;
        self.table
            .find(hash, |&index| entry(entries, index).key.borrow() == key)
            .copied()
    }

    /// A copy of the value, counted as a hit (and a use) or a miss. Copied before the entry moves, while the
    /// lookup's access to it is at hand.
    #[inline]
    pub(super) fn get<Q>(&mut self, key: &Q, valid: impl FnOnce(&V) -> bool) -> Looked<K, V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        self.lookup(key, true, valid)
    }

    /// As `get`, but an absent key is neither counted nor recorded: the caller asks again elsewhere, and that
    /// lookup counts.
    pub(super) fn get_present<Q>(&mut self, key: &Q, valid: impl FnOnce(&V) -> bool) -> Looked<K, V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        self.lookup(key, false, valid)
    }

    /// An entry `valid` refuses (an answer past its max age) is taken out and looked up as if absent: it was no
    /// hit, whatever the table held.
    fn lookup<Q>(&mut self, key: &Q, count_absent: bool, valid: impl FnOnce(&V) -> bool) -> Looked<K, V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        let hash = self.hasher.hash_one(key);
        let found = self.find(hash, key);
        let usable = found.filter(|&index| valid(&entry(&self.entries, index).value));
        let Some(index) = usable else {
            let refused = found.map(|index| self.take(index));
            if count_absent {
                self.record(hash);
                self.misses += 1;
            }
            return Looked { value: None, refused };
        };
        self.record(hash);
        self.hits += 1;
        let value = entry(&self.entries, index).value.clone();
        self.order.read(&mut self.entries, index);
        Looked {
            value: Some(value),
            refused: None,
        }
    }

    /// Lookups, not puts, are what is counted: a read-through cache puts after every miss, which would count each
    /// cold key twice.
    fn record(&mut self, hash: u64) {
        if let Some(sketch) = &mut self.sketch {
            sketch.record(hash);
        }
    }

    /// The value, as if it had not been asked for.
    pub(super) fn peek<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let index = self.find(self.hasher.hash_one(key), key)?;
        Some(&entry(&self.entries, index).value)
    }

    /// Stores or updates `key`, returning the keys discarded to make room, in the order they went.
    pub(super) fn put(&mut self, key: K, value: V) -> Vec<K> {
        let weight = self.weigher.map_or(1, |weigher| weigher(&key, &value).max(1));
        let hash = self.hasher.hash_one(&key);
        if let Some(index) = self.find(hash, &key) {
            return self.update(index, value, weight);
        }
        let mut discarded = Vec::new();
        if weight > self.limits.weight {
            return discarded;
        }
        let Some(uses) = self.admission(hash, weight) else {
            self.refusals += 1;
            return discarded;
        };
        self.make_room(1, weight, NIL, &mut discarded);
        let index = self.entries.insert(Some(Entry {
            key,
            value,
            hash,
            weight,
        }));
        let entries = &self.entries;
        self.table
            .insert_unique(hash, index, |&other| entry(entries, other).hash);
        self.order.admit(&mut self.entries, index, uses);
        self.weight += weight;
        discarded
    }

    /// A new value for a present key: it replaces the old one and evicts nothing, unless it is heavier and the
    /// weight bound then discards other entries (never this one) — or it is heavier than the bound itself, when
    /// the entry goes (its old value would be stale) and is reported discarded.
    fn update(&mut self, index: u32, value: V, weight: usize) -> Vec<K> {
        let mut discarded = Vec::new();
        if weight > self.limits.weight {
            discarded.push(self.evict(index));
            return discarded;
        }
        let entry = entry_mut(&mut self.entries, index);
        let heavier = weight > entry.weight;
        self.weight -= entry.weight;
        // Dropped when the store is consistent again, at the end: dropping a value runs code we do not control.
        let _replaced = std::mem::replace(&mut entry.value, value);
        entry.weight = weight;
        self.order.update(&mut self.entries, index);
        if heavier {
            self.make_room(0, weight, index, &mut discarded);
        }
        self.weight += weight;
        discarded
    }

    /// Whether a new key with `hash` and `weight` may come in, and as how many uses (LFU's starting frequency):
    /// always, as one, without frequency admission. With it, the key comes in as the uses the sketch estimates,
    /// unless the cache is full and the key was looked up no more often lately than one of the victims that
    /// `make_room` would discard for it, walked here in the same order without discarding: a heavy entry must
    /// outscore each of the many it would push out, not only the first. Ties keep the victim: a key seen once must
    /// not displace one that has proved itself.
    #[inline]
    fn admission(&self, hash: u64, weight: usize) -> Option<u8> {
        let Some(sketch) = &self.sketch else {
            return Some(1);
        };
        let uses = sketch.estimate(hash);
        let (mut freed_entries, mut freed_weight) = (0, 0);
        let mut victim = self.order.victim(&self.entries, NIL);
        while self.over_bounds(
            self.entries.len() - freed_entries + 1,
            self.weight - freed_weight,
            weight,
        ) {
            if victim == NIL {
                break;
            }
            let discarded = entry(&self.entries, victim);
            if uses <= sketch.estimate(discarded.hash) {
                return None;
            }
            freed_entries += 1;
            freed_weight += discarded.weight;
            victim = self.order.next_victim(&self.entries, victim);
        }
        Some(uses)
    }

    /// Whether `count` entries weighing `held`, plus an incoming `weight`, exceed the bounds.
    #[inline]
    fn over_bounds(&self, count: usize, held: usize, weight: usize) -> bool {
        // `held <= self.limits.weight` always holds, and `weight <= self.limits.weight` was checked, so neither side
        // overflows; once only a spared entry is left, both conditions are false.
        count > self.limits.entries || weight > self.limits.weight - held
    }

    /// Discards entries other than `spare`, in the policy's order, until `entries` more entries weighing `weight`
    /// fit. The room is made before the new entry goes in, so the victim is one of the entries already there (as
    /// LIFO and MRU require, and LFU too: a new entry, used once, would otherwise often be its own victim).
    #[inline]
    fn make_room(&mut self, entries: usize, weight: usize, spare: u32, discarded: &mut Vec<K>) {
        while self.over_bounds(self.entries.len() + entries, self.weight, weight) {
            let victim = self.order.victim(&self.entries, spare);
            discarded.push(self.evict(victim));
        }
    }

    fn evict(&mut self, index: u32) -> K {
        self.evictions += 1;
        self.take(index).0
    }

    /// Removes the entry at `index` from the table, the order and the slab.
    fn take(&mut self, index: u32) -> (K, V) {
        self.order.forget(&mut self.entries, index);
        let hash = entry(&self.entries, index).hash;
        if let Ok(found) = self.table.find_entry(hash, |&other| other == index) {
            found.remove();
        }
        let entry = self.entries.remove(index).expect("a linked slot holds an entry");
        self.weight -= entry.weight;
        (entry.key, entry.value)
    }

    pub(super) fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let index = self.find(self.hasher.hash_one(key), key)?;
        Some(self.take(index).1)
    }

    /// Removes every entry `keep` refuses; not counted as evictions. O(n): for invalidation, not the hot path.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&K, &V) -> bool) {
        let refused: Vec<u32> = self
            .entries
            .slots()
            .filter_map(|(index, slot)| slot.as_ref().map(|entry| (index, entry)))
            .filter(|(_, entry)| !keep(&entry.key, &entry.value))
            .map(|(index, _)| index)
            .collect();
        for index in refused {
            self.take(index);
        }
    }

    /// Removes every entry; the counters go on.
    pub(super) fn clear(&mut self) {
        self.order.clear();
        self.table.clear();
        self.weight = 0;
        self.entries.clear();
    }
}
