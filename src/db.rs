//! Connecting to SQLite or PostgreSQL with the settings each needs, and applying migrations.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};

/// Counts the SQL statements this process ran through one pool, for the `db_statements_total` metric and for
/// tests that prove a nested query costs a fixed number of statements.
#[derive(Clone, Debug, Default)]
pub struct StatementCounter(Arc<AtomicU64>);

impl StatementCounter {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Counts a statement run straight through sqlx, which SeaORM's callback does not see.
    pub fn record(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
        crate::telemetry::db_statements().increment(1);
    }
}

/// A pooled connection idle this long is pinged before it is handed out, in case the server, a proxy or a
/// firewall dropped it meanwhile. Pinging at every checkout (the pool's default) adds a round trip to every
/// statement, about 25 µs on local PostgreSQL (bench/README.md, "Job queue").
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(10);

/// Opens the pool. SQLite gets WAL (readers never wait for the writer), foreign keys, and a busy timeout.
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<(DatabaseConnection, StatementCounter)> {
    let sqlite = url.starts_with("sqlite:");
    let url = if sqlite && !url.contains("mode=") {
        let separator = if url.contains('?') { '&' } else { '?' };
        format!("{url}{separator}mode=rwc")
    } else {
        url.to_string()
    };
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .test_before_acquire_if_idle_for(PING_WHEN_IDLE_FOR)
        .sqlx_logging(false);
    if sqlite {
        options.map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
        });
    }
    let mut db = Database::connect(options)
        .await
        .context("cannot connect to the database")?;
    let counter = StatementCounter::default();
    let count = counter.clone();
    db.set_metric_callback(move |_| count.record());
    db.execute_unprepared("SELECT 1")
        .await
        .context("the database does not answer")?;
    Ok((db, counter))
}

pub async fn migrate_up(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None).await.context("applying migrations")
}

/// One keyset page of child rows (ordered by `id`) for every parent in `parents`, in a single statement:
/// `ROW_NUMBER() OVER (PARTITION BY parent)` keeps `limit + 1` rows per parent, on SQLite and PostgreSQL alike.
/// Rows come back grouped by parent, in id order; `KeysetPage::page_from` then trims each group.
pub async fn page_per_parent<E>(
    db: &impl ConnectionTrait,
    parent: E::Column,
    id: E::Column,
    parents: &[i32],
    page: &crate::pagination::KeysetPage<i32>,
) -> Result<Vec<E::Model>, sea_orm::DbErr>
where
    E: sea_orm::EntityTrait,
{
    use sea_orm::{
        ColumnTrait, FromQueryResult, IdenStatic, Iterable,
        sea_query::{Alias, Asterisk, Expr, ExprTrait, Order, Query},
    };
    let direction = if page.from_end { "DESC" } else { "ASC" };
    let mut ranked = Query::select();
    ranked
        .column(Asterisk)
        .expr_as(
            Expr::cust(format!(
                "ROW_NUMBER() OVER (PARTITION BY \"{}\" ORDER BY \"{}\" {direction})",
                parent.as_str(),
                id.as_str()
            )),
            Alias::new("row_in_parent"),
        )
        .from(E::default())
        .and_where(parent.is_in(parents.iter().copied()));
    if let Some(after) = page.after {
        ranked.and_where(id.gt(after));
    }
    if let Some(before) = page.before {
        ranked.and_where(id.lt(before));
    }
    let mut select = Query::select();
    select
        .columns(E::Column::iter().map(|column| Alias::new(column.as_str())))
        .from_subquery(ranked, Alias::new("ranked"))
        .and_where(Expr::col(Alias::new("row_in_parent")).lte(page.limit as i64 + 1))
        .order_by(Alias::new(parent.as_str()), Order::Asc)
        .order_by(Alias::new(id.as_str()), Order::Asc);
    let statement = db.get_database_backend().build(&select);
    let rows = db.query_all_raw(statement).await?;
    rows.iter().map(|row| E::Model::from_query_result(row, "")).collect()
}

