//! Account use-cases, in plain async Rust.

use std::{net::IpAddr, num::NonZeroU32, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, TransactionTrait};

use super::{
    model::{Caller, DisplayName, Email, NewUser, ProfileChange, User},
    password::Hashing,
    rate_limit::{LoginLimiter, RegisterLimiter},
    repo,
    tokens::{self, TokenError, Tokens},
};
use crate::{
    error::{AppError, AppResult, Message},
    freshness::{Invalidations, Tags},
    pagination::{KeysetPage, Page},
};

/// A caller as the database knows them now, and until when their access token lets them act.
#[derive(Clone, Debug)]
pub struct Identity {
    pub caller: Caller,
    pub user: Arc<User>,
    pub expires_at: DateTime<Utc>,
}

/// Why an access token names nobody who may act.
#[derive(Debug)]
pub enum IdentityError {
    Token(TokenError),
    /// The token is genuine but its account no longer exists.
    Gone,
    /// The account could not be read.
    Unavailable(AppError),
}

/// What a successful login, registration or refresh hands the client.
#[derive(Clone, Debug)]
pub struct AuthSession {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_at: DateTime<Utc>,
    pub user: User,
}

/// How often a client may try to log in or register.
#[derive(Clone, Copy, Debug)]
pub struct AttemptLimits {
    pub logins_per_minute: NonZeroU32,
    pub registrations_per_minute: NonZeroU32,
}

#[derive(Clone)]
pub struct AccountsService {
    db: DatabaseConnection,
    invalidations: Invalidations,
    tokens: Tokens,
    login_limiter: Arc<LoginLimiter>,
    register_limiter: Arc<RegisterLimiter>,
    hashing: Hashing,
    refresh_ttl: Duration,
}

fn invalid_credentials() -> AppError {
    AppError::Unauthenticated(Message::new("auth-invalid-credentials"))
}

fn email_taken() -> Message {
    Message::new("account-email-taken")
}

fn rate_limited(retry_after_secs: u64) -> AppError {
    AppError::RateLimited { retry_after_secs }
}

fn invalid_refresh_token() -> AppError {
    AppError::Unauthenticated(Message::new("auth-refresh-token-invalid"))
}

impl AccountsService {
    pub fn new(
        db: DatabaseConnection,
        invalidations: Invalidations,
        tokens: Tokens,
        limits: AttemptLimits,
        refresh_ttl: Duration,
    ) -> Self {
        Self {
            db,
            invalidations,
            tokens,
            login_limiter: Arc::new(LoginLimiter::new(limits.logins_per_minute)),
            register_limiter: Arc::new(RegisterLimiter::new(limits.registrations_per_minute)),
            hashing: Hashing::per_core(),
            refresh_ttl,
        }
    }

    /// Who an `Authorization: Bearer` token belongs to.
    pub fn authenticate(&self, access_token: &str) -> Result<Caller, TokenError> {
        self.tokens.verify_access(access_token)
    }

    /// Who an access token names, as the database has them now: the role comes from the row, not the token, so a
    /// demoted or deleted user loses their rights at their next request.
    pub async fn identify(&self, access_token: &str) -> Result<Identity, IdentityError> {
        let (caller, expires_at) = self
            .tokens
            .verify_access_until(access_token)
            .map_err(IdentityError::Token)?;
        self.refresh_identity(caller.user_id, expires_at).await
    }

    /// Re-reads an identity already proven by a token that expires at `expires_at`.
    pub async fn refresh_identity(&self, user_id: i32, expires_at: DateTime<Utc>) -> Result<Identity, IdentityError> {
        match repo::find_user(&self.db, user_id).await {
            Ok(Some(user)) => Ok(Identity {
                caller: Caller {
                    user_id: user.id,
                    role: user.role,
                },
                user: Arc::new(user),
                expires_at,
            }),
            Ok(None) => Err(IdentityError::Gone),
            Err(error) => Err(IdentityError::Unavailable(error.into())),
        }
    }

    /// Creates an account from `address` and logs it in. The input is already parsed (the cheap checks); the
    /// limit comes next, before the database is asked whether the email is taken and before the hash, so it
    /// bounds both the CPU a client can spend and how often it can learn that an email has an account.
    #[tracing::instrument(skip_all)]
    pub async fn register(&self, new_user: NewUser, address: Option<IpAddr>) -> AppResult<AuthSession> {
        self.register_limiter.check(address).map_err(rate_limited)?;
        if repo::find_credentials(&self.db, new_user.email.as_str())
            .await?
            .is_some()
        {
            return Err(AppError::bad_input("input.email", email_taken()));
        }
        let user = self.create_user(new_user, "input.email").await?;
        self.start_session(user).await
    }

    /// Creates an account without logging in (the `user create` command and `register`).
    pub async fn create_user(&self, new_user: NewUser, email_field: &str) -> AppResult<User> {
        let password_hash = self.hashing.hash(&new_user.password).await?;
        let row = repo::NewUserRow {
            email: new_user.email.as_str().to_string(),
            name: new_user.name.into_inner(),
            password_hash,
            role: new_user.role,
            locale: new_user.locale.map(|locale| locale.into_inner()),
            timezone: new_user.timezone.map(|zone| zone.into_inner()),
        };
        repo::insert_user(&self.db, row, Utc::now())
            .await
            .map_err(|error| AppError::from_db_conflict(error, email_field, email_taken()))
    }

