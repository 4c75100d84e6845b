//! The queue's own rules, against a real database (a migrated SQLite file, and PostgreSQL too when
//! `TEST_DATABASE_URL` is set): writes fenced by the lease, batched completion, claim order and limit, release, and
//! rescue. These go through `repo` directly: the API cannot stage a worker that lost its lease.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::json;

use super::{
    handoff::Handoff,
    model::{Job, JobFilter, JobKind, JobState, NewJob, Priority, StoredMessage},
    repo::{self, Completed, Lease},
    service::{JobsService, RetryPolicy},
};
use crate::{bus::Bus, clock, error::Message};

/// One migrated database per engine: a SQLite file in `dir`, and a fresh PostgreSQL database beside
/// `TEST_DATABASE_URL` when it is set.
async fn databases(dir: &tempfile::TempDir) -> Vec<DatabaseConnection> {
    databases_at(dir).await.into_iter().map(|(_, db)| db).collect()
}

/// As `databases`, with the URL of each.
async fn databases_at(dir: &tempfile::TempDir) -> Vec<(String, DatabaseConnection)> {
    let mut urls = vec![format!("sqlite://{}", dir.path().join("jobs.db").display())];
    if let Ok(admin_url) = std::env::var("TEST_DATABASE_URL")
        && !admin_url.is_empty()
    {
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let admin = Database::connect(&admin_url)
            .await
            .expect("TEST_DATABASE_URL is reachable");
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create the test database");
        admin.close().await.expect("close the admin connection");
        let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(base, _)| base);
        urls.push(format!("{base}/{name}"));
    }
    let mut databases = Vec::new();
    for url in urls {
        let (db, _) = crate::db::connect(&url, 5).await.expect("connect");
        crate::db::migrate_up(&db).await.expect("migrate");
        databases.push((url, db));
    }
    databases
}

fn notification(priority: i32, run_at: DateTime<Utc>, max_attempts: i32) -> NewJob {
    NewJob {
        kind: JobKind::PushNotification,
        payload: json!({ "phoneNumber": "4153518780", "message": "hi" }),
        owner_id: None,
        priority: Priority::parse("priority", Some(priority)).expect("a valid priority"),
        run_at,
        max_attempts,
    }
}

async fn enqueue(db: &DatabaseConnection, jobs: Vec<NewJob>, now: DateTime<Utc>) -> Vec<i32> {
    repo::insert(db, jobs, now)
        .await
        .expect("insert")
        .into_iter()
        .map(|job| job.id)
        .collect()
}

fn lease(token: &str, expires_at: DateTime<Utc>) -> Lease {
    Lease {
        token: token.into(),
        expires_at,
    }
}

async fn stored(db: &DatabaseConnection, id: i32) -> Job {
    repo::find(db, &[id])
        .await
        .expect("find")
        .pop()
        .expect("the job exists")
}

fn ids(jobs: &[Job]) -> HashSet<i32> {
    jobs.iter().map(|job| job.id).collect()
}

fn worker_lost() -> StoredMessage {
    StoredMessage::from(&Message::new("job-worker-lost"))
}

#[tokio::test]
async fn a_worker_whose_lease_expired_cannot_write_to_the_job_another_worker_now_holds() {
    let dir = tempfile::tempdir().expect("dir");
    for db in databases(&dir).await {
        let now = Utc::now();
        let id = enqueue(&db, vec![notification(0, now, 3)], now).await[0];
        let claimed = repo::claim(&db, 1, &lease("first", now - Duration::seconds(1)), now)
            .await
            .expect("claim");
        assert_eq!(ids(&claimed), HashSet::from([id]));
        let rescued = repo::rescue(&db, &worker_lost(), now).await.expect("rescue");
        assert_eq!(rescued.len(), 1);
        assert_eq!(rescued[0].state, JobState::Queued);
        let claimed = repo::claim(&db, 1, &lease("second", now + Duration::seconds(60)), now)
            .await
            .expect("claim again");
        assert_eq!(claimed[0].attempts, 2);
        let held = stored(&db, id).await;

        let error = StoredMessage::from(&Message::new("notification-send-failed"));
        let later = now + Duration::seconds(5);
        assert!(
            repo::set_progress(&db, id, "first", 50, now)
                .await
                .expect("progress")
                .is_none()
        );
        assert!(
            repo::complete(&db, id, "first", None, now)
                .await
                .expect("complete")
                .is_none()
        );
        assert!(
            repo::fail(&db, id, "first", &error, None, now)
                .await
                .expect("fail")
                .is_none()
        );
        assert!(
            repo::fail(&db, id, "first", &error, Some(later), now)
                .await
                .expect("fail")
                .is_none()
        );
        assert!(
            repo::cancel_running(&db, id, "first", now)
                .await
                .expect("cancel")
                .is_none()
        );
        assert!(
            repo::release(&db, &[id], "first", now)
                .await
                .expect("release")
                .is_empty()
        );
        let stale = [Completed {
            id,
            token: "first",
            result: None,
        }];
        assert!(
            repo::complete_many(&db, &stale, now)
                .await
                .expect("complete many")
                .is_empty()
        );
        assert_eq!(stored(&db, id).await, held, "the stale worker changed nothing");

        let result = json!({ "delivered": true });
        let done = repo::complete(&db, id, "second", Some(&result), now)
            .await
            .expect("complete")
            .expect("the holder completes it");
        assert_eq!(done.state, JobState::Completed);
        assert_eq!((done.progress, done.attempts), (100, 2));
        assert_eq!(done.result, Some(result));
        assert!(done.version > held.version);
    }
}

