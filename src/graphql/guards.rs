//! Role guards: who may call a field.

use async_graphql::{Context, Guard, Result};

use super::{context::RequestContext, errors::to_graphql_error};
use crate::{
    accounts::Caller,
    error::{AppError, Message},
};

pub fn request_context<'a>(ctx: &Context<'a>) -> &'a RequestContext {
    ctx.data_unchecked::<RequestContext>()
}

/// The logged-in caller, or `UNAUTHENTICATED`.
pub fn require_caller(ctx: &Context<'_>) -> Result<Caller> {
    request_context(ctx)
        .caller
        .ok_or_else(|| to_graphql_error(AppError::Unauthenticated(Message::new("auth-required"))))
}

/// The caller is `user_id` or an admin, or the field is `FORBIDDEN`.
pub fn require_self_or_admin(ctx: &Context<'_>, user_id: i32) -> Result<Caller> {
    let caller = require_caller(ctx)?;
    if caller.can_see(user_id) {
        Ok(caller)
    } else {
        Err(to_graphql_error(AppError::Forbidden))
    }
}

/// Fields only a logged-in user may call.
pub struct LoggedIn;

impl Guard for LoggedIn {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        require_caller(ctx).map(|_| ())
    }
}

/// Fields only an admin may call.
pub struct AdminOnly;

impl Guard for AdminOnly {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        if require_caller(ctx)?.is_admin() {
            Ok(())
        } else {
            Err(to_graphql_error(AppError::Forbidden))
        }
    }
}
