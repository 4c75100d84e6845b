//! What callers do with jobs: enqueue them (for other domains), read, list, cancel and retry them (owner or admin),
//! and follow their changes.

use std::{collections::HashMap, time::Duration};

use chrono::{DateTime, Utc};

use sea_orm::{DatabaseConnection, DatabaseTransaction, TransactionTrait};

use super::{
    events,
    handoff::{LocalWorker, Reserved},
    model::{Job, JobFilter, JobState, NewJob},
    repo,
};
use crate::{
    accounts::Caller,
    bus::{Bus, Channel},
    clock::Clock,
    db::retry_transient,
    error::{AppError, AppResult, ErrorCode, Message},
    pagination::{KeysetPage, Page},
};

/// At most this many jobs are enqueued by one call (`sendNotifications`).
pub const MAX_JOBS_PER_ENQUEUE: usize = 1000;

/// How the queue retries: attempts per job and the backoff between them.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    pub max_attempts: i32,
    /// The wait before the second attempt; it doubles with every further attempt, up to `backoff_max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempts` (1-based): exponential, with full jitter in its upper half
    /// so that jobs failing together do not come back together.
    pub fn backoff(&self, attempts: i32) -> Duration {
        let exponent = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(20);
        let full = self.backoff_base.saturating_mul(1 << exponent).min(self.backoff_max);
        let half = full / 2;
        half + half.mul_f64(rand::random::<f64>())
    }
}

#[derive(Clone)]
pub struct JobsService {
    db: DatabaseConnection,
    bus: Bus,
    clock: Clock,
    retry: RetryPolicy,
    local_worker: LocalWorker,
}

impl JobsService {
    pub fn new(db: DatabaseConnection, bus: Bus, clock: Clock, retry: RetryPolicy) -> Self {
        Self {
            db,
            bus,
            clock,
            retry,
            local_worker: LocalWorker::default(),
        }
    }

    /// The worker of this process that enqueued jobs may be handed to (`handoff`).
    pub fn local_worker(&self) -> &LocalWorker {
        &self.local_worker
    }

    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Enqueues every job or none, in one statement.
    pub async fn enqueue(&self, jobs: Vec<NewJob>) -> AppResult<Vec<Job>> {
        let now = self.now();
        // The ready jobs in claim order: those a free slot of this process's worker takes are written claimed.
        let mut ready: Vec<usize> = (0..jobs.len()).filter(|&index| jobs[index].run_at <= now).collect();
        ready.sort_by_key(|&index| (jobs[index].priority.get(), jobs[index].run_at, index));
        let Some(reserved) = self.local_worker.get().and_then(|handoff| handoff.reserve(ready.len())) else {
            return self.write(jobs, now, &[], None).await;
        };
        let mut claimed = vec![false; jobs.len()];
        for &index in ready.iter().take(reserved.slots()) {
            claimed[index] = true;
        }
        // Jobs written claimed must reach the worker even if the caller goes away after the commit (a closed
        // connection drops the request's future), or they would wait for their lease to expire: the write and the
        // handing over run as a task of their own.
        let service = self.clone();
        tokio::spawn(async move {
            let enqueued = service.write(jobs, now, &claimed, Some(&reserved)).await?;
            let handed = enqueued
                .iter()
                .filter(|job| job.state == JobState::Active)
                .cloned()
                .collect();
            let token = reserved.lease(now).token;
            let refused: Vec<i32> = reserved.hand(handed).iter().map(|job| job.id).collect();
            if !refused.is_empty() {
                // The worker stopped between the reservation and the commit: the jobs go back to the queue. They are
                // committed, so a failure here is not the caller's: their lease expires and they are taken back.
                match repo::release(&service.db, &refused, &token, service.now()).await {
                    Ok(released) => service.changed(&released),
                    Err(error) => tracing::warn!(%error, "cannot give back jobs its stopping worker did not take"),
                }
            }
            Ok(enqueued)
        })
        .await
        .map_err(|error| AppError::Internal(anyhow::anyhow!("enqueueing stopped: {error}")))?
    }

    /// Inserts `jobs`, retrying transient failures; those marked in `claimed` are written claimed for `reserved`'s
    /// worker, under a lease that runs from each try.
    async fn write(
        &self,
        jobs: Vec<NewJob>,
        now: DateTime<Utc>,
        claimed: &[bool],
        reserved: Option<&Reserved>,
    ) -> AppResult<Vec<Job>> {
        let enqueued = retry_transient(|| async {
            let lease = reserved.map(|reserved| reserved.lease(self.now()));
            let rows = jobs.iter().cloned().enumerate().map(|(index, job)| {
                let claim = claimed.get(index).copied().unwrap_or(false);
                (job, lease.as_ref().filter(|_| claim))
            });
            repo::insert_claiming(&self.db, rows, now).await.map(Ok::<_, AppError>)
        })
        .await?;
        self.enqueued(&enqueued);
        Ok(enqueued)
    }

    /// Enqueues inside the caller's transaction (a domain that checks something first); the caller commits and
    /// then calls `enqueued` with the jobs.
    pub async fn enqueue_in(&self, txn: &DatabaseTransaction, jobs: Vec<NewJob>) -> AppResult<Vec<Job>> {
        Ok(repo::insert(txn, jobs, self.now()).await?)
    }

