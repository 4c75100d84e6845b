//! The engine: the one path every operation takes, whatever carried it (POST, GET, a batch, a WebSocket
//! message). In order: the document cache, the document budget (before the parser for the text, before the
//! permit queue for the parsed document), a permit, the execution timeout, the errors rendered in the caller's
//! locale and capped, then metrics and the log line.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use async_graphql::{
    Request, Response, ServerError,
    futures_util::stream::{self, BoxStream, StreamExt},
    parser::types::{DocumentOperations, ExecutableDocument, OperationType},
};
use tokio::sync::Semaphore;
use tracing::Instrument;

use super::{SchemaLimits, Schemas};
use crate::{
    cache::{CacheStats, Capacity, Policy},
    deadlines::Deadlines,
    error::{ErrorCode, Message},
    graphql::{
        Loaders, RequestContext,
        documents::DocumentCache,
        errors,
        limits::{DocumentBudget, DocumentCost},
    },
    services::Services,
};

/// At most this many errors reach the client; the last one says how many more there were. Each error is
/// translated and counted, so without a cap a document's errors are an amplifier.
pub const MAX_ERRORS: usize = 20;

#[derive(Clone, Debug)]
pub struct EngineSettings {
    pub budget: DocumentBudget,
    pub schema: SchemaLimits,
    pub execution_timeout: Duration,
    /// Operations executing at once; the rest wait their turn (see `Settings::max_concurrent_operations`).
    pub max_concurrent_operations: usize,
    /// How long a DataLoader gathers keys before it runs its batch.
    pub loader_delay: Duration,
    /// The parsed-document cache's policy and bound (see `graphql::documents`).
    pub cache_policy: Policy,
    pub document_cache_capacity: Capacity,
}

pub struct Engine {
    schemas: Schemas,
    budget: DocumentBudget,
    documents: DocumentCache,
    permits: Semaphore,
    deadlines: Deadlines,
    execution_timeout: Duration,
    loader_delay: Duration,
    operation_labels: Mutex<HashSet<String>>,
}

/// A response and whether the request failed as a whole, before any field ran (a 400 in GraphQL-over-HTTP terms).
pub struct Executed {
    pub response: Response,
    pub request_failed: bool,
    /// The locale the response speaks, for `Content-Language`.
    pub locale: &'static str,
}

/// A request whose document is parsed, within budget, and ready to run.
pub struct Prepared {
    request: Request,
    /// The document passed strict validation before and has no variables: it may skip the strict rules.
    trusted: bool,
    /// A document parsed now, to keep once it has passed validation.
    to_cache: Option<(Arc<ExecutableDocument>, DocumentCost)>,
}

impl Prepared {
    /// The kind of operation it would run; `None` if the document names no operation it has. Worked out when
    /// asked (GET and WebSocket ask), not for every request.
    pub fn operation_type(&mut self) -> Option<OperationType> {
        let name = self.request.operation_name.clone();
        let document = self.request.parsed_query().ok()?;
        operation_type(document, name.as_deref())
    }
}

impl Engine {
    pub fn new(services: &Services, settings: EngineSettings, deadlines: Deadlines) -> Self {
        Self {
            schemas: Schemas::build(services, &settings.schema),
            budget: settings.budget,
            documents: DocumentCache::new(settings.cache_policy, settings.document_cache_capacity),
            permits: Semaphore::new(settings.max_concurrent_operations),
            deadlines,
            execution_timeout: settings.execution_timeout,
            loader_delay: settings.loader_delay,
            operation_labels: Mutex::default(),
        }
    }

    /// How many parsed documents are cached, and their estimated size in bytes.
    pub fn cached_documents(&self) -> (usize, usize) {
        self.documents.usage()
    }

    /// The parsed-document cache's counters.
    pub fn document_cache_stats(&self) -> CacheStats {
        self.documents.stats()
    }

    /// Runs one request through the whole path.
    pub async fn execute(&self, request: Request, context: RequestContext) -> Executed {
        match self.prepare(request) {
            Ok(prepared) => self.run(prepared, context).await,
            Err(error) => failed(error, &context),
        }
    }

    /// Parses the document (or takes it from the cache) and applies the budget; the error is about the request
    /// as a whole. Cheap checks come first: the cache by text, then the text's size and tokens, then the parse.
    pub fn prepare(&self, mut request: Request) -> Result<Prepared, ServerError> {
        if let Some(cached) = self.documents.get(&request.query) {
            request.set_parsed_query(ExecutableDocument::clone(&cached.document));
            return Ok(Prepared {
                request,
                trusted: cached.trusted,
                to_cache: None,
            });
        }
        let cost = self.budget.check_text(&request.query)?;
        let document = match async_graphql::parser::parse_query(&request.query) {
            Ok(document) => document,
            Err(error) => return Err(parse_failure(error)),
        };
        self.budget.check_document(&document)?;
        let to_cache = DocumentCache::cacheable(&request.query).then(|| (Arc::new(document.clone()), cost));
        request.set_parsed_query(document);
        Ok(Prepared {
            request,
            trusted: false,
            to_cache,
        })
    }

