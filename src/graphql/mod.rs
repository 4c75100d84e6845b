//! The schema: one root per domain merged together, with limits, per-request loaders, and one execute path.

pub mod connection;
pub mod context;
mod documents;
pub mod errors;
pub mod guards;
pub mod limits;
mod loaders;
pub mod node;

use std::{
    collections::HashSet,
    hash::Hash,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use async_graphql::{
    EmptySubscription, MergedObject, Request, Response, Schema, ValidationMode,
    dataloader::Loader,
    parser::types::{DocumentOperations, OperationType},
};
use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::{
    accounts::{
        AccountsService,
        resolvers::{AccountsMutation, AccountsQuery},
    },
    catalog::{
        CatalogService,
        loaders::ParentPage,
        resolvers::{CatalogMutation, CatalogQuery},
    },
    deadlines::Deadlines,
    error::{AppError, ErrorCode, Message},
    i18n::Formatters,
    names::{
        NamesService,
        resolvers::{NamesMutation, NamesQuery},
    },
    pagination::Page,
    welcome::{WelcomeService, resolvers::WelcomeQuery},
};
pub use context::RequestContext;
pub use loaders::{Loaders, RequestLoader};

#[derive(MergedObject, Default)]
pub struct Query(node::NodeQuery, AccountsQuery, WelcomeQuery, NamesQuery, CatalogQuery);

#[derive(MergedObject, Default)]
pub struct Mutation(AccountsMutation, NamesMutation, CatalogMutation);

pub type AppSchema = Schema<Query, Mutation, EmptySubscription>;

/// The schema twice over. `strict` runs every validation rule; `trusted` (async-graphql's `ValidationMode::Fast`)
/// still checks depth, complexity and fragment cycles but skips the rules that a document without variables
/// already passed once: their outcome depends on the document alone, and they were about 4 % of the CPU of
/// `{ __typename }` and 12 % of `welcome` (bench/README.md).
pub struct Schemas {
    pub strict: AppSchema,
    pub trusted: AppSchema,
}

/// The domain services resolvers reach through the schema's data.
#[derive(Clone)]
pub struct Services {
    pub accounts: AccountsService,
    pub catalog: CatalogService,
    pub welcome: WelcomeService,
    pub formatters: Arc<Formatters>,
    /// How long a DataLoader gathers keys before it runs its batch.
    pub loader_delay: Duration,
    pub names: NamesService,
}

#[derive(Clone, Debug)]
pub struct GraphqlLimits {
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_aliases: usize,
    pub execution_timeout: Duration,
    pub introspection: bool,
    /// One permit per operation executing now; see `Settings::max_concurrent_operations`.
    pub execution_permits: Arc<Semaphore>,
    pub deadlines: Deadlines,
}

fn builder() -> async_graphql::SchemaBuilder<Query, Mutation, EmptySubscription> {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
}

pub fn build_schemas(services: &Services, limits: &GraphqlLimits) -> Schemas {
    Schemas {
        strict: build_schema(services, limits, ValidationMode::Strict),
        trusted: build_schema(services, limits, ValidationMode::Fast),
    }
}

fn build_schema(services: &Services, limits: &GraphqlLimits, validation: ValidationMode) -> AppSchema {
    let mut builder = builder()
        .validation_mode(validation)
        .data(services.accounts.clone())
        .data(services.catalog.clone())
        .data(services.welcome.clone())
        .data(services.formatters.clone())
        .data(services.names.clone())
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity);
    if !limits.introspection {
        // Suggestions ("did you mean …") would leak the schema that disabling introspection hides.
        builder = builder.disable_introspection().disable_suggestions();
    }
    builder.finish()
}

/// The schema as SDL, exactly as `schema.graphql` holds it.
pub fn sdl() -> String {
    builder().finish().sdl()
}

