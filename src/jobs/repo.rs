//! The jobs table: enqueueing, the claim, and the lease-fenced writes of a running job.
//!
//! Every write made on behalf of a running job names the lease it holds (`id` and `lease_token`, still `ACTIVE`):
//! a worker whose lease expired and was taken over changes nothing, because its token no longer matches.

use chrono::{DateTime, Utc};
use entity::jobs;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, Statement,
    sea_query::{Expr, ExprTrait, Query},
};
use serde_json::Value;

use super::model::{Job, JobFilter, JobKind, JobState, NewJob, StoredMessage};
use crate::pagination::{KeysetPage, Page};

pub fn job(model: jobs::Model) -> Job {
    Job {
        id: model.id,
        kind: JobKind::parse(&model.kind).unwrap_or(JobKind::PushNotification),
        state: JobState::parse(&model.state).unwrap_or(JobState::Failed),
        payload: serde_json::from_str(&model.payload).ok(),
        result: model.result.as_deref().and_then(|text| serde_json::from_str(text).ok()),
        progress: model.progress,
        attempts: model.attempts,
        max_attempts: model.max_attempts,
        priority: model.priority,
        run_at: model.run_at,
        cancel_requested: model.cancel_requested,
        error: model.error_id.map(|id| StoredMessage {
            id,
            args: model
                .error_args
                .as_deref()
                .and_then(|text| serde_json::from_str(text).ok())
                .unwrap_or_default(),
        }),
        owner_id: model.owner_id,
        version: model.version,
        created_at: model.created_at,
        updated_at: model.updated_at,
        started_at: model.started_at,
        finished_at: model.finished_at,
    }
}

fn jobs_of(models: Vec<jobs::Model>) -> Vec<Job> {
    models.into_iter().map(job).collect()
}

/// Inserts every job in one statement.
pub async fn insert(db: &impl ConnectionTrait, new: Vec<NewJob>, now: DateTime<Utc>) -> Result<Vec<Job>, DbErr> {
    insert_claiming(db, new.into_iter().map(|job| (job, None)), now).await
}

/// Inserts jobs, those with a lease written already claimed under it: `ACTIVE`, attempt 1, started now
/// (`handoff`).
pub async fn insert_claiming(
    db: &impl ConnectionTrait,
    new: impl IntoIterator<Item = (NewJob, Option<&Lease>)>,
    now: DateTime<Utc>,
) -> Result<Vec<Job>, DbErr> {
    let rows = new.into_iter().map(|(new, lease)| {
        let claimed = lease.is_some();
        jobs::ActiveModel {
            kind: Set(new.kind.as_str().to_string()),
            state: Set(if claimed { JobState::Active } else { JobState::Queued }
                .as_str()
                .to_string()),
            payload: Set(new.payload.to_string()),
            result: Set(None),
            progress: Set(0),
            attempts: Set(i32::from(claimed)),
            max_attempts: Set(new.max_attempts),
            priority: Set(new.priority.get()),
            run_at: Set(new.run_at),
            lease_token: Set(lease.map(|lease| lease.token.clone())),
            lease_expires_at: Set(lease.map(|lease| lease.expires_at)),
            heartbeat_at: Set(claimed.then_some(now)),
            cancel_requested: Set(false),
            error_id: Set(None),
            error_args: Set(None),
            owner_id: Set(new.owner_id),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
            started_at: Set(claimed.then_some(now)),
            finished_at: Set(None),
            ..Default::default()
        }
    });
    let mut inserted = jobs_of(jobs::Entity::insert_many(rows).exec_with_returning(db).await?);
    inserted.sort_by_key(|job| job.id);
    Ok(inserted)
}

pub async fn find(db: &impl ConnectionTrait, ids: &[i32]) -> Result<Vec<Job>, DbErr> {
    crate::db::find_by_ids::<jobs::Entity, _>(db, jobs::Column::Id, ids, job).await
}

