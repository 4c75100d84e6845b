//! The domain services, built once per process and shared by the schema, the CLI and the seed data.

use std::sync::Arc;

use crate::{
    accounts::AccountsService,
    catalog::CatalogService,
    events::{EventsService, SeatsService},
    i18n::Formatters,
    jobs::{Handlers, JobsService},
    names::NamesService,
    notifications::NotificationsService,
    welcome::WelcomeService,
};

#[derive(Clone)]
pub struct Services {
    pub accounts: AccountsService,
    pub catalog: CatalogService,
    pub events: EventsService,
    pub welcome: WelcomeService,
    pub formatters: Arc<Formatters>,
    pub names: NamesService,
    pub jobs: JobsService,
    pub notifications: NotificationsService,
    pub seats: SeatsService,
    /// What each job kind runs, for the workers.
    pub job_handlers: Handlers,
}
