//! alx-backend: a GraphQL API server. Read `app.rs` first, then `http/`, `schema/` (where the domains meet and the
//! engine runs every operation), `graphql/` (the toolkit resolvers use), and one domain folder.

/// Accounts, sessions and roles.
pub mod accounts;
/// Builds and runs the whole application.
pub mod app;
/// One LISTEN connection per process, fanned out to workers, subscriptions and caches.
pub mod bus;
/// The bounded cache and its five replacement policies; knows no domain type.
pub mod cache;
/// Products and their reservations.
pub mod catalog;
/// The command line.
pub mod cli;
/// The current time, injectable.
pub mod clock;
/// Typed settings from defaults, `alx-backend.toml` and the environment.
pub mod config;
/// Database connection and migrations.
pub mod db;
/// Request and execution timeouts on a shared coarse clock.
pub mod deadlines;
/// Shared error kinds and their codes.
pub mod error;
/// Events and their seats, taken through the job queue.
pub mod events;
/// Cache tags: writes touch what they change, so cached answers are never stale.
pub mod freshness;
/// The GraphQL toolkit resolvers use: connections, loaders, guards, ids, the document budget, error mapping.
pub mod graphql;
/// The HTTP edge: routes, middleware, transports.
pub mod http;
/// Translations and locale negotiation.
pub mod i18n;
/// Durable background jobs: the queue, its workers and its subscriptions.
pub mod jobs;
/// The baby-names dataset: import and pagination.
pub mod names;
/// Push notifications through the job queue.
pub mod notifications;
/// Keyset pages as plain data.
pub mod pagination;
/// The schema assembled from the domains, and the engine every operation runs through.
pub mod schema;
/// Idempotent demo data.
pub mod seed;
/// The domain services, built once per process.
pub mod services;
/// Logs and metrics.
pub mod telemetry;
/// The rule every free-text input shares.
pub mod text;
/// The welcome message: translated, localised time, the caller's name.
pub mod welcome;