fn filtered(filter: JobFilter) -> sea_orm::Select<jobs::Entity> {
    let mut select = jobs::Entity::find();
    if let Some(owner) = filter.owner_id {
        select = select.filter(jobs::Column::OwnerId.eq(owner));
    }
    if let Some(kind) = filter.kind {
        select = select.filter(jobs::Column::Kind.eq(kind.as_str()));
    }
    if let Some(state) = filter.state {
        select = select.filter(jobs::Column::State.eq(state.as_str()));
    }
    select
}

pub async fn page(db: &impl ConnectionTrait, filter: JobFilter, page: &KeysetPage<i32>) -> Result<Page<Job>, DbErr> {
    let mut cursor = filtered(filter).cursor_by(jobs::Column::Id);
    if let Some(after) = page.after {
        cursor.after(after);
    }
    if let Some(before) = page.before {
        cursor.before(before);
    }
    let probe = page.limit + 1;
    let rows = if page.from_end {
        cursor.last(probe).all(db).await?
    } else {
        cursor.first(probe).all(db).await?
    };
    Ok(page.page_from(jobs_of(rows)))
}

pub async fn count(db: &impl ConnectionTrait, filter: JobFilter) -> Result<u64, DbErr> {
    filtered(filter).count(db).await
}

/// Jobs whose id lies in `first..=last` and that pass `filter`: what a subscriber reads after hearing that a batch
/// was enqueued.
pub async fn in_range(db: &impl ConnectionTrait, filter: JobFilter, first: i32, last: i32) -> Result<Vec<Job>, DbErr> {
    Ok(jobs_of(
        filtered(filter)
            .filter(jobs::Column::Id.between(first, last))
            .order_by_asc(jobs::Column::Id)
            .limit(1000)
            .all(db)
            .await?,
    ))
}

/// Jobs that `filter` keeps and that changed at or after `since`, oldest change first (at most 1,000): what a
/// subscriber reads after it may have missed notifications.
pub async fn changed_since(
    db: &impl ConnectionTrait,
    filter: JobFilter,
    since: DateTime<Utc>,
) -> Result<Vec<Job>, DbErr> {
    Ok(jobs_of(
        filtered(filter)
            .filter(jobs::Column::UpdatedAt.gte(since))
            .order_by_asc(jobs::Column::UpdatedAt)
            .order_by_asc(jobs::Column::Id)
            .limit(1000)
            .all(db)
            .await?,
    ))
}

/// One page of jobs per owner, in one statement.
pub async fn page_per_owner(
    db: &impl ConnectionTrait,
    owners: &[i32],
    page: &KeysetPage<i32>,
) -> Result<Vec<Job>, DbErr> {
    Ok(jobs_of(
        crate::db::page_per_parent::<jobs::Entity>(db, jobs::Column::OwnerId, jobs::Column::Id, owners, page).await?,
    ))
}

pub async fn count_per_owner(
    db: &impl ConnectionTrait,
    owners: &[i32],
) -> Result<std::collections::HashMap<i32, u64>, DbErr> {
    crate::db::count_per_parent::<jobs::Entity>(db, jobs::Column::OwnerId, owners).await
}