#[tokio::test]
async fn complete_many_completes_the_jobs_whose_lease_holds_and_leaves_the_others_as_they_were() {
    let dir = tempfile::tempdir().expect("dir");
    for db in databases(&dir).await {
        let now = Utc::now();
        let all = enqueue(&db, (0..4).map(|_| notification(0, now, 3)).collect(), now).await;
        let claimed = repo::claim(&db, 3, &lease("mine", now + Duration::seconds(60)), now)
            .await
            .expect("claim");
        assert_eq!(ids(&claimed), HashSet::from([all[0], all[1], all[2]]));
        let result = json!({ "n": 1 });
        let done = [
            Completed {
                id: all[0],
                token: "mine",
                result: Some(&result),
            },
            Completed {
                id: all[1],
                token: "stale",
                result: None,
            },
            Completed {
                id: all[2],
                token: "mine",
                result: None,
            },
            // Never claimed: still queued, with no lease to match.
            Completed {
                id: all[3],
                token: "mine",
                result: None,
            },
        ];
        let completed = repo::complete_many(&db, &done, now).await.expect("complete many");
        assert_eq!(ids(&completed), HashSet::from([all[0], all[2]]));
        assert!(
            completed
                .iter()
                .all(|job| job.state == JobState::Completed && job.progress == 100)
        );
        assert_eq!(stored(&db, all[0]).await.result, Some(result));
        assert_eq!(stored(&db, all[1]).await.state, JobState::Active);
        assert_eq!(stored(&db, all[3]).await.state, JobState::Queued);
    }
}

#[tokio::test]
async fn jobs_are_claimed_by_priority_then_run_at_then_id_and_never_more_than_the_limit() {
    let dir = tempfile::tempdir().expect("dir");
    for db in databases(&dir).await {
        let now = Utc::now();
        let ago = |seconds| now - Duration::seconds(seconds);
        let jobs = enqueue(
            &db,
            vec![
                notification(5, ago(3), 3),
                notification(-5, ago(1), 3),
                notification(0, ago(2), 3),
                notification(0, ago(2), 3),
                notification(0, ago(5), 3),
                // Most urgent, but not due yet.
                notification(-10, now + Duration::seconds(60), 3),
            ],
            now,
        )
        .await;
        let expected = [
            HashSet::from([jobs[1], jobs[4]]),
            HashSet::from([jobs[2], jobs[3]]),
            HashSet::from([jobs[0]]),
            HashSet::new(),
        ];
        for (round, expected) in expected.into_iter().enumerate() {
            let claimed = repo::claim(
                &db,
                2,
                &lease(&format!("round-{round}"), now + Duration::seconds(60)),
                now,
            )
            .await
            .expect("claim");
            assert_eq!(ids(&claimed), expected, "round {round}");
        }
        assert_eq!(stored(&db, jobs[5]).await.state, JobState::Queued);

        // Concurrent claimers each take exactly their limit, and no job twice.
        let many = enqueue(&db, (0..50).map(|_| notification(0, now, 3)).collect(), now).await;
        let claims = (0..5).map(|claimer| {
            let db = db.clone();
            tokio::spawn(async move {
                let lease = lease(&format!("claimer-{claimer}"), now + Duration::seconds(60));
                repo::claim(&db, 7, &lease, now).await.expect("claim")
            })
        });
        let mut taken = HashSet::new();
        for claim in claims.collect::<Vec<_>>() {
            let claimed = claim.await.expect("claimer");
            assert_eq!(claimed.len(), 7, "a claim takes exactly its limit");
            for job in claimed {
                assert!(many.contains(&job.id));
                assert!(taken.insert(job.id), "job {} claimed twice", job.id);
            }
        }
        let active = repo::count(
            &db,
            JobFilter {
                state: Some(JobState::Active),
                ..JobFilter::default()
            },
        )
        .await
        .expect("count");
        assert_eq!(active, 5 + 35);
    }
}

