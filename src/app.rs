//! Builds the application from settings (database, migrations, services, schema, router) and runs it.

use std::{future::Future, net::SocketAddr, num::NonZeroU32, sync::Arc, time::Duration};

use anyhow::Context;
use sea_orm::DatabaseConnection;
use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{
    accounts::{AccountsService, AttemptLimits, Tokens},
    bus::Bus,
    catalog::CatalogService,
    clock::{self, Clock},
    config::Settings,
    db,
    deadlines::Deadlines,
    events::{EventsService, SeatJobs, SeatsService},
    freshness::Invalidations,
    graphql::limits::DocumentBudget,
    http::{self, AppState, HttpOptions, ServerLimits, WebSocketLimits},
    i18n::{self, Formatters},
    jobs::{Handlers, JobKind, JobsService, RetryPolicy, Worker, WorkerSettings},
    names::NamesService,
    notifications::{LogNotifier, NotificationJobs, NotificationsService, Notifier, WebhookNotifier},
    schema::{
        self, Engine, EngineSettings, PersistedDocuments, SchemaLimits,
        persisted::{self, Manifest, Store},
        response_cache::ResponseCache,
    },
    services::Services,
    telemetry,
    welcome::WelcomeService,
};

pub struct App {
    pub db: DatabaseConnection,
    /// The one execution path, for tests that look inside it (the document cache).
    pub engine: Arc<Engine>,
    pub statements: db::StatementCounter,
    pub services: Services,
    state: Arc<AppState>,
    http_options: HttpOptions,
    /// Bound at build, like the API listener before it, so a taken port stops start-up and tests learn the port.
    metrics_listener: Option<TcpListener>,
    shutdown: CancellationToken,
    bus: Bus,
    worker_settings: WorkerSettings,
    worker_listen: Option<SocketAddr>,
}

/// After the listener has stopped, how long the database pool may take to close: a request abandoned at the end
/// of the shutdown grace may still hold a connection.
const POOL_CLOSE_LIMIT: Duration = Duration::from_secs(1);

/// How long past the shutdown grace the signal thread lets the process run before it exits it: time for the
/// listener to abandon what is left and for `main` to stop the runtime.
const EXIT_MARGIN: Duration = Duration::from_secs(5);

