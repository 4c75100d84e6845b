//! Durable background jobs: rows in the database, claimed under leases by workers in any process, retried with
//! backoff, followed live over subscriptions. Other domains register the kinds they run (`handlers`).

mod events;
pub mod feed;
pub mod handlers;
mod handoff;
pub mod loaders;
pub mod model;
mod repo;
pub mod resolvers;
mod service;
pub mod worker;

#[cfg(test)]
mod tests;

pub use handlers::{Completion, Done, Failure, Handlers, JobHandler, JobRun};
pub use model::{Job, JobKind, JobState, NewJob, Priority, parse_run_at};
pub use resolvers::{JobNode, jobs_of_user};
pub use service::{JobsService, MAX_JOBS_PER_ENQUEUE, RetryPolicy};
pub use worker::{Worker, WorkerSettings};
