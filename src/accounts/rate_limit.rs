//! Login attempt limits, per email and per client address (GCRA buckets from `governor`).

use std::{net::IpAddr, num::NonZeroU32, sync::Arc};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock};

/// A client address gets more attempts than one email: several people may share it behind a NAT.
const ATTEMPTS_PER_ADDRESS_FACTOR: u32 = 4;

#[derive(Clone)]
pub struct LoginLimiter {
    by_email: Arc<DefaultKeyedRateLimiter<String>>,
    by_address: Arc<DefaultKeyedRateLimiter<IpAddr>>,
}

impl LoginLimiter {
    pub fn new(attempts_per_minute: NonZeroU32) -> Self {
        let per_address =
            attempts_per_minute.saturating_mul(NonZeroU32::new(ATTEMPTS_PER_ADDRESS_FACTOR).expect("non-zero"));
        Self {
            by_email: Arc::new(RateLimiter::keyed(Quota::per_minute(attempts_per_minute))),
            by_address: Arc::new(RateLimiter::keyed(Quota::per_minute(per_address))),
        }
    }

    /// Counts one attempt; `Err(seconds)` says how long until the next one is allowed.
    pub fn check(&self, email: &str, address: Option<IpAddr>) -> Result<(), u64> {
        let clock = governor::clock::DefaultClock::default();
        let wait = |not_until: governor::NotUntil<_>| not_until.wait_time_from(clock.now()).as_secs().max(1);
        if let Some(address) = address {
            self.by_address.check_key(&address).map_err(wait)?;
        }
        self.by_email.check_key(&email.to_string()).map_err(wait)
    }
}
