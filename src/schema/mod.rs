//! The assembly above the domains: one root per domain merged together, the `Node` interface, and the engine
//! every operation runs through.

pub mod cache_stats;
pub mod engine;
pub mod known_requests;
pub mod node;
pub mod persisted;
pub mod response_cache;

use std::sync::Arc;

use async_graphql::{MergedObject, MergedSubscription, Schema, ValidationMode};

use crate::{
    accounts::resolvers::{AccountsMutation, AccountsQuery},
    catalog::resolvers::{CatalogMutation, CatalogQuery},
    events::resolvers::{EventsMutation, EventsQuery},
    jobs::resolvers::{JobsMutation, JobsQuery, JobsSubscription},
    names::resolvers::{NamesMutation, NamesQuery},
    notifications::resolvers::NotificationsMutation,
    services::Services,
    welcome::resolvers::WelcomeQuery,
};
use cache_stats::{CacheStatsQuery, Caches};
pub use engine::{Engine, EngineSettings, Executed};
pub use persisted::{PersistedDocuments, Submitted};

#[derive(MergedObject, Default)]
pub struct Query(
    node::NodeQuery,
    AccountsQuery,
    WelcomeQuery,
    NamesQuery,
    CatalogQuery,
    EventsQuery,
    JobsQuery,
    CacheStatsQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    AccountsMutation,
    NamesMutation,
    CatalogMutation,
    EventsMutation,
    JobsMutation,
    NotificationsMutation,
);

#[derive(MergedSubscription, Default)]
pub struct Subscription(JobsSubscription);

pub type AppSchema = Schema<Query, Mutation, Subscription>;

fn builder() -> async_graphql::SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(Query::default(), Mutation::default(), Subscription::default())
}

/// The schema as SDL, exactly as `schema.graphql` holds it.
pub fn sdl() -> String {
    builder().finish().sdl()
}

/// What async-graphql itself checks of a document, on top of the engine's budget.
#[derive(Clone, Debug)]
pub struct SchemaLimits {
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_directives: usize,
    pub introspection: bool,
}

/// The schema twice over. `strict` runs every validation rule; `trusted` (async-graphql's `ValidationMode::Fast`)
/// still checks depth, complexity and fragment cycles but skips the rules that a document without variables
/// already passed once: their outcome depends on the document alone, and they were about 4 % of the CPU of
/// `{ __typename }` and 12 % of `welcome` (bench/README.md).
pub struct Schemas {
    pub strict: AppSchema,
    pub trusted: AppSchema,
}

impl Schemas {
    /// Both schemas, with the services and the engine's caches (`cacheStats` reads them) as their data.
    pub fn build(services: &Services, limits: &SchemaLimits, caches: &Arc<Caches>) -> Self {
        Self {
            strict: build_schema(services, limits, caches, ValidationMode::Strict),
            trusted: build_schema(services, limits, caches, ValidationMode::Fast),
        }
    }
}

fn build_schema(
    services: &Services,
    limits: &SchemaLimits,
    caches: &Arc<Caches>,
    validation: ValidationMode,
) -> AppSchema {
    let mut builder = builder()
        .validation_mode(validation)
        .data(caches.clone())
        .data(services.accounts.clone())
        .data(services.catalog.clone())
        .data(services.events.clone())
        .data(services.welcome.clone())
        .data(services.formatters.clone())
        .data(services.names.clone())
        .data(services.jobs.clone())
        .data(services.notifications.clone())
        .data(services.seats.clone())
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        // Selection sets and spreads nested inside each other; the engine's budget has already bounded the
        // expanded size, so this only stops the nesting async-graphql walks recursively.
        .limit_recursive_depth(limits.max_depth.saturating_mul(2).max(32))
        .limit_directives(limits.max_directives)
        .extension(response_cache::TagRecorder);
    if !limits.introspection {
        // Suggestions ("did you mean …") would leak the schema that disabling introspection hides.
        builder = builder.disable_introspection().disable_suggestions();
    }
    builder.finish()
}
