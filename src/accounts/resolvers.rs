//! The accounts part of the schema: `me`, `users`, and register / login / refresh / logout / updateMe.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject, connection::Connection};
use chrono::{DateTime, Utc};

use super::{AccountsService, AuthSession, ProfileChange, Role, User, loaders::UserLoader, model, parse_new_user};
use crate::{
    catalog::{self, resolvers::ReservationNode},
    error::AppError,
    graphql::{
        children::ChildTotal,
        connection::{ConnectionArgs, Cursor, TotalCount, build_connection, connection_cost},
        errors::GqlResultExt,
        guards::{AdminOnly, LoggedIn, request_context, require_caller, require_self_or_admin},
        ids::{NodeType, global_id},
        load_one,
    },
    jobs::{self, JobNode},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(name = "Role", remote = "Role")]
pub enum GqlRole {
    User,
    Admin,
}

/// A person with an account. `session_owner` marks the user a login or registration just proved to be the caller.
#[derive(Clone, Debug)]
pub struct UserNode {
    user: Arc<User>,
    session_owner: bool,
}

impl From<User> for UserNode {
    fn from(user: User) -> Self {
        Self::from(Arc::new(user))
    }
}

impl From<Arc<User>> for UserNode {
    fn from(user: Arc<User>) -> Self {
        Self {
            user,
            session_owner: false,
        }
    }
}

impl UserNode {
    pub fn name(&self) -> &str {
        &self.user.name
    }

    /// The logged-in user, or `None` when anonymous; the edge's copy when it read one.
    pub async fn load_caller(ctx: &Context<'_>) -> Result<Option<Self>> {
        let request = request_context(ctx);
        match (&request.caller_profile, request.caller) {
            (Some(user), _) => Ok(Some(Self::from(Arc::clone(user)))),
            (None, Some(caller)) => Self::load(ctx, caller.user_id).await,
            (None, None) => Ok(None),
        }
    }

    pub async fn load(ctx: &Context<'_>, id: i32) -> Result<Option<Self>> {
        Ok(load_one::<UserLoader, _>(ctx, id).await?.map(Self::from))
    }
}

// `serial` (see Product in the catalog): only `reservations` and `jobs` wait on a DataLoader.
#[Object(name = "User", serial, cache_control(private))]
impl UserNode {
    pub async fn id(&self) -> ID {
        global_id(NodeType::User, self.user.id)
    }

    /// The row id in the database.
    async fn database_id(&self) -> i32 {
        self.user.id
    }

    #[graphql(name = "name")]
    async fn gql_name(&self) -> &str {
        &self.user.name
    }

    /// Visible to the user and to admins only.
    async fn email(&self, ctx: &Context<'_>) -> Result<&str> {
        if !self.session_owner {
            require_self_or_admin(ctx, self.user.id)?;
        }
        Ok(&self.user.email)
    }

    async fn role(&self) -> GqlRole {
        self.user.role.into()
    }

    /// The locale the user chose for their answers, if any.
    async fn locale(&self) -> Option<&str> {
        self.user.locale.as_deref()
    }

    /// The IANA time zone the user chose, if any.
    async fn timezone(&self) -> Option<&str> {
        self.user.timezone.as_deref()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.user.created_at
    }

    /// The user's reservations, oldest first (the user and admins only).
    #[graphql(
        complexity = "connection_cost(first, last, child_complexity)",
        cache_control(private)
    )]
    async fn reservations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Connection<Cursor, ReservationNode, ChildTotal>> {
        require_self_or_admin(ctx, self.user.id)?;
        catalog::reservations_of_user(ctx, self.user.id, ConnectionArgs::new(first, after, last, before)).await
    }

    /// The user's jobs, oldest first (the user and admins only).
    #[graphql(
        complexity = "connection_cost(first, last, child_complexity)",
        cache_control(no_cache)
    )]
    async fn jobs(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Connection<Cursor, JobNode, ChildTotal>> {
        require_self_or_admin(ctx, self.user.id)?;
        jobs::jobs_of_user(ctx, self.user.id, ConnectionArgs::new(first, after, last, before)).await
    }
}

/// What login, registration and refresh return.
#[derive(SimpleObject)]
pub struct AuthPayload {
    /// A short-lived token for `Authorization: Bearer …`.
    access_token: String,
    /// Exchange it with `refreshToken` for a new pair; it works once.
    refresh_token: String,
    /// When the access token stops working.
    expires_at: DateTime<Utc>,
    user: UserNode,
}

