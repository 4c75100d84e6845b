//! The domain services, built once per process and shared by the schema, the CLI and the seed data.

use std::sync::Arc;

use crate::{
    accounts::AccountsService, catalog::CatalogService, i18n::Formatters, names::NamesService, welcome::WelcomeService,
};

#[derive(Clone)]
pub struct Services {
    pub accounts: AccountsService,
    pub catalog: CatalogService,
    pub welcome: WelcomeService,
    pub formatters: Arc<Formatters>,
    pub names: NamesService,
}
