//! The command line: `serve` (default), `migrate`, `schema`, `import-names`, `seed`, `user create`.

use std::{io::IsTerminal, path::PathBuf};

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use crate::{
    error::Message,
    i18n::{self, DEFAULT_LOCALE},
    names::{ImportEvent, ImportSummary},
};

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
    /// Run only the job workers (no GraphQL listener); `/healthz` and `/metrics` on ALX_WORKER_LISTEN if set.
    Worker,
    /// Apply, revert or inspect database migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Print the GraphQL schema as SDL.
    Schema,
    /// Import the "Popular Baby Names" CSV file. Rows already imported stay as they are, so a second run adds
    /// nothing; bad rows are reported by line number and skipped.
    ImportNames {
        /// The CSV file; its first line must be: Year of Birth,Gender,Ethnicity,Child's First Name,Count,Rank
        file: PathBuf,
        /// Delete every imported row first.
        #[arg(long)]
        replace: bool,
    },
    /// Add demo data (products incl. the four suitcases, an event, an admin and two users); safe to repeat.
    /// Refused with ALX_ENV=production: the demo accounts' password is published.
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

/// Shows how an import goes: a bar on a terminal, and a line every tenth of the file otherwise (a log, a pipe).
pub struct ImportProgress {
    bar: Option<ProgressBar>,
    total_bytes: u64,
    reported_tenths: u64,
}

impl ImportProgress {
    pub fn new(total_bytes: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let style = ProgressStyle::with_template("{elapsed_precise} [{wide_bar}] {percent:>3}% {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            ProgressBar::new(total_bytes).with_style(style)
        });
        Self {
            bar,
            total_bytes,
            reported_tenths: 0,
        }
    }

    pub fn show(&mut self, event: ImportEvent<'_>) {
        match event {
            ImportEvent::BadRow(bad) => {
                let problem = i18n::translate(DEFAULT_LOCALE, &bad.problem);
                self.print(
                    &Message::new("names-import-bad-row")
                        .arg("line", bad.line)
                        .arg("problem", problem),
                );
            }
            ImportEvent::Progress { bytes_read, rows_read } => {
                if let Some(bar) = &self.bar {
                    bar.set_position(bytes_read);
                    let rows = Message::new("names-import-rows").arg("rows", rows_read);
                    bar.set_message(i18n::translate(DEFAULT_LOCALE, &rows));
                    return;
                }
                let tenths = (bytes_read * 10).checked_div(self.total_bytes).unwrap_or(10);
                if tenths > self.reported_tenths {
                    self.reported_tenths = tenths;
                    self.print(
                        &Message::new("names-import-progress")
                            .arg("percent", tenths.min(10) * 10)
                            .arg("rows", rows_read),
                    );
                }
            }
        }
    }

    /// Clears the bar and prints the summary on standard output.
    pub fn finish(self, summary: &ImportSummary) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
        let message = Message::new("names-import-summary")
            .arg("read", summary.read)
            .arg("imported", summary.imported)
            .arg("present", summary.already_present)
            .arg("skipped", summary.skipped);
        println!("{}", i18n::translate(DEFAULT_LOCALE, &message));
    }

    fn print(&self, message: &Message) {
        let line = i18n::translate(DEFAULT_LOCALE, message);
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }
}
