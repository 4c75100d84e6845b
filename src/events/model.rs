//! Event types; the `parse` constructors are the only way in, so a value that exists is a valid one.

use chrono::{DateTime, Utc};

use crate::error::{AppError, Message};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub id: i32,
    pub name: String,
    pub starts_at: DateTime<Utc>,
    pub capacity: i32,
    pub available_seats: i32,
    pub reservation_enabled: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeatReservation {
    pub id: i32,
    pub event_id: i32,
    pub user_id: i32,
    pub created_at: DateTime<Utc>,
}

fn non_negative(field: &str, value: i32, message: &'static str) -> Result<i32, AppError> {
    if value < 0 {
        Err(AppError::bad_input(field, Message::new(message)))
    } else {
        Ok(value)
    }
}

#[derive(Clone, Debug)]
pub struct NewEvent {
    pub name: String,
    pub starts_at: DateTime<Utc>,
    pub capacity: i32,
    pub reservation_enabled: bool,
}

impl NewEvent {
    pub fn parse(
        name: &str,
        starts_at: DateTime<Utc>,
        capacity: i32,
        reservation_enabled: bool,
    ) -> Result<Self, AppError> {
        Ok(Self {
            name: crate::text::name("input.name", name, "catalog-event-name-empty")?,
            starts_at,
            capacity: non_negative("input.capacity", capacity, "catalog-capacity-negative")?,
            reservation_enabled,
        })
    }
}

#[derive(Clone, Debug, Default)]
pub struct EventChange {
    pub name: Option<String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub capacity: Option<i32>,
    pub reservation_enabled: Option<bool>,
}

impl EventChange {
    pub fn parse(
        name: Option<&str>,
        starts_at: Option<DateTime<Utc>>,
        capacity: Option<i32>,
        reservation_enabled: Option<bool>,
    ) -> Result<Self, AppError> {
        Ok(Self {
            name: name
                .map(|value| crate::text::name("input.name", value, "catalog-event-name-empty"))
                .transpose()?,
            starts_at,
            capacity: capacity
                .map(|value| non_negative("input.capacity", value, "catalog-capacity-negative"))
                .transpose()?,
            reservation_enabled,
        })
    }
}
