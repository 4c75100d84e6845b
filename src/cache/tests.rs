//! The curriculum's printed examples, each policy against a naive model, bad inputs, and threads sharing a cache.

use std::{fmt::Write, num::NonZeroUsize, sync::Arc};

use proptest::prelude::*;

use super::*;

fn entries(count: usize) -> Capacity {
    Capacity::Entries(NonZeroUsize::new(count).expect("non-zero"))
}

fn bytes(count: usize) -> Capacity {
    Capacity::Bytes(NonZeroUsize::new(count).expect("non-zero"))
}

/// One line of a curriculum `N-main.py`.
#[derive(Clone, Copy)]
enum Step {
    Put(&'static str, &'static str),
    Get(&'static str),
    PrintCache,
}

use Step::{Get, PrintCache, Put};

/// Runs a main file against a cache of `MAX_ITEMS = 4` and returns what it prints.
fn transcript(policy: Policy, steps: &[Step]) -> String {
    let cache = Cache::new(policy, entries(4));
    let mut printed = String::new();
    for step in steps {
        match *step {
            Put(key, value) => {
                for discarded in cache.put(key, value) {
                    writeln!(printed, "DISCARD: {discarded}").expect("writes to a string");
                }
            }
            Get(key) => {
                writeln!(printed, "{}", cache.get(key).unwrap_or("None")).expect("writes to a string");
            }
            PrintCache => {
                // BaseCaching.print_cache: the keys in sorted order. `peek` leaves the order alone.
                printed.push_str("Current cache:\n");
                for key in ["A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M"] {
                    if let Some(value) = cache.peek(key) {
                        writeln!(printed, "{key}: {value}").expect("writes to a string");
                    }
                }
            }
        }
    }
    printed
}

/// The start every main file shares.
const FILL: [Step; 5] = [
    Put("A", "Hello"),
    Put("B", "World"),
    Put("C", "Holberton"),
    Put("D", "School"),
    PrintCache,
];

/// The part of 3-main.py, 4-main.py and 100-main.py after `FILL`, up to the last put 3-main.py and 4-main.py share.
const READ_AND_PUT: [Step; 20] = [
    Get("B"),
    Put("E", "Battery"),
    PrintCache,
    Put("C", "Street"),
    PrintCache,
    Get("A"),
    Get("B"),
    Get("C"),
    Put("F", "Mission"),
    PrintCache,
    Put("G", "San Francisco"),
    PrintCache,
    Put("H", "H"),
    PrintCache,
    Put("I", "I"),
    PrintCache,
    Put("J", "J"),
    PrintCache,
    Put("K", "K"),
    PrintCache,
];

const FILLED: &str = "Current cache:\nA: Hello\nB: World\nC: Holberton\nD: School\n";

#[test]
fn fifo_prints_what_the_curriculum_1_main_prints() {
    let steps = [
        Put("E", "Battery"),
        PrintCache,
        Put("C", "Street"),
        PrintCache,
        Put("F", "Mission"),
        PrintCache,
    ];
    let printed = transcript(Policy::Fifo, &[&FILL[..], &steps].concat());
    let expected = "\
DISCARD: A
Current cache:
B: World
C: Holberton
D: School
E: Battery
Current cache:
B: World
C: Street
D: School
E: Battery
DISCARD: B
Current cache:
C: Street
D: School
E: Battery
F: Mission
";
    assert_eq!(printed, format!("{FILLED}{expected}"));
}

#[test]
fn lifo_prints_what_the_curriculum_2_main_prints() {
    let steps = [
        Put("E", "Battery"),
        PrintCache,
        Put("C", "Street"),
        PrintCache,
        Put("F", "Mission"),
        PrintCache,
        Put("G", "San Francisco"),
        PrintCache,
    ];
    let printed = transcript(Policy::Lifo, &[&FILL[..], &steps].concat());
    let expected = "\
DISCARD: D
Current cache:
A: Hello
B: World
C: Holberton
E: Battery
Current cache:
A: Hello
B: World
C: Street
E: Battery
DISCARD: C
Current cache:
A: Hello
B: World
E: Battery
F: Mission
DISCARD: F
Current cache:
A: Hello
B: World
E: Battery
G: San Francisco
";
    assert_eq!(printed, format!("{FILLED}{expected}"));
}

#[test]
fn lru_prints_what_the_curriculum_3_main_prints() {
    let printed = transcript(Policy::Lru, &[&FILL[..], &READ_AND_PUT].concat());
    let expected = "\
World
DISCARD: A
Current cache:
B: World
C: Holberton
D: School
E: Battery
Current cache:
B: World
C: Street
D: School
E: Battery
None
World
Street
DISCARD: D
Current cache:
B: World
C: Street
E: Battery
F: Mission
DISCARD: E
Current cache:
B: World
C: Street
F: Mission
G: San Francisco
DISCARD: B
Current cache:
C: Street
F: Mission
G: San Francisco
H: H
DISCARD: C
Current cache:
F: Mission
G: San Francisco
H: H
I: I
DISCARD: F
Current cache:
G: San Francisco
H: H
I: I
J: J
DISCARD: G
Current cache:
H: H
I: I
J: J
K: K
";
    assert_eq!(printed, format!("{FILLED}{expected}"));
}

#[test]
fn mru_prints_what_the_curriculum_4_main_prints() {
    let printed = transcript(Policy::Mru, &[&FILL[..], &READ_AND_PUT].concat());
    let expected = "\
World
DISCARD: B
Current cache:
A: Hello
C: Holberton
D: School
E: Battery
Current cache:
A: Hello
C: Street
D: School
E: Battery
Hello
None
Street
DISCARD: C
Current cache:
A: Hello
D: School
E: Battery
F: Mission
DISCARD: F
Current cache:
A: Hello
D: School
E: Battery
G: San Francisco
DISCARD: G
Current cache:
A: Hello
D: School
E: Battery
H: H
DISCARD: H
Current cache:
A: Hello
D: School
E: Battery
I: I
DISCARD: I
Current cache:
A: Hello
D: School
E: Battery
J: J
DISCARD: J
Current cache:
A: Hello
D: School
E: Battery
K: K
";
    assert_eq!(printed, format!("{FILLED}{expected}"));
}

#[test]
fn lfu_prints_what_the_curriculum_100_main_prints() {
    let steps = [
        Get("B"),
        Put("E", "Battery"),
        PrintCache,
        Put("C", "Street"),
        PrintCache,
        Get("A"),
        Get("B"),
        Get("C"),
        Put("F", "Mission"),
        PrintCache,
        Put("G", "San Francisco"),
        PrintCache,
        Put("H", "H"),
        PrintCache,
        Put("I", "I"),
        PrintCache,
        Get("I"),
        Get("H"),
        Get("I"),
        Get("H"),
        Get("I"),
        Get("H"),
        Put("J", "J"),
        PrintCache,
        Put("K", "K"),
        PrintCache,
        Put("L", "L"),
        PrintCache,
        Put("M", "M"),
        PrintCache,
    ];
    let printed = transcript(Policy::Lfu, &[&FILL[..], &steps].concat());
    let expected = "\
World
DISCARD: A
Current cache:
B: World
C: Holberton
D: School
E: Battery
Current cache:
B: World
C: Street
D: School
E: Battery
None
World
Street
DISCARD: D
Current cache:
B: World
C: Street
E: Battery
F: Mission
DISCARD: E
Current cache:
B: World
C: Street
F: Mission
G: San Francisco
DISCARD: F
Current cache:
B: World
C: Street
G: San Francisco
H: H
DISCARD: G
Current cache:
B: World
C: Street
H: H
I: I
I
H
I
H
I
H
DISCARD: B
Current cache:
C: Street
H: H
I: I
J: J
DISCARD: J
Current cache:
C: Street
H: H
I: I
K: K
DISCARD: K
Current cache:
C: Street
H: H
I: I
L: L
DISCARD: L
Current cache:
C: Street
H: H
I: I
M: M
";
    assert_eq!(printed, format!("{FILLED}{expected}"));
}

#[test]
fn the_counters_follow_the_curriculum_lru_example() {
    let cache = Cache::new(Policy::Lru, entries(4));
    for key in ["A", "B", "C", "D"] {
        cache.put(key, key);
    }
    assert_eq!(cache.get("B"), Some("B"));
    assert_eq!(cache.get("Z"), None);
    assert_eq!(cache.peek("A"), Some("A"), "a peek is not counted");
    assert_eq!(cache.put("E", "E"), ["A"]);
    assert_eq!(
        cache.put("C", "Street"),
        Vec::<&str>::new(),
        "an update discards nothing"
    );
    assert_eq!(
        cache.stats(),
        CacheStats {
            policy: Policy::Lru,
            admission: Admission::Always,
            capacity: entries(4),
            size: 4,
            weight: 4,
            hits: 1,
            misses: 1,
            evictions: 1,
            refusals: 0,
        }
    );
    assert_eq!(cache.remove("C"), Some("Street"));
    cache.retain(|key, _| *key != "B");
    assert_eq!(cache.stats().size, 2);
    assert_eq!(cache.stats().evictions, 1, "removals are not evictions");
    cache.clear();
    assert_eq!(
        (cache.stats().size, cache.stats().weight, cache.stats().hits),
        (0, 0, 1)
    );
    assert_eq!(cache.get("D"), None);
}

#[test]
fn a_value_gone_bad_is_removed_and_counted_as_a_miss_never_a_hit() {
    let cache = Cache::new(Policy::Lru, entries(4));
    cache.put("fresh", 10);
    cache.put("expired", 0);
    let still_good = |value: &i32| *value > 0;
    assert_eq!(cache.get_valid("fresh", still_good), Some(10));
    assert_eq!(cache.get_valid("expired", still_good), None);
    assert_eq!(cache.peek("expired"), None, "the bad value is taken out");
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses, stats.size, stats.evictions), (1, 1, 1, 0));

    cache.put("expired", 0);
    assert_eq!(cache.get_present_valid("expired", still_good), None);
    assert_eq!(cache.get_present_valid("absent", still_good), None);
    assert_eq!(cache.get_present_valid("fresh", still_good), Some(10));
    let stats = cache.stats();
    assert_eq!(
        (stats.hits, stats.misses, stats.size),
        (2, 1, 1),
        "only the present, valid value counts; the caller counts the misses on its own lookup"
    );
}

