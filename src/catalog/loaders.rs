//! DataLoaders for the catalog: objects by id, and one keyset page of children for many parents at once.

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;

use super::{CatalogService, ChildList, Event, Product, Reservation, SeatReservation};
use crate::{
    error::{AppError, AppResult},
    graphql::{ParentPage, RequestLoader},
    pagination::{KeysetPage, Page},
};

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

async fn load_per_parent<T, F, Fut>(keys: &[ParentPage], load: F) -> Result<HashMap<ParentPage, Page<T>>, Shared>
where
    F: Fn(Vec<i32>, KeysetPage<i32>) -> Fut,
    Fut: Future<Output = AppResult<HashMap<i32, Page<T>>>>,
{
    let mut by_page: HashMap<&KeysetPage<i32>, Vec<i32>> = HashMap::new();
    for key in keys {
        by_page.entry(&key.page).or_default().push(key.parent);
    }
    let mut pages = HashMap::with_capacity(keys.len());
    for (page, parents) in by_page {
        for (parent, rows) in load(parents, page.clone()).await.map_err(Arc::new)? {
            pages.insert(
                ParentPage {
                    parent,
                    page: page.clone(),
                },
                rows,
            );
        }
    }
    Ok(pages)
}

macro_rules! per_parent_loader {
    ($name:ident, $value:ty, $method:ident) => {
        pub struct $name(pub CatalogService);

        impl RequestLoader for $name {
            type Service = CatalogService;

            fn create(service: &CatalogService) -> Self {
                Self(service.clone())
            }
        }

        impl Loader<ParentPage> for $name {
            type Value = Page<$value>;
            type Error = Shared;

            async fn load(&self, keys: &[ParentPage]) -> Result<HashMap<ParentPage, Page<$value>>, Shared> {
                load_per_parent(keys, |parents, page| {
                    let service = self.0.clone();
                    async move { service.$method(&parents, &page).await }
                })
                .await
            }
        }
    };
}

per_parent_loader!(ReservationsByProduct, Reservation, reservations_per_product);
per_parent_loader!(ReservationsByUser, Reservation, reservations_per_user);
per_parent_loader!(SeatReservationsByEvent, SeatReservation, seat_reservations_per_event);

/// The size of one parent's child list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ChildCount {
    pub list: ChildList,
    pub parent: i32,
}

/// Counts children for many parents at once: one `GROUP BY` statement per kind of list.
pub struct ChildCountLoader(pub CatalogService);

impl RequestLoader for ChildCountLoader {
    type Service = CatalogService;

    fn create(service: &CatalogService) -> Self {
        Self(service.clone())
    }
}

impl Loader<ChildCount> for ChildCountLoader {
    type Value = u64;
    type Error = Shared;

    async fn load(&self, keys: &[ChildCount]) -> Result<HashMap<ChildCount, u64>, Shared> {
        let mut by_list: HashMap<ChildList, Vec<i32>> = HashMap::new();
        for key in keys {
            by_list.entry(key.list).or_default().push(key.parent);
        }
        let mut counts = HashMap::with_capacity(keys.len());
        for (list, parents) in by_list {
            let found = self.0.count_children(list, &parents).await.map_err(Arc::new)?;
            for parent in parents {
                counts.insert(ChildCount { list, parent }, found.get(&parent).copied().unwrap_or(0));
            }
        }
        Ok(counts)
    }
}