/// Keyset paging by id for a whole table.
macro_rules! page_by_id {
    ($db:expr, $entity:ty, $column:expr, $page:expr, $map:expr) => {{
        let mut cursor = <$entity>::find().cursor_by($column);
        if let Some(after) = $page.after {
            cursor.after(after);
        }
        if let Some(before) = $page.before {
            cursor.before(before);
        }
        let probe = $page.limit + 1;
        let rows = if $page.from_end {
            cursor.last(probe).all($db).await?
        } else {
            cursor.first(probe).all($db).await?
        };
        Ok($page.page_from(rows.into_iter().map($map).collect()))
    }};
}

pub(crate) use page_by_id;

/// Whether a failed statement may succeed if the whole transaction is tried again: PostgreSQL's serialisation
/// failures and deadlocks, and SQLite's busy or locked database. A pool timeout is not: the pool is exhausted,
/// and trying again would only add to the queue (each try could wait the whole acquire timeout).
pub fn is_transient(error: &sea_orm::DbErr) -> bool {
    matches!(
        error_code(error).as_deref(),
        Some("40001" | "40P01" | "5" | "6" | "517" | "261")
    )
}

/// The database's own code for the error of a failed statement (PostgreSQL's SQLSTATE, SQLite's result code).
pub fn error_code(error: &sea_orm::DbErr) -> Option<String> {
    use sea_orm::{DbErr, RuntimeErr, sqlx};
    let (DbErr::Exec(RuntimeErr::SqlxError(sqlx_error))
    | DbErr::Query(RuntimeErr::SqlxError(sqlx_error))
    | DbErr::Conn(RuntimeErr::SqlxError(sqlx_error))) = error
    else {
        return None;
    };
    match sqlx_error.as_ref() {
        sqlx::Error::Database(database) => database.code().map(|code| code.into_owned()),
        _ => None,
    }
}

/// The rows of `E` whose `id` column is one of `ids`, in one statement (the rows a DataLoader batch asks for), each
/// turned into its domain type by `into`.
pub async fn find_by_ids<E, T>(
    db: &impl ConnectionTrait,
    id: E::Column,
    ids: &[i32],
    into: impl FnMut(E::Model) -> T,
) -> Result<Vec<T>, sea_orm::DbErr>
where
    E: sea_orm::EntityTrait,
{
    use sea_orm::{ColumnTrait, QueryFilter};
    let rows = E::find().filter(id.is_in(ids.iter().copied())).all(db).await?;
    Ok(rows.into_iter().map(into).collect())
}

/// How many child rows each parent in `parents` has, in one `GROUP BY` statement; parents with none are absent.
pub async fn count_per_parent<E>(
    db: &impl ConnectionTrait,
    parent: E::Column,
    parents: &[i32],
) -> Result<std::collections::HashMap<i32, u64>, sea_orm::DbErr>
where
    E: sea_orm::EntityTrait,
{
    use sea_orm::{ColumnTrait, QueryFilter, QuerySelect, sea_query::Expr};
    let rows: Vec<(i32, i64)> = E::find()
        .select_only()
        .column(parent)
        .column_as(Expr::cust("COUNT(*)"), "children")
        .filter(parent.is_in(parents.iter().copied()))
        .group_by(parent)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(parent, count)| (parent, u64::try_from(count).unwrap_or_default()))
        .collect())
}

/// How often a transaction that lost a race (deadlock, serialisation failure, busy SQLite) is tried again
/// before the error reaches the client.
const TRANSIENT_RETRIES: u32 = 8;

/// Runs `attempt` (one whole transaction) until it commits, fails for good, or has lost `TRANSIENT_RETRIES`
/// races. Between tries it waits a jittered, doubling pause (0.5 ms, 1 ms, … up to 64 ms, at most ~130 ms in
/// all), so that the transactions that collided do not collide again in lockstep.
pub async fn retry_transient<T, E, F, Fut>(mut attempt: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Result<T, E>, sea_orm::DbErr>>,
    E: From<sea_orm::DbErr>,
{
    let mut tries = 0;
    loop {
        match attempt().await {
            Ok(outcome) => return outcome,
            Err(error) if is_transient(&error) && tries < TRANSIENT_RETRIES => {
                tries += 1;
                tracing::debug!(%error, tries, "retrying a transaction that lost a race");
                let ceiling_micros = 500u64 << (tries - 1).min(7);
                let pause = rand::random_range(ceiling_micros / 2..=ceiling_micros);
                tokio::time::sleep(Duration::from_micros(pause)).await;
            }
            Err(error) => return Err(error.into()),
        }
    }
}
