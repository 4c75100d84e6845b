//! The notifications part of the schema: `sendNotification` and `sendNotifications`.

use async_graphql::{Context, InputObject, Object, Result};
use chrono::{DateTime, Utc};

use super::service::{NotificationRequest, NotificationsService};
use crate::{
    graphql::{
        errors::GqlResultExt,
        guards::{LoggedIn, require_caller},
    },
    jobs::JobNode,
};

fn service<'a>(ctx: &Context<'a>) -> &'a NotificationsService {
    ctx.data_unchecked::<NotificationsService>()
}

/// One notification of `sendNotifications`.
#[derive(InputObject)]
pub struct NotificationInput {
    /// Digits with an optional leading `+`, 7 to 15 digits.
    phone_number: String,
    /// 1 to 1,000 characters.
    message: String,
    /// Lower runs first; -1000 to 1000, 0 by default.
    priority: Option<i32>,
    /// Not before this time (at most a year ahead).
    run_at: Option<DateTime<Utc>>,
}

#[derive(Default)]
pub struct NotificationsMutation;

#[Object]
impl NotificationsMutation {
    /// Queues a push notification; the job reports progress 0, then 50, then completes.
    #[graphql(guard = "LoggedIn")]
    async fn send_notification(
        &self,
        ctx: &Context<'_>,
        phone_number: String,
        message: String,
        priority: Option<i32>,
        run_at: Option<DateTime<Utc>>,
    ) -> Result<JobNode> {
        let caller = require_caller(ctx)?;
        let request = NotificationRequest {
            phone_number,
            message,
            priority,
            run_at,
        };
        let mut jobs = service(ctx).send(caller.user_id, vec![request], None).await.gql()?;
        Ok(JobNode(jobs.remove(0)))
    }

    /// Queues many notifications at once, all or none (at most 1,000).
    #[graphql(
        guard = "LoggedIn",
        complexity = "input.len().saturating_mul(child_complexity).saturating_add(1)"
    )]
    async fn send_notifications(&self, ctx: &Context<'_>, input: Vec<NotificationInput>) -> Result<Vec<JobNode>> {
        let caller = require_caller(ctx)?;
        let requests = input
            .into_iter()
            .map(|input| NotificationRequest {
                phone_number: input.phone_number,
                message: input.message,
                priority: input.priority,
                run_at: input.run_at,
            })
            .collect();
        let jobs = service(ctx).send(caller.user_id, requests, Some("input")).await.gql()?;
        Ok(jobs.into_iter().map(JobNode).collect())
    }
}
