//! Our cache's five policies against the caches people reach for — the `lru` crate behind a mutex, quick_cache and
//! moka — on one trace: capacity 10,000, keys drawn from Zipf(1.0) over 100,000 keys, 90 % gets and 10 % puts (a
//! get that misses is followed by nothing; a put inserts or updates), single thread, 2^20 operations generated once
//! from a fixed seed. It prints each cache's hit ratio over the trace (from empty, then warm), then criterion
//! measures a warm pass over the whole trace in this thread's CPU time; divide by the operations for ns/op.
//! Figures: `bench/README.md`.
//!
//! `cargo bench --bench cache` (a name filters, e.g. `-- ours/LFU`).

use std::{hint::black_box, num::NonZeroUsize, sync::Mutex, time::Duration};

use alx_backend::cache::{Admission, Cache, Capacity, Policy};
use criterion::{
    Criterion, Throughput,
    measurement::{Measurement, ValueFormatter, WallTime},
};

const CAPACITY: usize = 10_000;
const KEYS: usize = 100_000;
const ZIPF_EXPONENT: f64 = 1.0;
const OPERATIONS: usize = 1 << 20;
const PUT_SHARE: f64 = 0.1;

#[derive(Clone, Copy)]
struct Operation {
    key: u64,
    put: bool,
}

/// SplitMix64: a tiny, well-mixed generator, so the trace is the same on every machine and needs no dependency.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut mixed = self.0;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        mixed ^ (mixed >> 31)
    }

    /// Uniform in [0, 1), from the top 53 bits.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The trace: a key's rank r (1-based) has probability proportional to 1 / r^s, drawn by inverting the exact
/// cumulative distribution. Ranks are spread over the key space by an odd multiplier (a bijection), so that the
/// hot keys are not 0, 1, 2…
fn trace() -> Vec<Operation> {
    let mut cumulative = Vec::with_capacity(KEYS);
    let mut total = 0.0;
    for rank in 1..=KEYS {
        total += 1.0 / (rank as f64).powf(ZIPF_EXPONENT);
        cumulative.push(total);
    }
    let mut random = SplitMix64(0x5EED);
    (0..OPERATIONS)
        .map(|_| {
            let drawn = random.unit() * total;
            let rank = cumulative.partition_point(|&sum| sum <= drawn).min(KEYS - 1) as u64;
            Operation {
                key: rank.wrapping_mul(0x9E37_79B9_7F4A_7C15),
                put: random.unit() < PUT_SHARE,
            }
        })
        .collect()
}

/// The share of the most frequent `CAPACITY` keys in the gets: the hit ratio of a cache that always held exactly
/// them, the best any cache of this size can do on a trace without locality.
fn best_possible() -> f64 {
    let weight = |keys: usize| {
        (1..=keys)
            .map(|rank| 1.0 / (rank as f64).powf(ZIPF_EXPONENT))
            .sum::<f64>()
    };
    weight(CAPACITY) / weight(KEYS)
}

/// This thread's CPU time, in nanoseconds. On a shared machine wall time also counts the moments other processes
/// hold the core; CPU time does not (a neighbour can still slow the core down, but it no longer stops the clock).
struct ThreadCpuTime {
    /// Only for its formatter: the values are nanoseconds, as wall time's are.
    wall: WallTime,
}

fn thread_cpu_nanos() -> u64 {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    (now.tv_sec as u64) * 1_000_000_000 + now.tv_nsec as u64
}

impl Measurement for ThreadCpuTime {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        thread_cpu_nanos()
    }

    fn end(&self, start: u64) -> u64 {
        thread_cpu_nanos() - start
    }

    fn add(&self, first: &u64, second: &u64) -> u64 {
        first + second
    }

    fn zero(&self) -> u64 {
        0
    }

    fn to_f64(&self, value: &u64) -> f64 {
        *value as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        self.wall.formatter()
    }
}

/// What the benchmark does with a cache.
trait Subject {
    fn name(&self) -> String;
    fn get(&self, key: u64) -> Option<u64>;
    fn put(&self, key: u64, value: u64);
}

