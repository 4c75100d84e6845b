use std::{path::Path, process::ExitCode, time::Duration};

use alx_backend::{
    accounts::{Role, parse_new_user},
    app::{self, App},
    cli::{Cli, Command, ImportProgress, MigrateAction, UserAction},
    config::Settings,
    db,
    names::{NamesCsv, NamesService},
    schema, seed, telemetry,
};
use anyhow::Context;
use clap::Parser;
use migration::{Migrator, MigratorTrait};

// glibc malloc spends a fifth of a nested query's CPU in its bins (large per-field futures fall outside its thread cache).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// How long `main` waits for the runtime's tasks to stop once the command is done. Dropping the runtime would wait
/// for them without bound, and a request stuck without yielding never stops.
const RUNTIME_STOP_LIMIT: Duration = Duration::from_secs(1);

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Schema) = cli.command {
        print!("{}", schema::sdl());
        return ExitCode::SUCCESS;
    }
    let settings = match Settings::load() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    telemetry::init_logging(settings.log_format, &settings.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(run(cli.command.unwrap_or(Command::Serve), settings));
    runtime.shutdown_timeout(RUNTIME_STOP_LIMIT);
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            let listener = tokio::net::TcpListener::bind(settings.listen)
                .await
                .with_context(|| format!("cannot listen on {} (ALX_LISTEN)", settings.listen))?;
            let app = App::build(&settings).await?;
            let shutdown = app.shutdown_token();
            app::stop_on_signal(shutdown.clone(), settings.shutdown_grace)?;
            tracing::info!(address = %listener.local_addr()?, "serving GraphQL at /graphql, GraphiQL at /");
            if let Some(address) = app.metrics_address() {
                tracing::info!(%address, "serving /metrics on its own listener");
            }
            app.serve(listener, shutdown.cancelled_owned()).await
        }
        Command::Worker => {
            let app = App::build(&settings).await?;
            app::stop_on_signal(app.shutdown_token(), settings.shutdown_grace)?;
            tracing::info!(concurrency = settings.worker_concurrency, "running job workers only");
            app.work().await
        }
        Command::Migrate { action } => {
            let (db, _) = db::connect(&settings.database_url, 1).await?;
            match action {
                MigrateAction::Up => Migrator::up(&db, None).await?,
                MigrateAction::Down => Migrator::down(&db, Some(1)).await?,
                MigrateAction::Status => {
                    for migration in Migrator::get_migration_with_status(&db).await? {
                        println!("{:<8} {}", format!("{:?}", migration.status()), migration.name());
                    }
                }
                MigrateAction::Fresh => Migrator::fresh(&db).await?,
            }
            Ok(())
        }
        Command::Seed => {
            // The demo accounts' password is published: in production they would be a public admin login.
            anyhow::ensure!(
                !settings.is_production(),
                "seed creates demo accounts with a published password; it refuses to run with ALX_ENV=production"
            );
            let (db, _) = db::connect(&settings.database_url, 1).await?;
            db::migrate_up(&db).await?;
            let services = app::build_services(
                &settings,
                db.clone(),
                alx_backend::clock::system_clock(),
                alx_backend::bus::Bus::publishing_only(&db),
            )
            .await?;
            let seeded = seed::seed(&services).await.map_err(describe)?;
            println!(
                "seeded {} products and an event with {} seats; demo accounts (password `{}`):",
                seeded.products,
                seeded.event_seats,
                seed::DEMO_PASSWORD
            );
            for user in seeded.users {
                println!("  {:<20} {:?}", user.email, user.role);
            }
            Ok(())
        }
        Command::User {
            action:
                UserAction::Create {
                    email,
                    name,
                    password,
                    admin,
                },
        } => {
            let (db, _) = db::connect(&settings.database_url, 1).await?;
            db::migrate_up(&db).await?;
            let services = app::build_services(
                &settings,
                db.clone(),
                alx_backend::clock::system_clock(),
                alx_backend::bus::Bus::publishing_only(&db),
            )
            .await?;
            let role = if admin { Role::Admin } else { Role::User };
            let new_user = parse_new_user("", &email, password, &name, role, None, None).map_err(describe)?;
            let user = services
                .accounts
                .create_user(new_user, "email")
                .await
                .map_err(describe)?;
            println!("created user {} <{}> with role {:?}", user.id, user.email, user.role);
            Ok(())
        }
        Command::ImportNames { file, replace } => import_names(&settings, &file, replace).await,
        Command::Schema => unreachable!("handled before settings are loaded"),
    }
}

/// Checks the file before touching the database, so that a missing file or a wrong header writes nothing.
async fn import_names(settings: &Settings, path: &Path, replace: bool) -> anyhow::Result<()> {
    let file = std::fs::File::open(path).map_err(|error| {
        let message = alx_backend::error::Message::new("names-import-cannot-open")
            .arg("path", path.display())
            .arg("reason", error);
        anyhow::anyhow!(
            "{}",
            alx_backend::i18n::translate(alx_backend::i18n::DEFAULT_LOCALE, &message)
        )
    })?;
    let total_bytes = file.metadata().map(|metadata| metadata.len()).unwrap_or_default();
    let csv = NamesCsv::new(file).map_err(|error| describe_import(path, error))?;
    let (db, _) = db::connect(&settings.database_url, 1).await?;
    db::migrate_up(&db).await?;
    let mut progress = ImportProgress::new(total_bytes);
    let summary = NamesService::new(db)
        .import(csv, replace, |event| progress.show(event))
        .await
        .map_err(|error| describe_import(path, error))?;
    progress.finish(&summary);
    Ok(())
}

/// An import failure for the operator: the file's name and the problem, or the full cause of an internal error.
fn describe_import(path: &Path, error: alx_backend::error::AppError) -> anyhow::Error {
    match error {
        alx_backend::error::AppError::Internal(cause) => cause,
        other => anyhow::anyhow!(
            "{}: {}",
            path.display(),
            alx_backend::i18n::translate(alx_backend::i18n::DEFAULT_LOCALE, &other.message())
        ),
    }
}

/// A command-line error in the same words the API uses.
fn describe(error: alx_backend::error::AppError) -> anyhow::Error {
    let message = alx_backend::i18n::translate(alx_backend::i18n::DEFAULT_LOCALE, &error.message());
    match error.field() {
        Some(field) => anyhow::anyhow!("{field}: {message}"),
        None => anyhow::anyhow!("{message}"),
    }
}
