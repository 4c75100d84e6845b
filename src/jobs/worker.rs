//! The worker: claims ready jobs up to its concurrency, runs them under a lease it keeps renewing, retries failed
//! attempts with backoff, takes back jobs whose worker died, prunes finished jobs, and on shutdown lets running jobs
//! finish within the grace period and gives back the rest without using up an attempt.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tokio::{
    sync::{
        OwnedSemaphorePermit, Semaphore,
        broadcast::error::{RecvError, TryRecvError},
        mpsc, oneshot,
    },
    task::JoinSet,
};
use tokio_util::sync::CancellationToken;

use super::{
    events,
    handlers::{Done, Failure, Handlers, JobRun},
    handoff::{Handed, Handoff},
    model::{Job, StoredMessage},
    repo::{self, Completed, Lease},
    service::JobsService,
};
use crate::{
    bus::{BusEvent, Channel},
    error::Message,
};

#[derive(Clone, Copy, Debug)]
pub struct WorkerSettings {
    /// Jobs run at once by this process.
    pub concurrency: usize,
    /// How long a claimed job stays this worker's without a heartbeat; renewed every third of it.
    pub lease: Duration,
    /// How often an idle worker looks for jobs without being told (a lost notification, a delayed job coming due).
    pub poll_interval: Duration,
    /// The longest one attempt may run.
    pub time_limit: Duration,
    /// Finished jobs older than this are deleted.
    pub retention: Duration,
    /// How long shutdown waits for running jobs.
    pub shutdown_grace: Duration,
}

/// Completions waiting to be written are batched up to this many per statement.
const COMPLETIONS_PER_STATEMENT: usize = 500;
/// How often finished jobs are pruned and the jobs-by-state gauges refreshed.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(15);

/// Which leases this worker holds, by job id, for the heartbeat and for giving jobs back at shutdown.
type HeldLeases = Arc<Mutex<HashMap<i32, Arc<str>>>>;

pub struct Worker {
    jobs: JobsService,
    handlers: Arc<Handlers>,
    settings: WorkerSettings,
}

impl Worker {
    pub fn new(jobs: JobsService, handlers: Handlers, settings: WorkerSettings) -> Self {
        Self {
            jobs,
            handlers: Arc::new(handlers),
            settings,
        }
    }

    /// Runs until `shutdown` is cancelled and the running jobs are finished or given back.
    pub async fn run(self, shutdown: CancellationToken) {
        let Self {
            jobs,
            handlers,
            settings,
        } = self;
        let mut news = jobs.bus().subscribe();
        let slots = Arc::new(Semaphore::new(settings.concurrency.max(1)));
        let (handoff, mut handed) = Handoff::new(slots.clone(), settings.lease);
        let handoff = Arc::new(handoff);
        jobs.local_worker().set(Some(handoff.clone()));
        let held: HeldLeases = Arc::default();
        let stop_helpers = CancellationToken::new();
        let runner = Runner {
            jobs: jobs.clone(),
            handlers,
            completions: spawn_completer(jobs.clone()),
            held: held.clone(),
            settings,
        };
        let heartbeat = tokio::spawn(heartbeat(jobs.clone(), held.clone(), settings, stop_helpers.clone()));
        let upkeep = tokio::spawn(upkeep(jobs.clone(), settings, stop_helpers.clone()));
        let mut running = JoinSet::new();
        'claiming: loop {
            let first = tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                Some(handed) = handed.recv() => {
                    runner.start_handed(&mut running, handed);
                    continue;
                }
                permit = slots.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
            };
            let mut permits = vec![first];
            while let Ok(permit) = slots.clone().try_acquire_owned() {
                permits.push(permit);
            }
            // News that arrived before this claim is answered by it.
            while matches!(news.try_recv(), Ok(_) | Err(TryRecvError::Lagged(_))) {}
            let asked = permits.len();
            let token: Arc<str> = Arc::from(uuid::Uuid::new_v4().to_string());
            let now = jobs.now();
            let lease = Lease {
                token: token.to_string(),
                expires_at: now + settings.lease,
            };
            // A job handed over meanwhile starts at once, not after the claim's round trip. (Its own enqueue's
            // notification may be what woke this claim.)
            let claim = repo::claim(jobs.db(), asked as u64, &lease, now);
            tokio::pin!(claim);
            let claimed = loop {
                tokio::select! {
                    biased;
                    Some(handed) = handed.recv() => runner.start_handed(&mut running, handed),
                    claimed = &mut claim => break claimed,
                }
            };
            let claimed = claimed.unwrap_or_else(|error| {
                tracing::warn!(%error, "cannot claim jobs; trying again shortly");
                Vec::new()
            });
            jobs.changed(&claimed);
            let got = claimed.len();
            for (job, permit) in claimed.into_iter().zip(permits.drain(..)) {
                runner.start(&mut running, job, token.clone(), permit, now);
            }
            drop(permits);
            while running.try_join_next().is_some() {}
            if got < asked {
                // The poll's deadline holds across handed jobs: delayed jobs coming due are found only by polling.
                let deadline = tokio::time::Instant::now() + settings.poll_interval;
                loop {
                    match wait_for_work(&mut news, &mut handed, &shutdown, deadline).await {
                        Woken::Shutdown => break 'claiming,
                        Woken::Work => break,
                        Woken::Handed(handed) => runner.start_handed(&mut running, *handed),
                    }
                }
            }
        }
        // No more jobs are handed over; those already on their way run like the others.
        jobs.local_worker().clear_if(&handoff);
        handed.close();
        while let Ok(late) = handed.try_recv() {
            runner.start_handed(&mut running, late);
        }
        let drained = tokio::time::timeout(settings.shutdown_grace, async {
            while running.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            running.shutdown().await;
            give_back(&jobs, &held).await;
        }
        stop_helpers.cancel();
        let _ = heartbeat.await;
        let _ = upkeep.await;
    }
}

