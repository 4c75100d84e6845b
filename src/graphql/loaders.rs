//! This request's DataLoaders, each made on first use: a request touches one or two of them, and building all ten
//! for every request put allocations on the hot path of even `{ __typename }`. A loader's batch and cache live for
//! one request, so no answer leaks between callers.

use std::{
    any::{Any, TypeId},
    collections::HashMap,
    sync::{Arc, Mutex},
};

use async_graphql::dataloader::DataLoader;

use super::Services;
use crate::{
    accounts::loaders::UserLoader,
    catalog::loaders::{
        ChildCountLoader, EventLoader, ProductLoader, ReservationLoader, ReservationsByProduct, ReservationsByUser,
        SeatReservationLoader, SeatReservationsByEvent,
    },
    names::loaders::BabyNameLoader,
};

/// A DataLoader batch function that can be made from the domain services.
pub trait RequestLoader: Send + Sync + Sized + 'static {
    fn create(services: &Services) -> Self;
}

pub struct Loaders {
    services: Arc<Services>,
    made: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl Loaders {
    pub fn new(services: Arc<Services>) -> Self {
        Self {
            services,
            made: Mutex::default(),
        }
    }

    /// This request's loader for `L`, made now if this is its first use.
    pub fn get<L: RequestLoader>(&self) -> Arc<DataLoader<L>> {
        let mut made = self.made.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let loader = made
            .entry(TypeId::of::<L>())
            .or_insert_with(|| {
                Arc::new(DataLoader::new(L::create(&self.services), tokio::spawn).delay(self.services.loader_delay))
            })
            .clone();
        loader
            .downcast::<DataLoader<L>>()
            .unwrap_or_else(|_| unreachable!("each loader is stored under its own type id"))
    }
}

macro_rules! request_loaders {
    ($($loader:ident => $service:ident),* $(,)?) => {
        $(impl RequestLoader for $loader {
            fn create(services: &Services) -> Self {
                Self(services.$service.clone())
            }
        })*
    };
}

request_loaders!(
    UserLoader => accounts,
    BabyNameLoader => names,
    ProductLoader => catalog,
    ReservationLoader => catalog,
    EventLoader => catalog,
    SeatReservationLoader => catalog,
    ReservationsByProduct => catalog,
    ReservationsByUser => catalog,
    SeatReservationsByEvent => catalog,
    ChildCountLoader => catalog,
);
