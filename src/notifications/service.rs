//! Sending notifications through the job queue: validated at enqueue, run by `NotificationJobs`.

use std::{collections::HashSet, sync::Arc};

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::{
    model::{NotificationText, PhoneNumber},
    notifier::Notifier,
};
use crate::{
    error::{AppError, AppResult, Message},
    jobs::{self, Done, Failure, Job, JobHandler, JobKind, JobRun, JobsService, NewJob, Priority},
};

/// A notification as a client asks for it, before validation.
pub struct NotificationRequest {
    pub phone_number: String,
    pub message: String,
    pub priority: Option<i32>,
    pub run_at: Option<DateTime<Utc>>,
}

/// What a `PUSH_NOTIFICATION` job carries.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    phone_number: String,
    message: String,
}

#[derive(Clone)]
pub struct NotificationsService {
    jobs: JobsService,
    max_attempts: i32,
}

impl NotificationsService {
    pub fn new(jobs: JobsService, max_attempts: i32) -> Self {
        Self { jobs, max_attempts }
    }

    /// Queues one job per request, all or none. Validation errors name the argument: `phoneNumber` for a single
    /// request, `input.3.phoneNumber` for the fourth of a `list` argument named `input`.
    pub async fn send(
        &self,
        owner_id: i32,
        requests: Vec<NotificationRequest>,
        list: Option<&str>,
    ) -> AppResult<Vec<Job>> {
        let field_of = |index: usize, field: &str| match list {
            Some(list) => format!("{list}.{index}.{field}"),
            None => field.to_string(),
        };
        if requests.len() > jobs::MAX_JOBS_PER_ENQUEUE {
            return Err(AppError::bad_input(
                list.unwrap_or_default(),
                Message::new("notification-too-many").arg("max", jobs::MAX_JOBS_PER_ENQUEUE),
            ));
        }
        let now = self.jobs.now();
        let mut new_jobs = Vec::with_capacity(requests.len());
        for (index, request) in requests.into_iter().enumerate() {
            let phone_number = PhoneNumber::parse(&field_of(index, "phoneNumber"), &request.phone_number)?;
            let message = NotificationText::parse(&field_of(index, "message"), &request.message)?;
            let payload = Payload {
                phone_number: phone_number.as_str().to_string(),
                message: message.as_str().to_string(),
            };
            new_jobs.push(NewJob {
                kind: JobKind::PushNotification,
                payload: serde_json::to_value(payload).map_err(|error| AppError::Internal(error.into()))?,
                owner_id: Some(owner_id),
                priority: Priority::parse(&field_of(index, "priority"), request.priority)?,
                run_at: jobs::parse_run_at(&field_of(index, "runAt"), request.run_at, now)?,
                max_attempts: self.max_attempts,
            });
        }
        if new_jobs.is_empty() {
            return Ok(Vec::new());
        }
        self.jobs.enqueue(new_jobs).await
    }
}

/// Runs `PUSH_NOTIFICATION` jobs the curriculum's way: progress 0, a blocked number fails for good, progress 50,
/// send, complete (100).
pub struct NotificationJobs {
    pub notifier: Arc<dyn Notifier>,
    pub blocked: Arc<HashSet<String>>,
}

impl JobHandler for NotificationJobs {
    fn run<'a>(&'a self, job: &'a Job, run: &'a JobRun) -> BoxFuture<'a, Result<Done, Failure>> {
        Box::pin(async move {
            let payload: Payload = job
                .payload
                .clone()
                .and_then(|payload| serde_json::from_value(payload).ok())
                .ok_or_else(|| Failure::Permanent(Message::new("job-payload-invalid")))?;
            run.progress(0).await?;
            if self.blocked.contains(&payload.phone_number) {
                return Err(Failure::Permanent(
                    Message::new("notification-phone-blocked").arg("number", &payload.phone_number),
                ));
            }
            run.progress(50).await?;
            self.notifier
                .send(job.id, &payload.phone_number, &payload.message)
                .await
                .map_err(|error| {
                    tracing::warn!(job.id = job.id, %error, "a notification was not delivered");
                    Failure::Retry(Message::new("notification-send-failed"))
                })?;
            Ok(Done::Completed(None))
        })
    }
}
