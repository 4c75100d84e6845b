//! DataLoaders for the catalog: objects by id, and the catalog's per-parent lists (see `graphql::children`).

use std::collections::HashMap;

use super::{CatalogService, Product, Reservation, model::ReservationParent};
use crate::{
    error::AppResult,
    graphql::{by_id_loader, children::ChildList},
    pagination::{KeysetPage, Page},
};

by_id_loader!(ProductLoader, CatalogService, Product, products);
by_id_loader!(ReservationLoader, CatalogService, Reservation, reservations);

/// A product's reservations.
pub struct ReservationsOfProduct;
/// A user's reservations.
pub struct ReservationsOfUser;

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
    ) -> AppResult<HashMap<i32, Page<Reservation>>> {
        service.reservations_per_parent(L::PARENT, &parents, &page).await
    }

    async fn counts(service: &CatalogService, parents: Vec<i32>) -> AppResult<HashMap<i32, u64>> {
        service.count_reservations_per_parent(L::PARENT, &parents).await
    }
}