impl App {
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, clock::system_clock()).await
    }

    /// As `build`, with the clock the services read (tests fix it).
    pub async fn build_with_clock(settings: &Settings, clock: Clock) -> anyhow::Result<Self> {
        let (db, statements) = db::connect(&settings.database_url, settings.db_max_connections).await?;
        if settings.migrate_on_start {
            db::migrate_up(&db).await?;
        }
        let default_locale = i18n::supported_locale(&settings.default_locale).with_context(|| {
            format!(
                "invalid setting ALX_DEFAULT_LOCALE: `{}` is not a shipped locale",
                settings.default_locale
            )
        })?;
        let shutdown = CancellationToken::new();
        let bus = Bus::start(&db, &settings.database_url, shutdown.clone()).await?;
        let services = build_services(settings, db.clone(), clock, bus.clone()).await?;
        let responses = Arc::new(
            ResponseCache::new(
                db.clone(),
                statements.clone(),
                settings.cache_policy,
                settings.response_cache_capacity,
                settings.response_cache_mode,
            )
            .with_admission(settings.cache_admission),
        );
        // The applied epoch starts at 0: the first hit's barrier reads every tag once (a handful of rows).
        responses.start(&bus);
        let deadlines = Deadlines::start();
        let persisted = persisted_documents(settings, db.clone())?;
        let engine = Arc::new(Engine::new(
            &services,
            engine_settings(settings),
            persisted,
            responses,
            deadlines.clone(),
        ));
        let state = Arc::new(AppState {
            shutdown: shutdown.clone(),
            engine: engine.clone(),
            accounts: services.accounts.clone(),
            deadlines: deadlines.clone(),
            websocket: WebSocketLimits {
                init_timeout: settings.ws_init_timeout,
                max_operations: settings.ws_max_operations,
                keep_alive: settings.ws_keep_alive,
                max_message_bytes: settings.body_limit_bytes,
            },
            db: db.clone(),
            metrics: telemetry::metrics_handle(),
            body_limit_bytes: settings.body_limit_bytes,
            max_batch: settings.max_batch,
            default_locale,
            trusted_proxies: settings.trust_forwarded_for.then(|| settings.trusted_proxies.clone()),
            sdl: schema::sdl(),
        });
        let options = HttpOptions {
            cors_origins: settings.cors_origins.clone(),
            request_timeout: settings.request_timeout,
            deadlines,
            metrics_on_api: settings.metrics_listen.is_none() && !settings.is_production(),
            server: ServerLimits {
                header_read_timeout: settings.header_read_timeout,
                keep_alive_timeout: settings.keep_alive_timeout,
                max_connections: settings.max_connections,
                shutdown_grace: settings.shutdown_grace,
            },
        };
        let metrics_listener = match settings.metrics_listen {
            Some(address) => Some(
                TcpListener::bind(address)
                    .await
                    .with_context(|| format!("cannot listen on {address} (ALX_METRICS_LISTEN)"))?,
            ),
            None => None,
        };
        Ok(Self {
            engine,
            state,
            http_options: options,
            metrics_listener,
            db,
            statements,
            services,
            shutdown,
            bus,
            worker_settings: worker_settings(settings),
            worker_listen: settings.worker_listen,
        })
    }

    /// Where `/metrics` is served on its own, if anywhere.
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|listener| listener.local_addr().ok())
    }

    /// The app's shutdown: cancelling it stops the listener, as `serve`'s own signal does.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves until `shutdown` resolves (or the app's shutdown token is cancelled), then stops accepting and lets
    /// in-flight requests finish for up to `ALX_SHUTDOWN_GRACE_SECS` before abandoning them.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        // Before the first request is taken: from then on, hits on a quiet SQLite file read nothing.
        self.engine.responses().watch_commits(self.shutdown.clone()).await;
        self.engine.responses().hold_lease(&self.bus, self.shutdown.clone());
        let token = self.shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = shutdown => token.cancel(),
                () = token.cancelled() => {}
            }
        });
        let limits = self.http_options.server;
        let worker = (self.worker_settings.concurrency > 0).then(|| self.spawn_worker());
        let metrics = self.metrics_listener.map(|metrics_listener| {
            let service = http::metrics_service(self.state.clone());
            tokio::spawn(http::serve(metrics_listener, service, limits, self.shutdown.clone()))
        });
        let service = http::service(self.state, &self.http_options);
        http::serve(listener, service, limits, self.shutdown).await;
        // Whatever ended badly, the database is closed before it is reported.
        let metrics = match metrics {
            Some(metrics) => metrics.await.context("the metrics listener"),
            None => Ok(()),
        };
        let worker = match worker {
            Some(worker) => worker.await.context("the job worker"),
            None => Ok(()),
        };
        self.engine.responses().close().await;
        match tokio::time::timeout(POOL_CLOSE_LIMIT, self.db.close()).await {
            Ok(closed) => closed.context("closing the database pool")?,
            Err(_) => tracing::warn!("database connections still held by abandoned requests; not waiting for them"),
        }
        metrics.and(worker)
    }

    /// Runs only the job workers (`alx-backend worker`) until the shutdown token is cancelled, serving `/healthz`,
    /// `/readyz` and `/metrics` on `ALX_WORKER_LISTEN` if it is set.
    pub async fn work(self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.worker_settings.concurrency > 0,
            "invalid setting ALX_WORKER_CONCURRENCY: `alx-backend worker` needs at least 1"
        );
        let worker = self.spawn_worker();
        let health = match self.worker_listen {
            Some(address) => {
                let listener = TcpListener::bind(address)
                    .await
                    .with_context(|| format!("cannot listen on {address} (ALX_WORKER_LISTEN)"))?;
                // The bound address, not the setting: with port 0 the system picks the port, and only the log
                // tells an operator (or a test) which one it is.
                let address = listener.local_addr().unwrap_or(address);
                tracing::info!(%address, "serving /healthz and /metrics for the worker");
                let service = http::worker_service(self.state.clone());
                Some(tokio::spawn(http::serve(
                    listener,
                    service,
                    self.http_options.server,
                    self.shutdown.clone(),
                )))
            }
            None => None,
        };
        worker.await.context("the job worker")?;
        if let Some(health) = health {
            health.await.context("the worker's health listener")?;
        }
        self.db.close().await.context("closing the database pool")
    }

    fn spawn_worker(&self) -> tokio::task::JoinHandle<()> {
        let worker = Worker::new(
            self.services.jobs.clone(),
            self.services.job_handlers.clone(),
            self.worker_settings,
        );
        tokio::spawn(worker.run(self.shutdown.clone()))
    }
}

fn worker_settings(settings: &Settings) -> WorkerSettings {
    WorkerSettings {
        concurrency: settings.worker_concurrency,
        lease: settings.job_lease,
        poll_interval: settings.job_poll_interval,
        time_limit: settings.job_time_limit,
        retention: settings.job_retention,
        shutdown_grace: settings.shutdown_grace,
    }
}

