//! DataLoaders for jobs: by id (a change event's payload, `node`), and a user's jobs (see `graphql::children`).

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;

use super::{model::Job, service::JobsService};
use crate::{
    error::{AppError, AppResult},
    graphql::{RequestLoader, children::ChildList},
    pagination::{KeysetPage, Page},
};

pub struct JobLoader(JobsService);

impl RequestLoader for JobLoader {
    type Service = JobsService;

    fn create(service: &JobsService) -> Self {
        Self(service.clone())
    }
}

impl Loader<i32> for JobLoader {
    type Value = Job;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Job>, Self::Error> {
        let jobs = self.0.jobs(keys).await.map_err(Arc::new)?;
        Ok(jobs.into_iter().map(|job| (job.id, job)).collect())
    }
}

/// A user's jobs.
pub struct JobsOfUser;

impl ChildList for JobsOfUser {
    type Service = JobsService;
    type Child = Job;

    async fn pages(
        service: &JobsService,
        parents: Vec<i32>,
        page: KeysetPage<i32>,
    ) -> AppResult<HashMap<i32, Page<Job>>> {
        service.pages_per_owner(&parents, &page).await
    }

    async fn counts(service: &JobsService, parents: Vec<i32>) -> AppResult<HashMap<i32, u64>> {
        service.counts_per_owner(&parents).await
    }
}