    /// The account with `new_user`'s email, created when there is none (the idempotent seed).
    pub async fn ensure_user(&self, new_user: NewUser) -> AppResult<User> {
        match repo::find_credentials(&self.db, new_user.email.as_str()).await? {
            Some((user, _)) => Ok(user),
            None => self.create_user(new_user, "email").await,
        }
    }

    /// Logs in; a wrong email and a wrong password fail alike, in about the same time. A value longer than any
    /// email cannot be an account: it is refused at once and takes no limiter key.
    #[tracing::instrument(skip_all)]
    pub async fn login(&self, email: &str, password: &str, address: Option<IpAddr>) -> AppResult<AuthSession> {
        if Email::too_long(email) {
            return Err(invalid_credentials());
        }
        let normalized = email.trim().to_lowercase();
        self.login_limiter.check(&normalized, address).map_err(rate_limited)?;
        let account = match Email::parse("email", &normalized) {
            Ok(email) => repo::find_credentials(&self.db, email.as_str()).await?,
            Err(_) => None,
        };
        let (user, hash) = match account {
            Some((user, hash)) => (Some(user), Some(hash)),
            None => (None, None),
        };
        let matched = self.hashing.verify(password, hash).await?;
        match user {
            Some(user) if matched => self.start_session(user).await,
            _ => Err(invalid_credentials()),
        }
    }

    /// Exchanges a refresh token for a new pair; a token used twice revokes its whole family.
    #[tracing::instrument(skip_all)]
    pub async fn refresh(&self, refresh_token: &str) -> AppResult<AuthSession> {
        let now = Utc::now();
        let Some(stored) = repo::find_refresh_token(&self.db, &tokens::hash_refresh_token(refresh_token)).await? else {
            return Err(invalid_refresh_token());
        };
        if stored.used_at.is_some() || stored.revoked_at.is_some() {
            return Err(self.revoke_reused_family(&stored.family_id, now).await);
        }
        if stored.expires_at <= now {
            return Err(invalid_refresh_token());
        }
        let user = repo::find_user(&self.db, stored.user_id)
            .await?
            .ok_or_else(|| AppError::Unauthenticated(Message::new("auth-user-gone")))?;
        let replacement = tokens::new_refresh_token();
        let txn = self.db.begin().await?;
        if !repo::claim_refresh_token(&txn, stored.id, now).await? {
            txn.rollback().await?;
            return Err(self.revoke_reused_family(&stored.family_id, now).await);
        }
        repo::insert_refresh_token(
            &txn,
            user.id,
            &stored.family_id,
            tokens::hash_refresh_token(&replacement),
            now,
            now + self.refresh_ttl,
        )
        .await?;
        txn.commit().await?;
        self.session(user, replacement, now)
    }

    async fn revoke_reused_family(&self, family_id: &str, now: DateTime<Utc>) -> AppError {
        tracing::warn!(family_id, "refresh token reused; revoking its family");
        match repo::revoke_family(&self.db, family_id, now).await {
            Ok(_) => AppError::Unauthenticated(Message::new("auth-refresh-token-reused")),
            Err(error) => error.into(),
        }
    }

    /// Ends the session the refresh token belongs to; false when it was unknown or already ended.
    pub async fn logout(&self, refresh_token: &str) -> AppResult<bool> {
        let Some(stored) = repo::find_refresh_token(&self.db, &tokens::hash_refresh_token(refresh_token)).await? else {
            return Ok(false);
        };
        Ok(repo::revoke_family(&self.db, &stored.family_id, Utc::now()).await? > 0)
    }

    pub async fn user(&self, id: i32) -> AppResult<Option<User>> {
        Ok(repo::find_user(&self.db, id).await?)
    }

    pub async fn users_by_ids(&self, ids: &[i32]) -> AppResult<Vec<User>> {
        Ok(repo::find_users(&self.db, ids).await?)
    }

    pub async fn update_profile(&self, caller: Caller, change: ProfileChange) -> AppResult<User> {
        let row = repo::ProfileRow {
            name: change.name.map(DisplayName::into_inner),
            locale: change.locale.map(|locale| locale.into_inner()),
            timezone: change.timezone.map(|zone| zone.into_inner()),
        };
        let txn = self.db.begin().await?;
        let updated = repo::update_profile(&txn, caller.user_id, row, Utc::now()).await?;
        self.invalidations.touch(&txn, Tags::of(&["User"])).await?;
        txn.commit().await?;
        updated.ok_or_else(|| AppError::Unauthenticated(Message::new("auth-user-gone")))
    }

    pub async fn list_users(&self, page: &KeysetPage<i32>) -> AppResult<Page<User>> {
        Ok(repo::list_users(&self.db, page).await?)
    }

    pub async fn count_users(&self) -> AppResult<u64> {
        Ok(repo::count_users(&self.db).await?)
    }

    async fn start_session(&self, user: User) -> AppResult<AuthSession> {
        let now = Utc::now();
        let refresh_token = tokens::new_refresh_token();
        let family_id = uuid::Uuid::new_v4().to_string();
        repo::insert_refresh_token(
            &self.db,
            user.id,
            &family_id,
            tokens::hash_refresh_token(&refresh_token),
            now,
            now + self.refresh_ttl,
        )
        .await?;
        self.session(user, refresh_token, now)
    }

    fn session(&self, user: User, refresh_token: String, now: DateTime<Utc>) -> AppResult<AuthSession> {
        let caller = Caller {
            user_id: user.id,
            role: user.role,
        };
        let (access_token, expires_at) = self.tokens.issue_access(caller, now)?;
        Ok(AuthSession {
            access_token,
            refresh_token,
            expires_at,
            user,
        })
    }
}