/// Starts attempts, of claimed jobs and of jobs handed over.
struct Runner {
    jobs: JobsService,
    handlers: Arc<Handlers>,
    completions: mpsc::Sender<CompletionRequest>,
    held: HeldLeases,
    settings: WorkerSettings,
}

impl Runner {
    fn start(&self, running: &mut JoinSet<()>, job: Job, token: Arc<str>, permit: OwnedSemaphorePermit, now: Now) {
        metrics::histogram!("job_pickup_latency_seconds", "kind" => job.kind.as_str())
            .record((now - job.run_at).to_std().unwrap_or_default().as_secs_f64());
        lock(&self.held).insert(job.id, token.clone());
        let attempt = Attempt {
            jobs: self.jobs.clone(),
            handlers: self.handlers.clone(),
            completions: self.completions.clone(),
            held: self.held.clone(),
            settings: self.settings,
            token,
        };
        running.spawn(async move {
            attempt.run(job).await;
            drop(permit);
        });
    }

    fn start_handed(&self, running: &mut JoinSet<()>, handed: Handed) {
        let now = handed.job.started_at.unwrap_or_else(|| self.jobs.now());
        self.start(running, handed.job, handed.token, handed.permit, now);
    }
}

type Now = chrono::DateTime<chrono::Utc>;

fn lock(held: &HeldLeases) -> std::sync::MutexGuard<'_, HashMap<i32, Arc<str>>> {
    held.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Why a waiting worker woke.
enum Woken {
    Shutdown,
    /// There may be jobs to claim: a notification of a ready job, a reconnect (notifications may be lost), or the
    /// poll's deadline.
    Work,
    Handed(Box<Handed>),
}

async fn wait_for_work(
    news: &mut tokio::sync::broadcast::Receiver<BusEvent>,
    handed: &mut mpsc::UnboundedReceiver<Handed>,
    shutdown: &CancellationToken,
    deadline: tokio::time::Instant,
) -> Woken {
    let deadline = tokio::time::sleep_until(deadline);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return Woken::Shutdown,
            Some(handed) = handed.recv() => return Woken::Handed(Box::new(handed)),
            () = &mut deadline => return Woken::Work,
            received = news.recv() => match received {
                Ok(BusEvent::Message { channel: Channel::Jobs, payload }) => {
                    if events::parse(&payload).is_some_and(|news| news.wakes_workers()) {
                        return Woken::Work;
                    }
                }
                // The deadline still wakes it while the bus is down.
                Ok(BusEvent::Message { .. } | BusEvent::Interrupted) => {}
                Ok(BusEvent::Reconnected) | Err(RecvError::Lagged(_)) => return Woken::Work,
                Err(RecvError::Closed) => {
                    (&mut deadline).await;
                    return Woken::Work;
                }
            },
        }
    }
}

