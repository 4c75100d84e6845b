//! This request's DataLoaders, each made on first use: a request touches one or two of them, and building all ten
//! for every request put allocations on the hot path of even `{ __typename }`. A loader's batch and cache live for
//! one request, so no answer leaks between callers. Each loader names the service it is made from, which the
//! schema holds as data, so this toolkit needs no list of the domains' loaders.

use std::{
    any::{Any, TypeId},
    collections::HashMap,
    hash::Hash,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_graphql::{
    Context,
    dataloader::{DataLoader, Loader},
};

use super::errors;
use crate::{
    error::AppError,
    pagination::{KeysetPage, Page},
};

/// A DataLoader batch function made from one domain service held in the schema's data.
pub trait RequestLoader: Send + Sync + Sized + 'static {
    type Service: Send + Sync + 'static;

    fn create(service: &Self::Service) -> Self;
}

/// A loader of one domain type by id, through a method of `$service` that loads rows by their ids: one query per
/// request tick, however many fields ask.
macro_rules! by_id_loader {
    ($name:ident, $service:ty, $value:ty, $method:ident) => {
        pub struct $name(pub $service);

        impl $crate::graphql::RequestLoader for $name {
            type Service = $service;

            fn create(service: &$service) -> Self {
                Self(service.clone())
            }
        }

        impl async_graphql::dataloader::Loader<i32> for $name {
            type Value = $value;
            type Error = std::sync::Arc<$crate::error::AppError>;

            async fn load(&self, keys: &[i32]) -> Result<std::collections::HashMap<i32, $value>, Self::Error> {
                let rows = self.0.$method(keys).await.map_err(std::sync::Arc::new)?;
                Ok(rows.into_iter().map(|row| (row.id, row)).collect())
            }
        }
    };
}

pub(crate) use by_id_loader;

pub struct Loaders {
    /// How long a DataLoader gathers keys before it runs its batch.
    delay: Duration,
    made: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl Loaders {
    pub fn new(delay: Duration) -> Self {
        Self {
            delay,
            made: Mutex::default(),
        }
    }

    /// This request's loader for `L`, made now if this is its first use.
    fn get<L: RequestLoader>(&self, ctx: &Context<'_>) -> Arc<DataLoader<L>> {
        let mut made = self.made.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let loader = made
            .entry(TypeId::of::<L>())
            .or_insert_with(|| {
                let service = ctx.data_unchecked::<L::Service>();
                Arc::new(DataLoader::new(L::create(service), tokio::spawn).delay(self.delay))
            })
            .clone();
        loader
            .downcast::<DataLoader<L>>()
            .unwrap_or_else(|_| unreachable!("each loader is stored under its own type id"))
    }
}

/// DataLoader shares one error among every waiting field; each gets its own copy of what it needs.
fn shared_error(error: Arc<AppError>) -> async_graphql::Error {
    errors::to_graphql_error(
        Arc::try_unwrap(error).unwrap_or_else(|shared| AppError::Internal(anyhow::anyhow!("{shared:#}"))),
    )
}

/// Loads one value through this request's DataLoader for `L`.
pub async fn load_one<L, K>(ctx: &Context<'_>, key: K) -> async_graphql::Result<Option<L::Value>>
where
    L: RequestLoader + Loader<K, Error = Arc<AppError>>,
    K: Send + Sync + Hash + Eq + Clone + 'static,
{
    ctx.data_unchecked::<Loaders>()
        .get::<L>(ctx)
        .load_one(key)
        .await
        .map_err(shared_error)
}

/// Loads many values in one batch through this request's DataLoader for `L`; missing keys are absent.
pub async fn load_many<L, K>(
    ctx: &Context<'_>,
    keys: impl IntoIterator<Item = K>,
) -> async_graphql::Result<HashMap<K, L::Value>>
where
    L: RequestLoader + Loader<K, Error = Arc<AppError>>,
    K: Send + Sync + Hash + Eq + Clone + 'static,
{
    ctx.data_unchecked::<Loaders>()
        .get::<L>(ctx)
        .load_many(keys)
        .await
        .map_err(shared_error)
}

/// One parent's page of a child list; the page arguments are part of the key, so parents asked for with the
/// same arguments share one statement.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ParentPage {
    pub parent: i32,
    pub page: KeysetPage<i32>,
}

/// Loads one parent's page of a child list; a parent with no children gets an empty page.
pub async fn load_page<L, T>(ctx: &Context<'_>, key: ParentPage) -> async_graphql::Result<Page<T>>
where
    L: RequestLoader + Loader<ParentPage, Value = Page<T>, Error = Arc<AppError>>,
{
    Ok(load_one::<L, ParentPage>(ctx, key).await?.unwrap_or(Page {
        items: Vec::new(),
        has_previous: false,
        has_next: false,
    }))
}
