//! Batches user look-ups by id: one query per request tick, however many fields ask.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;

use super::{AccountsService, User};
use crate::error::AppError;

pub struct UserLoader(pub AccountsService);

impl Loader<i32> for UserLoader {
    type Value = User;
    type Error = std::sync::Arc<AppError>;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, User>, Self::Error> {
        let users = self.0.users_by_ids(keys).await.map_err(std::sync::Arc::new)?;
        Ok(users.into_iter().map(|user| (user.id, user)).collect())
    }
}
