//! The jobs part of the schema: `Job`, `job`/`jobs`, `cancelJob`/`retryJob`, and the `jobUpdated`/`jobEvents`
//! subscriptions. Every field is its owner's or an admin's.

use async_graphql::{
    Context, Enum, ID, Json, Object, Result, Subscription,
    connection::Connection,
    futures_util::{Stream, StreamExt},
};
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{
    feed,
    loaders::{JobLoader, JobsOfUser},
    model::{self, Job, JobFilter},
    service::JobsService,
};
use crate::{
    accounts::resolvers::UserNode,
    graphql::{
        children::{ChildTotal, child_page},
        connection::{ConnectionArgs, Cursor, build_connection, connection_cost},
        errors::GqlResultExt,
        guards::{LoggedIn, request_context, require_caller},
        ids::{NodeType, global_id, parse_id_of},
        load_one,
    },
    i18n,
};

fn service<'a>(ctx: &Context<'a>) -> &'a JobsService {
    ctx.data_unchecked::<JobsService>()
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "JobKind")]
pub enum GqlJobKind {
    PushNotification,
    SeatReservation,
}

impl From<model::JobKind> for GqlJobKind {
    fn from(kind: model::JobKind) -> Self {
        match kind {
            model::JobKind::PushNotification => Self::PushNotification,
            model::JobKind::SeatReservation => Self::SeatReservation,
        }
    }
}

impl From<GqlJobKind> for model::JobKind {
    fn from(kind: GqlJobKind) -> Self {
        match kind {
            GqlJobKind::PushNotification => Self::PushNotification,
            GqlJobKind::SeatReservation => Self::SeatReservation,
        }
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "JobState")]
pub enum GqlJobState {
    Queued,
    Active,
    Completed,
    Failed,
    Cancelled,
}

impl From<model::JobState> for GqlJobState {
    fn from(state: model::JobState) -> Self {
        match state {
            model::JobState::Queued => Self::Queued,
            model::JobState::Active => Self::Active,
            model::JobState::Completed => Self::Completed,
            model::JobState::Failed => Self::Failed,
            model::JobState::Cancelled => Self::Cancelled,
        }
    }
}

impl From<GqlJobState> for model::JobState {
    fn from(state: GqlJobState) -> Self {
        match state {
            GqlJobState::Queued => Self::Queued,
            GqlJobState::Active => Self::Active,
            GqlJobState::Completed => Self::Completed,
            GqlJobState::Failed => Self::Failed,
            GqlJobState::Cancelled => Self::Cancelled,
        }
    }
}

/// A unit of background work and where it stands.
pub struct JobNode(pub Job);

#[Object(name = "Job", cache_control(no_cache))]
impl JobNode {
    pub async fn id(&self) -> ID {
        global_id(NodeType::Job, self.0.id)
    }

    async fn database_id(&self) -> i32 {
        self.0.id
    }

    async fn kind(&self) -> GqlJobKind {
        self.0.kind.into()
    }

    async fn state(&self) -> GqlJobState {
        self.0.state.into()
    }

    /// 0 to 100.
    async fn progress(&self) -> i32 {
        self.0.progress
    }

    /// Attempts started so far.
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }

    async fn max_attempts(&self) -> i32 {
        self.0.max_attempts
    }

    /// Lower runs first (Kue's convention); 0 by default.
    async fn priority(&self) -> i32 {
        self.0.priority
    }

    /// When the job may (next) start.
    async fn run_at(&self) -> DateTime<Utc> {
        self.0.run_at
    }

    /// Why the job failed, in the viewer's language; null unless it failed.
    async fn error(&self, ctx: &Context<'_>) -> Option<String> {
        if self.0.state != model::JobState::Failed {
            return None;
        }
        let error = self.0.error.as_ref()?;
        Some(i18n::translate_id(
            request_context(ctx).effective_locale(),
            &error.id,
            error.args.iter().cloned(),
        ))
    }

    /// What the job was asked to do.
    async fn payload(&self, ctx: &Context<'_>) -> Result<Json<Value>> {
        if let Some(payload) = &self.0.payload {
            return Ok(Json(payload.clone()));
        }
        // A change event leaves the payload out; it never changes, so the stored one is current.
        let stored = load_one::<JobLoader, _>(ctx, self.0.id).await?;
        Ok(Json(stored.and_then(|job| job.payload).unwrap_or(Value::Null)))
    }

    /// What the job produced, once completed.
    async fn result(&self) -> Option<Json<Value>> {
        self.0.result.clone().map(Json)
    }

    /// The version of this state: it grows with every change.
    async fn version(&self) -> i64 {
        self.0.version
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When the latest attempt started.
    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.0.started_at
    }

    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at
    }

    /// Who asked for the job.
    async fn owner(&self, ctx: &Context<'_>) -> Result<Option<UserNode>> {
        match self.0.owner_id {
            Some(owner) => UserNode::load(ctx, owner).await,
            None => Ok(None),
        }
    }
}

