//! SeaORM queries for users and refresh tokens.

use chrono::{DateTime, Utc};
use entity::{refresh_tokens, users};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, DerivePartialModel, EntityTrait,
    PaginatorTrait, QueryFilter, sea_query::Expr,
};

use super::model::{Role, User};
use crate::pagination::{KeysetPage, Page};

/// The columns a `User` is made of: reads other than login's leave the password hash in the database, which
/// keeps it out of memory and saves decoding ~100 bytes per row on lists of users.
#[derive(DerivePartialModel)]
#[sea_orm(entity = "users::Entity")]
struct UserRow {
    id: i32,
    email: String,
    name: String,
    role: users::Role,
    locale: Option<String>,
    timezone: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        User {
            id: row.id,
            email: row.email,
            name: row.name,
            role: match row.role {
                users::Role::Admin => Role::Admin,
                users::Role::User => Role::User,
            },
            locale: row.locale,
            timezone: row.timezone,
            created_at: row.created_at,
        }
    }
}

fn to_domain(model: users::Model) -> User {
    User::from(UserRow {
        id: model.id,
        email: model.email,
        name: model.name,
        role: model.role,
        locale: model.locale,
        timezone: model.timezone,
        created_at: model.created_at,
    })
}

fn role_column(role: Role) -> users::Role {
    match role {
        Role::Admin => users::Role::Admin,
        Role::User => users::Role::User,
    }
}

pub struct NewUserRow {
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub role: Role,
    pub locale: Option<String>,
    pub timezone: Option<String>,
}

pub async fn insert_user(db: &impl ConnectionTrait, row: NewUserRow, now: DateTime<Utc>) -> Result<User, DbErr> {
    let model = users::ActiveModel {
        email: Set(row.email),
        name: Set(row.name),
        password_hash: Set(row.password_hash),
        role: Set(role_column(row.role)),
        locale: Set(row.locale),
        timezone: Set(row.timezone),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(to_domain(model))
}

pub async fn find_user(db: &impl ConnectionTrait, id: i32) -> Result<Option<User>, DbErr> {
    Ok(users::Entity::find_by_id(id)
        .into_partial_model::<UserRow>()
        .one(db)
        .await?
        .map(User::from))
}

pub async fn find_users(db: &impl ConnectionTrait, ids: &[i32]) -> Result<Vec<User>, DbErr> {
    Ok(users::Entity::find()
        .filter(users::Column::Id.is_in(ids.iter().copied()))
        .into_partial_model::<UserRow>()
        .all(db)
        .await?
        .into_iter()
        .map(User::from)
        .collect())
}

/// The user and their password hash, for login.
pub async fn find_credentials(db: &impl ConnectionTrait, email: &str) -> Result<Option<(User, String)>, DbErr> {
    Ok(users::Entity::find()
        .filter(users::Column::Email.eq(email))
        .one(db)
        .await?
        .map(|model| {
            let hash = model.password_hash.clone();
            (to_domain(model), hash)
        }))
}

pub struct ProfileRow {
    pub name: Option<String>,
    pub locale: Option<String>,
    pub timezone: Option<String>,
}

pub async fn update_profile(
    db: &impl ConnectionTrait,
    id: i32,
    change: ProfileRow,
    now: DateTime<Utc>,
) -> Result<Option<User>, DbErr> {
    let Some(model) = users::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    let mut active: users::ActiveModel = model.into();
    if let Some(name) = change.name {
        active.name = Set(name);
    }
    if let Some(locale) = change.locale {
        active.locale = Set(Some(locale));
    }
    if let Some(timezone) = change.timezone {
        active.timezone = Set(Some(timezone));
    }
    active.updated_at = Set(now);
    Ok(Some(to_domain(active.update(db).await?)))
}

/// Users in id order, one keyset page.
pub async fn list_users(db: &impl ConnectionTrait, page: &KeysetPage<i32>) -> Result<Page<User>, DbErr> {
    let mut cursor = users::Entity::find()
        .cursor_by(users::Column::Id)
        .into_partial_model::<UserRow>();
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
    Ok(page.page_from(rows.into_iter().map(User::from).collect()))
}

pub async fn count_users(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    users::Entity::find().count(db).await
}

pub async fn insert_refresh_token(
    db: &impl ConnectionTrait,
    user_id: i32,
    family_id: &str,
    token_hash: String,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    refresh_tokens::ActiveModel {
        user_id: Set(user_id),
        family_id: Set(family_id.to_string()),
        token_hash: Set(token_hash),
        expires_at: Set(expires_at),
        created_at: Set(now),
        used_at: Set(None),
        revoked_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

pub async fn find_refresh_token(
    db: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<refresh_tokens::Model>, DbErr> {
    refresh_tokens::Entity::find()
        .filter(refresh_tokens::Column::TokenHash.eq(token_hash))
        .one(db)
        .await
}

/// Marks a live token used; false when another request used or revoked it first, so rotation cannot fork a family.
pub async fn claim_refresh_token(db: &impl ConnectionTrait, id: i32, now: DateTime<Utc>) -> Result<bool, DbErr> {
    let result = refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::UsedAt, Expr::value(now))
        .filter(refresh_tokens::Column::Id.eq(id))
        .filter(refresh_tokens::Column::UsedAt.is_null())
        .filter(refresh_tokens::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Revokes every live token of a family; returns how many were live.
pub async fn revoke_family(db: &impl ConnectionTrait, family_id: &str, now: DateTime<Utc>) -> Result<u64, DbErr> {
    let result = refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::RevokedAt, Expr::value(now))
        .filter(refresh_tokens::Column::FamilyId.eq(family_id))
        .filter(refresh_tokens::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