#[tokio::test]
async fn releasing_a_job_gives_it_back_without_using_up_an_attempt() {
    let dir = tempfile::tempdir().expect("dir");
    for db in databases(&dir).await {
        let now = Utc::now();
        let id = enqueue(&db, vec![notification(0, now, 3)], now).await[0];
        let claimed = repo::claim(&db, 1, &lease("leaving", now + Duration::seconds(60)), now)
            .await
            .expect("claim");
        assert_eq!(claimed[0].attempts, 1);
        assert!(
            repo::release(&db, &[id], "someone-else", now)
                .await
                .expect("release")
                .is_empty()
        );
        let released = repo::release(&db, &[id], "leaving", now).await.expect("release");
        assert_eq!(released.len(), 1);
        assert_eq!((released[0].state, released[0].attempts), (JobState::Queued, 0));
        let claimed = repo::claim(&db, 1, &lease("next", now + Duration::seconds(60)), now)
            .await
            .expect("claim again");
        assert_eq!(claimed[0].attempts, 1, "the released attempt was not counted");
    }
}

#[tokio::test]
async fn rescue_fails_a_job_whose_worker_died_on_its_last_attempt_and_requeues_the_others() {
    let dir = tempfile::tempdir().expect("dir");
    for db in databases(&dir).await {
        let now = Utc::now();
        let jobs = enqueue(
            &db,
            vec![
                notification(0, now, 1),
                notification(0, now, 3),
                notification(0, now, 3),
            ],
            now,
        )
        .await;
        let expired = lease("dead", now - Duration::seconds(1));
        assert_eq!(repo::claim(&db, 2, &expired, now).await.expect("claim").len(), 2);
        let alive = lease("alive", now + Duration::seconds(60));
        assert_eq!(repo::claim(&db, 1, &alive, now).await.expect("claim").len(), 1);

        let rescued = repo::rescue(&db, &worker_lost(), now).await.expect("rescue");
        assert_eq!(ids(&rescued), HashSet::from([jobs[0], jobs[1]]));
        let last_attempt = stored(&db, jobs[0]).await;
        assert_eq!(last_attempt.state, JobState::Failed);
        assert_eq!(last_attempt.error, Some(worker_lost()));
        assert!(last_attempt.finished_at.is_some());
        let retried = stored(&db, jobs[1]).await;
        assert_eq!((retried.state, retried.attempts), (JobState::Queued, 1));
        assert_eq!(
            stored(&db, jobs[2]).await.state,
            JobState::Active,
            "a live lease is left alone"
        );
        assert!(repo::rescue(&db, &worker_lost(), now).await.expect("rescue").is_empty());
    }
}

/// A jobs service at a fixed `now` whose process runs a worker with `slots` free slots, as far as the handoff
/// sees it: the test holds the worker's end, with the bus's news and the token that stops the bus.
struct WithWorker {
    jobs: JobsService,
    slots: std::sync::Arc<tokio::sync::Semaphore>,
    handed: tokio::sync::mpsc::UnboundedReceiver<super::handoff::Handed>,
    news: tokio::sync::broadcast::Receiver<crate::bus::BusEvent>,
    stop_bus: tokio_util::sync::CancellationToken,
}

async fn with_worker(url: &str, db: &DatabaseConnection, now: DateTime<Utc>, slots: usize) -> WithWorker {
    let stop_bus = tokio_util::sync::CancellationToken::new();
    let bus = Bus::start(db, url, stop_bus.clone()).await.expect("bus");
    let news = bus.subscribe();
    let retry = RetryPolicy {
        max_attempts: 3,
        backoff_base: std::time::Duration::from_secs(1),
        backoff_max: std::time::Duration::from_secs(60),
    };
    let jobs = JobsService::new(db.clone(), bus, clock::fixed_clock(now), retry);
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(slots));
    let (handoff, handed) = Handoff::new(slots.clone(), std::time::Duration::from_secs(30));
    jobs.local_worker().set(Some(std::sync::Arc::new(handoff)));
    WithWorker {
        jobs,
        slots,
        handed,
        news,
        stop_bus,
    }
}

