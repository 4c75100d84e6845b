//! Jobs handed straight to this process's worker. When a process enqueues a job that is ready and its own worker
//! has a free slot, the INSERT writes the job already claimed (`ACTIVE`, under a lease of that worker, attempt 1),
//! and the worker runs it as it runs what it claims. That skips the notification's trip to the listener and the
//! claim's round trip: on PostgreSQL about 0.4 ms of the 1.1 ms from the enqueue call to the handler
//! (`bench/README.md`, "Job queue").
//!
//! What it changes in the queue's rules: a free slot means the worker is idle, so it would have claimed any ready
//! job it knew of. It may not know of some: a job enqueued elsewhere whose notification is still on its way, and a
//! delayed or backed-off job that came due since the worker's last poll. Those may be overtaken by the local one,
//! whatever their priority. Everything else is a claim's: the lease is renewed by the heartbeat and fences every write, a process that
//! dies leaves the job to be taken back when the lease expires, and at shutdown a job not yet started is given
//! back without using up its attempt.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use super::{Job, repo::Lease};

/// A job written claimed for this process's worker, with the slot it holds.
pub struct Handed {
    pub job: Job,
    pub token: Arc<str>,
    pub permit: OwnedSemaphorePermit,
}

/// Where a worker takes jobs handed to it. The channel is unbounded, but each job in it holds one of the worker's
/// slots: it never holds more than the worker's concurrency.
pub struct Handoff {
    slots: Arc<Semaphore>,
    sender: mpsc::UnboundedSender<Handed>,
    lease: Duration,
}

impl Handoff {
    pub fn new(slots: Arc<Semaphore>, lease: Duration) -> (Self, mpsc::UnboundedReceiver<Handed>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (Self { slots, sender, lease }, receiver)
    }

    /// Up to `wanted` free slots of the worker, with the lease token the jobs taking them are written under; none
    /// once the worker stopped taking jobs.
    pub fn reserve(&self, wanted: usize) -> Option<Reserved> {
        if wanted == 0 || self.sender.is_closed() {
            return None;
        }
        let permits: Vec<OwnedSemaphorePermit> = std::iter::from_fn(|| self.slots.clone().try_acquire_owned().ok())
            .take(wanted)
            .collect();
        if permits.is_empty() {
            return None;
        }
        let token: Arc<str> = Arc::from(uuid::Uuid::new_v4().to_string());
        Some(Reserved {
            lease_for: self.lease,
            token,
            permits,
            sender: self.sender.clone(),
        })
    }
}

/// Slots taken for jobs about to be written claimed. Dropped unused, they are free again.
pub struct Reserved {
    lease_for: Duration,
    token: Arc<str>,
    permits: Vec<OwnedSemaphorePermit>,
    sender: mpsc::UnboundedSender<Handed>,
}

impl Reserved {
    pub fn slots(&self) -> usize {
        self.permits.len()
    }

    /// The lease to write the jobs under, running from `now`: taken when the row is written, not when the slots
    /// were, so that retried writes do not start with a lease already spent.
    pub fn lease(&self, now: chrono::DateTime<chrono::Utc>) -> Lease {
        Lease {
            token: self.token.to_string(),
            expires_at: now + self.lease_for,
        }
    }

    /// Hands the committed claimed jobs to the worker; returns those it no longer takes (it is stopping), for the
    /// caller to give back.
    pub fn hand(mut self, jobs: Vec<Job>) -> Vec<Job> {
        let mut refused = Vec::new();
        for job in jobs {
            let Some(permit) = self.permits.pop() else {
                refused.push(job);
                continue;
            };
            let handed = Handed {
                job,
                token: self.token.clone(),
                permit,
            };
            if let Err(mpsc::error::SendError(handed)) = self.sender.send(handed) {
                refused.push(handed.job);
            }
        }
        refused
    }
}

/// The handoff of the worker running in this process, if one is; shared by every clone of the jobs service.
#[derive(Clone, Default)]
pub struct LocalWorker(Arc<Mutex<Option<Arc<Handoff>>>>);

impl LocalWorker {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Arc<Handoff>>> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn set(&self, handoff: Option<Arc<Handoff>>) {
        *self.lock() = handoff;
    }

    pub fn get(&self) -> Option<Arc<Handoff>> {
        self.lock().clone()
    }

    /// Stops handing jobs to `handoff`'s worker, unless another worker took its place.
    pub fn clear_if(&self, handoff: &Arc<Handoff>) {
        let mut current = self.lock();
        if current.as_ref().is_some_and(|current| Arc::ptr_eq(current, handoff)) {
            *current = None;
        }
    }
}