/// Weighs a test value: its length in bytes.
fn length(_: &&str, value: &&str) -> usize {
    value.len()
}

#[test]
fn an_entry_heavier_than_the_whole_capacity_is_not_stored() {
    for policy in Policy::ALL {
        let cache = Cache::with_weigher(policy, bytes(10), length);
        assert_eq!(cache.put("small", "12345"), Vec::<&str>::new());
        assert_eq!(cache.put("large", "12345678901"), Vec::<&str>::new());
        assert_eq!(cache.peek("large"), None, "{policy}");
        assert_eq!(cache.peek("small"), Some("12345"), "{policy}: nothing made room for it");
    }
}

#[test]
fn a_heavier_update_discards_others_but_never_itself() {
    for policy in Policy::ALL {
        let cache = Cache::with_weigher(policy, bytes(10), length);
        cache.put("a", "123");
        cache.put("b", "123");
        cache.put("c", "123");
        let discarded = cache.put("b", "12345678");
        assert_eq!(discarded.len(), 2, "{policy}: {discarded:?}");
        assert!(!discarded.contains(&"b"), "{policy}");
        assert_eq!(cache.peek("b"), Some("12345678"), "{policy}");
        assert_eq!(cache.stats().weight, 8, "{policy}");
    }
}

#[test]
fn an_update_heavier_than_the_whole_capacity_discards_the_old_value() {
    for policy in Policy::ALL {
        let cache = Cache::with_weigher(policy, bytes(10), length);
        cache.put("a", "123");
        cache.put("b", "123");
        assert_eq!(cache.put("b", "12345678901"), ["b"], "{policy}");
        assert_eq!(cache.peek("b"), None, "{policy}: the old value would be stale");
        assert_eq!(cache.peek("a"), Some("123"), "{policy}");
        assert_eq!((cache.stats().weight, cache.stats().evictions), (3, 1), "{policy}");
    }
}

