//! The five replacement policies: which entry a full cache discards, and how reads and updates reorder entries.
//!
//! FIFO, LIFO, LRU and MRU keep one list, oldest first: FIFO and LRU discard its front, LIFO and MRU its back; LRU
//! and MRU move an entry to the back when it is read or updated, LIFO only when it is updated (an update counts as
//! the newest put), FIFO never. LFU keeps the entries in frequency buckets (Shah, Mitra and Matani, "An O(1)
//! algorithm for implementing the LFU cache eviction scheme", 2010): a list of buckets in increasing frequency,
//! each a list of its entries in the order they reached that frequency, so the front of the first bucket is the
//! least frequently used entry and, among those, the least recently used one. A use moves an entry to the next
//! bucket (made if missing, dropped once empty), which keeps every operation O(1).

use std::{fmt, str::FromStr};

use super::list::{List, NIL, Slab};

/// Which entry a full cache discards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Policy {
    /// The first one put.
    Fifo,
    /// The last one put (an update counts as a put).
    Lifo,
    /// The least recently read or put.
    Lru,
    /// The most recently read or put.
    Mru,
    /// The least frequently read or put; among equals, the least recently.
    Lfu,
}

impl Policy {
    pub const ALL: [Self; 5] = [Self::Fifo, Self::Lifo, Self::Lru, Self::Mru, Self::Lfu];

    pub fn name(self) -> &'static str {
        match self {
            Self::Fifo => "FIFO",
            Self::Lifo => "LIFO",
            Self::Lru => "LRU",
            Self::Mru => "MRU",
            Self::Lfu => "LFU",
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// A policy name that is none of the five.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a cache policy; expected one of FIFO, LIFO, LRU, MRU, LFU")]
pub struct UnknownPolicy(String);

impl FromStr for Policy {
    type Err = UnknownPolicy;

    /// The name in any case: `LRU`, `lru`, `Lru`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let name = text.trim();
        Self::ALL
            .into_iter()
            .find(|policy| policy.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| UnknownPolicy(text.to_string()))
    }
}

/// The order a policy keeps its entries in, linked through the store's slab of entries. A struct rather than an
/// enum per kind of order: the hot path (a hit) then branches on one byte, the policy.
pub(super) struct Order {
    policy: Policy,
    /// FIFO, LIFO, LRU and MRU: the entries, oldest first.
    sequence: List,
    /// LFU (empty, and allocating nothing, for the others).
    frequencies: Frequencies,
}

impl Order {
    pub(super) fn new(policy: Policy) -> Self {
        Self {
            policy,
            sequence: List::EMPTY,
            frequencies: Frequencies {
                bucket_of: Vec::new(),
                buckets: Slab::new(),
                by_frequency: List::EMPTY,
                low: None,
            },
        }
    }

    /// LFU under frequency admission: new entries come in at the frequency the admission's sketch gave them. The
    /// index of low frequencies is built from the buckets already there, so that a cache in use can switch.
    pub(super) fn enter_at_estimates(&mut self) {
        if self.policy != Policy::Lfu {
            return;
        }
        let mut low = LowFrequencies::default();
        let mut bucket = self.frequencies.by_frequency.front();
        while bucket != NIL {
            low.note(self.frequencies.buckets.get(bucket).frequency, bucket);
            bucket = self.frequencies.buckets.next(bucket);
        }
        self.frequencies.low = Some(Box::new(low));
    }

    /// Back to the curriculum's rule: new entries come in used once.
    pub(super) fn enter_at_one(&mut self) {
        self.frequencies.low = None;
    }

    /// A new entry: the newest, used once (or, for LFU entering at estimates, `uses` times).
    pub(super) fn admit<T: Default>(&mut self, entries: &mut Slab<T>, index: u32, uses: u8) {
        match self.policy {
            Policy::Lfu => self.frequencies.admit(entries, index, uses),
            _ => self.sequence.push_back(entries, index),
        }
    }

    /// A hit.
    #[inline]
    pub(super) fn read<T: Default>(&mut self, entries: &mut Slab<T>, index: u32) {
        match self.policy {
            Policy::Lru | Policy::Mru => self.sequence.move_to_back(entries, index),
            Policy::Lfu => self.frequencies.bump(entries, index),
            Policy::Fifo | Policy::Lifo => {}
        }
    }

    /// A put of a key already present.
    #[inline]
    pub(super) fn update<T: Default>(&mut self, entries: &mut Slab<T>, index: u32) {
        match self.policy {
            Policy::Lifo | Policy::Lru | Policy::Mru => self.sequence.move_to_back(entries, index),
            Policy::Lfu => self.frequencies.bump(entries, index),
            Policy::Fifo => {}
        }
    }

