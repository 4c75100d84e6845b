//! Event use-cases: admins create and change events; seats are taken by the seat jobs (`seats`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, TransactionTrait};

use super::{
    model::{Event, EventChange, NewEvent, SeatReservation},
    repo,
};
use crate::{
    clock::Clock,
    error::{AppError, AppResult, Message},
    freshness::{Invalidations, Tags},
    pagination::{KeysetPage, Page, pages_by_parent},
};

/// The cache tags of the events' types (see `freshness`): a write touches those whose data it changes.
pub(super) const EVENT: &str = "Event";
pub(super) const SEAT_RESERVATION: &str = "SeatReservation";

#[derive(Clone)]
pub struct EventsService {
    db: DatabaseConnection,
    clock: Clock,
    invalidations: Invalidations,
}

impl EventsService {
    pub fn new(db: DatabaseConnection, clock: Clock, invalidations: Invalidations) -> Self {
        Self {
            db,
            clock,
            invalidations,
        }
    }

    fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    pub async fn seat_reservations_per_event(
        &self,
        event_ids: &[i32],
        page: &KeysetPage<i32>,
    ) -> AppResult<HashMap<i32, Page<SeatReservation>>> {
        let rows = repo::seat_reservations_per_event(&self.db, event_ids, page).await?;
        Ok(pages_by_parent(event_ids, rows, |row| row.event_id, page))
    }

    pub async fn count_seat_reservations_per_event(&self, event_ids: &[i32]) -> AppResult<HashMap<i32, u64>> {
        Ok(repo::count_seat_reservations_per_event(&self.db, event_ids).await?)
    }

    pub async fn seat_reservations(&self, ids: &[i32]) -> AppResult<Vec<SeatReservation>> {
        Ok(repo::find_seat_reservations(&self.db, ids).await?)
    }

    pub async fn create_event(&self, new: NewEvent) -> AppResult<Event> {
        let txn = self.db.begin().await?;
        let event = repo::insert_event(&txn, new, self.now()).await?;
        self.invalidations.touch(&txn, Tags::of(&[EVENT])).await?;
        txn.commit().await?;
        Ok(event)
    }

    /// The event named like `new`, created when there is none (the idempotent seed).
    pub async fn ensure_event(&self, new: NewEvent) -> AppResult<Event> {
        match repo::find_event_by_name(&self.db, &new.name).await? {
            Some(existing) => Ok(existing),
            None => self.create_event(new).await,
        }
    }

    pub async fn update_event(&self, id: i32, change: EventChange) -> AppResult<Event> {
        let capacity_changed = change.capacity.is_some();
        let txn = self.db.begin().await?;
        let updated = repo::update_event(&txn, id, change, self.now()).await?;
        self.invalidations.touch(&txn, Tags::of(&[EVENT])).await?;
        txn.commit().await?;
        match updated {
            Some(event) => Ok(event),
            None => match repo::find_events(&self.db, &[id]).await?.pop() {
                Some(event) if capacity_changed => Err(AppError::bad_input(
                    "input.capacity",
                    Message::new("catalog-capacity-below-taken").arg("taken", event.capacity - event.available_seats),
                )),
                _ => Err(AppError::NotFound {
                    field: Some("id".into()),
                }),
            },
        }
    }

    pub async fn events(&self, ids: &[i32]) -> AppResult<Vec<Event>> {
        Ok(repo::find_events(&self.db, ids).await?)
    }

    pub async fn list_events(&self, page: &KeysetPage<i32>) -> AppResult<Page<Event>> {
        Ok(repo::list_events(&self.db, page).await?)
    }

    pub async fn count_events(&self) -> AppResult<u64> {
        Ok(repo::count_events(&self.db).await?)
    }
}