/// A lease: who holds a claimed job, and until when.
#[derive(Clone, Debug)]
pub struct Lease {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// Claims up to `limit` ready jobs in priority order, in one statement.
///
/// PostgreSQL: the CTE locks the chosen rows (`SKIP LOCKED`: concurrent claimers take different jobs without
/// waiting) and the `UPDATE … FROM` takes exactly those. (`WHERE id IN (subquery)` may re-run the subquery and take
/// more rows than the limit.) SQLite has one writer at a time, so the plain subquery is exact there.
///
/// The claim alone commits without waiting for its WAL flush (`synchronous_commit` off for this transaction only),
/// which takes one disk flush off the way from enqueue to run. Losing a claim takes a database crash within a
/// fraction of a second after it, and costs nothing the queue promises: the job is queued again, as after its
/// worker's death; the attempt's completion, fenced by the lost lease, commits nothing; and a completion that did
/// commit flushed the WAL before it, this claim included.
pub async fn claim(
    db: &impl ConnectionTrait,
    limit: u64,
    lease: &Lease,
    now: DateTime<Utc>,
) -> Result<Vec<Job>, DbErr> {
    let backend = db.get_database_backend();
    if backend == DatabaseBackend::Postgres {
        let statement = Statement::from_sql_and_values(
            backend,
            r#"WITH ready AS (
                   SELECT id FROM jobs
                   WHERE state = 'QUEUED' AND run_at <= $1
                   ORDER BY priority, run_at, id
                   LIMIT $2
                   FOR UPDATE SKIP LOCKED
               ), no_flush_wait AS (
                   SELECT set_config('synchronous_commit', 'off', true)
               )
               UPDATE jobs SET state = 'ACTIVE', lease_token = $3, lease_expires_at = $4, heartbeat_at = $1,
                   attempts = jobs.attempts + 1, progress = 0, started_at = $1, updated_at = $1,
                   version = jobs.version + 1
               FROM ready, no_flush_wait WHERE jobs.id = ready.id
               RETURNING jobs.*"#,
            [
                now.into(),
                (limit as i64).into(),
                lease.token.clone().into(),
                lease.expires_at.into(),
            ],
        );
        return Ok(jobs_of(jobs::Model::find_by_statement(statement).all(db).await?));
    }
    let ready = Query::select()
        .column(jobs::Column::Id)
        .from(jobs::Entity)
        .and_where(jobs::Column::State.eq(JobState::Queued.as_str()))
        .and_where(jobs::Column::RunAt.lte(now))
        .order_by(jobs::Column::Priority, sea_orm::Order::Asc)
        .order_by(jobs::Column::RunAt, sea_orm::Order::Asc)
        .order_by(jobs::Column::Id, sea_orm::Order::Asc)
        .limit(limit)
        .to_owned();
    Ok(jobs_of(
        jobs::Entity::update_many()
            .col_expr(jobs::Column::State, Expr::value(JobState::Active.as_str()))
            .col_expr(jobs::Column::LeaseToken, Expr::value(lease.token.clone()))
            .col_expr(jobs::Column::LeaseExpiresAt, Expr::value(lease.expires_at))
            .col_expr(jobs::Column::HeartbeatAt, Expr::value(now))
            .col_expr(jobs::Column::Attempts, Expr::col(jobs::Column::Attempts).add(1))
            .col_expr(jobs::Column::Progress, Expr::value(0))
            .col_expr(jobs::Column::StartedAt, Expr::value(now))
            .col_expr(jobs::Column::UpdatedAt, Expr::value(now))
            .col_expr(jobs::Column::Version, Expr::col(jobs::Column::Version).add(1))
            .filter(jobs::Column::Id.in_subquery(ready))
            .exec_with_returning(db)
            .await?,
    ))
}

/// The lease-fenced update of one running job; `None` when the lease is no longer this worker's.
fn fenced(id: i32, token: &str, now: DateTime<Utc>) -> sea_orm::UpdateMany<jobs::Entity> {
    jobs::Entity::update_many()
        .col_expr(jobs::Column::UpdatedAt, Expr::value(now))
        .col_expr(jobs::Column::Version, Expr::col(jobs::Column::Version).add(1))
        .filter(jobs::Column::Id.eq(id))
        .filter(jobs::Column::LeaseToken.eq(token))
        .filter(jobs::Column::State.eq(JobState::Active.as_str()))
}

async fn one(db: &impl ConnectionTrait, update: sea_orm::UpdateMany<jobs::Entity>) -> Result<Option<Job>, DbErr> {
    Ok(update.exec_with_returning(db).await?.into_iter().next().map(job))
}

pub async fn set_progress(
    db: &impl ConnectionTrait,
    id: i32,
    token: &str,
    progress: i32,
    now: DateTime<Utc>,
) -> Result<Option<Job>, DbErr> {
    one(
        db,
        fenced(id, token, now).col_expr(jobs::Column::Progress, Expr::value(progress)),
    )
    .await
}

pub async fn complete(
    db: &impl ConnectionTrait,
    id: i32,
    token: &str,
    result: Option<&Value>,
    now: DateTime<Utc>,
) -> Result<Option<Job>, DbErr> {
    one(
        db,
        finished(fenced(id, token, now), JobState::Completed, now)
            .col_expr(jobs::Column::Progress, Expr::value(100))
            .col_expr(jobs::Column::Result, Expr::value(result.map(Value::to_string))),
    )
    .await
}

