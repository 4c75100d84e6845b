//! SeaORM queries for events and their seats. Seats move only through conditional updates.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{events, seat_reservations};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    sea_query::{Expr, ExprTrait},
};

use super::model::{Event, EventChange, NewEvent, SeatReservation};
use crate::{
    db::{count_per_parent, page_by_id, page_per_parent},
    pagination::{KeysetPage, Page},
};

fn event(model: events::Model) -> Event {
    Event {
        id: model.id,
        name: model.name,
        starts_at: model.starts_at,
        capacity: model.capacity,
        available_seats: model.available_seats,
        reservation_enabled: model.reservation_enabled,
        created_at: model.created_at,
    }
}

fn seat_reservation(model: seat_reservations::Model) -> SeatReservation {
    SeatReservation {
        id: model.id,
        event_id: model.event_id,
        user_id: model.user_id,
        created_at: model.created_at,
    }
}

pub async fn count_seat_reservations_per_event(
    db: &impl ConnectionTrait,
    event_ids: &[i32],
) -> Result<HashMap<i32, u64>, DbErr> {
    count_per_parent::<seat_reservations::Entity>(db, seat_reservations::Column::EventId, event_ids).await
}

pub async fn seat_reservations_per_event(
    db: &impl ConnectionTrait,
    event_ids: &[i32],
    page: &KeysetPage<i32>,
) -> Result<Vec<SeatReservation>, DbErr> {
    let rows = page_per_parent::<seat_reservations::Entity>(
        db,
        seat_reservations::Column::EventId,
        seat_reservations::Column::Id,
        event_ids,
        page,
    )
    .await?;
    Ok(rows.into_iter().map(seat_reservation).collect())
}

pub async fn find_seat_reservations(db: &impl ConnectionTrait, ids: &[i32]) -> Result<Vec<SeatReservation>, DbErr> {
    crate::db::find_by_ids::<seat_reservations::Entity, _>(db, seat_reservations::Column::Id, ids, seat_reservation)
        .await
}

pub async fn insert_event(db: &impl ConnectionTrait, new: NewEvent, now: DateTime<Utc>) -> Result<Event, DbErr> {
    let model = events::ActiveModel {
        name: Set(new.name),
        starts_at: Set(new.starts_at),
        capacity: Set(new.capacity),
        available_seats: Set(new.capacity),
        reservation_enabled: Set(new.reservation_enabled),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(event(model))
}

pub async fn find_event_by_name(db: &impl ConnectionTrait, name: &str) -> Result<Option<Event>, DbErr> {
    Ok(events::Entity::find()
        .filter(events::Column::Name.eq(name))
        .one(db)
        .await?
        .map(event))
}

pub async fn find_events(db: &impl ConnectionTrait, ids: &[i32]) -> Result<Vec<Event>, DbErr> {
    crate::db::find_by_ids::<events::Entity, _>(db, events::Column::Id, ids, event).await
}

pub async fn list_events(db: &impl ConnectionTrait, page: &KeysetPage<i32>) -> Result<Page<Event>, DbErr> {
    page_by_id!(db, events::Entity, events::Column::Id, page, event)
}

pub async fn count_events(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    events::Entity::find().count(db).await
}

/// Applies a change; a capacity below the seats already taken changes nothing and returns `Ok(None)`.
pub async fn update_event(
    db: &impl ConnectionTrait,
    id: i32,
    change: EventChange,
    now: DateTime<Utc>,
) -> Result<Option<Event>, DbErr> {
    let mut update = events::Entity::update_many()
        .col_expr(events::Column::UpdatedAt, Expr::value(now))
        .filter(events::Column::Id.eq(id));
    if let Some(name) = change.name {
        update = update.col_expr(events::Column::Name, Expr::value(name));
    }
    if let Some(starts_at) = change.starts_at {
        update = update.col_expr(events::Column::StartsAt, Expr::value(starts_at));
    }
    if let Some(enabled) = change.reservation_enabled {
        update = update.col_expr(events::Column::ReservationEnabled, Expr::value(enabled));
    }
    if let Some(capacity) = change.capacity {
        // Seats taken = capacity - available; the new capacity keeps them taken and must hold them all.
        let taken = Expr::col(events::Column::Capacity).sub(Expr::col(events::Column::AvailableSeats));
        update = update
            .col_expr(events::Column::AvailableSeats, Expr::value(capacity).sub(taken.clone()))
            .col_expr(events::Column::Capacity, Expr::value(capacity))
            .filter(taken.lte(capacity));
    }
    if update.exec(db).await?.rows_affected == 0 {
        return Ok(None);
    }
    Ok(find_events(db, &[id]).await?.pop())
}

/// Takes one seat if one is left, turning reservations off with the last one; false when none is left.
pub async fn take_seat(db: &impl ConnectionTrait, event_id: i32, now: DateTime<Utc>) -> Result<bool, DbErr> {
    let seats_after = Expr::col(events::Column::AvailableSeats).sub(1);
    let taken = events::Entity::update_many()
        .col_expr(events::Column::AvailableSeats, seats_after.clone())
        .col_expr(
            events::Column::ReservationEnabled,
            Expr::case(seats_after.eq(0), Expr::value(false))
                .finally(Expr::col(events::Column::ReservationEnabled))
                .into(),
        )
        .col_expr(events::Column::UpdatedAt, Expr::value(now))
        .filter(events::Column::Id.eq(event_id))
        .filter(events::Column::AvailableSeats.gt(0))
        .exec(db)
        .await?;
    Ok(taken.rows_affected == 1)
}

pub async fn insert_seat_reservation(
    db: &impl ConnectionTrait,
    event_id: i32,
    user_id: i32,
    job_id: i32,
    now: DateTime<Utc>,
) -> Result<SeatReservation, DbErr> {
    let model = seat_reservations::ActiveModel {
        event_id: Set(event_id),
        user_id: Set(user_id),
        job_id: Set(Some(job_id)),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(seat_reservation(model))
}
