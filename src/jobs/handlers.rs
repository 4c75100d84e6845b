//! The handler registry other domains register their job kinds into, and what a handler may do while it runs:
//! report progress, and finish with its effect in the same transaction as the job's completion.

use std::{collections::HashMap, sync::Arc};

use futures_util::future::BoxFuture;
use sea_orm::{DatabaseTransaction, TransactionTrait};
use serde_json::Value;

use super::{
    model::{Job, JobKind, StoredMessage},
    repo,
    service::JobsService,
};
use crate::error::{AppError, Message};

/// Why an attempt did not complete.
#[derive(Debug)]
pub enum Failure {
    /// Worth another attempt, if any are left.
    Retry(Message),
    /// Would fail every time (a blocked number): no retry.
    Permanent(Message),
    /// The owner asked to cancel; the job stops here.
    Cancelled,
    /// Another worker holds the job now: this one writes nothing more.
    LeaseLost,
}

impl From<AppError> for Failure {
    fn from(error: AppError) -> Self {
        match error {
            AppError::Internal(cause) => {
                tracing::warn!(error = %format!("{cause:#}"), "a job attempt failed; it will be retried");
                Self::Retry(Message::new("job-failed-internal"))
            }
            refused => Self::Permanent(refused.message()),
        }
    }
}

impl From<sea_orm::DbErr> for Failure {
    fn from(error: sea_orm::DbErr) -> Self {
        AppError::from(error).into()
    }
}

/// How an attempt ended well.
#[derive(Debug)]
pub enum Done {
    /// The worker records the completion (batched with others').
    Completed(Option<Value>),
    /// The handler already committed the job's end with its effect (`Completion`).
    Finished(Job),
}

/// A job kind's work. Implementations live in their own domain (events' seats, notifications).
pub trait JobHandler: Send + Sync + 'static {
    fn run<'a>(&'a self, job: &'a Job, run: &'a JobRun) -> BoxFuture<'a, Result<Done, Failure>>;
}

#[derive(Clone, Default)]
pub struct Handlers(HashMap<JobKind, Arc<dyn JobHandler>>);

impl Handlers {
    pub fn register(&mut self, kind: JobKind, handler: impl JobHandler) {
        self.0.insert(kind, Arc::new(handler));
    }

    pub fn get(&self, kind: JobKind) -> Option<Arc<dyn JobHandler>> {
        self.0.get(&kind).cloned()
    }
}

/// One attempt of one job, holding its lease.
pub struct JobRun {
    pub(super) jobs: JobsService,
    pub(super) id: i32,
    pub(super) token: Arc<str>,
}

impl JobRun {
    /// The time by the jobs service's clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.jobs.now()
    }

    /// Records progress (0–100); stops the attempt if the owner asked to cancel or the lease was lost.
    pub async fn progress(&self, percent: i32) -> Result<(), Failure> {
        let job = repo::set_progress(
            self.jobs.db(),
            self.id,
            &self.token,
            percent.clamp(0, 100),
            self.jobs.now(),
        )
        .await?
        .ok_or(Failure::LeaseLost)?;
        self.jobs.changed(std::slice::from_ref(&job));
        if job.cancel_requested {
            return Err(Failure::Cancelled);
        }
        Ok(())
    }

    /// Opens the transaction in which the handler makes its effect and the job ends: both commit, or neither.
    pub async fn begin_completion(&self) -> Result<Completion<'_>, Failure> {
        Ok(Completion {
            txn: self.jobs.db().begin().await?,
            run: self,
        })
    }
}

/// The transaction of a job's effect and its end, fenced by the lease: if the lease is no longer this worker's,
/// nothing of it commits.
pub struct Completion<'r> {
    txn: DatabaseTransaction,
    run: &'r JobRun,
}

impl Completion<'_> {
    pub fn connection(&self) -> &DatabaseTransaction {
        &self.txn
    }

    pub async fn complete(self, result: Option<Value>) -> Result<Done, Failure> {
        let now = self.run.jobs.now();
        let ended = repo::complete(&self.txn, self.run.id, &self.run.token, result.as_ref(), now).await?;
        self.commit(ended).await
    }

    /// Fails the job for good, with what was done in this transaction (usually nothing) committed with it.
    pub async fn fail(self, message: &Message) -> Result<Done, Failure> {
        let now = self.run.jobs.now();
        let error = StoredMessage::from(message);
        let ended = repo::fail(&self.txn, self.run.id, &self.run.token, &error, None, now).await?;
        self.commit(ended).await
    }

    async fn commit(self, ended: Option<Job>) -> Result<Done, Failure> {
        let Some(job) = ended else {
            self.txn.rollback().await?;
            return Err(Failure::LeaseLost);
        };
        self.txn.commit().await?;
        self.run.jobs.changed(std::slice::from_ref(&job));
        Ok(Done::Finished(job))
    }
}
