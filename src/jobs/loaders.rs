//! DataLoaders for jobs: by id (a change event's payload, `node`), and a user's jobs (see `graphql::children`).

use std::collections::HashMap;

use super::{model::Job, service::JobsService};
use crate::{
    error::AppResult,
    graphql::{by_id_loader, children::ChildList},
    pagination::{KeysetPage, Page},
};

by_id_loader!(JobLoader, JobsService, Job, jobs);

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
