//! alx-backend: a GraphQL API server. Read `app.rs` first, then `http/`, `graphql/`, and one domain folder.

/// Accounts, sessions and roles.
pub mod accounts;
/// Builds and runs the whole application.
pub mod app;
/// Products, reservations and events.
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
/// The GraphQL schema and its execution.
pub mod graphql;
/// The HTTP edge: routes, middleware, transports.
pub mod http;
/// Translations and locale negotiation.
pub mod i18n;
/// The baby-names dataset: import and pagination.
pub mod names;
/// Keyset pages as plain data.
pub mod pagination;
/// Idempotent demo data.
pub mod seed;
/// Logs and metrics.
pub mod telemetry;
/// The welcome message: translated, localised time, the caller's name.
pub mod welcome;