    /// The entry to discard next other than `spare` (an entry being updated; `NIL` for none), or `NIL` if there
    /// is none.
    pub(super) fn victim<T: Default>(&self, entries: &Slab<T>, spare: u32) -> u32 {
        match self.policy {
            Policy::Fifo | Policy::Lru => match self.sequence.front() {
                front if front == spare && front != NIL => entries.next(front),
                front => front,
            },
            Policy::Lifo | Policy::Mru => match self.sequence.back() {
                back if back == spare && back != NIL => entries.prev(back),
                back => back,
            },
            Policy::Lfu => self.frequencies.victim(entries, spare),
        }
    }

    /// The entry to discard after `victim`, were `victim` discarded first (as `victim` would then answer); `NIL`
    /// if none. Lets admission weigh every entry a heavy newcomer would push out before any goes.
    pub(super) fn next_victim<T: Default>(&self, entries: &Slab<T>, victim: u32) -> u32 {
        match self.policy {
            Policy::Fifo | Policy::Lru => entries.next(victim),
            Policy::Lifo | Policy::Mru => entries.prev(victim),
            Policy::Lfu => self.frequencies.after(entries, victim),
        }
    }

    /// Unlinks an entry about to leave the cache.
    pub(super) fn forget<T: Default>(&mut self, entries: &mut Slab<T>, index: u32) {
        match self.policy {
            Policy::Lfu => self.frequencies.forget(entries, index),
            _ => self.sequence.unlink(entries, index),
        }
    }

    pub(super) fn clear(&mut self) {
        self.sequence = List::EMPTY;
        self.frequencies.bucket_of.clear();
        self.frequencies.buckets.clear();
        self.frequencies.by_frequency = List::EMPTY;
        if let Some(low) = &mut self.frequencies.low {
            **low = LowFrequencies::default();
        }
    }
}

/// The buckets of frequencies below 256, found by frequency: lets an entry come in at any such frequency in O(1)
/// (a bitmap says which exist, so the bucket to link the new one after is a few bit operations away).
struct LowFrequencies {
    bucket: [u32; 256],
    present: [u64; 4],
}

impl Default for LowFrequencies {
    fn default() -> Self {
        Self {
            bucket: [NIL; 256],
            present: [0; 4],
        }
    }
}

impl LowFrequencies {
    fn note(&mut self, frequency: u64, bucket: u32) {
        if let Ok(at) = u8::try_from(frequency) {
            self.bucket[usize::from(at)] = bucket;
            self.present[usize::from(at / 64)] |= 1 << (at % 64);
        }
    }

    fn forget(&mut self, frequency: u64) {
        if let Ok(at) = u8::try_from(frequency) {
            self.bucket[usize::from(at)] = NIL;
            self.present[usize::from(at / 64)] &= !(1 << (at % 64));
        }
    }

    /// The bucket of the highest frequency below `frequency`, or `NIL`.
    fn below(&self, frequency: u8) -> u32 {
        let word = usize::from(frequency / 64);
        let below_in_word = self.present[word] & ((1u64 << (frequency % 64)) - 1);
        let found = std::iter::once((word, below_in_word))
            .chain((0..word).rev().map(|lower| (lower, self.present[lower])))
            .find(|(_, bits)| *bits != 0);
        match found {
            Some((word, bits)) => self.bucket[word * 64 + 63 - bits.leading_zeros() as usize],
            None => NIL,
        }
    }
}

/// LFU's frequency buckets.
pub(super) struct Frequencies {
    /// The bucket each entry is in, by the entry's index (kept apart from the entries, so that a use reads 4
    /// bytes where the entry's key and value would take a cache line).
    bucket_of: Vec<u32>,
    buckets: Slab<Bucket>,
    /// The buckets in increasing frequency; none is empty.
    by_frequency: List,
    /// Kept only when entries come in at estimated frequencies (`Order::enter_at_estimates`).
    low: Option<Box<LowFrequencies>>,
}

#[derive(Clone, Copy, Default)]
struct Bucket {
    frequency: u64,
    /// Its entries in the order they reached this frequency.
    entries: List,
}

impl Frequencies {
    fn admit<T: Default>(&mut self, entries: &mut Slab<T>, index: u32, uses: u8) {
        let bucket = match &self.low {
            None => self.first_bucket(),
            Some(_) => self.bucket_at(uses.max(1)),
        };
        self.buckets.get_mut(bucket).entries.push_back(entries, index);
        if self.bucket_of.len() <= index as usize {
            self.bucket_of.resize(index as usize + 1, NIL);
        }
        self.bucket_of[index as usize] = bucket;
    }