/// Everything one attempt needs besides its job.
struct Attempt {
    jobs: JobsService,
    handlers: Arc<Handlers>,
    completions: mpsc::Sender<CompletionRequest>,
    held: HeldLeases,
    settings: WorkerSettings,
    token: Arc<str>,
}

impl Attempt {
    async fn run(self, job: Job) {
        let started = Instant::now();
        let run = JobRun {
            jobs: self.jobs.clone(),
            id: job.id,
            token: self.token.clone(),
        };
        let outcome = match self.handlers.get(job.kind) {
            None => Err(Failure::Permanent(
                Message::new("job-kind-unknown").arg("kind", job.kind.as_str()),
            )),
            Some(handler) => match tokio::time::timeout(self.settings.time_limit, handler.run(&job, &run)).await {
                Ok(outcome) => outcome,
                Err(_) => Err(Failure::Retry(
                    Message::new("job-timed-out").arg("seconds", self.settings.time_limit.as_secs()),
                )),
            },
        };
        let label = outcome_label(&outcome);
        let ended = self.end(&job, outcome).await;
        match ended {
            Ok(Some(ended)) => self.jobs.changed(std::slice::from_ref(&ended)),
            Ok(None) => tracing::info!(job.id = job.id, "the job's lease passed to another worker; dropped"),
            Err(error) => tracing::warn!(job.id = job.id, %error, "cannot record the end of a job attempt"),
        }
        lock(&self.held).remove(&job.id);
        metrics::histogram!("job_attempt_duration_seconds", "kind" => job.kind.as_str(), "outcome" => label)
            .record(started.elapsed().as_secs_f64());
    }

    /// Records how the attempt ended, fenced by the lease; `None` if the lease was lost.
    async fn end(&self, job: &Job, outcome: Result<Done, Failure>) -> Result<Option<Job>, sea_orm::DbErr> {
        let db = self.jobs.db();
        let now = self.jobs.now();
        match outcome {
            Ok(Done::Finished(ended)) => Ok(Some(ended)),
            Ok(Done::Completed(result)) => {
                let (reply, answer) = oneshot::channel();
                let request = CompletionRequest {
                    id: job.id,
                    token: self.token.clone(),
                    result,
                    reply,
                };
                if self.completions.send(request).await.is_err() {
                    return Err(sea_orm::DbErr::Custom("the completion writer stopped".into()));
                }
                answer
                    .await
                    .unwrap_or_else(|_| Err(sea_orm::DbErr::Custom("the completion writer stopped".into())))
            }
            Err(Failure::Retry(message)) => {
                let retry_at = (job.attempts < job.max_attempts).then(|| {
                    metrics::counter!("job_retries_total", "kind" => job.kind.as_str()).increment(1);
                    now + self.jobs.retry_policy().backoff(job.attempts)
                });
                repo::fail(db, job.id, &self.token, &StoredMessage::from(&message), retry_at, now).await
            }
            Err(Failure::Permanent(message)) => {
                repo::fail(db, job.id, &self.token, &StoredMessage::from(&message), None, now).await
            }
            Err(Failure::Cancelled) => repo::cancel_running(db, job.id, &self.token, now).await,
            Err(Failure::LeaseLost) => Ok(None),
        }
    }
}

fn outcome_label(outcome: &Result<Done, Failure>) -> &'static str {
    match outcome {
        Ok(_) => "completed",
        Err(Failure::Retry(_)) => "retry",
        Err(Failure::Permanent(_)) => "failed",
        Err(Failure::Cancelled) => "cancelled",
        Err(Failure::LeaseLost) => "lease_lost",
    }
}

struct CompletionRequest {
    id: i32,
    token: Arc<str>,
    result: Option<serde_json::Value>,
    reply: oneshot::Sender<Result<Option<Job>, sea_orm::DbErr>>,
}

