//! Batches baby-name look-ups by id (for `node` and `nodes`): one query per request tick.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;

use super::{BabyName, NamesService};
use crate::{error::AppError, graphql::RequestLoader};

pub struct BabyNameLoader(pub NamesService);

impl RequestLoader for BabyNameLoader {
    type Service = NamesService;

    fn create(service: &NamesService) -> Self {
        Self(service.clone())
    }
}

impl Loader<i32> for BabyNameLoader {
    type Value = BabyName;
    type Error = std::sync::Arc<AppError>;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, BabyName>, Self::Error> {
        let names = self.0.names_by_ids(keys).await.map_err(std::sync::Arc::new)?;
        Ok(names.into_iter().map(|name| (name.id, name)).collect())
    }
}
