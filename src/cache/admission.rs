//! Admission by frequency (TinyLFU: Einziger, Friedman and Manes, "TinyLFU: A Highly Efficient Cache Admission
//! Policy", 2017). A full cache asked to store a new key compares how often that key was asked for lately with how
//! often its victim was, and keeps the victim unless the newcomer was asked for more. Counting lookups, misses
//! included, is what the replacement policies cannot do: they forget a key when it goes, so a key asked for often,
//! but never long enough in the cache to build up a count, is always the next to go. It also keeps a flood of keys
//! asked for once (a scan, or an attacker's unique documents) from pushing the hot keys out.
//!
//! The counts are kept approximately, in a count-min sketch: four counters per key, the smallest of which is its
//! estimate (collisions only ever add). The four sit in one aligned 64-byte block, so an access touches one cache
//! line.
//! Counts are halved after every `PERIOD_PER_ENTRY × capacity` accesses, so that what was popular long ago fades. Hash flooding
//! would need keys that collide under the cache's hasher, which is seeded at random per cache.

use std::{fmt, str::FromStr};

/// Whether a full cache stores every new key it is given (the curriculum's rule) or only those asked for more
/// often than the entry they would displace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Admission {
    #[default]
    Always,
    Frequency,
}

impl Admission {
    pub fn name(self) -> &'static str {
        match self {
            Self::Always => "always",
            Self::Frequency => "frequency",
        }
    }
}

impl fmt::Display for Admission {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// An admission name that is neither of the two.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a cache admission; expected always or frequency")]
pub struct UnknownAdmission(String);

impl FromStr for Admission {
    type Err = UnknownAdmission;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        [Self::Always, Self::Frequency]
            .into_iter()
            .find(|admission| admission.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| UnknownAdmission(text.to_string()))
    }
}

/// Counters per block: one cache line of `u8`.
const BLOCK: usize = 64;

/// Counters per expected entry: enough that few keys share all four of theirs.
const COUNTERS_PER_ENTRY: usize = 8;

/// Accesses between two halvings, per entry the cache holds. Caffeine halves every 10 × capacity; on the
/// benchmark's Zipf trace (`benches/cache.rs`) LFU with admission then reaches 78.4 % warm, 79.3 % at 20 ×, 79.7 % at
/// 30 × and 80.0 % at 50 ×. A longer memory suits traffic whose popular keys stay popular, as a GraphQL server's
/// documents and listings do; it is slower to forget a key that was popular once (50 × capacity lookups).
const PERIOD_PER_ENTRY: usize = 50;

/// The smallest sketch, in counters (4 KiB): in a small cache's sketch a key read once would too often share all
/// four counters with hot keys, and be taken for one of them.
const MIN_COUNTERS: usize = 4096;

/// The largest sketch, in counters (8 MiB), whatever the capacity says.
const MAX_COUNTERS: usize = 8 << 20;

/// One cache line of counters: aligned, so that a key's four counters are one line, not two.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Block([u8; BLOCK]);

pub(super) struct FrequencySketch {
    blocks: Vec<Block>,
    /// Blocks minus one (their number is a power of two).
    block_mask: u64,
    accesses: usize,
    /// Accesses between two halvings.
    period: usize,
}

impl FrequencySketch {
    /// A sketch for a cache of about `entries` entries.
    pub(super) fn new(entries: usize) -> Self {
        let counters = entries
            .saturating_mul(COUNTERS_PER_ENTRY)
            .clamp(MIN_COUNTERS, MAX_COUNTERS)
            .next_power_of_two();
        Self {
            blocks: vec![Block([0; BLOCK]); counters / BLOCK],
            block_mask: (counters / BLOCK - 1) as u64,
            accesses: 0,
            period: entries.saturating_mul(PERIOD_PER_ENTRY).max(BLOCK),
        }
    }

    /// The key's block, from the hash's low bits, and its four counters in it, from four higher 6-bit slices (the
    /// hash is foldhash's, well mixed in every bit). Two slices may pick one counter; the key then has three.
    #[inline]
    fn slots(&self, hash: u64) -> (usize, [usize; 4]) {
        let within = |shift: u32| ((hash >> shift) & (BLOCK as u64 - 1)) as usize;
        (
            (hash & self.block_mask) as usize,
            [within(40), within(46), within(52), within(58)],
        )
    }

    /// One more access to the key with `hash`.
    #[inline]
    pub(super) fn record(&mut self, hash: u64) {
        let (block, slots) = self.slots(hash);
        let counters = &mut self.blocks[block].0;
        for slot in slots {
            counters[slot] = counters[slot].saturating_add(1);
        }
        self.accesses += 1;
        if self.accesses >= self.period {
            self.halve();
        }
    }

    #[cfg(test)]
    pub(super) fn period(&self) -> usize {
        self.period
    }

    /// How often the key with `hash` was accessed lately (never less than it was).
    #[inline]
    pub(super) fn estimate(&self, hash: u64) -> u8 {
        let (block, slots) = self.slots(hash);
        let counters = &self.blocks[block].0;
        slots.into_iter().map(|slot| counters[slot]).min().unwrap_or(0)
    }

    /// Ages every count. O(counters) once per `period` accesses: O(1) per access.
    fn halve(&mut self) {
        for counter in self.blocks.iter_mut().flat_map(|block| block.0.iter_mut()) {
            *counter >>= 1;
        }
        self.accesses /= 2;
    }
}

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use foldhash::fast::FixedState;

    use super::*;

    #[test]
    fn estimates_never_undercount_and_rarely_overcount() {
        // Fixed seeds, so that the share of exact estimates (a matter of chance collisions) is the same every run.
        for seed in 0..8 {
            let hasher = FixedState::with_seed(seed);
            let mut sketch = FrequencySketch::new(1_000);
            for key in 0..1_000u64 {
                for _ in 0..(key % 5) {
                    sketch.record(hasher.hash_one(key));
                }
            }
            let mut exact = 0;
            for key in 0..1_000u64 {
                let estimate = sketch.estimate(hasher.hash_one(key));
                assert!(u64::from(estimate) >= key % 5, "seed {seed}, key {key}: {estimate}");
                exact += usize::from(u64::from(estimate) == key % 5);
            }
            assert!(exact > 940, "seed {seed}: only {exact} of 1,000 estimates exact");
        }
    }

    #[test]
    fn counts_are_halved_once_a_period_of_accesses_has_passed() {
        // A fixed seed: a random one now and then gives the key's four probes only two distinct counters, each
        // then counted twice per access, and the estimate doubles (a rare overcount the sketch accepts).
        let hasher = FixedState::with_seed(0);
        let mut sketch = FrequencySketch::new(2);
        let hot = hasher.hash_one("hot");
        for _ in 0..60 {
            sketch.record(hot);
        }
        assert_eq!(sketch.estimate(hot), 60);
        // The period is 100 accesses (50 × 2): the 100th halves every count.
        for _ in 60..100 {
            sketch.record(hot);
        }
        assert_eq!(sketch.estimate(hot), 50);
        assert_eq!(sketch.accesses, 50);
    }

    #[test]
    fn counters_saturate_instead_of_wrapping() {
        let mut sketch = FrequencySketch::new(1_000_000);
        for _ in 0..1_000 {
            sketch.record(7);
        }
        assert_eq!(sketch.estimate(7), u8::MAX);
    }
}
