//! The engine: the one path every operation takes, whatever carried it (POST, GET, a batch, a WebSocket
//! message). In order: the persisted document a hash names, the document cache, the document budget (before the
//! parser for the text, before the permit queue for the parsed document), a permit, the execution timeout, the
//! errors rendered in the caller's locale and capped, then metrics, the log line, and the registration of a
//! persisted query that passed validation. HTTP's single operations go through the response cache first
//! (`answer`).

use std::{
    collections::HashSet,
    num::NonZeroUsize,
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

use super::{
    SchemaLimits, Schemas,
    cache_stats::{CacheName, Caches},
    known_requests::{Fingerprint, KNOWN_REQUESTS_BYTES, Known, KnownRequests},
    persisted::{DocumentHash, PersistedDocuments, Resolved, Submitted},
    response_cache::{CachedResponse, Key, KeyParts, Lookup, ReadTags, ResponseCache},
};
use crate::{
    cache::{Admission, Cache, CacheStats, Capacity, Policy},
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

/// Documents remembered as uncacheable: a bounded LRU, so a client sending endless distinct mutations only
/// pushes older entries out (they then pass the response cache's barrier once more).
const UNCACHEABLE_DOCUMENTS: usize = 4096;

#[derive(Clone, Debug)]
pub struct EngineSettings {
    pub budget: DocumentBudget,
    pub schema: SchemaLimits,
    pub execution_timeout: Duration,
    /// Operations executing at once; the rest wait their turn (see `Settings::max_concurrent_operations`).
    pub max_concurrent_operations: usize,
    /// How long a DataLoader gathers keys before it runs its batch.
    pub loader_delay: Duration,
    /// The policy of every cache, and the parsed-document cache's bound (see `graphql::documents`).
    pub cache_policy: Policy,
    pub cache_admission: Admission,
    pub document_cache_capacity: Capacity,
}

pub struct Engine {
    schemas: Schemas,
    /// The parsed documents and the persisted ones, shared with the schema for `cacheStats`.
    caches: Arc<Caches>,
    budget: DocumentBudget,
    permits: Semaphore,
    deadlines: Deadlines,
    execution_timeout: Duration,
    loader_delay: Duration,
    operation_labels: Mutex<HashSet<String>>,
    /// Documents whose answers are never cacheable (by their hints, or being mutations), by document key.
    uncacheable: Cache<Key, ()>,
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
    /// A persisted query sent with its text, to register once it has passed validation.
    to_register: Option<DocumentHash>,
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
    pub fn new(
        services: &Services,
        settings: EngineSettings,
        persisted: PersistedDocuments,
        responses: Arc<ResponseCache>,
        deadlines: Deadlines,
    ) -> Self {
        let caches = Arc::new(Caches {
            documents: DocumentCache::new(settings.cache_policy, settings.document_cache_capacity)
                .with_admission(settings.cache_admission),
            persisted,
            policy: settings.cache_policy,
            responses,
            known: KnownRequests::new(
                settings.cache_policy,
                Capacity::Bytes(KNOWN_REQUESTS_BYTES),
                settings.cache_admission,
            ),
            names: services.names.clone(),
        });
        Self {
            schemas: Schemas::build(services, &settings.schema, &caches),
            caches,
            budget: settings.budget,
            permits: Semaphore::new(settings.max_concurrent_operations),
            deadlines,
            execution_timeout: settings.execution_timeout,
            loader_delay: settings.loader_delay,
            operation_labels: Mutex::default(),
            uncacheable: Cache::new(
                Policy::Lru,
                Capacity::Entries(NonZeroUsize::new(UNCACHEABLE_DOCUMENTS).expect("a positive constant")),
            ),
        }
    }

    /// How many parsed documents are cached, and their estimated size in bytes.
    pub fn cached_documents(&self) -> (usize, usize) {
        self.caches.documents.usage()
    }

    /// The response cache, for the server's start and shutdown (and tests that look inside it).
    pub fn responses(&self) -> &Arc<ResponseCache> {
        &self.caches.responses
    }

    /// A cache's counters, as `cacheStats` reports them.
    pub fn cache_stats(&self, name: CacheName) -> CacheStats {
        self.caches.stats(name)
    }

    /// Sets the caches' metrics; `/metrics` calls it before each scrape.
    pub fn record_cache_metrics(&self) {
        self.caches.record_metrics();
    }

    /// Runs one request through the whole path.
    pub async fn execute(&self, submitted: Submitted, context: RequestContext) -> Executed {
        match self.prepare(submitted).await {
            Ok(prepared) => self.run(prepared, context).await,
            Err(error) => failed(error, &context),
        }
    }

    /// Finds the document a hash names, parses it (or takes it from the cache) and applies the budget; the error
    /// is about the request as a whole. Cheap checks come first: the cache by text, then the text's size and
    /// tokens, then the parse.
    pub async fn prepare(&self, submitted: Submitted) -> Result<Prepared, ServerError> {
        let Submitted {
            mut request,
            document_id,
        } = submitted;
        let resolved = self
            .caches
            .persisted
            .resolve(&mut request, document_id.as_deref())
            .await?;
        let to_register = match resolved {
            Resolved::Register(hash) => Some(hash),
            Resolved::Ready | Resolved::Unlisted => None,
        };
        if let Some(cached) = self.caches.documents.get(&request.query) {
            if resolved == Resolved::Unlisted {
                self.caches.persisted.refuses_unlisted(&cached.document)?;
            }
            request.set_parsed_query(ExecutableDocument::clone(&cached.document));
            return Ok(Prepared {
                request,
                trusted: cached.trusted,
                to_cache: None,
                to_register,
            });
        }
        let cost = self.budget.check_text(&request.query)?;
        let document = match async_graphql::parser::parse_query(&request.query) {
            Ok(document) => document,
            Err(error) => return Err(parse_failure(error)),
        };
        self.budget.check_document(&document)?;
        if resolved == Resolved::Unlisted {
            self.caches.persisted.refuses_unlisted(&document)?;
        }
        let to_cache = DocumentCache::cacheable(&request.query).then(|| (Arc::new(document.clone()), cost));
        request.set_parsed_query(document);
        Ok(Prepared {
            request,
            trusted: false,
            to_cache,
            to_register,
        })
    }

    /// Executes a prepared request under a permit and the execution timeout.
    pub async fn run(&self, prepared: Prepared, context: RequestContext) -> Executed {
        self.run_reading(prepared, context, None).await
    }

    /// Answers a single HTTP operation through the response cache: a fresh stored answer is returned without
    /// parsing, validating or executing anything; otherwise the operation runs (once for all concurrent requests
    /// of the same key) and its answer is stored if its fields' hints allow it and nothing it read changed.
    /// `queries_only` (GET) refuses a mutation or subscription before it runs, and so before it is registered.
    pub async fn answer(&self, submitted: Submitted, context: RequestContext, queries_only: bool) -> Answer {
        let variables = serde_json::to_string(&submitted.request.variables).unwrap_or_default();
        let reference = persisted_reference(&submitted);
        let mut parts = KeyParts {
            query: &submitted.request.query,
            reference: &reference,
            operation_name: submitted.request.operation_name.as_deref(),
            variables: "",
            locale: "",
            time_zone: "",
        };
        // Whether a document's answers are cacheable depends on the document alone (its fields' hints), so a
        // document once found uncacheable (a mutation, `welcome`) skips the cache and its barrier from then on.
        let document_key = parts.key(None);
        // A request that sends its query with a hash registers it: it must run, whatever is cached.
        let registers = !submitted.request.query.is_empty() && !reference.is_empty();
        if registers || self.caches.responses.is_off() || self.uncacheable.peek(&document_key).is_some() {
            return self.answer_uncached(submitted, context, queries_only, None).await.0;
        }
        parts.variables = &variables;
        parts.locale = context.effective_locale();
        parts.time_zone = context.timezone.name();
        let public_key = parts.key(None);
        let private_key = context.caller.map(|caller| parts.key(Some(caller.user_id)));
        let leader = match self.caches.responses.lookup(public_key, private_key).await {
            Ok(Lookup::Hit(answer)) => return Answer::Cached(answer, public_key),
            Ok(Lookup::Follow(mut waiting)) => {
                if let Ok(done) = waiting.wait_for(Option::is_some).await
                    && let Some(Some(answer)) = done.clone()
                {
                    return Answer::Cached(answer, public_key);
                }
                None
            }
            Ok(Lookup::Lead(leader)) => Some(leader),
            // Without the epoch read a hit could be stale: run uncached rather than risk it.
            Err(error) => {
                tracing::warn!(%error, "the response cache cannot read the write epoch; answering uncached");
                return self.answer_uncached(submitted, context, queries_only, None).await.0;
            }
        };
        let (answer, read) = self
            .answer_uncached(submitted, context, queries_only, Some(Arc::new(ReadTags::default())))
            .await;
        let Answer::Ran(executed, _) = answer else {
            return answer;
        };
        let executed = *executed;
        let cache_control = executed.response.cache_control;
        let ran_well = !executed.request_failed && executed.response.errors.is_empty();
        let cacheable = read.is_some() && ran_well && cache_control.max_age > 0;
        if ran_well && !cacheable {
            self.uncacheable.put(document_key, ());
        }
        let answer = cacheable.then(|| {
            CachedResponse::new(
                stored_body(&executed),
                u32::try_from(cache_control.max_age).unwrap_or_default(),
                !cache_control.public,
                read.map(|read| read.tags()).unwrap_or_default(),
            )
        });
        let answer = match leader {
            Some(leader) => leader.finish(answer, private_key),
            None => answer.map(Arc::new),
        };
        Answer::Ran(Box::new(executed), answer.map(|answer| (answer, public_key)))
    }

    /// Whether requests answered before may be answered by their fingerprint (`http::known`): not without the
    /// response cache.
    pub fn knows_requests(&self) -> bool {
        !self.caches.responses.is_off()
    }

    /// The public answer to a request answered before, found by its fingerprint, and how it was labelled; `None`
    /// when the request is not known, its answer is gone or the write epoch cannot be read, and the request takes
    /// the whole way, which counts the response cache's miss.
    pub async fn answer_known(&self, fingerprint: &Fingerprint) -> Option<(Known, Arc<CachedResponse>)> {
        let known = self.caches.known.find(fingerprint)?;
        match self.caches.responses.hit(&known.key).await {
            Ok(Some(answer)) => {
                self.caches.known.served(fingerprint);
                Some((known, answer))
            }
            Ok(None) => {
                self.caches.known.forget(fingerprint);
                None
            }
            Err(_) => None,
        }
    }

    /// Remembers that the request with `fingerprint` is answered by the public answer under `known.key`.
    pub fn remember_request(&self, fingerprint: Fingerprint, known: Known) {
        self.caches.known.remember(fingerprint, known);
    }

    /// Prepares and runs without the response cache, refusing a mutation or subscription when `queries_only`.
    /// With `read`, the tags of what a query resolved are noted there; they come back only for a query.
    async fn answer_uncached(
        &self,
        submitted: Submitted,
        context: RequestContext,
        queries_only: bool,
        read: Option<Arc<ReadTags>>,
    ) -> (Answer, Option<Arc<ReadTags>>) {
        let mut prepared = match self.prepare(submitted).await {
            Ok(prepared) => prepared,
            Err(error) => return (Answer::Ran(Box::new(failed(error, &context)), None), None),
        };
        let operation_type = prepared.operation_type();
        if queries_only
            && matches!(
                operation_type,
                Some(OperationType::Mutation | OperationType::Subscription)
            )
        {
            return (Answer::NotAQuery, None);
        }
        let read = read.filter(|_| operation_type == Some(OperationType::Query));
        let executed = self.run_reading(prepared, context, read.clone()).await;
        (Answer::Ran(Box::new(executed), None), read)
    }

    /// `run`, noting in `read` (when given) the tags of every field resolved.
    async fn run_reading(&self, prepared: Prepared, context: RequestContext, read: Option<Arc<ReadTags>>) -> Executed {
        let Prepared {
            request,
            trusted,
            to_cache,
            to_register,
        } = prepared;
        let schema = if trusted {
            &self.schemas.trusted
        } else {
            &self.schemas.strict
        };
        let query_to_cache = to_cache.map(|entry| (request.query.clone(), entry));
        let query_to_register = to_register.map(|hash| (hash, request.query.clone()));
        let operation = self.operation_label(request.operation_name.as_deref());
        let span = tracing::info_span!("graphql", operation = %operation, request_id = %context.request_id);
        // Waiting for a turn is not execution: the timeout and the duration start once the operation runs.
        let permit = self.permits.acquire().await.expect("the permits are never closed");
        let started = Instant::now();
        let mut request = self.with_request_data(request, context.clone());
        if let Some(read) = read {
            request = request.data(read);
        }
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
            self.caches.documents.insert(&query, document, cost, without_variables);
        }

        let elapsed = started.elapsed();
        let codes: Vec<&str> = response.errors.iter().filter_map(errors::code_of).collect();
        span.in_scope(
            || tracing::info!(duration_ms = elapsed.as_secs_f64() * 1000.0, errors = ?codes, "graphql operation"),
        );
        crate::telemetry::record_graphql_operation(&operation, codes.is_empty(), elapsed.as_secs_f64());
        // Validation failures fail the request as a whole; a document that got past them is worth registering.
        // Awaited rather than left to run behind the answer: the client's next request may go to another
        // instance, and must find the document there.
        if let Some((hash, query)) = query_to_register
            && !request_failed
        {
            self.caches.persisted.register(hash, &query).await;
        }
        Executed {
            response,
            request_failed,
            locale: context.effective_locale(),
        }
    }

    /// The WebSocket path: queries and mutations answer once through `execute` (so under the same permits,
    /// timeout, metrics and logs); a subscription's set-up is prepared and budgeted the same way, then streams.
    pub async fn execute_stream(
        self: &Arc<Self>,
        submitted: Submitted,
        context: RequestContext,
    ) -> BoxStream<'static, Executed> {
        let mut prepared = match self.prepare(submitted).await {
            Ok(prepared) => prepared,
            Err(error) => return stream::once(std::future::ready(failed(error, &context))).boxed(),
        };
        let engine = self.clone();
        if prepared.operation_type() != Some(OperationType::Subscription) {
            return stream::once(async move { engine.run(prepared, context).await }).boxed();
        }
        // A subscription lives as long as its client wants: it holds no execution permit, or a few of them would
        // starve every other operation. The WebSocket caps how many one connection may hold.
        let mut to_register = prepared.to_register.map(|hash| (hash, prepared.request.query.clone()));
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
            // The first answer tells whether the document passed validation.
            .then(move |executed| {
                let registration = to_register.take().filter(|_| !executed.request_failed);
                let engine = engine.clone();
                async move {
                    if let Some((hash, query)) = registration {
                        engine.caches.persisted.register(hash, &query).await;
                    }
                    executed
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

/// How `answer` answered: from the cache, or by running the operation (with the answer as stored, or as it would
/// be, when it is cacheable).
pub enum Answer {
    /// From the response cache, with the key an anonymous request finds it under.
    Cached(Arc<CachedResponse>, Key),
    /// Computed; the answer the response cache was offered, if it was cacheable, with its public key.
    Ran(Box<Executed>, Option<(Arc<CachedResponse>, Key)>),
    /// A mutation or subscription where only queries may run (GET).
    NotAQuery,
}

/// A hash-only request's document, for the cache key: the same hash is the same document.
fn persisted_reference(submitted: &Submitted) -> String {
    match (
        &submitted.document_id,
        submitted.request.extensions.get("persistedQuery"),
    ) {
        (Some(id), _) => format!("documentId:{id}"),
        (None, Some(persisted)) => format!(
            "persistedQuery:{}",
            serde_json::to_string(persisted).unwrap_or_default()
        ),
        (None, None) => String::new(),
    }
}

/// The body of an answer without errors, as the HTTP transport writes it.
fn stored_body(executed: &Executed) -> bytes::Bytes {
    #[derive(serde::Serialize)]
    struct Body<'a> {
        data: &'a async_graphql::Value,
        #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
        extensions: &'a std::collections::BTreeMap<String, async_graphql::Value>,
    }
    let body = Body {
        data: &executed.response.data,
        extensions: &executed.response.extensions,
    };
    bytes::Bytes::from(serde_json::to_vec(&body).unwrap_or_default())
}