impl From<AuthSession> for AuthPayload {
    fn from(session: AuthSession) -> Self {
        Self {
            access_token: session.access_token,
            refresh_token: session.refresh_token,
            expires_at: session.expires_at,
            user: UserNode {
                user: Arc::new(session.user),
                session_owner: true,
            },
        }
    }
}

#[derive(InputObject)]
pub struct RegisterInput {
    email: String,
    /// At least 8 characters.
    password: String,
    name: String,
    /// A supported locale code, such as `fr` (see `locales`).
    locale: Option<String>,
    /// An IANA time zone, such as `Europe/Paris`.
    timezone: Option<String>,
}

#[derive(InputObject)]
pub struct UpdateMeInput {
    name: Option<String>,
    locale: Option<String>,
    timezone: Option<String>,
}

impl TryFrom<UpdateMeInput> for ProfileChange {
    type Error = AppError;

    fn try_from(input: UpdateMeInput) -> Result<Self, AppError> {
        Ok(Self {
            name: input
                .name
                .map(|name| model::DisplayName::parse("input.name", &name))
                .transpose()?,
            locale: input
                .locale
                .map(|code| model::SupportedLocale::parse("input.locale", &code))
                .transpose()?,
            timezone: input
                .timezone
                .map(|zone| model::TimeZoneName::parse("input.timezone", &zone))
                .transpose()?,
        })
    }
}

fn accounts<'a>(ctx: &Context<'a>) -> &'a AccountsService {
    ctx.data_unchecked::<AccountsService>()
}

#[derive(Default)]
pub struct AccountsQuery;

#[Object]
impl AccountsQuery {
    /// The logged-in user, or null for an anonymous request.
    #[graphql(cache_control(no_cache))]
    async fn me(&self, ctx: &Context<'_>) -> Result<Option<UserNode>> {
        UserNode::load_caller(ctx).await
    }

    /// Every account, oldest first (admins only).
    #[graphql(
        guard = "AdminOnly",
        complexity = "connection_cost(first, last, child_complexity)",
        cache_control(no_cache)
    )]
    async fn users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Connection<Cursor, UserNode, TotalCount>> {
        let page = ConnectionArgs::new(first, after, last, before)
            .parse::<i32>("users")
            .gql()?;
        let service = accounts(ctx).clone();
        let page = service.list_users(&page).await.gql()?;
        let total = TotalCount::counting(service, |service| async move { service.count_users().await });
        Ok(build_connection("users", page, |user| user.id, UserNode::from, total))
    }
}

#[derive(Default)]
pub struct AccountsMutation;

#[Object]
impl AccountsMutation {
    /// Creates an account and logs it in.
    async fn register(&self, ctx: &Context<'_>, input: RegisterInput) -> Result<AuthPayload> {
        let new_user = parse_new_user(
            "input.",
            &input.email,
            input.password,
            &input.name,
            Role::User,
            input.locale.as_deref(),
            input.timezone.as_deref(),
        )
        .gql()?;
        let address = request_context(ctx).client_address;
        Ok(accounts(ctx).register(new_user, address).await.gql()?.into())
    }

    /// Logs in. A wrong email and a wrong password get the same answer; repeated attempts are rate limited.
    async fn login(&self, ctx: &Context<'_>, email: String, password: String) -> Result<AuthPayload> {
        let address = request_context(ctx).client_address;
        Ok(accounts(ctx).login(&email, &password, address).await.gql()?.into())
    }

    /// Trades a refresh token for a new pair. The old refresh token stops working; using it again signs out its session.
    async fn refresh_token(&self, ctx: &Context<'_>, refresh_token: String) -> Result<AuthPayload> {
        Ok(accounts(ctx).refresh(&refresh_token).await.gql()?.into())
    }

    /// Ends the session of this refresh token; false when it was unknown or already ended.
    async fn logout(&self, ctx: &Context<'_>, refresh_token: String) -> Result<bool> {
        accounts(ctx).logout(&refresh_token).await.gql()
    }

    /// Changes the logged-in user's name, locale or time zone.
    #[graphql(guard = "LoggedIn")]
    async fn update_me(&self, ctx: &Context<'_>, input: UpdateMeInput) -> Result<UserNode> {
        let caller = require_caller(ctx)?;
        let change = ProfileChange::try_from(input).gql()?;
        Ok(accounts(ctx).update_profile(caller, change).await.gql()?.into())
    }
}