    /// Tells this process's workers and subscribers about committed jobs (SQLite; PostgreSQL's trigger does it).
    pub fn enqueued(&self, jobs: &[Job]) {
        if self.bus.is_local()
            && let Some(payload) = events::enqueued(jobs)
        {
            self.bus.publish_local(Channel::Jobs, payload);
        }
    }

    /// Tells this process about committed changes (SQLite; PostgreSQL's trigger does it).
    pub fn changed(&self, jobs: &[Job]) {
        if self.bus.is_local() {
            for payload in events::changed(jobs) {
                self.bus.publish_local(Channel::Jobs, payload);
            }
        }
    }

    pub async fn jobs(&self, ids: &[i32]) -> AppResult<Vec<Job>> {
        Ok(repo::find(&self.db, ids).await?)
    }

    /// A job its owner or an admin may see; `None` for anyone else, as for a job that does not exist.
    pub async fn job_for(&self, caller: &Caller, id: i32) -> AppResult<Option<Job>> {
        Ok(repo::find(&self.db, &[id])
            .await?
            .pop()
            .filter(|job| may_see(caller, job)))
    }

    /// The caller's jobs, or everyone's for an admin.
    pub async fn list(&self, caller: &Caller, filter: JobFilter, page: &KeysetPage<i32>) -> AppResult<Page<Job>> {
        Ok(repo::page(&self.db, visible_to(caller, filter), page).await?)
    }

    pub async fn count(&self, caller: &Caller, filter: JobFilter) -> AppResult<u64> {
        Ok(repo::count(&self.db, visible_to(caller, filter)).await?)
    }

    /// Per-user lists, for `User.jobs` (the resolver has checked who may see them).
    pub async fn pages_per_owner(&self, owners: &[i32], page: &KeysetPage<i32>) -> AppResult<HashMap<i32, Page<Job>>> {
        let rows = repo::page_per_owner(&self.db, owners, page).await?;
        Ok(crate::pagination::pages_by_parent(
            owners,
            rows,
            |job: &Job| job.owner_id.unwrap_or_default(),
            page,
        ))
    }

    pub async fn counts_per_owner(&self, owners: &[i32]) -> AppResult<HashMap<i32, u64>> {
        Ok(repo::count_per_owner(&self.db, owners).await?)
    }

    /// Cancels a queued job at once; asks a running one to stop at its next step.
    pub async fn cancel(&self, caller: &Caller, id: i32) -> AppResult<Job> {
        let job = self.owned(caller, id).await?;
        let now = self.now();
        let changed = match job.state {
            JobState::Queued => repo::cancel_queued(&self.db, id, now).await?,
            JobState::Active => repo::request_cancel(&self.db, id, now).await?,
            _ => None,
        };
        match changed {
            Some(job) => {
                self.changed(std::slice::from_ref(&job));
                Ok(job)
            }
            // It moved on between the read and the write: say what it is now.
            None => Err(refused_in_state(
                self.owned(caller, id).await?.state,
                "job-cannot-cancel",
            )),
        }
    }

    /// Queues a failed or cancelled job again.
    pub async fn retry(&self, caller: &Caller, id: i32) -> AppResult<Job> {
        self.owned(caller, id).await?;
        match repo::retry(&self.db, id, self.now()).await? {
            Some(job) => {
                self.changed(std::slice::from_ref(&job));
                Ok(job)
            }
            None => Err(refused_in_state(
                self.owned(caller, id).await?.state,
                "job-cannot-retry",
            )),
        }
    }

    async fn owned(&self, caller: &Caller, id: i32) -> AppResult<Job> {
        self.job_for(caller, id).await?.ok_or(AppError::NotFound {
            field: Some("id".into()),
        })
    }

    /// Jobs in `first..=last` that `filter` keeps: what a subscriber reads after an enqueue notice.
    pub async fn enqueued_between(&self, filter: JobFilter, first: i32, last: i32) -> AppResult<Vec<Job>> {
        Ok(repo::in_range(&self.db, filter, first, last).await?)
    }

    /// Jobs that `filter` keeps and that changed since `since`: what a subscriber reads after lost news.
    pub async fn changed_since(&self, filter: JobFilter, since: DateTime<Utc>) -> AppResult<Vec<Job>> {
        Ok(repo::changed_since(&self.db, filter, since).await?)
    }

    /// Opens a transaction on the jobs' database, for a domain whose effect commits with a job's completion.
    pub async fn begin(&self) -> AppResult<DatabaseTransaction> {
        Ok(self.db.begin().await?)
    }
}

pub fn may_see(caller: &Caller, job: &Job) -> bool {
    caller.is_admin() || job.owner_id == Some(caller.user_id)
}

/// The filter narrowed to what `caller` may see.
pub fn visible_to(caller: &Caller, mut filter: JobFilter) -> JobFilter {
    if !caller.is_admin() {
        filter.owner_id = Some(caller.user_id);
    }
    filter
}

fn refused_in_state(state: JobState, id: &'static str) -> AppError {
    AppError::Refused {
        code: ErrorCode::BadUserInput,
        message: Message::new(id).arg("state", state.as_str()),
    }
}
