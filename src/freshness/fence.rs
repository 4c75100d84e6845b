//! What a write does before it commits so that no cached answer outlives it: it moves the epoch and its tags, and
//! on PostgreSQL it takes back every server's read lease (see `lease`) so that none trusts its cache across the
//! commit.

use std::{sync::Arc, time::Duration};

use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, FromQueryResult, Statement, Value,
    sqlx::{
        self, ConnectOptions,
        postgres::{PgConnectOptions, PgConnection},
    },
};
use tokio::sync::Mutex;

use super::{
    Tags, Touched,
    lease::{BREAK_KEY, LEASE_KEY, LEASE_TTL, RELEASED},
    sqlx_error,
};
use crate::{bus::Channel, db};

/// How long a writer waits for the leases to be given back before it ends the sessions still holding them: a
/// server that cannot answer in this time (stopped, its runtime starved, its bus cut) must not hold writes up.
const GIVE_BACK_LIMIT: Duration = Duration::from_secs(2);
/// How long asking may take (a connection may have to be opened, or a kept one may have died silently). Safety
/// does not depend on the request arriving: a lease not given back is ended after `GIVE_BACK_LIMIT`.
const ASK_LIMIT: Duration = Duration::from_secs(1);

/// Ends the lease sessions still holding `LEASE_KEY` (other than this one), in this database.
const END_HOLDERS: &str = "SELECT pg_terminate_backend(pid) FROM pg_locks \
     WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid() \
     AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
     AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 1";

/// Counts the registered leases not known to be given back, and forgets those whose session is gone: a session
/// gone, or still there but saying it holds the lease although this writer has it (it is being ended), may have
/// lost the lease without its server knowing. One statement, so that the registrations and the sessions are read
/// together: PostgreSQL reads `pg_stat_activity` once per transaction (until `pg_stat_clear_snapshot`), and a
/// lease registered after that read must not be taken for a lost one. A session of another role shows no start
/// time to a writer without `pg_read_all_stats`; its pid alone identifies it then, and it is never taken for lost.
const UNSURE_LEASES: &str = "WITH lost AS (DELETE FROM cache_leases l WHERE NOT EXISTS \
     (SELECT 1 FROM pg_stat_activity a WHERE a.pid = l.pid \
     AND (a.backend_start = l.started OR a.backend_start IS NULL)) RETURNING 1) \
     SELECT (SELECT count(*) FROM lost) + (SELECT count(*) FROM cache_leases l \
     JOIN pg_stat_activity a ON a.pid = l.pid AND (a.backend_start = l.started OR a.backend_start IS NULL) \
     WHERE a.application_name IS DISTINCT FROM $1) AS unsure";

/// What every write that changes cacheable data calls last, inside its transaction (see `touch`). One per process,
/// shared by its services.
#[derive(Clone)]
pub struct Invalidations {
    /// On PostgreSQL: a connection outside any transaction (and outside the pool, which writers waiting on the
    /// epoch's row lock may hold entirely), to ask for the leases while the write's own transaction waits for them;
    /// a notification sent from inside it would be delivered only at its commit.
    requests: Option<Arc<Requests>>,
}

struct Requests {
    options: Arc<PgConnectOptions>,
    connection: Mutex<Option<PgConnection>>,
}

#[derive(FromQueryResult)]
struct Epoch {
    epoch: i64,
}

#[derive(FromQueryResult)]
struct Unsure {
    unsure: i64,
}

impl Invalidations {
    pub fn new(db: &DatabaseConnection) -> Self {
        let requests = (db.get_database_backend() == DatabaseBackend::Postgres).then(|| {
            Arc::new(Requests {
                options: db.get_postgres_connection_pool().connect_options(),
                connection: Mutex::new(None),
            })
        });
        Self { requests }
    }

    /// Records, inside the writing transaction `txn`, that it changes the data of `tags`. Call it last, just before
    /// the commit: the epoch's row lock then lasts only for the commit (writers of unrelated rows queue on it that
    /// long, not for their whole transaction), and whatever a transaction does after taking it (its commit, or a
    /// seat job's fenced completion of its own job row) waits on no other toucher, so it cannot deadlock. On
    /// PostgreSQL it returns once no server trusts its cache any more; they trust again after the commit.
    pub async fn touch(&self, txn: &impl ConnectionTrait, tags: Tags) -> Result<(), DbErr> {
        let backend = txn.get_database_backend();
        let epoch = Epoch::find_by_statement(Statement::from_string(
            backend,
            "UPDATE cache_epoch SET epoch = epoch + 1 WHERE id = 1 RETURNING epoch",
        ))
        .one(txn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("cache_epoch".into()))?
        .epoch;
        let names: Vec<&str> = tags.names().collect();
        for name in &names {
            let sql = if backend == DatabaseBackend::Postgres {
                "INSERT INTO cache_tags (tag, epoch) VALUES ($1, $2) ON CONFLICT (tag) DO UPDATE SET epoch = EXCLUDED.epoch"
            } else {
                "INSERT INTO cache_tags (tag, epoch) VALUES (?, ?) ON CONFLICT (tag) DO UPDATE SET epoch = excluded.epoch"
            };
            run(txn, sql, [(*name).into(), epoch.into()]).await?;
        }
        if backend == DatabaseBackend::Postgres {
            let payload = serde_json::to_string(&Touched {
                epoch,
                tags: names.iter().map(|name| name.to_string()).collect(),
            })
            .unwrap_or_default();
            run(
                txn,
                "SELECT pg_notify($1, $2)",
                [Channel::Cache.name().into(), payload.into()],
            )
            .await?;
            if let Some(requests) = &self.requests {
                requests.take_back_leases(txn, epoch).await?;
            }
        }
        Ok(())
    }
}

