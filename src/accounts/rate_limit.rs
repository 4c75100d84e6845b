//! Attempt limits on login and registration (GCRA buckets from `governor`), keyed by fixed-size values and swept
//! of idle keys, so that no client can make them hold more than a few bytes per recent attempt.

use std::{
    hash::{BuildHasher, RandomState},
    net::{IpAddr, Ipv6Addr},
    num::NonZeroU32,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use governor::{
    NotUntil, Quota, RateLimiter,
    clock::{Clock, DefaultClock, Reference},
    middleware::NoOpMiddleware,
    state::{InMemoryState, NotKeyed, keyed::DefaultKeyedStateStore},
};

type Keyed<K, C> = RateLimiter<K, DefaultKeyedStateStore<K>, C, NoOpMiddleware<<C as Clock>::Instant>>;
type Direct<C> = RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// A client address gets more attempts than one email: several people may share it behind a NAT. One email from
/// all addresses together gets as many.
const WIDER_FACTOR: u32 = 4;

/// Registrations from all addresses together, as a multiple of one address's: a ceiling on the accounts a botnet
/// can create and on how often it can ask whether an email is taken.
const EVERYONE_FACTOR: u32 = 20;

/// How often idle keys are forgotten. The sweep runs inside the check that finds it due rather than in a
/// background task: the maps only grow when checks run, so checks can bound them as well; no task has to follow
/// the service's lifetime (the CLI builds the service without serving, and tests build many); and the sweep reads
/// the limiter's own clock, which tests move by hand. A key lives at most a quota period (a minute) past its last
/// attempt, plus this interval.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// The part of an address one client controls: the address for IPv4, the /64 for IPv6 (the smallest subnet a
/// provider hands out, so rotating addresses inside it does not earn a fresh bucket).
fn address_key(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & (u128::MAX << 64))),
        v4 => v4,
    }
}