pub async fn build_services(
    settings: &Settings,
    db: DatabaseConnection,
    clock: Clock,
    bus: Bus,
) -> anyhow::Result<Services> {
    let secret = jwt_secret(settings).await?;
    let tokens = Tokens::new(secret.expose_secret().as_bytes(), settings.access_token_ttl);
    let limits = AttemptLimits {
        logins_per_minute: NonZeroU32::new(settings.login_attempts_per_minute)
            .context("login attempts must be positive")?,
        registrations_per_minute: NonZeroU32::new(settings.register_attempts_per_minute)
            .context("register attempts must be positive")?,
    };
    let formatters = Arc::new(Formatters::new()?);
    let jobs = JobsService::new(
        db.clone(),
        bus,
        clock.clone(),
        RetryPolicy {
            max_attempts: settings.job_max_attempts,
            backoff_base: settings.job_backoff_base,
            backoff_max: settings.job_backoff_max,
        },
    );
    let notifier: Arc<dyn Notifier> = match &settings.notification_webhook {
        Some(url) => Arc::new(WebhookNotifier::new(url.clone())),
        None => Arc::new(LogNotifier),
    };
    let mut job_handlers = Handlers::default();
    job_handlers.register(
        JobKind::PushNotification,
        NotificationJobs {
            notifier,
            blocked: Arc::new(settings.blocked_phone_numbers.iter().cloned().collect()),
        },
    );
    let invalidations = Invalidations::new(&db);
    job_handlers.register(
        JobKind::SeatReservation,
        SeatJobs {
            invalidations: invalidations.clone(),
        },
    );
    Ok(Services {
        names: NamesService::with_count_cache(
            db.clone(),
            invalidations.clone(),
            settings.cache_policy,
            settings.cache_admission,
            settings.name_count_cache_capacity,
        ),
        accounts: AccountsService::new(
            db.clone(),
            invalidations.clone(),
            tokens,
            limits,
            settings.refresh_token_ttl,
        ),
        catalog: CatalogService::new(db.clone(), clock.clone(), invalidations.clone()),
        events: EventsService::new(db, clock.clone(), invalidations),
        welcome: WelcomeService::new(formatters.clone(), clock),
        formatters,
        notifications: NotificationsService::new(jobs.clone(), settings.job_max_attempts),
        seats: SeatsService::new(jobs.clone(), settings.job_max_attempts),
        jobs,
        job_handlers,
    })
}

fn engine_settings(settings: &Settings) -> EngineSettings {
    EngineSettings {
        budget: DocumentBudget {
            max_query_bytes: settings.max_query_bytes,
            max_tokens: settings.max_tokens,
            max_fields: settings.max_fields,
            max_aliases: settings.max_aliases,
            max_directives: settings.max_directives,
            max_arguments: settings.max_arguments,
            introspection: settings.introspection,
        },
        schema: SchemaLimits {
            max_depth: settings.max_depth,
            max_complexity: settings.max_complexity,
            max_directives: settings.max_directives,
            introspection: settings.introspection,
        },
        execution_timeout: settings.execution_timeout,
        max_concurrent_operations: settings.max_concurrent_operations,
        loader_delay: settings.dataloader_delay,
        cache_policy: settings.cache_policy,
        cache_admission: settings.cache_admission,
        document_cache_capacity: settings.document_cache_capacity,
    }
}

/// The manifest of `ALX_TRUSTED_DOCUMENTS` when set, or else the automatic persisted queries' store.
fn persisted_documents(settings: &Settings, db: DatabaseConnection) -> anyhow::Result<PersistedDocuments> {
    Ok(match &settings.trusted_documents {
        Some(path) => PersistedDocuments::Trusted {
            manifest: Manifest::load(path)?,
            introspection: settings.introspection,
        },
        None => PersistedDocuments::Automatic(Box::new(
            Store::new(
                db,
                settings.cache_policy,
                settings.persisted_query_capacity,
                persisted::MAX_STORED_DOCUMENTS,
            )
            .with_admission(settings.cache_admission),
        )),
    })
}

/// The configured secret, or in development one generated once and kept in a file only the owner can read.
async fn jwt_secret(settings: &Settings) -> anyhow::Result<SecretString> {
    if let Some(secret) = &settings.jwt_secret {
        return Ok(secret.clone());
    }
    let path = &settings.jwt_secret_file;
    match tokio::fs::read_to_string(path).await {
        Ok(existing) if existing.trim().len() >= 32 => return Ok(SecretString::from(existing.trim().to_string())),
        Ok(_) => anyhow::bail!(
            "{} holds no usable secret; delete it to generate a new one",
            path.display()
        ),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(error).with_context(|| format!("reading {}", path.display())),
    }
    let bytes: [u8; 32] = rand::random();
    let secret: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    write_private(path, &secret).await?;
    tracing::info!(path = %path.display(), "generated a development JWT secret");
    Ok(SecretString::from(secret))
}

#[cfg(unix)]
async fn write_private(path: &std::path::Path, contents: &str) -> anyhow::Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}

#[cfg(not(unix))]
async fn write_private(path: &std::path::Path, contents: &str) -> anyhow::Result<()> {
    tokio::fs::write(path, contents)
        .await
        .with_context(|| format!("writing {}", path.display()))
}

/// Cancels `shutdown` on SIGINT or SIGTERM. The signals are watched from a thread of its own, so that they are
/// seen even while every runtime worker is busy; and if the process is still running `grace` plus a margin after
/// the signal (a request stuck without yielding can hold up the runtime), that thread exits it.
pub fn stop_on_signal(shutdown: CancellationToken, grace: Duration) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the signal thread's runtime")?;
    std::thread::Builder::new()
        .name("shutdown-signal".into())
        .spawn(move || {
            runtime.block_on(shutdown_signal());
            shutdown.cancel();
            std::thread::sleep(grace + EXIT_MARGIN);
            tracing::error!(
                "still running {:?} after the shutdown signal; exiting",
                grace + EXIT_MARGIN
            );
            std::process::exit(1);
        })
        .context("starting the signal thread")?;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
