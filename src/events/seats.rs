//! Seat reservations through the job queue: `reserveSeat` queues a `SEAT_RESERVATION` job at once, and the
//! worker takes the seat in the job's completing transaction, so a job run twice (a retry, a rescue after a crash)
//! still takes one seat.

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::{
    repo,
    service::{EVENT, SEAT_RESERVATION},
};
use crate::{
    accounts::Caller,
    error::{AppError, AppResult, ErrorCode, Message},
    freshness::{Invalidations, Tags},
    jobs::{Done, Failure, Job, JobHandler, JobKind, JobRun, JobsService, NewJob, Priority},
};

/// What a `SEAT_RESERVATION` job carries; the job's owner is the user who gets the seat.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    event_id: i32,
}

#[derive(Clone)]
pub struct SeatsService {
    jobs: JobsService,
    max_attempts: i32,
}

impl SeatsService {
    pub fn new(jobs: JobsService, max_attempts: i32) -> Self {
        Self { jobs, max_attempts }
    }

    /// Queues the caller's request for a seat; `RESERVATIONS_BLOCKED` when the event takes no more.
    #[tracing::instrument(skip(self), fields(event.id = event_id))]
    pub async fn reserve_seat(&self, caller: Caller, event_id: i32) -> AppResult<Job> {
        let Some(event) = repo::find_events(self.jobs.db(), &[event_id]).await?.pop() else {
            return Err(AppError::NotFound {
                field: Some("eventId".into()),
            });
        };
        if !event.reservation_enabled {
            return Err(AppError::Refused {
                code: ErrorCode::ReservationsBlocked,
                message: Message::new("seats-reservations-blocked"),
            });
        }
        let payload = serde_json::to_value(Payload { event_id }).map_err(|error| AppError::Internal(error.into()))?;
        let mut queued = self
            .jobs
            .enqueue(vec![NewJob {
                kind: JobKind::SeatReservation,
                payload,
                owner_id: Some(caller.user_id),
                priority: Priority::parse("priority", None)?,
                run_at: self.jobs.now(),
                max_attempts: self.max_attempts,
            }])
            .await?;
        Ok(queued.remove(0))
    }
}

/// Runs `SEAT_RESERVATION` jobs: one conditional update takes a seat (turning reservations off at the last one),
/// the seat is recorded under the job's id (unique), and the job completes — in one transaction, fenced by the
/// lease. No seat left: the job fails for good with "Not enough seats available".
pub struct SeatJobs {
    pub invalidations: Invalidations,
}

impl JobHandler for SeatJobs {
    fn run<'a>(&'a self, job: &'a Job, run: &'a JobRun) -> BoxFuture<'a, Result<Done, Failure>> {
        Box::pin(async move {
            let payload: Payload = job
                .payload
                .clone()
                .and_then(|payload| serde_json::from_value(payload).ok())
                .ok_or_else(|| Failure::Permanent(Message::new("job-payload-invalid")))?;
            let user_id = job
                .owner_id
                .ok_or_else(|| Failure::Permanent(Message::new("job-payload-invalid")))?;
            let completion = run.begin_completion().await?;
            let now = run.now();
            if !repo::take_seat(completion.connection(), payload.event_id, now).await? {
                return completion.fail(&Message::new("seats-none-left")).await;
            }
            let seat =
                repo::insert_seat_reservation(completion.connection(), payload.event_id, user_id, job.id, now).await?;
            self.invalidations
                .touch(completion.connection(), Tags::of(&[EVENT, SEAT_RESERVATION]))
                .await?;
            completion
                .complete(Some(
                    serde_json::json!({ "seatReservationId": seat.id, "eventId": payload.event_id }),
                ))
                .await
        })
    }
}