/// Whole seconds until the refused attempt would be allowed, rounded up so that retrying then succeeds.
fn seconds_until<P: Reference>(refusal: &NotUntil<P>, now: P) -> u64 {
    let wait = refusal.wait_time_from(now);
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// Decides which check sweeps, once per `SWEEP_EVERY` of the limiter's clock.
struct Sweeper<P> {
    start: P,
    next_nanos: AtomicU64,
}

impl<P: Reference> Sweeper<P> {
    fn new(start: P) -> Self {
        Self {
            start,
            next_nanos: AtomicU64::new(SWEEP_EVERY.as_nanos() as u64),
        }
    }

    /// True for exactly one caller per interval.
    fn due(&self, now: P) -> bool {
        let elapsed = now.duration_since(self.start).as_u64();
        let next = self.next_nanos.load(Ordering::Relaxed);
        elapsed >= next
            && self
                .next_nanos
                .compare_exchange(
                    next,
                    elapsed + SWEEP_EVERY.as_nanos() as u64,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
    }
}

fn forget_idle<K: std::hash::Hash + Eq + Clone, C: Clock>(limiter: &Keyed<K, C>) {
    limiter.retain_recent();
    limiter.shrink_to_fit();
}

fn keyed<K: std::hash::Hash + Eq + Clone, C: Clock>(per_minute: NonZeroU32, clock: C) -> Keyed<K, C> {
    RateLimiter::new(Quota::per_minute(per_minute), DefaultKeyedStateStore::default(), clock)
}

fn times(attempts: NonZeroU32, factor: u32) -> NonZeroU32 {
    attempts.saturating_mul(NonZeroU32::new(factor).expect("factors are positive"))
}

/// Login attempts, in three tiers.
///
/// The first is one email from one address: it stops a single client from guessing a password, and it is the
/// tier that refuses first, so an attacker elsewhere cannot lock a user out by spending that email's attempts.
/// The per-email tier, four times wider, still caps guessing at one account from many addresses; locking a user
/// out through it takes four addresses (four IPv6 /64s) attacking without pause. The per-address tier caps one
/// client's attempts across emails.
pub struct LoginLimiter<C: Clock = DefaultClock> {
    by_address: Keyed<IpAddr, C>,
    by_email_and_address: Keyed<u64, C>,
    by_email: Keyed<u64, C>,
    /// Emails are keyed by a 64-bit hash: a fixed size whatever the client sends. The seed is random per process,
    /// so nobody can choose emails whose keys collide.
    hasher: RandomState,
    clock: C,
    sweeper: Sweeper<C::Instant>,
}

impl LoginLimiter {
    pub fn new(attempts_per_minute: NonZeroU32) -> Self {
        Self::with_clock(attempts_per_minute, DefaultClock::default())
    }
}

impl<C: Clock + Clone> LoginLimiter<C> {
    pub fn with_clock(attempts_per_minute: NonZeroU32, clock: C) -> Self {
        let wider = times(attempts_per_minute, WIDER_FACTOR);
        Self {
            by_address: keyed(wider, clock.clone()),
            by_email_and_address: keyed(attempts_per_minute, clock.clone()),
            by_email: keyed(wider, clock.clone()),
            hasher: RandomState::new(),
            sweeper: Sweeper::new(clock.now()),
            clock,
        }
    }

    /// Counts one attempt at `email` (trimmed and lower-cased); `Err(seconds)` says when the next one is allowed.
    /// The tiers are checked widest-scope last, so an attempt refused by a narrower tier spends nothing wider.
    pub fn check(&self, email: &str, address: Option<IpAddr>) -> Result<(), u64> {
        let now = self.clock.now();
        if self.sweeper.due(now) {
            self.forget_idle();
        }
        let refused = |refusal: NotUntil<C::Instant>| seconds_until(&refusal, now);
        let address = address.map(address_key);
        if let Some(address) = address {
            self.by_address.check_key(&address).map_err(refused)?;
        }
        self.by_email_and_address
            .check_key(&self.hasher.hash_one((email, address)))
            .map_err(refused)?;
        self.by_email.check_key(&self.hasher.hash_one(email)).map_err(refused)
    }

    fn forget_idle(&self) {
        forget_idle(&self.by_address);
        forget_idle(&self.by_email_and_address);
        forget_idle(&self.by_email);
    }
}

/// Registrations, per client address and from everyone together. Each one that passes costs an Argon2 hash and
/// can tell whether an email is taken, so both limits apply before either.
pub struct RegisterLimiter<C: Clock = DefaultClock> {
    by_address: Keyed<IpAddr, C>,
    everyone: Direct<C>,
    clock: C,
    sweeper: Sweeper<C::Instant>,
}

impl RegisterLimiter {
    pub fn new(attempts_per_minute: NonZeroU32) -> Self {
        Self::with_clock(attempts_per_minute, DefaultClock::default())
    }
}

impl<C: Clock + Clone> RegisterLimiter<C> {
    pub fn with_clock(attempts_per_minute: NonZeroU32, clock: C) -> Self {
        Self {
            by_address: keyed(attempts_per_minute, clock.clone()),
            everyone: RateLimiter::direct_with_clock(
                Quota::per_minute(times(attempts_per_minute, EVERYONE_FACTOR)),
                clock.clone(),
            ),
            sweeper: Sweeper::new(clock.now()),
            clock,
        }
    }

    /// Counts one registration; the address's limit comes first, so one client cannot spend everyone's.
    pub fn check(&self, address: Option<IpAddr>) -> Result<(), u64> {
        let now = self.clock.now();
        if self.sweeper.due(now) {
            forget_idle(&self.by_address);
        }
        let refused = |refusal: NotUntil<C::Instant>| seconds_until(&refusal, now);
        if let Some(address) = address {
            self.by_address.check_key(&address_key(address)).map_err(refused)?;
        }
        self.everyone.check().map_err(refused)
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use governor::clock::FakeRelativeClock;

    use super::*;

    fn per_minute(attempts: u32) -> NonZeroU32 {
        NonZeroU32::new(attempts).expect("positive")
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    fn login_keys<C: Clock + Clone>(limiter: &LoginLimiter<C>) -> [usize; 3] {
        [
            limiter.by_address.len(),
            limiter.by_email_and_address.len(),
            limiter.by_email.len(),
        ]
    }

    #[test]
    fn ten_thousand_distinct_emails_are_forgotten_once_idle_for_two_minutes() {
        let clock = FakeRelativeClock::default();
        let limiter = LoginLimiter::with_clock(per_minute(5), clock.clone());
        for i in 0..10_000_u32 {
            let address = IpAddr::V4(Ipv4Addr::from_bits(0x0a00_0000 + i));
            assert_eq!(limiter.check(&format!("user{i}@example.com"), Some(address)), Ok(()));
        }
        assert_eq!(login_keys(&limiter), [10_000; 3]);
        clock.advance(Duration::from_secs(120));
        limiter.forget_idle();
        assert_eq!(login_keys(&limiter), [0; 3]);
    }

    #[test]
    fn the_first_check_after_the_sweep_interval_forgets_idle_keys() {
        let clock = FakeRelativeClock::default();
        let limiter = LoginLimiter::with_clock(per_minute(5), clock.clone());
        for i in 0..100 {
            limiter
                .check(&format!("user{i}@example.com"), None)
                .expect("under the limit");
        }
        assert_eq!(login_keys(&limiter), [0, 100, 100]);
        clock.advance(Duration::from_secs(30));
        limiter.check("late@example.com", None).expect("a fresh email");
        assert_eq!(login_keys(&limiter), [0, 101, 101], "not due yet");
        clock.advance(Duration::from_secs(90));
        limiter.check("later@example.com", None).expect("a fresh email");
        assert_eq!(login_keys(&limiter), [0, 1, 1], "only the attempt that swept is left");
    }

    #[test]
    fn a_recently_limited_key_survives_the_sweep() {
        let clock = FakeRelativeClock::default();
        let limiter = LoginLimiter::with_clock(per_minute(2), clock.clone());
        clock.advance(Duration::from_secs(59));
        for _ in 0..2 {
            limiter.check("ada@example.com", None).expect("under the limit");
        }
        clock.advance(Duration::from_secs(1));
        assert!(
            limiter.check("ada@example.com", None).is_err(),
            "the sweep ran and kept the key"
        );
    }

    #[test]
    fn addresses_in_one_ipv6_64_share_a_bucket() {
        let limiter = LoginLimiter::with_clock(per_minute(1), FakeRelativeClock::default());
        for (i, address) in [
            "2001:db8:1:2::1",
            "2001:db8:1:2::2",
            "2001:db8:1:2:aaaa::3",
            "2001:db8:1:2:ffff:ffff:ffff:ffff",
        ]
        .into_iter()
        .enumerate()
        {
            assert_eq!(
                limiter.check(&format!("user{i}@example.com"), Some(ip(address))),
                Ok(())
            );
        }
        assert!(
            limiter.check("user4@example.com", Some(ip("2001:db8:1:2::5"))).is_err(),
            "the /64 has spent its four attempts"
        );
        assert_eq!(limiter.check("user5@example.com", Some(ip("2001:db8:1:3::1"))), Ok(()));
    }

    #[test]
    fn ipv4_and_its_ipv6_mapped_form_are_one_client() {
        assert_eq!(address_key(ip("::ffff:198.51.100.7")), ip("198.51.100.7"));
        assert_eq!(address_key(ip("198.51.100.7")), ip("198.51.100.7"));
        assert_eq!(address_key(ip("2001:db8::1:2:3:4")), ip("2001:db8::"));
    }

    #[test]
    fn an_attacker_elsewhere_cannot_lock_an_email_out_alone() {
        let limiter = LoginLimiter::with_clock(per_minute(2), FakeRelativeClock::default());
        let attacker = Some(ip("203.0.113.66"));
        for _ in 0..2 {
            limiter.check("victim@example.com", attacker).expect("under the limit");
        }
        let retry_after = limiter
            .check("victim@example.com", attacker)
            .expect_err("attacker limited");
        assert!(retry_after >= 1);
        assert_eq!(limiter.check("victim@example.com", Some(ip("198.51.100.1"))), Ok(()));
    }

    #[test]
    fn one_email_from_many_addresses_meets_the_per_email_ceiling() {
        let limiter = LoginLimiter::with_clock(per_minute(1), FakeRelativeClock::default());
        for i in 1..=4 {
            let address = ip(&format!("198.51.100.{i}"));
            assert_eq!(limiter.check("ada@example.com", Some(address)), Ok(()));
        }
        assert!(limiter.check("ada@example.com", Some(ip("198.51.100.5"))).is_err());
    }

    #[test]
    fn registrations_are_limited_per_address_then_for_everyone() {
        let clock = FakeRelativeClock::default();
        let limiter = RegisterLimiter::with_clock(per_minute(1), clock.clone());
        assert_eq!(limiter.check(Some(ip("192.0.2.1"))), Ok(()));
        let retry_after = limiter
            .check(Some(ip("192.0.2.1")))
            .expect_err("second from one address");
        assert!((1..=60).contains(&retry_after), "{retry_after}");
        for i in 2..=20 {
            assert_eq!(limiter.check(Some(ip(&format!("192.0.2.{i}")))), Ok(()));
        }
        assert!(
            limiter.check(Some(ip("192.0.2.21"))).is_err(),
            "twenty a minute from everyone"
        );
        clock.advance(Duration::from_secs(120));
        assert_eq!(limiter.check(Some(ip("192.0.2.1"))), Ok(()));
        assert_eq!(limiter.by_address.len(), 1, "the sweep forgot the idle addresses");
    }
}