    /// The bucket of frequency 1, made at the front if missing.
    fn first_bucket(&mut self) -> u32 {
        let first = self.by_frequency.front();
        if first != NIL && self.buckets.get(first).frequency == 1 {
            return first;
        }
        let bucket = self.buckets.insert(Bucket {
            frequency: 1,
            entries: List::EMPTY,
        });
        self.by_frequency.push_front(&mut self.buckets, bucket);
        bucket
    }

    /// The bucket of `frequency`, made in its place if missing (only with `low`).
    fn bucket_at(&mut self, frequency: u8) -> u32 {
        let Some(low) = &mut self.low else {
            return self.first_bucket();
        };
        let existing = low.bucket[usize::from(frequency)];
        if existing != NIL {
            return existing;
        }
        let before = low.below(frequency);
        let bucket = self.buckets.insert(Bucket {
            frequency: u64::from(frequency),
            entries: List::EMPTY,
        });
        low.note(u64::from(frequency), bucket);
        if before == NIL {
            self.by_frequency.push_front(&mut self.buckets, bucket);
        } else {
            self.by_frequency.insert_after(&mut self.buckets, before, bucket);
        }
        bucket
    }

    /// One more use: to the back of the next frequency's bucket. Always inlined: it runs on every LFU hit, and as
    /// a call its register saving alone cost a tenth of the hit (callgrind, `benches/cache.rs`).
    #[inline(always)]
    fn bump<T: Default>(&mut self, entries: &mut Slab<T>, index: u32) {
        let from = self.bucket_of[index as usize];
        let Bucket {
            frequency,
            entries: members,
        } = *self.buckets.get(from);
        let frequency = frequency + 1;
        // The entry is one of the members, so one member means this one.
        let alone = members.front() == members.back();
        let next = self.buckets.next(from);
        let next_matches = next != NIL && self.buckets.get(next).frequency == frequency;
        if alone && !next_matches {
            // No bucket for the next frequency: this one moves up, entry and all (most hot keys, on Zipf traffic).
            self.buckets.get_mut(from).frequency = frequency;
            if let Some(low) = &mut self.low {
                low.forget(frequency - 1);
                low.note(frequency, from);
            }
            return;
        }
        let to = if next_matches {
            next
        } else {
            let to = self.buckets.insert(Bucket {
                frequency,
                entries: List::EMPTY,
            });
            self.by_frequency.insert_after(&mut self.buckets, from, to);
            if let Some(low) = &mut self.low {
                low.note(frequency, to);
            }
            to
        };
        if alone {
            // Its bucket would be left empty: dropped, without unlinking the entry from a list that goes too.
            self.by_frequency.unlink(&mut self.buckets, from);
            self.buckets.remove(from);
            if let Some(low) = &mut self.low {
                low.forget(frequency - 1);
            }
        } else {
            self.buckets.get_mut(from).entries.unlink(entries, index);
        }
        self.buckets.get_mut(to).entries.push_back(entries, index);
        self.bucket_of[index as usize] = to;
    }

    fn victim<T: Default>(&self, entries: &Slab<T>, spare: u32) -> u32 {
        let mut bucket = self.by_frequency.front();
        // Skipping the spare entry takes one step, or one bucket if it was alone in the first: O(1).
        while bucket != NIL {
            let mut candidate = self.buckets.get(bucket).entries.front();
            if candidate == spare {
                candidate = entries.next(candidate);
            }
            if candidate != NIL {
                return candidate;
            }
            bucket = self.buckets.next(bucket);
        }
        NIL
    }

    /// The entry after `index` in discard order: the next in its bucket, or the first of the next bucket (buckets
    /// are never empty).
    fn after<T: Default>(&self, entries: &Slab<T>, index: u32) -> u32 {
        let next = entries.next(index);
        if next != NIL {
            return next;
        }
        let bucket = self.buckets.next(self.bucket_of[index as usize]);
        if bucket == NIL {
            NIL
        } else {
            self.buckets.get(bucket).entries.front()
        }
    }

    fn forget<T: Default>(&mut self, entries: &mut Slab<T>, index: u32) {
        let bucket = self.bucket_of[index as usize];
        self.buckets.get_mut(bucket).entries.unlink(entries, index);
        self.drop_if_empty(bucket);
    }

    fn drop_if_empty(&mut self, bucket: u32) {
        if self.buckets.get(bucket).entries.is_empty() {
            self.by_frequency.unlink(&mut self.buckets, bucket);
            let removed = self.buckets.remove(bucket);
            if let Some(low) = &mut self.low {
                low.forget(removed.frequency);
            }
        }
    }
}