/// A job by id for `node`: its owner's or an admin's, null for anyone else.
pub async fn load_job(ctx: &Context<'_>, id: i32) -> Result<Option<JobNode>> {
    let caller = require_caller(ctx)?;
    Ok(load_one::<JobLoader, _>(ctx, id)
        .await?
        .filter(|job| super::service::may_see(&caller, job))
        .map(JobNode))
}

/// `User.jobs` (the resolver has checked that the caller may see them).
pub async fn jobs_of_user(
    ctx: &Context<'_>,
    user_id: i32,
    args: ConnectionArgs,
) -> Result<Connection<Cursor, JobNode, ChildTotal>> {
    let page = args.parse::<i32>("jobs").gql()?;
    let (page, total) = child_page::<JobsOfUser>(ctx, user_id, page).await?;
    Ok(build_connection("jobs", page, |job| job.id, JobNode, total))
}

#[derive(Default)]
pub struct JobsQuery;

#[Object]
impl JobsQuery {
    /// A job by its global id: the owner's or an admin's; null otherwise.
    #[graphql(guard = "LoggedIn", cache_control(no_cache))]
    async fn job(&self, ctx: &Context<'_>, id: ID) -> Result<Option<JobNode>> {
        let id = parse_id_of("id", &id, NodeType::Job).gql()?;
        load_job(ctx, id).await
    }

    /// The caller's jobs, newest last (an admin sees everyone's), optionally of one kind or in one state.
    #[graphql(
        guard = "LoggedIn",
        complexity = "connection_cost(first, last, child_complexity)",
        cache_control(no_cache)
    )]
    #[allow(clippy::too_many_arguments)]
    async fn jobs(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        kind: Option<GqlJobKind>,
        state: Option<GqlJobState>,
    ) -> Result<Connection<Cursor, JobNode, ChildTotal>> {
        let caller = require_caller(ctx)?;
        let page = ConnectionArgs::new(first, after, last, before)
            .parse::<i32>("jobs")
            .gql()?;
        let filter = JobFilter {
            owner_id: None,
            kind: kind.map(Into::into),
            state: state.map(Into::into),
        };
        let service = service(ctx);
        let jobs = service.list(&caller, filter, &page).await.gql()?;
        // Counted only when asked for, as `TotalCount` does; the type is shared with `User.jobs`.
        let total = if ctx.look_ahead().field("totalCount").exists() {
            service.count(&caller, filter).await.gql()?
        } else {
            0
        };
        Ok(build_connection(
            "jobs",
            jobs,
            |job| job.id,
            JobNode,
            ChildTotal::counted(total),
        ))
    }
}

#[derive(Default)]
pub struct JobsMutation;

#[Object]
impl JobsMutation {
    /// Cancels a job: a queued one at once, a running one at its next step (its owner or an admin).
    #[graphql(guard = "LoggedIn")]
    async fn cancel_job(&self, ctx: &Context<'_>, id: ID) -> Result<JobNode> {
        let caller = require_caller(ctx)?;
        let id = parse_id_of("id", &id, NodeType::Job).gql()?;
        Ok(JobNode(service(ctx).cancel(&caller, id).await.gql()?))
    }

    /// Queues a failed or cancelled job again, with its attempts reset (its owner or an admin).
    #[graphql(guard = "LoggedIn")]
    async fn retry_job(&self, ctx: &Context<'_>, id: ID) -> Result<JobNode> {
        let caller = require_caller(ctx)?;
        let id = parse_id_of("id", &id, NodeType::Job).gql()?;
        Ok(JobNode(service(ctx).retry(&caller, id).await.gql()?))
    }
}

#[derive(Default)]
pub struct JobsSubscription;

#[Subscription]
impl JobsSubscription {
    /// The job's current state, then every change in order; ends after a final state. Its owner or an admin.
    async fn job_updated(&self, ctx: &Context<'_>, id: ID) -> Result<impl Stream<Item = Result<JobNode>> + use<>> {
        let caller = require_caller(ctx)?;
        let id = parse_id_of("id", &id, NodeType::Job).gql()?;
        Ok(feed::follow(service(ctx).clone(), caller, id).map(|job| job.map(JobNode).gql()))
    }

    /// Every creation and change of the caller's jobs (an admin: everyone's), optionally of one kind.
    async fn job_events(
        &self,
        ctx: &Context<'_>,
        kind: Option<GqlJobKind>,
    ) -> Result<impl Stream<Item = Result<JobNode>> + use<>> {
        let caller = require_caller(ctx)?;
        Ok(feed::watch(service(ctx).clone(), caller, kind.map(Into::into)).map(|job| job.map(JobNode).gql()))
    }
}