struct Ours(Cache<u64, u64>, Admission);

impl Subject for Ours {
    fn name(&self) -> String {
        match self.1 {
            Admission::Always => format!("ours/{}", self.0.policy()),
            Admission::Frequency => format!("ours/{}+admission", self.0.policy()),
        }
    }

    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key)
    }

    fn put(&self, key: u64, value: u64) {
        black_box(self.0.put(key, value));
    }
}

struct LruCrate(Mutex<lru::LruCache<u64, u64>>);

impl Subject for LruCrate {
    fn name(&self) -> String {
        "lru (mutex)".into()
    }

    fn get(&self, key: u64) -> Option<u64> {
        self.0.lock().expect("not poisoned").get(&key).copied()
    }

    fn put(&self, key: u64, value: u64) {
        black_box(self.0.lock().expect("not poisoned").put(key, value));
    }
}

struct QuickCache(quick_cache::sync::Cache<u64, u64>);

impl Subject for QuickCache {
    fn name(&self) -> String {
        "quick_cache".into()
    }

    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key)
    }

    fn put(&self, key: u64, value: u64) {
        self.0.insert(key, value);
    }
}

struct Moka(moka::sync::Cache<u64, u64>);

impl Subject for Moka {
    fn name(&self) -> String {
        "moka".into()
    }

    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key)
    }

    fn put(&self, key: u64, value: u64) {
        self.0.insert(key, value);
    }
}

fn subjects() -> Vec<Box<dyn Subject>> {
    let capacity = NonZeroUsize::new(CAPACITY).expect("non-zero");
    let mut subjects: Vec<Box<dyn Subject>> = vec![
        Box::new(LruCrate(Mutex::new(lru::LruCache::new(capacity)))),
        Box::new(QuickCache(quick_cache::sync::Cache::new(CAPACITY))),
        Box::new(Moka(moka::sync::Cache::new(CAPACITY as u64))),
    ];
    for policy in Policy::ALL {
        subjects.push(Box::new(Ours(
            Cache::new(policy, Capacity::Entries(capacity)),
            Admission::Always,
        )));
    }
    for policy in [Policy::Lru, Policy::Lfu] {
        subjects.push(Box::new(Ours(
            Cache::new(policy, Capacity::Entries(capacity)).with_admission(Admission::Frequency),
            Admission::Frequency,
        )));
    }
    subjects
}

/// Runs the trace once; returns the gets that hit and the gets.
fn run(subject: &dyn Subject, trace: &[Operation]) -> (u64, u64) {
    let (mut hits, mut gets) = (0, 0);
    for operation in trace {
        if operation.put {
            subject.put(operation.key, operation.key);
        } else {
            gets += 1;
            hits += u64::from(black_box(subject.get(operation.key)).is_some());
        }
    }
    (hits, gets)
}

fn main() {
    let trace = trace();
    println!(
        "hit ratio over {OPERATIONS} operations (capacity {CAPACITY}, Zipf({ZIPF_EXPONENT}) over {KEYS} keys, \
         {}% puts); best possible {:.1} %",
        PUT_SHARE * 100.0,
        best_possible() * 100.0
    );
    for subject in subjects() {
        let (cold_hits, gets) = run(subject.as_ref(), &trace);
        let (warm_hits, _) = run(subject.as_ref(), &trace);
        println!(
            "  {:<22} from empty {:.2} %, warm {:.2} %",
            subject.name(),
            cold_hits as f64 / gets as f64 * 100.0,
            warm_hits as f64 / gets as f64 * 100.0
        );
    }

    let mut criterion = Criterion::default()
        .with_measurement(ThreadCpuTime { wall: WallTime })
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    let mut group = criterion.benchmark_group("zipf_90_get_10_put");
    group.throughput(Throughput::Elements(OPERATIONS as u64));
    for subject in subjects() {
        run(subject.as_ref(), &trace);
        group.bench_function(subject.name(), |bencher| bencher.iter(|| run(subject.as_ref(), &trace)));
    }
    group.finish();
    criterion.final_summary();
}