/// Ends the job's run: a final state, no lease.
fn finished(
    update: sea_orm::UpdateMany<jobs::Entity>,
    state: JobState,
    now: DateTime<Utc>,
) -> sea_orm::UpdateMany<jobs::Entity> {
    released(update)
        .col_expr(jobs::Column::State, Expr::value(state.as_str()))
        .col_expr(jobs::Column::FinishedAt, Expr::value(now))
}

fn released(update: sea_orm::UpdateMany<jobs::Entity>) -> sea_orm::UpdateMany<jobs::Entity> {
    update
        .col_expr(jobs::Column::LeaseToken, Expr::value(Option::<String>::None))
        .col_expr(jobs::Column::LeaseExpiresAt, Expr::value(Option::<DateTime<Utc>>::None))
}

fn with_error(update: sea_orm::UpdateMany<jobs::Entity>, error: &StoredMessage) -> sea_orm::UpdateMany<jobs::Entity> {
    update
        .col_expr(jobs::Column::ErrorId, Expr::value(error.id.clone()))
        .col_expr(
            jobs::Column::ErrorArgs,
            Expr::value(serde_json::to_string(&error.args).unwrap_or_default()),
        )
}

/// A failed attempt: queued again at `retry_at`, or failed for good when there is none.
pub async fn fail(
    db: &impl ConnectionTrait,
    id: i32,
    token: &str,
    error: &StoredMessage,
    retry_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Option<Job>, DbErr> {
    let update = with_error(fenced(id, token, now), error);
    let update = match retry_at {
        Some(retry_at) => released(update)
            .col_expr(jobs::Column::State, Expr::value(JobState::Queued.as_str()))
            .col_expr(jobs::Column::RunAt, Expr::value(retry_at)),
        None => finished(update, JobState::Failed, now),
    };
    one(db, update).await
}

/// A running job whose owner asked to cancel it, stopped at its step.
pub async fn cancel_running(
    db: &impl ConnectionTrait,
    id: i32,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<Job>, DbErr> {
    one(db, finished(fenced(id, token, now), JobState::Cancelled, now)).await
}

/// Gives back jobs this worker will not run (shutdown): queued again at once, the attempt not counted.
pub async fn release(
    db: &impl ConnectionTrait,
    ids: &[i32],
    token: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Job>, DbErr> {
    Ok(jobs_of(
        released(jobs::Entity::update_many())
            .col_expr(jobs::Column::State, Expr::value(JobState::Queued.as_str()))
            .col_expr(jobs::Column::Attempts, Expr::col(jobs::Column::Attempts).sub(1))
            .col_expr(jobs::Column::RunAt, Expr::value(now))
            .col_expr(jobs::Column::UpdatedAt, Expr::value(now))
            .col_expr(jobs::Column::Version, Expr::col(jobs::Column::Version).add(1))
            .filter(jobs::Column::Id.is_in(ids.iter().copied()))
            .filter(jobs::Column::LeaseToken.eq(token))
            .filter(jobs::Column::State.eq(JobState::Active.as_str()))
            .exec_with_returning(db)
            .await?,
    ))
}

/// Extends the leases this worker holds. Not a change anyone sees: the version stays.
pub async fn extend_leases(
    db: &impl ConnectionTrait,
    tokens: &[String],
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let mut held = Query::select()
        .column(jobs::Column::Id)
        .from(jobs::Entity)
        .and_where(jobs::Column::LeaseToken.is_in(tokens.iter().cloned()))
        .and_where(jobs::Column::State.eq(JobState::Active.as_str()))
        .to_owned();
    if db.get_database_backend() == DatabaseBackend::Postgres {
        // A job whose completing transaction holds its row is skipped, not waited for: that transaction may wait
        // on other locks (an event's row, the cache epoch), and a heartbeat stuck behind it renews no lease at all
        // (seen under load: leases of other jobs expired and they were run again). The skipped job is ending;
        // if its transaction rolls back, the next heartbeat renews it.
        held.lock_with_behavior(
            sea_orm::sea_query::LockType::Update,
            sea_orm::sea_query::LockBehavior::SkipLocked,
        );
    }
    Ok(jobs::Entity::update_many()
        .col_expr(jobs::Column::LeaseExpiresAt, Expr::value(expires_at))
        .col_expr(jobs::Column::HeartbeatAt, Expr::value(now))
        .filter(jobs::Column::Id.in_subquery(held))
        .exec(db)
        .await?
        .rows_affected)
}

/// Takes back jobs whose worker stopped renewing its lease (it died, or lost the database): queued again, or
/// failed when that worker's attempt was the last one allowed — a job that keeps killing its worker stops.
pub async fn rescue(db: &impl ConnectionTrait, error: &StoredMessage, now: DateTime<Utc>) -> Result<Vec<Job>, DbErr> {
    let expired = || {
        jobs::Entity::update_many()
            .col_expr(jobs::Column::UpdatedAt, Expr::value(now))
            .col_expr(jobs::Column::Version, Expr::col(jobs::Column::Version).add(1))
            .filter(jobs::Column::State.eq(JobState::Active.as_str()))
            .filter(jobs::Column::LeaseExpiresAt.lt(now))
    };
    let mut rescued = jobs_of(
        with_error(finished(expired(), JobState::Failed, now), error)
            .filter(Expr::col(jobs::Column::Attempts).gte(Expr::col(jobs::Column::MaxAttempts)))
            .exec_with_returning(db)
            .await?,
    );
    rescued.extend(jobs_of(
        released(expired())
            .col_expr(jobs::Column::State, Expr::value(JobState::Queued.as_str()))
            .col_expr(jobs::Column::RunAt, Expr::value(now))
            .exec_with_returning(db)
            .await?,
    ));
    Ok(rescued)
}

/// Cancels a queued job at once; `None` if it is not queued (any more).
pub async fn cancel_queued(db: &impl ConnectionTrait, id: i32, now: DateTime<Utc>) -> Result<Option<Job>, DbErr> {
    one(
        db,
        jobs::Entity::update_many()
            .col_expr(jobs::Column::State, Expr::value(JobState::Cancelled.as_str()))
            .col_expr(jobs::Column::FinishedAt, Expr::value(now))
            .col_expr(jobs::Column::UpdatedAt, Expr::value(now))
            .col_expr(jobs::Column::Version, Expr::col(jobs::Column::Version).add(1))
            .filter(jobs::Column::Id.eq(id))
            .filter(jobs::Column::State.eq(JobState::Queued.as_str())),
    )
    .await
}

/// Asks a running job to stop at its next step; `None` if it is not running (any more).
pub async fn request_cancel(db: &impl ConnectionTrait, id: i32, now: DateTime<Utc>) -> Result<Option<Job>, DbErr> {
    one(
        db,
        jobs::Entity::update_many()
            .col_expr(jobs::Column::CancelRequested, Expr::value(true))
            .col_expr(jobs::Column::UpdatedAt, Expr::value(now))
            .col_expr(jobs::Column::Version, Expr::col(jobs::Column::Version).add(1))
            .filter(jobs::Column::Id.eq(id))
            .filter(jobs::Column::State.eq(JobState::Active.as_str())),
    )
    .await
}

/// Queues a failed or cancelled job again, with a fresh set of attempts; `None` if it is in another state.
pub async fn retry(db: &impl ConnectionTrait, id: i32, now: DateTime<Utc>) -> Result<Option<Job>, DbErr> {
    one(
        db,
        jobs::Entity::update_many()
            .col_expr(jobs::Column::State, Expr::value(JobState::Queued.as_str()))
            .col_expr(jobs::Column::Attempts, Expr::value(0))
            .col_expr(jobs::Column::Progress, Expr::value(0))
            .col_expr(jobs::Column::CancelRequested, Expr::value(false))
            .col_expr(jobs::Column::ErrorId, Expr::value(Option::<String>::None))
            .col_expr(jobs::Column::ErrorArgs, Expr::value(Option::<String>::None))
            .col_expr(jobs::Column::Result, Expr::value(Option::<String>::None))
            .col_expr(jobs::Column::FinishedAt, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(jobs::Column::RunAt, Expr::value(now))
            .col_expr(jobs::Column::UpdatedAt, Expr::value(now))
            .col_expr(jobs::Column::Version, Expr::col(jobs::Column::Version).add(1))
            .filter(jobs::Column::Id.eq(id))
            .filter(jobs::Column::State.is_in([JobState::Failed.as_str(), JobState::Cancelled.as_str()])),
    )
    .await
}

/// Deletes jobs that finished before `before`.
pub async fn prune(db: &impl ConnectionTrait, before: DateTime<Utc>) -> Result<u64, DbErr> {
    Ok(jobs::Entity::delete_many()
        .filter(jobs::Column::FinishedAt.lt(before))
        .filter(jobs::Column::State.is_in([
            JobState::Completed.as_str(),
            JobState::Failed.as_str(),
            JobState::Cancelled.as_str(),
        ]))
        .exec(db)
        .await?
        .rows_affected)
}

/// Jobs by kind and state, for the metrics.
pub async fn count_by_kind_and_state(db: &impl ConnectionTrait) -> Result<Vec<(String, String, i64)>, DbErr> {
    #[derive(FromQueryResult)]
    struct Row {
        kind: String,
        state: String,
        jobs: i64,
    }
    let rows = jobs::Entity::find()
        .select_only()
        .column(jobs::Column::Kind)
        .column(jobs::Column::State)
        .column_as(Expr::col(jobs::Column::Id).count(), "jobs")
        .group_by(jobs::Column::Kind)
        .group_by(jobs::Column::State)
        .into_model::<Row>()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|row| (row.kind, row.state, row.jobs)).collect())
}

/// A running job's completion, for `complete_many`.
pub struct Completed<'a> {
    pub id: i32,
    pub token: &'a str,
    pub result: Option<&'a Value>,
}

/// Completes many jobs in one statement (each fenced by its own lease), so a busy worker commits once per batch
/// rather than once per job. Jobs whose lease was lost are simply not among the returned rows.
pub async fn complete_many(
    db: &impl ConnectionTrait,
    done: &[Completed<'_>],
    now: DateTime<Utc>,
) -> Result<Vec<Job>, DbErr> {
    if done.is_empty() {
        return Ok(Vec::new());
    }
    let backend = db.get_database_backend();
    // Numbered parameters on both engines: `$n` on PostgreSQL, `?n` on SQLite.
    let sigil = if backend == DatabaseBackend::Postgres { '$' } else { '?' };
    let mut values: Vec<sea_orm::Value> = Vec::with_capacity(1 + done.len() * 3);
    values.push(now.into());
    let mut rows = String::with_capacity(done.len() * 64);
    for (index, completed) in done.iter().enumerate() {
        let base = 2 + index * 3;
        if index > 0 {
            rows.push(',');
        }
        // VALUES columns are column1… on both engines; the casts give PostgreSQL the parameters' types.
        rows.push_str(&format!(
            "(CAST({sigil}{} AS INTEGER), CAST({sigil}{} AS TEXT), CAST({sigil}{} AS TEXT))",
            base,
            base + 1,
            base + 2
        ));
        values.push(completed.id.into());
        values.push(completed.token.to_string().into());
        values.push(completed.result.map(Value::to_string).into());
    }
    // SQLite's RETURNING names only the updated table's columns, and unqualified.
    let returning = if backend == DatabaseBackend::Postgres {
        "jobs.*"
    } else {
        "*"
    };
    let sql = format!(
        "UPDATE jobs SET state = 'COMPLETED', progress = 100, result = done.column3, finished_at = {sigil}1, \
         updated_at = {sigil}1, lease_token = NULL, lease_expires_at = NULL, version = jobs.version + 1 \
         FROM (VALUES {rows}) AS done \
         WHERE jobs.id = done.column1 AND jobs.lease_token = done.column2 AND jobs.state = 'ACTIVE' \
         RETURNING {returning}"
    );
    let statement = Statement::from_sql_and_values(backend, sql, values);
    Ok(jobs_of(jobs::Model::find_by_statement(statement).all(db).await?))
}
