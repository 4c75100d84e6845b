//! Requests answered from the response cache before, by their fingerprint: what lets the HTTP front door
//! (`http::known`) answer a request sent again byte for byte without parsing it. The fingerprint's bytes are the
//! HTTP layer's to choose; this is only the bounded map from them to the answer's key, kept with the response cache
//! so that `cacheStats` and `/metrics` report it with the others.

use bytes::Bytes;

use super::response_cache::Key;
use crate::cache::{Admission, Cache, CacheStats, Capacity, Policy};

/// 8 MiB holds some 30,000 typical fingerprints (a query of a few hundred bytes), far more than the answers a
/// 64 MiB response cache holds.
pub const KNOWN_REQUESTS_BYTES: std::num::NonZeroUsize = std::num::NonZeroUsize::new(8 * 1024 * 1024).unwrap();

/// A request's fingerprint: its bytes that the answer may depend on, as the HTTP layer lays them out.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Fingerprint(Bytes);

impl Fingerprint {
    pub fn new(bytes: Bytes) -> Self {
        Self(bytes)
    }
}

/// What a fingerprint leads to: the answer's key and how the first request's answer was labelled.
#[derive(Clone, Copy, Debug)]
pub struct Known {
    pub key: Key,
    pub content_type: &'static str,
    pub locale: &'static str,
}

/// Fingerprints of requests whose answers the response cache held, bounded in bytes.
pub struct KnownRequests {
    requests: Cache<Fingerprint, Known>,
}

impl KnownRequests {
    pub fn new(policy: Policy, capacity: Capacity, admission: Admission) -> Self {
        Self {
            requests: Cache::with_weigher(policy, capacity, |fingerprint: &Fingerprint, _: &Known| {
                fingerprint.0.len() + size_of::<Known>() + 64
            })
            .with_admission(admission),
        }
    }

    /// The request's answer key, if it is known; not yet counted as a hit, which is only a hit if its answer is
    /// still held (`served`). An unknown fingerprint is counted as a miss.
    pub fn find(&self, fingerprint: &Fingerprint) -> Option<Known> {
        let known = self.requests.peek(fingerprint);
        if known.is_none() {
            self.requests.get(fingerprint);
        }
        known
    }

    /// A request `find` found was answered by its fingerprint: a hit, and a use.
    pub fn served(&self, fingerprint: &Fingerprint) {
        self.requests.get(fingerprint);
    }

    pub fn remember(&self, fingerprint: Fingerprint, known: Known) {
        self.requests.put(fingerprint, known);
    }

    /// A fingerprint `find` found whose answer is gone: the next request takes the whole way and may remember it
    /// again. Counted as the miss it was.
    pub fn forget(&self, fingerprint: &Fingerprint) {
        self.requests.remove(fingerprint);
        self.requests.get(fingerprint);
    }

    pub fn stats(&self) -> CacheStats {
        self.requests.stats()
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroUsize;

    use super::*;

    fn four_kib_of_requests() -> (KnownRequests, Known) {
        let requests = KnownRequests::new(
            Policy::Lru,
            Capacity::Bytes(NonZeroUsize::new(4096).expect("non-zero")),
            Admission::Always,
        );
        let known = Known {
            key: [0; 32],
            content_type: "application/json",
            locale: "en",
        };
        (requests, known)
    }

    #[test]
    fn the_fingerprints_kept_stay_within_their_bytes() {
        let (requests, known) = four_kib_of_requests();
        let fingerprint = |n: i32| {
            Fingerprint::new(Bytes::from(format!(
                "POST /graphql {{\"query\":\"{{ products }}\",\"n\":{n}}}"
            )))
        };
        for n in 0..1000 {
            requests.remember(fingerprint(n), known);
        }
        let stats = requests.stats();
        assert!(stats.weight <= 4096, "{stats:?}");
        assert!(stats.evictions > 900, "{stats:?}");
        assert!(requests.find(&fingerprint(999)).is_some());
        requests.forget(&fingerprint(999));
        assert!(requests.find(&fingerprint(999)).is_none());
    }

    #[test]
    fn a_known_request_is_a_hit_only_once_it_is_served() {
        let (requests, known) = four_kib_of_requests();
        let served = Fingerprint::new(Bytes::from_static(b"served"));
        let gone = Fingerprint::new(Bytes::from_static(b"answer gone"));
        assert!(requests.find(&served).is_none());
        requests.remember(served.clone(), known);
        requests.remember(gone.clone(), known);
        assert!(requests.find(&served).is_some());
        requests.served(&served);
        assert!(requests.find(&gone).is_some());
        requests.forget(&gone);
        let stats = requests.stats();
        assert_eq!(
            (stats.hits, stats.misses, stats.size),
            (1, 2, 1),
            "one served; one unknown and one whose answer was gone"
        );
    }
}
