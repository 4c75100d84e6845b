//! SeaORM queries for the `persisted_queries` table.

use chrono::{DateTime, Utc};
use entity::persisted_queries;
use sea_orm::{
    ActiveValue::Set,
    ConnectionTrait, DbErr, EntityTrait, Order, QueryFilter, TryInsertResult,
    sea_query::{Expr, ExprTrait, Query},
};

pub async fn find_query(db: &impl ConnectionTrait, hash: &str) -> Result<Option<String>, DbErr> {
    Ok(persisted_queries::Entity::find_by_id(hash.to_string())
        .one(db)
        .await?
        .map(|row| row.query))
}

/// Stores `query` under `hash` unless another instance already has; true when this call added the row.
pub async fn insert_query(
    db: &impl ConnectionTrait,
    hash: &str,
    query: &str,
    created_at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let row = persisted_queries::ActiveModel {
        hash: Set(hash.to_string()),
        query: Set(query.to_string()),
        created_at: Set(created_at),
    };
    let result = persisted_queries::Entity::insert(row)
        .on_conflict_do_nothing_on([persisted_queries::Column::Hash])
        .exec_without_returning(db)
        .await?;
    Ok(matches!(result, TryInsertResult::Inserted(1)))
}

/// Deletes every row older than the `keep` newest (rows registered in the same microsecond as the oldest kept one
/// stay too); returns how many were deleted. One walk of the `created_at` index, `keep` entries long.
pub async fn keep_newest(db: &impl ConnectionTrait, keep: u64) -> Result<u64, DbErr> {
    let oldest_kept = Query::select()
        .column(persisted_queries::Column::CreatedAt)
        .from(persisted_queries::Entity)
        .order_by(persisted_queries::Column::CreatedAt, Order::Desc)
        .limit(1)
        .offset(keep.saturating_sub(1))
        .to_owned();
    let deleted = persisted_queries::Entity::delete_many()
        .filter(Expr::col(persisted_queries::Column::CreatedAt).lt(Expr::SubQuery(None, Box::new(oldest_kept.into()))))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected)
}