impl Requests {
    /// Holds `LEASE_KEY` exclusively until `txn` commits, which no server can trust through: each gives its lease
    /// back when asked, after it stops trusting. A lease that may have been lost rather than given back is waited
    /// out (`LEASE_TTL`), since its server may still trust until then.
    async fn take_back_leases(&self, txn: &impl ConnectionTrait, epoch: i64) -> Result<(), DbErr> {
        let mut ended_holders = false;
        if !try_lock_fresh(txn).await? {
            // `BREAK_KEY` is taken before asking: a server that gave its lease back waits for this commit before
            // taking it again. The savepoint is for the timed wait that follows the request. (Several statements in
            // one round trip: a write waits for all of them under the epoch's row lock.)
            txn.execute_unprepared(&format!(
                "SELECT pg_advisory_xact_lock({BREAK_KEY}); SAVEPOINT alx_lease; \
                 SET LOCAL lock_timeout = {}",
                GIVE_BACK_LIMIT.as_millis()
            ))
            .await?;
            match tokio::time::timeout(ASK_LIMIT, self.ask(epoch)).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    tracing::warn!(%error, "cannot ask the servers for their read leases; they will be ended");
                }
                Err(_) => tracing::warn!("asking the servers for their read leases timed out; they will be ended"),
            }
            ended_holders = lock_or_end_holders(txn).await?;
        }
        let unsure = Unsure::find_by_statement(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            UNSURE_LEASES,
            [RELEASED.into()],
        ))
        .one(txn)
        .await?
        .map_or(0, |row| row.unsure);
        if ended_holders || unsure > 0 {
            metrics::counter!("response_cache_lease_waits_total").increment(1);
            tracing::info!(
                unsure,
                "a read lease may have been lost without being given back; waiting it out"
            );
            tokio::time::sleep(LEASE_TTL).await;
        }
        Ok(())
    }

    /// Tells every server a writer wants the leases, from outside the writer's transaction. The kept connection is
    /// taken out while in use, so that one dropped mid-statement (by `ASK_LIMIT`) is not used again.
    async fn ask(&self, epoch: i64) -> Result<(), DbErr> {
        let mut kept = self.connection.lock().await;
        // A kept connection may have been closed since its last use (a restart, an idle timeout): one more try on a
        // new connection.
        let mut tries = 2;
        loop {
            let mut connection = match kept.take() {
                Some(connection) => connection,
                None => self.options.connect().await.map_err(sqlx_error)?,
            };
            let sent = sqlx::query("SELECT pg_notify($1, $2)")
                .bind(Channel::Lease.name())
                .bind(epoch.to_string())
                .execute(&mut connection)
                .await;
            tries -= 1;
            match sent {
                Ok(_) => {
                    *kept = Some(connection);
                    return Ok(());
                }
                Err(error) if tries == 0 => return Err(sqlx_error(error)),
                Err(_) => {}
            }
        }
    }
}

/// Takes `LEASE_KEY` if no server holds it; and forgets this transaction's view of `pg_stat_activity`, if it has
/// one: a transaction that touches twice would otherwise see the sessions as they were at its first touch.
async fn try_lock_fresh(txn: &impl ConnectionTrait) -> Result<bool, DbErr> {
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_try_advisory_xact_lock($1) AS taken FROM pg_stat_clear_snapshot()",
            [LEASE_KEY.into()],
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("pg_try_advisory_xact_lock".into()))?;
    row.try_get("", "taken")
}

/// Waits for the servers to give `LEASE_KEY` back, `GIVE_BACK_LIMIT` at a time (in the savepoint the caller
/// opened, with the timeout set); after each wait in vain, ends the sessions still holding it (a shared request
/// queued behind this one may have been granted meanwhile, so it waits again). True if it had to end any.
async fn lock_or_end_holders(txn: &impl ConnectionTrait) -> Result<bool, DbErr> {
    let mut ended = false;
    loop {
        match run(txn, "SELECT pg_advisory_xact_lock($1)", [LEASE_KEY.into()]).await {
            Ok(()) => {
                txn.execute_unprepared("RELEASE SAVEPOINT alx_lease; SET LOCAL lock_timeout TO DEFAULT")
                    .await?;
                return Ok(ended);
            }
            Err(error) if db::error_code(&error).as_deref() == Some("55P03") => {
                // Rolling back to the savepoint also undoes the timeout.
                txn.execute_unprepared("ROLLBACK TO SAVEPOINT alx_lease").await?;
                metrics::counter!("response_cache_lease_holders_ended_total").increment(1);
                tracing::warn!("servers did not give their read lease back in time; ending their lease sessions");
                run(
                    txn,
                    END_HOLDERS,
                    [(LEASE_KEY >> 32).into(), (LEASE_KEY & 0xffff_ffff).into()],
                )
                .await?;
                txn.execute_unprepared(&format!("SET LOCAL lock_timeout = {}", GIVE_BACK_LIMIT.as_millis()))
                    .await?;
                ended = true;
            }
            Err(error) => return Err(error),
        }
    }
}

async fn run<const N: usize>(txn: &impl ConnectionTrait, sql: &str, values: [Value; N]) -> Result<(), DbErr> {
    txn.execute_raw(Statement::from_sql_and_values(txn.get_database_backend(), sql, values))
        .await
        .map(|_| ())
}
