//! SeaORM queries for products and reservations. Stock moves only through conditional updates.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{products, reservations};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    sea_query::{Expr, ExprTrait},
};

use super::model::{NewProduct, Product, ProductChange, Reservation, ReservationParent};
use crate::{
    db::{count_per_parent, page_by_id, page_per_parent},
    pagination::{KeysetPage, Page},
};

fn product(model: products::Model) -> Product {
    Product {
        id: model.id,
        name: model.name,
        price_cents: model.price_cents,
        initial_stock: model.initial_stock,
        reserved: model.reserved,
        created_at: model.created_at,
    }
}

fn reservation(model: reservations::Model) -> Reservation {
    Reservation {
        id: model.id,
        product_id: model.product_id,
        user_id: model.user_id,
        quantity: model.quantity,
        created_at: model.created_at,
    }
}

pub async fn insert_product(db: &impl ConnectionTrait, new: NewProduct, now: DateTime<Utc>) -> Result<Product, DbErr> {
    let model = products::ActiveModel {
        name: Set(new.name),
        price_cents: Set(new.price_cents),
        initial_stock: Set(new.initial_stock),
        reserved: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(product(model))
}

pub async fn find_product(db: &impl ConnectionTrait, id: i32) -> Result<Option<Product>, DbErr> {
    Ok(products::Entity::find_by_id(id).one(db).await?.map(product))
}

pub async fn find_product_by_name(db: &impl ConnectionTrait, name: &str) -> Result<Option<Product>, DbErr> {
    Ok(products::Entity::find()
        .filter(products::Column::Name.eq(name))
        .one(db)
        .await?
        .map(product))
}

pub async fn find_products(db: &impl ConnectionTrait, ids: &[i32]) -> Result<Vec<Product>, DbErr> {
    crate::db::find_by_ids::<products::Entity, _>(db, products::Column::Id, ids, product).await
}

pub async fn list_products(db: &impl ConnectionTrait, page: &KeysetPage<i32>) -> Result<Page<Product>, DbErr> {
    page_by_id!(db, products::Entity, products::Column::Id, page, product)
}

pub async fn count_products(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    products::Entity::find().count(db).await
}

/// Applies a change; a new stock below what is reserved changes nothing and returns `Ok(None)`.
pub async fn update_product(
    db: &impl ConnectionTrait,
    id: i32,
    change: ProductChange,
    now: DateTime<Utc>,
) -> Result<Option<Product>, DbErr> {
    let mut update = products::Entity::update_many()
        .col_expr(products::Column::UpdatedAt, Expr::value(now))
        .filter(products::Column::Id.eq(id));
    if let Some(name) = change.name {
        update = update.col_expr(products::Column::Name, Expr::value(name));
    }
    if let Some(price) = change.price_cents {
        update = update.col_expr(products::Column::PriceCents, Expr::value(price));
    }
    if let Some(stock) = change.initial_stock {
        // Checked in the same statement, so a reservation landing meanwhile cannot be stranded above the stock.
        update = update
            .col_expr(products::Column::InitialStock, Expr::value(stock))
            .filter(products::Column::Reserved.lte(stock));
    }
    if update.exec(db).await?.rows_affected == 0 {
        return Ok(None);
    }
    find_product(db, id).await
}

pub async fn delete_product(db: &impl ConnectionTrait, id: i32) -> Result<u64, DbErr> {
    Ok(products::Entity::delete_by_id(id).exec(db).await?.rows_affected)
}

pub async fn product_has_reservations(db: &impl ConnectionTrait, id: i32) -> Result<bool, DbErr> {
    Ok(reservations::Entity::find()
        .filter(reservations::Column::ProductId.eq(id))
        .count(db)
        .await?
        > 0)
}

/// Takes `quantity` units if that many are left, in one conditional update: no read-then-write race.
pub async fn take_stock(db: &impl ConnectionTrait, id: i32, quantity: i32, now: DateTime<Utc>) -> Result<bool, DbErr> {
    let result = products::Entity::update_many()
        .col_expr(
            products::Column::Reserved,
            Expr::col(products::Column::Reserved).add(quantity),
        )
        .col_expr(products::Column::UpdatedAt, Expr::value(now))
        .filter(products::Column::Id.eq(id))
        .filter(
            Expr::col(products::Column::InitialStock)
                .sub(Expr::col(products::Column::Reserved))
                .gte(quantity),
        )
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

pub async fn give_back_stock(
    db: &impl ConnectionTrait,
    id: i32,
    quantity: i32,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    products::Entity::update_many()
        .col_expr(
            products::Column::Reserved,
            Expr::col(products::Column::Reserved).sub(quantity),
        )
        .col_expr(products::Column::UpdatedAt, Expr::value(now))
        .filter(products::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn insert_reservation(
    db: &impl ConnectionTrait,
    product_id: i32,
    user_id: i32,
    quantity: i32,
    now: DateTime<Utc>,
) -> Result<Reservation, DbErr> {
    let model = reservations::ActiveModel {
        product_id: Set(product_id),
        user_id: Set(user_id),
        quantity: Set(quantity),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(reservation(model))
}

pub async fn find_reservations(db: &impl ConnectionTrait, ids: &[i32]) -> Result<Vec<Reservation>, DbErr> {
    crate::db::find_by_ids::<reservations::Entity, _>(db, reservations::Column::Id, ids, reservation).await
}

/// Deletes the reservation; false when another request deleted it first.
pub async fn delete_reservation(db: &impl ConnectionTrait, id: i32) -> Result<bool, DbErr> {
    Ok(reservations::Entity::delete_by_id(id).exec(db).await?.rows_affected == 1)
}

fn reservation_parent_column(parent: ReservationParent) -> reservations::Column {
    match parent {
        ReservationParent::Product => reservations::Column::ProductId,
        ReservationParent::User => reservations::Column::UserId,
    }
}

pub async fn reservations_per_parent(
    db: &impl ConnectionTrait,
    parent: ReservationParent,
    parents: &[i32],
    page: &KeysetPage<i32>,
) -> Result<Vec<Reservation>, DbErr> {
    let rows = page_per_parent::<reservations::Entity>(
        db,
        reservation_parent_column(parent),
        reservations::Column::Id,
        parents,
        page,
    )
    .await?;
    Ok(rows.into_iter().map(reservation).collect())
}

pub async fn count_reservations_per_parent(
    db: &impl ConnectionTrait,
    parent: ReservationParent,
    parents: &[i32],
) -> Result<HashMap<i32, u64>, DbErr> {
    count_per_parent::<reservations::Entity>(db, reservation_parent_column(parent), parents).await
}