#[tokio::test]
async fn enqueued_ready_jobs_take_the_free_slots_of_this_processs_worker_in_claim_order_and_the_rest_queue() {
    let dir = tempfile::tempdir().expect("dir");
    for (url, db) in databases_at(&dir).await {
        let now = Utc::now();
        let WithWorker {
            jobs,
            slots,
            mut handed,
            stop_bus,
            ..
        } = with_worker(&url, &db, now, 2).await;
        let later = now + Duration::minutes(5);
        let enqueued = jobs
            .enqueue(vec![
                notification(5, now, 3),
                notification(0, now, 3),
                notification(-9, later, 3),
                notification(1, now, 3),
            ])
            .await
            .expect("enqueue");
        let states: Vec<(JobState, i32)> = enqueued.iter().map(|job| (job.state, job.attempts)).collect();
        assert_eq!(
            states,
            vec![
                (JobState::Queued, 0),
                (JobState::Active, 1),
                (JobState::Queued, 0),
                (JobState::Active, 1),
            ],
            "the two most urgent ready jobs are written claimed; the delayed one waits for its time"
        );
        let started = enqueued[1].started_at.expect("started");
        assert!(
            (started - now).abs() < Duration::milliseconds(1),
            "started when enqueued"
        );
        let first = handed.try_recv().expect("handed over");
        let second = handed.try_recv().expect("handed over");
        assert_eq!(
            HashSet::from([first.job.id, second.job.id]),
            HashSet::from([enqueued[1].id, enqueued[3].id])
        );
        assert_eq!(slots.available_permits(), 0, "each handed job holds a slot");
        // The lease fences the handed job as it fences a claimed one.
        let token = first.token.to_string();
        assert!(
            repo::set_progress(&db, first.job.id, "someone-else", 50, now)
                .await
                .expect("write")
                .is_none()
        );
        assert!(
            repo::set_progress(&db, first.job.id, &token, 50, now)
                .await
                .expect("write")
                .is_some()
        );
        let busy = jobs.enqueue(vec![notification(0, now, 3)]).await.expect("enqueue");
        assert_eq!(
            busy[0].state,
            JobState::Queued,
            "no free slot: the job waits to be claimed"
        );
        drop(second);
        let freed = jobs.enqueue(vec![notification(0, now, 3)]).await.expect("enqueue");
        assert_eq!(freed[0].state, JobState::Active, "a freed slot takes the next one");
        assert_eq!(handed.try_recv().expect("handed over").job.id, freed[0].id);
        // A caller that goes away once its enqueue began (a closed connection drops the request) still hands the job
        // over: the write and the handing over are a task of their own.
        let mut abandoned = Box::pin(jobs.enqueue(vec![notification(0, now, 3)]));
        assert!(futures_util::FutureExt::now_or_never(&mut abandoned).is_none());
        drop(abandoned);
        let arrived = tokio::time::timeout(std::time::Duration::from_secs(10), handed.recv())
            .await
            .expect("handed over within the deadline")
            .expect("the channel is open");
        assert_eq!(stored(&db, arrived.job.id).await.state, JobState::Active);
        // A worker that stopped takes nothing more.
        handed.close();
        let closed = jobs.enqueue(vec![notification(0, now, 3)]).await.expect("enqueue");
        assert_eq!(closed[0].state, JobState::Queued);
        stop_bus.cancel();
    }
}

#[tokio::test]
async fn a_job_written_for_a_worker_that_stopped_meanwhile_is_refused_and_can_be_given_back() {
    let dir = tempfile::tempdir().expect("dir");
    for db in databases(&dir).await {
        let now = Utc::now();
        let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(1));
        let (handoff, mut handed) = Handoff::new(slots.clone(), std::time::Duration::from_secs(30));
        let reserved = handoff.reserve(1).expect("a free slot");
        let lease = reserved.lease(now);
        let written = repo::insert_claiming(&db, [(notification(0, now, 3), Some(&lease))], now)
            .await
            .expect("insert");
        handed.close();
        let refused = reserved.hand(written);
        assert_eq!(refused.len(), 1);
        assert_eq!(slots.available_permits(), 1, "the refused job's slot is free again");
        let released = repo::release(&db, &[refused[0].id], &lease.token, now)
            .await
            .expect("release");
        assert_eq!((released[0].state, released[0].attempts), (JobState::Queued, 0));
    }
}

#[tokio::test]
async fn the_enqueue_news_wakes_workers_only_when_a_job_was_written_queued() {
    let dir = tempfile::tempdir().expect("dir");
    for (url, db) in databases_at(&dir).await {
        let now = Utc::now();
        let WithWorker {
            jobs,
            mut news,
            stop_bus,
            handed: _handed,
            ..
        } = with_worker(&url, &db, now, 1).await;
        // The first job takes the one free slot (written claimed); the second finds none (written queued).
        for expected in [false, true] {
            let enqueued = jobs.enqueue(vec![notification(0, now, 3)]).await.expect("enqueue");
            let heard = loop {
                let event = tokio::time::timeout(std::time::Duration::from_secs(10), news.recv())
                    .await
                    .expect("news within the deadline")
                    .expect("the bus is open");
                if let crate::bus::BusEvent::Message { payload, .. } = event
                    && let Some(news @ super::events::JobNews::Enqueued { .. }) = super::events::parse(&payload)
                {
                    break news;
                }
            };
            let super::events::JobNews::Enqueued { first, queued, .. } = heard else {
                unreachable!("matched above")
            };
            assert_eq!(first, enqueued[0].id);
            assert_eq!(queued, expected, "{:?}", enqueued[0].state);
        }
        stop_bus.cancel();
    }
}
