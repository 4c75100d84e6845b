//! The news the jobs table sends on the bus, in one wire format for both engines.
//!
//! On PostgreSQL, triggers on `jobs` write it (migration `m20261202_000001_create_jobs`), inside the writing
//! transaction: `{"enqueued":[first,last,queued]}` once per inserting statement (ids, and how many were written
//! queued rather than claimed), and
//! `{"changed":[row, …]}` for every update that changed a version, rows without their payload (which never
//! changes) and without lease columns, split so that each notification stays far below PostgreSQL's 8,000 bytes.
//! On SQLite the service writes the same after committing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::model::{Job, JobKind, JobState, StoredMessage};

/// What one notification says.
#[derive(Debug)]
pub enum JobNews {
    /// Jobs with ids in `first..=last` were enqueued (some ids in between may be other transactions' jobs);
    /// `queued` unless every one was written claimed, handed to its enqueuer's worker (`handoff`).
    Enqueued {
        first: i32,
        last: i32,
        queued: bool,
    },
    Changed(Vec<Job>),
}

impl JobNews {
    /// Whether a worker may find something to claim after this news.
    pub fn wakes_workers(&self) -> bool {
        match self {
            Self::Enqueued { queued, .. } => *queued,
            Self::Changed(jobs) => jobs.iter().any(|job| job.state == JobState::Queued),
        }
    }
}

/// A row as `to_jsonb(jobs)` writes it, minus the payload and the lease.
#[derive(Serialize, Deserialize)]
struct Row {
    id: i32,
    kind: String,
    state: String,
    result: Option<String>,
    progress: i32,
    attempts: i32,
    max_attempts: i32,
    priority: i32,
    run_at: DateTime<Utc>,
    cancel_requested: bool,
    error_id: Option<String>,
    error_args: Option<String>,
    owner_id: Option<i32>,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Wire {
    /// `[first, last, queued]`: the id range and how many of its jobs were written queued. (Before the handoff the
    /// trigger wrote `[first, last]`, every job queued; that form is still read, for a server of the older version
    /// writing to the same database during a rolling deploy.)
    Enqueued(Vec<i32>),
    Changed(Vec<Row>),
}

pub fn parse(payload: &str) -> Option<JobNews> {
    match serde_json::from_str::<Wire>(payload).ok()? {
        Wire::Enqueued(numbers) => match numbers[..] {
            [first, last] => Some(JobNews::Enqueued {
                first,
                last,
                queued: true,
            }),
            [first, last, queued] => Some(JobNews::Enqueued {
                first,
                last,
                queued: queued > 0,
            }),
            _ => None,
        },
        Wire::Changed(rows) => Some(JobNews::Changed(rows.into_iter().filter_map(job).collect())),
    }
}

fn job(row: Row) -> Option<Job> {
    Some(Job {
        id: row.id,
        kind: JobKind::parse(&row.kind)?,
        state: JobState::parse(&row.state)?,
        payload: None,
        result: row.result.as_deref().and_then(|text| serde_json::from_str(text).ok()),
        progress: row.progress,
        attempts: row.attempts,
        max_attempts: row.max_attempts,
        priority: row.priority,
        run_at: row.run_at,
        cancel_requested: row.cancel_requested,
        error: row.error_id.map(|id| StoredMessage {
            id,
            args: row
                .error_args
                .as_deref()
                .and_then(|text| serde_json::from_str(text).ok())
                .unwrap_or_default(),
        }),
        owner_id: row.owner_id,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
        started_at: row.started_at,
        finished_at: row.finished_at,
    })
}

pub fn enqueued(jobs: &[Job]) -> Option<String> {
    let first = jobs.iter().map(|job| job.id).min()?;
    let last = jobs.iter().map(|job| job.id).max()?;
    let queued = jobs.iter().filter(|job| job.state == JobState::Queued).count();
    serde_json::to_string(&Wire::Enqueued(vec![
        first,
        last,
        i32::try_from(queued).unwrap_or(i32::MAX),
    ]))
    .ok()
}

/// The changed rows as one or more payloads, as the PostgreSQL trigger splits them.
pub fn changed(jobs: &[Job]) -> Vec<String> {
    const ROWS_PER_MESSAGE: usize = 16;
    jobs.chunks(ROWS_PER_MESSAGE)
        .filter_map(|chunk| {
            let rows = chunk.iter().map(row).collect();
            serde_json::to_string(&Wire::Changed(rows)).ok()
        })
        .collect()
}

fn row(job: &Job) -> Row {
    Row {
        id: job.id,
        kind: job.kind.as_str().to_string(),
        state: job.state.as_str().to_string(),
        result: job.result.as_ref().map(ToString::to_string),
        progress: job.progress,
        attempts: job.attempts,
        max_attempts: job.max_attempts,
        priority: job.priority,
        run_at: job.run_at,
        cancel_requested: job.cancel_requested,
        error_id: job.error.as_ref().map(|error| error.id.clone()),
        error_args: job
            .error
            .as_ref()
            .and_then(|error| serde_json::to_string(&error.args).ok()),
        owner_id: job.owner_id,
        version: job.version,
        created_at: job.created_at,
        updated_at: job.updated_at,
        started_at: job.started_at,
        finished_at: job.finished_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_written_by_postgres_reads_back_as_a_job() {
        let payload = r#"{"changed":[{"id":7,"kind":"SEAT_RESERVATION","state":"FAILED","result":null,"progress":0,
            "attempts":1,"max_attempts":3,"priority":0,"run_at":"2026-12-02T07:00:00.123456+00:00",
            "cancel_requested":false,"error_id":"seats-none-left","error_args":"[[\"event\",\"3\"]]","owner_id":2,
            "version":4,"created_at":"2026-12-02T07:00:00+00:00","updated_at":"2026-12-02T07:00:01+00:00",
            "started_at":null,"finished_at":"2026-12-02T07:00:01+00:00"}]}"#;
        let Some(JobNews::Changed(jobs)) = parse(payload) else {
            panic!("not a change")
        };
        assert_eq!(jobs[0].state, JobState::Failed);
        assert_eq!(
            jobs[0].error.as_ref().map(|error| error.args.clone()),
            Some(vec![("event".to_string(), "3".to_string())])
        );
    }

    #[test]
    fn news_survives_its_own_wire_format() {
        let Some(JobNews::Enqueued { first, last, queued }) = parse(r#"{"enqueued":[3,9]}"#) else {
            panic!("not an enqueue")
        };
        assert_eq!((first, last, queued), (3, 9, true), "the older form: every job queued");
        let news = parse(r#"{"enqueued":[3,9,0]}"#).expect("an enqueue");
        assert!(
            !news.wakes_workers(),
            "jobs all handed over give the workers nothing to claim"
        );
        assert!(parse(r#"{"enqueued":[3,9,2]}"#).expect("an enqueue").wakes_workers());
        assert!(parse(r#"{"enqueued":[3,9,2,4]}"#).is_none());
        assert!(parse("not json").is_none());
        assert!(parse(r#"{"enqueued":[1]}"#).is_none());
    }
}
