//! Following jobs live: one job until it ends (`jobUpdated`), or every job a caller may see (`jobEvents`).
//!
//! Both subscribe to the bus before reading the database, so a change committed between the read and the
//! subscription is not missed; both deliver only versions newer than the last one delivered, so nobody sees a job
//! go back in time; and after the bus lost notifications (a reconnect, or this subscriber fell behind) both read
//! the database again.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Utc};
use futures_util::{Stream, stream};
use tokio::sync::broadcast::{Receiver, error::RecvError};

use super::{
    events::{self, JobNews},
    model::{Job, JobFilter, JobKind},
    service::{JobsService, may_see, visible_to},
};
use crate::{
    accounts::Caller,
    bus::{BusEvent, Channel},
    error::{AppError, AppResult},
};

/// What a notification or a re-read means for a subscriber.
enum Heard {
    News(JobNews),
    Missed,
    Closed,
}

async fn hear(news: &mut Receiver<BusEvent>) -> Heard {
    loop {
        match news.recv().await {
            Ok(BusEvent::Message {
                channel: Channel::Jobs,
                payload,
            }) => {
                if let Some(parsed) = events::parse(&payload) {
                    return Heard::News(parsed);
                }
            }
            // What was missed is re-read once it is back (`Reconnected`).
            Ok(BusEvent::Message { .. } | BusEvent::Interrupted) => {}
            Ok(BusEvent::Reconnected) | Err(RecvError::Lagged(_)) => return Heard::Missed,
            Err(RecvError::Closed) => return Heard::Closed,
        }
    }
}

/// One job: its current state first, then every change in order; the stream ends after a final state.
/// A job the caller may not see is `NOT_FOUND`, as for one that does not exist.
pub fn follow(jobs: JobsService, caller: Caller, id: i32) -> impl Stream<Item = AppResult<Job>> + Send {
    let state = Following {
        news: jobs.bus().subscribe(),
        jobs,
        caller,
        id,
        last_version: None,
        ended: false,
    };
    stream::unfold(state, |mut state| async move {
        if state.ended {
            return None;
        }
        if state.last_version.is_none() {
            return Some(match state.jobs.job_for(&state.caller, state.id).await {
                Ok(Some(job)) => {
                    state.deliver(&job);
                    (Ok(job), state)
                }
                Ok(None) => {
                    state.ended = true;
                    (
                        Err(AppError::NotFound {
                            field: Some("id".into()),
                        }),
                        state,
                    )
                }
                Err(error) => {
                    state.ended = true;
                    (Err(error), state)
                }
            });
        }
        loop {
            let newer = match hear(&mut state.news).await {
                Heard::News(JobNews::Changed(changed)) => changed
                    .into_iter()
                    .find(|job| job.id == state.id && state.is_newer(job)),
                Heard::News(JobNews::Enqueued { .. }) => None,
                Heard::Missed => match state.jobs.jobs(&[state.id]).await {
                    Ok(mut found) => found.pop().filter(|job| state.is_newer(job)),
                    Err(error) => {
                        state.ended = true;
                        return Some((Err(error), state));
                    }
                },
                Heard::Closed => return None,
            };
            if let Some(job) = newer {
                state.deliver(&job);
                return Some((Ok(job), state));
            }
        }
    })
}

struct Following {
    jobs: JobsService,
    caller: Caller,
    id: i32,
    news: Receiver<BusEvent>,
    last_version: Option<i64>,
    ended: bool,
}

impl Following {
    fn is_newer(&self, job: &Job) -> bool {
        self.last_version.is_none_or(|last| job.version > last)
    }

    fn deliver(&mut self, job: &Job) {
        self.last_version = Some(job.version);
        self.ended = job.state.is_final();
    }
}

/// Versions remembered per job by `watch`, to drop what it already delivered. Past this many jobs it forgets the
/// lower half of the ids: at worst an old job's change is delivered twice after a re-read, never out of order.
const REMEMBERED_JOBS: usize = 10_000;

/// Every job the caller may see (all, for an admin), optionally of one kind: each creation and change.
pub fn watch(jobs: JobsService, caller: Caller, kind: Option<JobKind>) -> impl Stream<Item = AppResult<Job>> + Send {
    let state = Watching {
        news: jobs.bus().subscribe(),
        caught_up_at: jobs.now(),
        jobs,
        caller,
        kind,
        delivered: HashMap::new(),
        pending: VecDeque::new(),
    };
    stream::unfold(state, |mut state| async move {
        loop {
            if let Some(job) = state.pending.pop_front() {
                return Some((Ok(job), state));
            }
            let heard_at = state.jobs.now();
            let candidates = match hear(&mut state.news).await {
                Heard::News(JobNews::Changed(changed)) => Ok(changed),
                Heard::News(JobNews::Enqueued { first, last, .. }) => {
                    state.jobs.enqueued_between(state.filter(), first, last).await
                }
                Heard::Missed => state.jobs.changed_since(state.filter(), state.caught_up_at).await,
                Heard::Closed => return None,
            };
            match candidates {
                Ok(candidates) => {
                    for job in candidates {
                        state.offer(job);
                    }
                    // Clocks of other servers may lag a little behind; a re-read goes back a second before.
                    state.caught_up_at = heard_at - chrono::Duration::seconds(1);
                }
                Err(error) => return Some((Err(error), state)),
            }
        }
    })
}

struct Watching {
    jobs: JobsService,
    caller: Caller,
    kind: Option<JobKind>,
    news: Receiver<BusEvent>,
    delivered: HashMap<i32, i64>,
    pending: VecDeque<Job>,
    /// When the stream last knew it had heard everything: a re-read after lost news starts here.
    caught_up_at: DateTime<Utc>,
}

impl Watching {
    fn filter(&self) -> JobFilter {
        visible_to(
            &self.caller,
            JobFilter {
                kind: self.kind,
                ..JobFilter::default()
            },
        )
    }

    fn offer(&mut self, job: Job) {
        if !may_see(&self.caller, &job) || self.kind.is_some_and(|kind| kind != job.kind) {
            return;
        }
        if self.delivered.get(&job.id).is_some_and(|last| *last >= job.version) {
            return;
        }
        if self.delivered.len() >= REMEMBERED_JOBS {
            let mut ids: Vec<i32> = self.delivered.keys().copied().collect();
            ids.sort_unstable();
            for id in &ids[..ids.len() / 2] {
                self.delivered.remove(id);
            }
        }
        self.delivered.insert(job.id, job.version);
        self.pending.push_back(job);
    }
}
