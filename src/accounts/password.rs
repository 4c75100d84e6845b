//! Argon2id password hashing, run off the async executor because one hash costs tens of milliseconds of CPU, and
//! bounded to one hash per core so that a flood queues briefly or is refused instead of exhausting memory.

use std::{
    sync::{Arc, LazyLock},
    time::Duration,
};

use anyhow::Context;
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::model::Password;
use crate::error::{AppError, AppResult};

/// Verified against when the email is unknown, so that a wrong email costs as long as a wrong password.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_blocking("not a real password").expect("hashing a constant works"));

/// How long a hash may wait for a core. A hash takes 20–50 ms, so a second covers a queue of several dozen,
/// more than the execution permits let in; past it the server is flooded and says so.
const QUEUE_WAIT: Duration = Duration::from_secs(1);

fn hash_blocking(password: &str) -> anyhow::Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|error| anyhow::anyhow!("argon2 hashing failed: {error}"))
}

/// The Argon2 work this process does at once: each hash holds 19 MiB and a core while it runs.
#[derive(Clone, Debug)]
pub struct Hashing {
    permits: Arc<Semaphore>,
    queue_wait: Duration,
}

impl Hashing {
    /// One hash per core the process may use.
    pub fn per_core() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self::new(cores, QUEUE_WAIT)
    }

    fn new(permits: usize, queue_wait: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(permits)),
            queue_wait,
        }
    }

    /// A core for one hash; `RATE_LIMITED` when none frees up within the queue wait. The timer is armed only
    /// when every core is busy.
    async fn permit(&self) -> AppResult<OwnedSemaphorePermit> {
        if let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() {
            return Ok(permit);
        }
        match tokio::time::timeout(self.queue_wait, Arc::clone(&self.permits).acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(closed)) => Err(anyhow::Error::new(closed)
                .context("the hashing semaphore closed")
                .into()),
            Err(_) => Err(AppError::RateLimited { retry_after_secs: 1 }),
        }
    }

    pub async fn hash(&self, password: &Password) -> AppResult<String> {
        let permit = self.permit().await?;
        let password = password.expose().to_string();
        // The permit moves into the blocking task: a caller that gives up does not free the core it still uses.
        let hashed = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            hash_blocking(&password)
        })
        .await
        .context("password hashing task")??;
        Ok(hashed)
    }

    /// Checks `password` against `stored`, or against a dummy hash when there is no account, and says whether it
    /// matched.
    pub async fn verify(&self, password: &str, stored: Option<String>) -> AppResult<bool> {
        let permit = self.permit().await?;
        let password = password.to_string();
        let matched = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let known = stored.is_some();
            let stored = stored.unwrap_or_else(|| DUMMY_HASH.clone());
            let parsed =
                PasswordHash::new(&stored).map_err(|error| anyhow::anyhow!("stored hash is malformed: {error}"))?;
            anyhow::Ok(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok() && known)
        })
        .await
        .context("password verification task")??;
        Ok(matched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password() -> Password {
        Password::parse("password", "correct horse battery".into()).expect("valid")
    }

    #[tokio::test(start_paused = true)]
    async fn a_hash_that_finds_every_core_busy_past_the_wait_is_rate_limited() {
        let hashing = Hashing::new(1, Duration::from_secs(1));
        let _busy = Arc::clone(&hashing.permits).try_acquire_owned().expect("a free permit");
        let refused = hashing.hash(&password()).await.expect_err("no core frees up");
        assert!(
            matches!(refused, AppError::RateLimited { retry_after_secs: 1 }),
            "{refused:?}"
        );
        let refused = hashing.verify("guess", None).await.expect_err("no core frees up");
        assert!(matches!(refused, AppError::RateLimited { .. }), "{refused:?}");
    }

    #[tokio::test]
    async fn a_hash_waits_for_a_core_that_frees_up() {
        let hashing = Hashing::new(1, Duration::from_secs(60));
        let busy = Arc::clone(&hashing.permits).try_acquire_owned().expect("a free permit");
        let waiting = tokio::spawn({
            let hashing = hashing.clone();
            async move { hashing.hash(&password()).await }
        });
        tokio::task::yield_now().await;
        assert_eq!(hashing.permits.available_permits(), 0);
        drop(busy);
        let hashed = waiting.await.expect("task").expect("hashed once the core was free");
        assert!(
            hashing
                .verify("correct horse battery", Some(hashed))
                .await
                .expect("verified")
        );
        assert_eq!(hashing.permits.available_permits(), 1, "every permit came back");
    }
}