/// Writes completions in batches: whatever has queued up while the previous statement ran goes in the next one.
/// An attempt counts as done only once its batch has committed, so a crash never loses a reported completion.
fn spawn_completer(jobs: JobsService) -> mpsc::Sender<CompletionRequest> {
    let (sender, mut receiver) = mpsc::channel::<CompletionRequest>(COMPLETIONS_PER_STATEMENT * 2);
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(COMPLETIONS_PER_STATEMENT);
        while receiver.recv_many(&mut batch, COMPLETIONS_PER_STATEMENT).await > 0 {
            let done: Vec<Completed<'_>> = batch
                .iter()
                .map(|request| Completed {
                    id: request.id,
                    token: &request.token,
                    result: request.result.as_ref(),
                })
                .collect();
            let written = repo::complete_many(jobs.db(), &done, jobs.now()).await;
            drop(done);
            match written {
                Ok(completed) => {
                    let mut by_id: HashMap<i32, Job> = completed.into_iter().map(|job| (job.id, job)).collect();
                    for request in batch.drain(..) {
                        let _ = request.reply.send(Ok(by_id.remove(&request.id)));
                    }
                }
                Err(error) => {
                    let message = error.to_string();
                    for request in batch.drain(..) {
                        let _ = request.reply.send(Err(sea_orm::DbErr::Custom(message.clone())));
                    }
                }
            }
        }
    });
    sender
}

/// Renews every lease this worker holds, in one statement, every third of the lease.
async fn heartbeat(jobs: JobsService, held: HeldLeases, settings: WorkerSettings, stop: CancellationToken) {
    let mut every = tokio::time::interval(settings.lease / 3);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = every.tick() => {}
        }
        let tokens: Vec<String> = {
            let held = lock(&held);
            let mut tokens: Vec<String> = held.values().map(|token| token.to_string()).collect();
            tokens.sort_unstable();
            tokens.dedup();
            tokens
        };
        if tokens.is_empty() {
            continue;
        }
        let now = jobs.now();
        if let Err(error) = repo::extend_leases(jobs.db(), &tokens, now + settings.lease, now).await {
            tracing::warn!(%error, "cannot renew job leases");
        }
    }
}

/// Takes back jobs whose lease expired (their worker died), prunes finished jobs past retention, and refreshes
/// the jobs-by-state gauges. Every worker process does it; the statements are conditional, so they do not clash.
async fn upkeep(jobs: JobsService, settings: WorkerSettings, stop: CancellationToken) {
    let rescue_every = (settings.lease / 4).clamp(Duration::from_millis(100), Duration::from_secs(5));
    let mut every = tokio::time::interval(rescue_every);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_housekeeping: Option<Instant> = None;
    let lost = StoredMessage::from(&Message::new("job-worker-lost"));
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = every.tick() => {}
        }
        match repo::rescue(jobs.db(), &lost, jobs.now()).await {
            Ok(rescued) if !rescued.is_empty() => {
                metrics::counter!("job_rescues_total").increment(rescued.len() as u64);
                tracing::info!(
                    jobs = rescued.len(),
                    "took back jobs whose worker stopped renewing its lease"
                );
                jobs.changed(&rescued);
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "cannot take back expired jobs"),
        }
        if last_housekeeping.is_some_and(|at| at.elapsed() < HOUSEKEEPING_EVERY) {
            continue;
        }
        last_housekeeping = Some(Instant::now());
        let retention = chrono::Duration::from_std(settings.retention).unwrap_or(chrono::Duration::days(7));
        match repo::prune(jobs.db(), jobs.now() - retention).await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(jobs = pruned, "pruned finished jobs past their retention"),
            Err(error) => tracing::warn!(%error, "cannot prune finished jobs"),
        }
        if let Ok(counts) = repo::count_by_kind_and_state(jobs.db()).await {
            for (kind, state, count) in counts {
                metrics::gauge!("jobs", "kind" => kind, "state" => state).set(count as f64);
            }
        }
    }
}

/// Gives back the jobs whose attempts were abandoned at the end of the shutdown grace.
async fn give_back(jobs: &JobsService, held: &HeldLeases) {
    let mut by_token: HashMap<Arc<str>, Vec<i32>> = HashMap::new();
    for (id, token) in lock(held).drain() {
        by_token.entry(token).or_default().push(id);
    }
    for (token, ids) in by_token {
        match repo::release(jobs.db(), &ids, &token, jobs.now()).await {
            Ok(released) => {
                tracing::info!(jobs = released.len(), "gave back unfinished jobs at shutdown");
                jobs.changed(&released);
            }
            Err(error) => tracing::warn!(%error, "cannot give back unfinished jobs; their leases will expire"),
        }
    }
}