/// The kind of operation a request would run, once its document parses; `None` if it names no operation it has.
pub fn operation_type(request: &mut Request) -> Option<OperationType> {
    let name = request.operation_name.clone();
    let document = request.parsed_query().ok()?;
    match (&document.operations, name) {
        (DocumentOperations::Single(operation), _) => Some(operation.node.ty),
        (DocumentOperations::Multiple(operations), Some(name)) => {
            operations.get(name.as_str()).map(|operation| operation.node.ty)
        }
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next().map(|operation| operation.node.ty)
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// A response and whether the request failed as a whole, before any field ran (a 400 in GraphQL-over-HTTP terms).
pub struct Executed {
    pub response: Response,
    pub request_failed: bool,
    /// The locale the response speaks, for `Content-Language`.
    pub locale: &'static str,
}

fn failed(error: async_graphql::ServerError, context: &RequestContext) -> Executed {
    let mut errors = vec![error];
    errors::localize(&mut errors, context.effective_locale(), &context.request_id);
    Executed {
        response: Response::from_errors(errors),
        request_failed: true,
        locale: context.effective_locale(),
    }
}

/// What `prepare` learnt of a request's document.
pub struct Prepared {
    /// The document has no variables and passed strict validation before: it may skip the strict rules.
    pub trusted: bool,
    /// The document has no variables, is cached, and is not trusted yet: a pass now should be remembered.
    pub remember_validation: bool,
}

/// Parses the document (kept on the request, so execution does not parse it again) and applies the limits
/// async-graphql does not have; the error is about the request as a whole.
pub fn prepare(request: &mut Request, limits: &GraphqlLimits) -> Result<Prepared, async_graphql::ServerError> {
    let cached = documents::get(&request.query);
    let fresh = cached.is_none();
    let mut validated = false;
    if let Some(cached) = cached {
        validated = cached.validated;
        request.set_parsed_query(cached.document);
    }
    if fresh {
        let query = request.query.clone();
        if let Ok(document) = request.parsed_query() {
            documents::put(&query, document);
        }
    }
    match request.parsed_query() {
        Ok(document) => {
            limits::check(document, limits.max_aliases, limits.introspection)?;
            let without_variables = document
                .operations
                .iter()
                .all(|(_, operation)| operation.node.variable_definitions.is_empty());
            Ok(Prepared {
                trusted: validated && without_variables,
                remember_validation: !validated && without_variables && documents::cacheable(&request.query),
            })
        }
        Err(error) => {
            // The parser stops at its own nesting limit; that document is too deep, not malformed.
            let mut parse_error = if error.message.contains("recursion limit") {
                errors::request_error(ErrorCode::QueryTooComplex, Message::new("error-query-too-deep"))
            } else {
                errors::request_error(ErrorCode::GraphqlParseFailed, Message::new("error-parse-failed"))
            };
            parse_error.locations = error.locations.clone();
            if let Some(extensions) = parse_error.extensions.as_mut() {
                extensions.set("detail", error.message.clone());
            }
            Err(parse_error)
        }
    }
}

/// Runs one GraphQL request with its per-request data, under the limits, and renders its errors for the caller.
pub async fn execute(
    schemas: &Schemas,
    services: &Arc<Services>,
    limits: &GraphqlLimits,
    mut request: Request,
    context: RequestContext,
) -> Executed {
    let prepared = match prepare(&mut request, limits) {
        Ok(prepared) => prepared,
        Err(error) => return failed(error, &context),
    };
    let schema = if prepared.trusted {
        &schemas.trusted
    } else {
        &schemas.strict
    };
    let validating_for_later = prepared.remember_validation.then(|| request.query.clone());

    let operation = operation_label(request.operation_name.as_deref());
    let span = tracing::info_span!("graphql", operation = %operation, request_id = %context.request_id);
    // Waiting for a turn is not execution: the timeout and the duration start once the operation runs.
    let permit = limits
        .execution_permits
        .acquire()
        .await
        .expect("the permits are never closed");
    let started = Instant::now();
    let request = with_request_data(request, services, context.clone());
    let outcome = limits
        .deadlines
        // Boxed once, rather than the large execution future being copied into each wrapper around it.
        .timeout(limits.execution_timeout, Box::pin(schema.execute(request)))
        .instrument(span.clone())
        .await;
    drop(permit);
    let mut response = match outcome {
        Ok(response) => response,
        Err(_) => {
            return failed(
                errors::request_error(ErrorCode::QueryTooComplex, Message::new("error-query-timeout")),
                &context,
            );
        }
    };
    errors::localize(&mut response.errors, context.effective_locale(), &context.request_id);
    let request_failed = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|error| error.path.is_empty());
    if let Some(query) = validating_for_later
        && !request_failed
    {
        documents::mark_validated(&query);
    }

    let elapsed = started.elapsed();
    let codes: Vec<&str> = response.errors.iter().filter_map(errors::code_of).collect();
    span.in_scope(
        || tracing::info!(duration_ms = elapsed.as_secs_f64() * 1000.0, errors = ?codes, "graphql operation"),
    );
    crate::telemetry::record_graphql_operation(&operation, codes.is_empty(), elapsed.as_secs_f64());
    Executed {
        response,
        request_failed,
        locale: context.effective_locale(),
    }
}

/// Attaches what resolvers read per request: the caller's context and this request's DataLoaders.
pub fn with_request_data(request: Request, services: &Arc<Services>, context: RequestContext) -> Request {
    request.data(Loaders::new(services.clone())).data(context)
}

/// DataLoader shares one error among every waiting field; each gets its own copy of what it needs.
fn shared_error(error: Arc<AppError>) -> async_graphql::Error {
    errors::to_graphql_error(
        Arc::try_unwrap(error).unwrap_or_else(|shared| AppError::Internal(anyhow::anyhow!("{shared:#}"))),
    )
}

/// Loads one value through this request's DataLoader for `L`.
pub async fn load_one<L, K>(ctx: &async_graphql::Context<'_>, key: K) -> async_graphql::Result<Option<L::Value>>
where
    L: RequestLoader + Loader<K, Error = Arc<AppError>>,
    K: Send + Sync + Hash + Eq + Clone + 'static,
{
    ctx.data_unchecked::<Loaders>()
        .get::<L>()
        .load_one(key)
        .await
        .map_err(shared_error)
}

/// Loads many values in one batch through this request's DataLoader for `L`; missing keys are absent.
pub async fn load_many<L, K>(
    ctx: &async_graphql::Context<'_>,
    keys: impl IntoIterator<Item = K>,
) -> async_graphql::Result<std::collections::HashMap<K, L::Value>>
where
    L: RequestLoader + Loader<K, Error = Arc<AppError>>,
    K: Send + Sync + Hash + Eq + Clone + 'static,
{
    ctx.data_unchecked::<Loaders>()
        .get::<L>()
        .load_many(keys)
        .await
        .map_err(shared_error)
}

/// Loads one parent's page of a child list; a parent with no children gets an empty page.
pub async fn load_page<L, T>(ctx: &async_graphql::Context<'_>, key: ParentPage) -> async_graphql::Result<Page<T>>
where
    L: RequestLoader + Loader<ParentPage, Value = Page<T>, Error = Arc<AppError>>,
{
    Ok(load_one::<L, ParentPage>(ctx, key).await?.unwrap_or(Page {
        items: Vec::new(),
        has_previous: false,
        has_next: false,
    }))
}

/// Operation names label metrics; clients choose them, so only the first few hundred distinct names get their own label.
fn operation_label(name: Option<&str>) -> String {
    const MAX_LABELS: usize = 200;
    static SEEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let Some(name) = name.filter(|name| name.len() <= 64) else {
        return if name.is_some() {
            "other".into()
        } else {
            "anonymous".into()
        };
    };
    let mut seen = SEEN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let seen = seen.get_or_insert_with(HashSet::new);
    if seen.contains(name) || (seen.len() < MAX_LABELS && seen.insert(name.to_string())) {
        name.to_string()
    } else {
        "other".into()
    }
}
