//! Jobs as the domain sees them: kinds, states, what a job carries, and what enqueueing accepts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{AppError, Message};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobKind {
    PushNotification,
    SeatReservation,
}

impl JobKind {
    pub const ALL: [Self; 2] = [Self::PushNotification, Self::SeatReservation];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PushNotification => "PUSH_NOTIFICATION",
            Self::SeatReservation => "SEAT_RESERVATION",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobState {
    Queued,
    Active,
    Completed,
    Failed,
    Cancelled,
}

impl JobState {
    pub const ALL: [Self; 5] = [
        Self::Queued,
        Self::Active,
        Self::Completed,
        Self::Failed,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "QUEUED",
            Self::Active => "ACTIVE",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
            Self::Cancelled => "CANCELLED",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == text)
    }

    /// A job in a final state changes no more (unless someone retries it).
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

/// A sentence kept as its message id and arguments, rendered in the reader's locale.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMessage {
    pub id: String,
    pub args: Vec<(String, String)>,
}

impl From<&Message> for StoredMessage {
    fn from(message: &Message) -> Self {
        Self {
            id: message.id.to_string(),
            args: message
                .args
                .iter()
                .map(|(name, value)| (name.to_string(), value.clone()))
                .collect(),
        }
    }
}

/// A job as stored. `payload` is `None` in a change event (events leave it out to stay small; it never changes).
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    pub id: i32,
    pub kind: JobKind,
    pub state: JobState,
    pub payload: Option<Value>,
    pub result: Option<Value>,
    pub progress: i32,
    pub attempts: i32,
    pub max_attempts: i32,
    pub priority: i32,
    pub run_at: DateTime<Utc>,
    pub cancel_requested: bool,
    pub error: Option<StoredMessage>,
    pub owner_id: Option<i32>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// Jobs run in ascending priority (Kue's convention: lower is more urgent), then by `run_at`, then by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Priority(i32);

impl Priority {
    pub const LIMIT: i32 = 1000;

    pub fn parse(field: &str, value: Option<i32>) -> Result<Self, AppError> {
        let value = value.unwrap_or(0);
        if !(-Self::LIMIT..=Self::LIMIT).contains(&value) {
            return Err(AppError::bad_input(
                field,
                Message::new("job-priority-out-of-range").arg("limit", Self::LIMIT),
            ));
        }
        Ok(Self(value))
    }

    pub fn get(self) -> i32 {
        self.0
    }
}

/// When a job may start: now, or a time no further ahead than a year (a typo'd year should not park a job forever).
pub fn parse_run_at(field: &str, run_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Result<DateTime<Utc>, AppError> {
    let Some(run_at) = run_at else { return Ok(now) };
    if run_at > now + chrono::Duration::days(366) {
        return Err(AppError::bad_input(field, Message::new("job-run-at-too-far")));
    }
    Ok(run_at.max(now))
}

/// What enqueueing stores: already validated by the caller's domain.
#[derive(Clone, Debug)]
pub struct NewJob {
    pub kind: JobKind,
    pub payload: Value,
    pub owner_id: Option<i32>,
    pub priority: Priority,
    pub run_at: DateTime<Utc>,
    pub max_attempts: i32,
}

/// The filters of `jobs(...)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct JobFilter {
    pub owner_id: Option<i32>,
    pub kind: Option<JobKind>,
    pub state: Option<JobState>,
}