#[test]
fn a_cache_counted_in_entries_also_keeps_a_weight_bound() {
    let cache =
        Cache::with_weigher(Policy::Lru, entries(3), length).with_max_weight(NonZeroUsize::new(10).expect("10"));
    cache.put("a", "1");
    cache.put("b", "1");
    assert_eq!(cache.put("c", "123456789"), ["a"], "the weight bound, first");
    assert_eq!(cache.put("d", ""), ["b"], "the entry bound: three entries at most");
    assert_eq!(cache.stats().size, 2);
    assert_eq!(cache.stats().capacity, entries(3));
}

#[test]
fn policies_parse_in_any_case_and_display_in_capitals() {
    for (text, policy) in [
        ("FIFO", Policy::Fifo),
        ("lifo", Policy::Lifo),
        ("LRU", Policy::Lru),
        ("Mru", Policy::Mru),
        (" lfu ", Policy::Lfu),
    ] {
        assert_eq!(text.parse::<Policy>(), Ok(policy));
    }
    assert_eq!(Policy::Lru.to_string(), "LRU");
    for policy in Policy::ALL {
        assert_eq!(policy.to_string().parse::<Policy>(), Ok(policy));
    }
}

#[test]
fn an_unknown_policy_is_refused_naming_the_accepted_ones() {
    for text in ["", "LRU2", "random", "least-recently-used"] {
        let error = text.parse::<Policy>().expect_err(text);
        assert_eq!(
            error.to_string(),
            format!("`{text}` is not a cache policy; expected one of FIFO, LIFO, LRU, MRU, LFU")
        );
    }
}

