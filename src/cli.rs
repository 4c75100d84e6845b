//! The command line: `serve` (default), `migrate`, `schema`, `seed`, `user create`.

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "alx-backend",
    version,
    about = "A GraphQL API server: accounts, i18n, pagination, catalog, jobs, caching.",
    after_help = "Configuration: defaults < alx-backend.toml (or ALX_CONFIG) < environment.\n  \
DATABASE_URL            sqlite://… or postgres://… (default sqlite://alx-backend.db)\n  \
ALX_LISTEN              address:port to serve on (default 127.0.0.1:8080)\n  \
ALX_ENV                 development | production (default development)\n  \
ALX_JWT_SECRET          token signing secret, 32+ characters; required in production\n  \
ALX_LOG_FORMAT          pretty | json (default pretty; json in production)\n  \
ALX_LOG                 log filter (default info)\n  \
ALX_CORS_ORIGINS        comma-separated origins, or * (default any in development, none in production)\n  \
ALX_BLOCKED_PHONE_NUMBERS  comma-separated numbers whose notification jobs fail\n  \
See README.md for every setting."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the GraphQL API over HTTP and WebSocket (the default).
    Serve,
    /// Apply, revert or inspect database migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Print the GraphQL schema as SDL.
    Schema,
    /// Add demo data (products incl. the four suitcases, an event, an admin and two users); safe to repeat.
    Seed,
    /// Manage accounts.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Revert the last migration.
    Down,
    /// List migrations and whether each is applied.
    Status,
    /// Drop every table and apply all migrations again.
    Fresh,
}

#[derive(Debug, Subcommand)]
pub enum UserAction {
    /// Create an account.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long, env = "ALX_NEW_USER_PASSWORD")]
        password: String,
        /// Give the account the ADMIN role.
        #[arg(long)]
        admin: bool,
    },
}