    /// Executes a prepared request under a permit and the execution timeout.
    pub async fn run(&self, prepared: Prepared, context: RequestContext) -> Executed {
        let Prepared {
            request,
            trusted,
            to_cache,
            ..
        } = prepared;
        let schema = if trusted {
            &self.schemas.trusted
        } else {
            &self.schemas.strict
        };
        let query_to_cache = to_cache.map(|entry| (request.query.clone(), entry));
        let operation = self.operation_label(request.operation_name.as_deref());
        let span = tracing::info_span!("graphql", operation = %operation, request_id = %context.request_id);
        // Waiting for a turn is not execution: the timeout and the duration start once the operation runs.
        let permit = self.permits.acquire().await.expect("the permits are never closed");
        let started = Instant::now();
        let request = self.with_request_data(request, context.clone());
        let outcome = self
            .deadlines
            // Boxed once, rather than the large execution future being copied into each wrapper around it.
            .timeout(self.execution_timeout, Box::pin(schema.execute(request)))
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
        render_errors(&mut response.errors, &context);
        let request_failed = response.data == async_graphql::Value::Null
            && !response.errors.is_empty()
            && response.errors.iter().all(|error| error.path.is_empty());
        // Only a document that ran without any error is kept: one that fails validation, or fails at run time
        // (an argument refused by its resolver), is not worth the memory.
        if let Some((query, (document, cost))) = query_to_cache
            && response.errors.is_empty()
        {
            let without_variables = has_no_variables(&document);
            self.documents.insert(&query, document, cost, without_variables);
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

    /// The WebSocket path: queries and mutations answer once through `execute` (so under the same permits,
    /// timeout, metrics and logs); a subscription's set-up is prepared and budgeted the same way, then streams.
    pub fn execute_stream(self: &Arc<Self>, request: Request, context: RequestContext) -> BoxStream<'static, Executed> {
        let mut prepared = match self.prepare(request) {
            Ok(prepared) => prepared,
            Err(error) => return stream::once(std::future::ready(failed(error, &context))).boxed(),
        };
        let engine = self.clone();
        if prepared.operation_type() != Some(OperationType::Subscription) {
            return stream::once(async move { engine.run(prepared, context).await }).boxed();
        }
        // A subscription lives as long as its client wants: it holds no execution permit, or a few of them would
        // starve every other operation. The WebSocket caps how many one connection may hold.
        let request = self.with_request_data(prepared.request, context.clone());
        let locale = context.effective_locale();
        self.schemas
            .strict
            .execute_stream(request)
            .map(move |mut response| {
                render_errors(&mut response.errors, &context);
                let request_failed = response.data == async_graphql::Value::Null
                    && !response.errors.is_empty()
                    && response.errors.iter().all(|error| error.path.is_empty());
                Executed {
                    response,
                    request_failed,
                    locale,
                }
            })
            .boxed()
    }

    /// Attaches what resolvers read per request: the caller's context and this request's DataLoaders.
    fn with_request_data(&self, request: Request, context: RequestContext) -> Request {
        request.data(Loaders::new(self.loader_delay)).data(context)
    }

    /// Operation names label metrics; clients choose them, so only the first few hundred distinct names get their
    /// own label.
    fn operation_label(&self, name: Option<&str>) -> String {
        const MAX_LABELS: usize = 200;
        let Some(name) = name.filter(|name| name.len() <= 64) else {
            return if name.is_some() {
                "other".into()
            } else {
                "anonymous".into()
            };
        };
        let mut seen = self
            .operation_labels
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if seen.contains(name) || (seen.len() < MAX_LABELS && seen.insert(name.to_string())) {
            name.to_string()
        } else {
            "other".into()
        }
    }
}

fn has_no_variables(document: &ExecutableDocument) -> bool {
    document
        .operations
        .iter()
        .all(|(_, operation)| operation.node.variable_definitions.is_empty())
}

fn operation_type(document: &ExecutableDocument, name: Option<&str>) -> Option<OperationType> {
    match (&document.operations, name) {
        (DocumentOperations::Single(operation), _) => Some(operation.node.ty),
        (DocumentOperations::Multiple(operations), Some(name)) => {
            operations.get(name).map(|operation| operation.node.ty)
        }
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next().map(|operation| operation.node.ty)
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}

fn parse_failure(error: async_graphql::parser::Error) -> ServerError {
    let message = error.to_string();
    // The parser stops at its own nesting limit; that document is too deep, not malformed.
    let mut parse_error = if message.contains("recursion limit") {
        errors::request_error(ErrorCode::QueryTooComplex, Message::new("error-query-too-deep"))
    } else {
        errors::request_error(ErrorCode::GraphqlParseFailed, Message::new("error-parse-failed"))
    };
    parse_error.locations = error.positions().collect();
    if let Some(extensions) = parse_error.extensions.as_mut() {
        extensions.set("detail", message);
    }
    parse_error
}

pub fn failed(error: ServerError, context: &RequestContext) -> Executed {
    let mut errors = vec![error];
    errors::localize(&mut errors, context.effective_locale(), &context.request_id);
    Executed {
        response: Response::from_errors(errors),
        request_failed: true,
        locale: context.effective_locale(),
    }
}

/// Renders errors in the caller's locale, keeping at most `MAX_ERRORS`; only the kept ones are translated.
fn render_errors(errors: &mut Vec<ServerError>, context: &RequestContext) {
    let omitted = errors.len().saturating_sub(MAX_ERRORS - 1);
    if omitted > 1 {
        errors.truncate(MAX_ERRORS - 1);
    }
    errors::localize(errors, context.effective_locale(), &context.request_id);
    if omitted > 1 {
        let code = errors
            .last()
            .and_then(errors::code_of)
            .and_then(ErrorCode::parse)
            .unwrap_or(ErrorCode::GraphqlValidationFailed);
        let mut more = vec![errors::request_error(
            code,
            Message::new("error-more-errors").arg("count", omitted),
        )];
        errors::localize(&mut more, context.effective_locale(), &context.request_id);
        errors.append(&mut more);
    }
}
