//! Batches user look-ups by id: one query per request tick, however many fields ask.

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;

use super::{AccountsService, User};
use crate::{error::AppError, graphql::RequestLoader};

pub struct UserLoader(pub AccountsService);

impl RequestLoader for UserLoader {
    type Service = AccountsService;

    fn create(service: &AccountsService) -> Self {
        Self(service.clone())
    }
}

impl Loader<i32> for UserLoader {
    // Shared, so the many rows that name one user hold one copy of it.
    type Value = Arc<User>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Arc<User>>, Self::Error> {
        let users = self.0.users_by_ids(keys).await.map_err(Arc::new)?;
        Ok(users.into_iter().map(|user| (user.id, Arc::new(user))).collect())
    }
}
