//! DataLoaders for events: objects by id, and an event's seats (see `graphql::children`).

use std::collections::HashMap;

use super::{Event, EventsService, SeatReservation};
use crate::{
    error::AppResult,
    graphql::{by_id_loader, children::ChildList},
    pagination::{KeysetPage, Page},
};

by_id_loader!(EventLoader, EventsService, Event, events);
by_id_loader!(SeatReservationLoader, EventsService, SeatReservation, seat_reservations);

/// An event's seat reservations.
pub struct SeatsOfEvent;

impl ChildList for SeatsOfEvent {
    type Service = EventsService;
    type Child = SeatReservation;

    async fn pages(
        service: &EventsService,
        parents: Vec<i32>,
        page: KeysetPage<i32>,
    ) -> AppResult<HashMap<i32, Page<SeatReservation>>> {
        service.seat_reservations_per_event(&parents, &page).await
    }

    async fn counts(service: &EventsService, parents: Vec<i32>) -> AppResult<HashMap<i32, u64>> {
        service.count_seat_reservations_per_event(&parents).await
    }
}