#[test]
fn capacities_are_entries_or_sizes_with_a_binary_unit() {
    for (text, capacity) in [
        ("10000", entries(10_000)),
        ("1", entries(1)),
        ("100B", bytes(100)),
        ("512KiB", bytes(512 << 10)),
        ("64MiB", bytes(64 << 20)),
        ("1GiB", bytes(1 << 30)),
        (" 64 mib ", bytes(64 << 20)),
    ] {
        assert_eq!(text.parse::<Capacity>(), Ok(capacity), "{text}");
    }
    for capacity in [entries(10_000), bytes(64 << 20), bytes(1000), bytes(3 << 10)] {
        assert_eq!(capacity.to_string().parse::<Capacity>(), Ok(capacity), "{capacity}");
    }
    assert_eq!(bytes(64 << 20).to_string(), "64MiB");
    assert_eq!(bytes(1000).to_string(), "1000B");
}

#[test]
fn zero_junk_and_overflowing_capacities_are_refused() {
    assert_eq!("0".parse::<Capacity>(), Err(InvalidCapacity::Zero));
    assert_eq!("0MiB".parse::<Capacity>(), Err(InvalidCapacity::Zero));
    for junk in ["", "12XB", "64MB", "64 M", "-1", "+5", "1.5GiB", "MiB", "ten", "10 000"] {
        assert_eq!(
            junk.parse::<Capacity>(),
            Err(InvalidCapacity::Malformed(junk.to_string())),
            "{junk}"
        );
    }
    for huge in ["99999999999999999999999", "18446744073709551615GiB"] {
        assert_eq!(
            huge.parse::<Capacity>(),
            Err(InvalidCapacity::TooLarge(huge.to_string())),
            "{huge}"
        );
    }
    let message = "12XB".parse::<Capacity>().expect_err("junk").to_string();
    assert!(
        message.contains("such as 10000") && message.contains("64MiB"),
        "{message}"
    );
}

