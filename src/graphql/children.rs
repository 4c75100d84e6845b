//! Per-parent lists (a product's reservations, an event's seats, a user's reservations or jobs) as one
//! mechanism: every parent of a request gets its page from one statement and, when the client asks for
//! `totalCount`, its size from one `GROUP BY`, however deep the list is nested. A domain describes a list by
//! implementing `ChildList`; the loaders and the resolver helper here are the same for all of them.

use std::{collections::HashMap, future::Future, marker::PhantomData, sync::Arc};

use async_graphql::{Context, Object, Result, dataloader::Loader};

use super::{
    ParentPage, RequestLoader,
    loaders::{load_one, load_page},
};
use crate::{
    error::{AppError, AppResult},
    pagination::{KeysetPage, Page},
};

/// One kind of per-parent list, named by a marker type.
pub trait ChildList: Send + Sync + 'static {
    /// The domain service the rows come from, as the schema's data holds it.
    type Service: Clone + Send + Sync + 'static;
    type Child: Clone + Send + Sync + 'static;

    /// One page of children for each of `parents` (parents with none may be absent).
    fn pages(
        service: &Self::Service,
        parents: Vec<i32>,
        page: KeysetPage<i32>,
    ) -> impl Future<Output = AppResult<HashMap<i32, Page<Self::Child>>>> + Send;

    /// How many children each of `parents` has (parents with none may be absent).
    fn counts(service: &Self::Service, parents: Vec<i32>) -> impl Future<Output = AppResult<HashMap<i32, u64>>> + Send;
}

/// The pages of list `L`, batched by page arguments: parents asked for with the same arguments share a statement.
pub struct ChildPages<L: ChildList>(L::Service, PhantomData<L>);

impl<L: ChildList> RequestLoader for ChildPages<L> {
    type Service = L::Service;

    fn create(service: &L::Service) -> Self {
        Self(service.clone(), PhantomData)
    }
}

impl<L: ChildList> Loader<ParentPage> for ChildPages<L> {
    type Value = Page<L::Child>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[ParentPage]) -> Result<HashMap<ParentPage, Page<L::Child>>, Self::Error> {
        let mut by_page: HashMap<&KeysetPage<i32>, Vec<i32>> = HashMap::new();
        for key in keys {
            by_page.entry(&key.page).or_default().push(key.parent);
        }
        let mut pages = HashMap::with_capacity(keys.len());
        for (page, parents) in by_page {
            for (parent, rows) in L::pages(&self.0, parents, page.clone()).await.map_err(Arc::new)? {
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
}

/// The sizes of list `L`, for every parent of a request at once.
pub struct ChildCounts<L: ChildList>(L::Service, PhantomData<L>);

impl<L: ChildList> RequestLoader for ChildCounts<L> {
    type Service = L::Service;

    fn create(service: &L::Service) -> Self {
        Self(service.clone(), PhantomData)
    }
}

impl<L: ChildList> Loader<i32> for ChildCounts<L> {
    type Value = u64;
    type Error = Arc<AppError>;

    async fn load(&self, parents: &[i32]) -> Result<HashMap<i32, u64>, Self::Error> {
        let found = L::counts(&self.0, parents.to_vec()).await.map_err(Arc::new)?;
        Ok(parents
            .iter()
            .map(|parent| (*parent, found.get(parent).copied().unwrap_or(0)))
            .collect())
    }
}

/// The `totalCount` of a nested connection.
pub struct ChildTotal(u64);

impl ChildTotal {
    /// A total counted by the caller: a top-level list whose connection type a nested list shares
    /// (`jobs` and `User.jobs` are both `JobConnection`).
    pub fn counted(total: u64) -> Self {
        Self(total)
    }
}

#[Object]
impl ChildTotal {
    /// How many rows the whole list holds (not just this page).
    async fn total_count(&self) -> u64 {
        self.0
    }
}

/// One parent's page of list `L` and, when the selection asks for `totalCount`, the list's size. Both loads
/// start together, so every parent of a request lands in the same two batches (one page statement, one count
/// statement) whatever order its fields resolve in.
pub async fn child_page<L: ChildList>(
    ctx: &Context<'_>,
    parent: i32,
    page: KeysetPage<i32>,
) -> Result<(Page<L::Child>, ChildTotal)> {
    let wants_total = ctx.look_ahead().field("totalCount").exists();
    let count = async {
        if wants_total {
            load_one::<ChildCounts<L>, _>(ctx, parent).await
        } else {
            Ok(None)
        }
    };
    let (page, total) =
        futures_util::try_join!(load_page::<ChildPages<L>, _>(ctx, ParentPage { parent, page }), count)?;
    Ok((page, ChildTotal(total.unwrap_or(0))))
}
