//! DataLoaders for the catalog: objects by id, and the catalog's per-parent lists (see `graphql::children`).

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;

use super::{CatalogService, Event, Product, Reservation, SeatReservation, model::ReservationParent};
use crate::{
    error::{AppError, AppResult},
    graphql::{RequestLoader, children::ChildList},
    pagination::{KeysetPage, Page},
};

type Pages<T> = HashMap<i32, Page<T>>;

type Shared = Arc<AppError>;

macro_rules! by_id_loader {
    ($name:ident, $value:ty, $method:ident) => {
        pub struct $name(pub CatalogService);

        impl RequestLoader for $name {
            type Service = CatalogService;

            fn create(service: &CatalogService) -> Self {
                Self(service.clone())
            }
        }

        impl Loader<i32> for $name {
            type Value = $value;
            type Error = Shared;

            async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, $value>, Shared> {
                let rows = self.0.$method(keys).await.map_err(Arc::new)?;
                Ok(rows.into_iter().map(|row| (row.id, row)).collect())
            }
        }
    };
}

by_id_loader!(ProductLoader, Product, products);
by_id_loader!(ReservationLoader, Reservation, reservations);
by_id_loader!(EventLoader, Event, events);
by_id_loader!(SeatReservationLoader, SeatReservation, seat_reservations);

/// A product's reservations.
pub struct ReservationsOfProduct;
/// A user's reservations.
pub struct ReservationsOfUser;
/// An event's seat reservations.
pub struct SeatsOfEvent;

/// The two lists of reservations differ only in the column they hang from.
trait ReservationList: Send + Sync + 'static {
    const PARENT: ReservationParent;
}

impl ReservationList for ReservationsOfProduct {
    const PARENT: ReservationParent = ReservationParent::Product;
}

impl ReservationList for ReservationsOfUser {
    const PARENT: ReservationParent = ReservationParent::User;
}

impl<L: ReservationList> ChildList for L {
    type Service = CatalogService;
    type Child = Reservation;

    async fn pages(
        service: &CatalogService,
        parents: Vec<i32>,
        page: KeysetPage<i32>,
    ) -> AppResult<Pages<Reservation>> {
        service.reservations_per_parent(L::PARENT, &parents, &page).await
    }

    async fn counts(service: &CatalogService, parents: Vec<i32>) -> AppResult<HashMap<i32, u64>> {
        service.count_reservations_per_parent(L::PARENT, &parents).await
    }
}

impl ChildList for SeatsOfEvent {
    type Service = CatalogService;
    type Child = SeatReservation;

    async fn pages(
        service: &CatalogService,
        parents: Vec<i32>,
        page: KeysetPage<i32>,
    ) -> AppResult<Pages<SeatReservation>> {
        service.seat_reservations_per_event(&parents, &page).await
    }

    async fn counts(service: &CatalogService, parents: Vec<i32>) -> AppResult<HashMap<i32, u64>> {
        service.count_seat_reservations_per_event(&parents).await
    }
}