#[test]
fn threads_hammering_one_cache_leave_it_within_its_capacity_and_count_every_lookup() {
    const THREADS: u64 = 4;
    const OPERATIONS: u64 = 20_000;
    for policy in Policy::ALL {
        let cache = Arc::new(Cache::new(policy, entries(100)));
        let workers: Vec<_> = (0..THREADS)
            .map(|thread| {
                let cache = Arc::clone(&cache);
                std::thread::spawn(move || {
                    // A cheap deterministic spread of keys over 0..300, different per thread.
                    let mut state = thread.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                    for operation in 0..OPERATIONS {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        let key = state % 300;
                        if operation % 2 == 0 {
                            if let Some(value) = cache.get(&key) {
                                assert_eq!(value, key * 10);
                            }
                        } else {
                            cache.put(key, key * 10);
                        }
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().expect("no worker panics");
        }
        let stats = cache.stats();
        assert!(stats.size <= 100 && stats.size == stats.weight, "{policy}: {stats:?}");
        assert_eq!(stats.hits + stats.misses, THREADS * OPERATIONS / 2, "{policy}");
    }
}

#[test]
fn a_cache_is_send_and_sync() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Cache<String, Arc<str>>>();
}

/// What a property test does to the cache and to the model.
#[derive(Clone, Debug)]
enum Operation {
    Get(u8),
    Peek(u8),
    Put(u8, u8),
    Remove(u8),
    /// Keeps the keys whose remainder by 3 is not this.
    Retain(u8),
    Clear,
}

fn operation() -> impl Strategy<Value = Operation> {
    let key = 0..8u8;
    prop_oneof![
        8 => key.clone().prop_map(Operation::Get),
        2 => key.clone().prop_map(Operation::Peek),
        8 => (key.clone(), any::<u8>()).prop_map(|(key, value)| Operation::Put(key, value)),
        2 => key.prop_map(Operation::Remove),
        1 => (0..3u8).prop_map(Operation::Retain),
        1 => Just(Operation::Clear),
    ]
}

/// A test value's weight, when the cache has a weigher: 0 to 3 (an entry weighs at least 1).
fn value_weight(_: &u8, value: &u8) -> usize {
    usize::from(value % 4)
}

/// The bounds of a property test's cache: entries, bytes with a weigher, or entries with a weigher and a weight
/// bound.
#[derive(Clone, Copy, Debug)]
enum Bounds {
    Entries(usize),
    Bytes(usize),
    EntriesAndWeight(usize, usize),
}

fn bounds() -> impl Strategy<Value = Bounds> {
    prop_oneof![
        (1..6usize).prop_map(Bounds::Entries),
        (1..13usize).prop_map(Bounds::Bytes),
        (1..6usize, 1..13usize).prop_map(|(count, weight)| Bounds::EntriesAndWeight(count, weight)),
    ]
}

struct ModelEntry {
    key: u8,
    value: u8,
    weight: usize,
    uses: u64,
    /// When it was first put (FIFO).
    inserted: u64,
    /// When it was last put, first or as an update (LIFO).
    put: u64,
    /// When it was last read or put (LRU, MRU, LFU's ties).
    used: u64,
}

/// The cache's rules done the obvious way: a vector scanned on every operation.
struct Model {
    policy: Policy,
    max_entries: usize,
    max_weight: usize,
    weighed: bool,
    entries: Vec<ModelEntry>,
    clock: u64,
    hits: u64,
    misses: u64,
    evictions: u64,
}

impl Model {
    fn new(policy: Policy, bounds: Bounds) -> Self {
        let (max_entries, max_weight, weighed) = match bounds {
            Bounds::Entries(count) => (count, usize::MAX, false),
            Bounds::Bytes(weight) => (usize::MAX, weight, true),
            Bounds::EntriesAndWeight(count, weight) => (count, weight, true),
        };
        Self {
            policy,
            max_entries,
            max_weight,
            weighed,
            entries: Vec::new(),
            clock: 0,
            hits: 0,
            misses: 0,
            evictions: 0,
        }
    }

    fn position(&self, key: u8) -> Option<usize> {
        self.entries.iter().position(|entry| entry.key == key)
    }

    fn weight(&self) -> usize {
        self.entries.iter().map(|entry| entry.weight).sum()
    }

    fn get(&mut self, key: u8) -> Option<u8> {
        self.clock += 1;
        let Some(position) = self.position(key) else {
            self.misses += 1;
            return None;
        };
        self.hits += 1;
        let entry = &mut self.entries[position];
        entry.uses += 1;
        entry.used = self.clock;
        Some(entry.value)
    }

    fn peek(&self, key: u8) -> Option<u8> {
        self.position(key).map(|position| self.entries[position].value)
    }

    /// The position of the entry the policy discards, other than `spare`.
    fn victim(&self, spare: Option<u8>) -> usize {
        let candidates = self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, entry)| Some(entry.key) != spare);
        let chosen = match self.policy {
            Policy::Fifo => candidates.min_by_key(|(_, entry)| entry.inserted),
            Policy::Lifo => candidates.max_by_key(|(_, entry)| entry.put),
            Policy::Lru => candidates.min_by_key(|(_, entry)| entry.used),
            Policy::Mru => candidates.max_by_key(|(_, entry)| entry.used),
            Policy::Lfu => candidates.min_by_key(|(_, entry)| (entry.uses, entry.used)),
        };
        chosen.expect("a victim exists while the cache is over its bounds").0
    }

    fn discard(&mut self, spare: Option<u8>) -> u8 {
        let position = self.victim(spare);
        self.evictions += 1;
        self.entries.remove(position).key
    }

    fn put(&mut self, key: u8, value: u8) -> Vec<u8> {
        self.clock += 1;
        let weight = if self.weighed {
            value_weight(&key, &value).max(1)
        } else {
            1
        };
        let mut discarded = Vec::new();
        if let Some(position) = self.position(key) {
            if weight > self.max_weight {
                self.entries.remove(position);
                self.evictions += 1;
                return vec![key];
            }
            let entry = &mut self.entries[position];
            entry.value = value;
            entry.weight = weight;
            entry.uses += 1;
            entry.put = self.clock;
            entry.used = self.clock;
            while self.weight() > self.max_weight {
                discarded.push(self.discard(Some(key)));
            }
            return discarded;
        }
        if weight > self.max_weight {
            return discarded;
        }
        while self.entries.len() + 1 > self.max_entries || self.weight() + weight > self.max_weight {
            discarded.push(self.discard(None));
        }
        self.entries.push(ModelEntry {
            key,
            value,
            weight,
            uses: 1,
            inserted: self.clock,
            put: self.clock,
            used: self.clock,
        });
        discarded
    }

    fn remove(&mut self, key: u8) -> Option<u8> {
        self.position(key).map(|position| self.entries.remove(position).value)
    }

    /// Whether putting `key` with `value` would discard something (or could not store it at all).
    fn is_full_for(&self, key: u8, value: u8) -> bool {
        let weight = if self.weighed {
            value_weight(&key, &value).max(1)
        } else {
            1
        };
        self.position(key).is_none()
            && (self.entries.len() + 1 > self.max_entries || self.weight() + weight > self.max_weight)
    }
}

fn build(policy: Policy, bounds: Bounds) -> Cache<u8, u8> {
    match bounds {
        Bounds::Entries(count) => Cache::new(policy, entries(count)),
        Bounds::Bytes(weight) => Cache::with_weigher(policy, bytes(weight), value_weight),
        Bounds::EntriesAndWeight(count, weight) => Cache::with_weigher(policy, entries(count), value_weight)
            .with_max_weight(NonZeroUsize::new(weight).expect("non-zero")),
    }
}

fn agrees_with_the_model(policy: Policy, bounds: Bounds, operations: &[Operation]) -> Result<(), TestCaseError> {
    agrees_with_the_model_admitting(policy, bounds, Admission::Always, operations)
}

/// With frequency admission the model cannot know the sketch's estimates, so it follows the cache's decisions:
/// a put the cache refused must have found the cache full and changed nothing; every other operation (and every
/// admitted put) must agree with the policy's rules exactly. (Not for LFU, whose admitted entries start at their
/// estimated uses: see `lfu_with_frequency_admission_keeps_its_bounds_and_values`.)
fn agrees_with_the_model_admitting(
    policy: Policy,
    bounds: Bounds,
    admission: Admission,
    operations: &[Operation],
) -> Result<(), TestCaseError> {
    let cache = build(policy, bounds).with_admission(admission);
    let mut model = Model::new(policy, bounds);
    for (step, operation) in operations.iter().enumerate() {
        match *operation {
            Operation::Get(key) => prop_assert_eq!(cache.get(&key), model.get(key), "step {}", step),
            Operation::Peek(key) => prop_assert_eq!(cache.peek(&key), model.peek(key), "step {}", step),
            Operation::Put(key, value) => {
                let full = model.is_full_for(key, value);
                let discarded = cache.put(key, value);
                if admission == Admission::Frequency && full && cache.peek(&key).is_none() {
                    prop_assert!(
                        discarded.is_empty(),
                        "step {}: a refused put discarded {:?}",
                        step,
                        discarded
                    );
                } else {
                    prop_assert_eq!(discarded, model.put(key, value), "step {}", step);
                }
            }
            Operation::Remove(key) => prop_assert_eq!(cache.remove(&key), model.remove(key), "step {}", step),
            Operation::Retain(remainder) => {
                cache.retain(|key, _| key % 3 != remainder);
                model.entries.retain(|entry| entry.key % 3 != remainder);
            }
            Operation::Clear => {
                cache.clear();
                model.entries.clear();
            }
        }
        let stats = cache.stats();
        prop_assert_eq!(
            (stats.size, stats.weight, stats.hits, stats.misses, stats.evictions),
            (
                model.entries.len() as u64,
                model.weight() as u64,
                model.hits,
                model.misses,
                model.evictions
            ),
            "step {}",
            step
        );
        for key in 0..8 {
            prop_assert_eq!(cache.peek(&key), model.peek(key), "step {}, key {}", step, key);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn fifo_agrees_with_a_naive_model(bounds in bounds(), operations in prop::collection::vec(operation(), 1..120)) {
        agrees_with_the_model(Policy::Fifo, bounds, &operations)?;
    }

    #[test]
    fn lifo_agrees_with_a_naive_model(bounds in bounds(), operations in prop::collection::vec(operation(), 1..120)) {
        agrees_with_the_model(Policy::Lifo, bounds, &operations)?;
    }

    #[test]
    fn lru_agrees_with_a_naive_model(bounds in bounds(), operations in prop::collection::vec(operation(), 1..120)) {
        agrees_with_the_model(Policy::Lru, bounds, &operations)?;
    }

    #[test]
    fn mru_agrees_with_a_naive_model(bounds in bounds(), operations in prop::collection::vec(operation(), 1..120)) {
        agrees_with_the_model(Policy::Mru, bounds, &operations)?;
    }

    #[test]
    fn lfu_agrees_with_a_naive_model(bounds in bounds(), operations in prop::collection::vec(operation(), 1..120)) {
        agrees_with_the_model(Policy::Lfu, bounds, &operations)?;
    }

    #[test]
    fn every_policy_with_frequency_admission_refuses_without_side_effects_and_otherwise_keeps_its_rules(
        policy in prop::sample::select(vec![Policy::Fifo, Policy::Lifo, Policy::Lru, Policy::Mru]),
        bounds in bounds(),
        operations in prop::collection::vec(operation(), 1..120),
    ) {
        agrees_with_the_model_admitting(policy, bounds, Admission::Frequency, &operations)?;
    }

    #[test]
    fn lfu_with_frequency_admission_keeps_its_bounds_and_values(
        bounds in bounds(),
        operations in prop::collection::vec(operation(), 1..120),
    ) {
        lfu_admitting_keeps_its_bounds_and_values(bounds, &operations)?;
    }
}

/// What LFU under admission must still do, whatever the sketch estimates: stay within its bounds, answer only
/// the value last put, discard only keys it held (never the one being put), count every lookup.
fn lfu_admitting_keeps_its_bounds_and_values(bounds: Bounds, operations: &[Operation]) -> Result<(), TestCaseError> {
    let cache = build(Policy::Lfu, bounds).with_admission(Admission::Frequency);
    let limits = Model::new(Policy::Lfu, bounds);
    let mut last_put = std::collections::HashMap::new();
    let mut lookups = 0;
    for (step, operation) in operations.iter().enumerate() {
        let held: Vec<u8> = (0..8).filter(|key| cache.peek(key).is_some()).collect();
        match *operation {
            Operation::Get(key) => {
                lookups += 1;
                if let Some(value) = cache.get(&key) {
                    prop_assert_eq!(Some(&value), last_put.get(&key), "step {}", step);
                }
            }
            Operation::Peek(_) => {}
            Operation::Put(key, value) => {
                last_put.insert(key, value);
                for discarded in cache.put(key, value) {
                    prop_assert!(
                        held.contains(&discarded),
                        "step {}: discarded {} not held",
                        step,
                        discarded
                    );
                    prop_assert!(discarded != key || cache.peek(&key).is_none(), "step {}", step);
                }
            }
            Operation::Remove(key) => {
                cache.remove(&key);
            }
            Operation::Retain(remainder) => cache.retain(|key, _| key % 3 != remainder),
            Operation::Clear => cache.clear(),
        }
        let stats = cache.stats();
        prop_assert!(stats.size as usize <= limits.max_entries, "step {}", step);
        prop_assert!(stats.weight as usize <= limits.max_weight, "step {}", step);
        prop_assert_eq!(stats.hits + stats.misses, lookups, "step {}", step);
        for key in 0..8 {
            if let Some(value) = cache.peek(&key) {
                prop_assert_eq!(Some(&value), last_put.get(&key), "step {}, key {}", step, key);
            }
        }
    }
    Ok(())
}

#[test]
fn under_frequency_admission_lfu_entries_start_at_the_uses_the_sketch_saw() {
    let cache = Cache::new(Policy::Lfu, entries(2)).with_admission(Admission::Frequency);
    cache.put("a", 1);
    for _ in 0..5 {
        cache.get("b");
    }
    cache.put("b", 1);
    for _ in 0..2 {
        cache.get("c");
    }
    assert_eq!(cache.put("c", 1), vec!["a"], "a was never read");
    for _ in 0..3 {
        cache.get("d");
    }
    // d (3 lookups) outscores c (2); b came in at its 5 lookups, so it is not the victim, though never read since.
    assert_eq!(cache.put("d", 1), vec!["c"]);
    assert_eq!(cache.peek("b"), Some(1));
}

/// A workload of hot keys read round-robin, each read of a hot key followed by a read (and, on a miss, a put) of
/// a key never seen before; returns the hot reads' hit ratio once warm.
fn hot_hit_ratio_under_a_flood(cache: &Cache<u64, u64>) -> f64 {
    let hot = 0..100u64;
    let mut fresh = 1_000_000u64;
    let (mut hits, mut reads) = (0u64, 0u64);
    for round in 0..200 {
        for key in hot.clone() {
            let hit = cache.get(&key).is_some();
            if !hit {
                cache.put(key, key);
            }
            if round >= 100 {
                reads += 1;
                hits += u64::from(hit);
            }
            fresh += 1;
            if cache.get(&fresh).is_none() {
                cache.put(fresh, fresh);
            }
        }
    }
    hits as f64 / reads as f64
}

#[test]
fn frequency_admission_keeps_hot_keys_through_a_flood_of_keys_read_once() {
    // Under LRU and LFU the victims are the flood's stale keys, which every hot key outscores. (FIFO, LIFO and MRU
    // offer hot keys as victims, and a hot key that is out ties with them: about 80 % here.)
    for policy in [Policy::Lru, Policy::Lfu] {
        let admitting = Cache::new(policy, entries(150)).with_admission(Admission::Frequency);
        let ratio = hot_hit_ratio_under_a_flood(&admitting);
        assert!(ratio > 0.99, "{policy} with admission: {ratio}");
    }
    // Without it, LRU and FIFO lose every hot key to the flood: each is read 200 accesses apart, in a cache of 150.
    for policy in [Policy::Lru, Policy::Fifo] {
        let ratio = hot_hit_ratio_under_a_flood(&Cache::new(policy, entries(150)));
        assert!(ratio < 0.01, "{policy} without admission: {ratio}");
    }
}

#[test]
fn a_key_read_more_often_than_the_victim_is_admitted_and_a_refused_put_discards_nothing() {
    let cache = Cache::new(Policy::Lru, entries(2)).with_admission(Admission::Frequency);
    for key in ["a", "b"] {
        for _ in 0..2 {
            cache.get(key);
        }
        assert!(cache.put(key, 1).is_empty());
    }
    cache.get("c");
    assert!(cache.put("c", 1).is_empty(), "c was read once, a twice: refused");
    assert_eq!(cache.peek("c"), None);
    assert_eq!(cache.stats().size, 2);
    assert_eq!(cache.stats().evictions, 0);
    assert_eq!(cache.stats().refusals, 1);
    assert_eq!(cache.stats().admission, Admission::Frequency);
    for _ in 0..2 {
        cache.get("c");
    }
    assert_eq!(cache.put("c", 1), vec!["a"], "c was read three times, a twice: a goes");
    assert_eq!(cache.peek("c"), Some(1));
}

#[test]
fn admissions_parse_in_any_case_and_unknown_ones_are_refused() {
    assert_eq!("FREQUENCY".parse(), Ok(Admission::Frequency));
    assert_eq!(" always ".parse(), Ok(Admission::Always));
    let error = "sometimes".parse::<Admission>().expect_err("refused");
    assert!(error.to_string().contains("always or frequency"), "{error}");
}

#[test]
fn the_sketch_ages_at_the_pace_of_the_entries_the_cache_can_hold() {
    let weighed = |_: &u32, value: &Vec<u8>| value.len();
    let by_bytes = Cache::with_weigher(Policy::Lru, bytes(64 << 20), weighed).with_admission(Admission::Frequency);
    assert_eq!(
        by_bytes.sketch_period(),
        Some((64 << 10) * 50),
        "as many 1 KiB entries as fit"
    );
    let by_entries = Cache::<u32, u32>::new(Policy::Lfu, entries(1_000)).with_admission(Admission::Frequency);
    assert_eq!(by_entries.sketch_period(), Some(1_000 * 50));
    let both = Cache::with_weigher(Policy::Lru, entries(1_024), weighed)
        .with_max_weight(NonZeroUsize::new(32 << 20).expect("non-zero"))
        .with_admission(Admission::Frequency);
    assert_eq!(both.sketch_period(), Some(1_024 * 50), "the smaller of the two");
    assert_eq!(both.with_admission(Admission::Always).sketch_period(), None);
}

#[test]
fn a_heavy_newcomer_must_outscore_every_entry_it_would_push_out() {
    let cache = Cache::with_weigher(Policy::Lru, bytes(9), length).with_admission(Admission::Frequency);
    for (key, reads) in [("cold", 0), ("hot", 5), ("warm", 1)] {
        for _ in 0..reads {
            cache.get(key);
        }
        assert!(cache.put(key, "abc").is_empty());
    }
    for _ in 0..2 {
        cache.get("heavy");
    }
    // Room for six bytes means pushing out `cold` and `hot`: `heavy` outscores the first, not the second.
    assert!(cache.put("heavy", "abcdef").is_empty());
    assert_eq!(cache.peek("heavy"), None);
    assert_eq!(cache.peek("hot"), Some("abc"));
    assert_eq!(cache.stats().refusals, 1);
    for _ in 0..4 {
        cache.get("heavy");
    }
    assert_eq!(
        cache.put("heavy", "abcdef"),
        vec!["cold", "hot"],
        "six lookups beat five"
    );
}

#[test]
fn an_lfu_cache_in_use_can_switch_admission_on_and_keeps_its_order() {
    let cache = Cache::new(Policy::Lfu, entries(2));
    cache.put("a", 1);
    let cache = cache.with_admission(Admission::Frequency);
    cache.get("b");
    assert!(cache.put("b", 1).is_empty());
    cache.get("b");
    for _ in 0..2 {
        cache.get("c");
    }
    assert_eq!(cache.put("c", 1), vec!["a"], "a, used once, goes before b, used twice");
    let cache = cache.with_admission(Admission::Always);
    // Admission off: a newcomer, never looked up, comes in all the same. b and c both have two uses (c came in at
    // its two lookups); b reached two first.
    assert_eq!(cache.put("d", 1), vec!["b"]);
    assert_eq!(cache.stats().admission, Admission::Always);
}
