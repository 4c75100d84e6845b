//! The jobs table's update notification: the same news for less than half the cost. The function that
//! `m20261202_000001_create_jobs` installed took more than half of PostgreSQL's CPU per job in issue 12's drain
//! benchmark, and was quadratic in the rows of a statement (`bench/README.md`, "Job queue").
//!
//! - Its join of the statement's old and new rows ran as a nested loop: PL/pgSQL plans the query once per
//!   connection, and a first call with one row plans for one row, so a later 500-row completion compared every
//!   row with every other. The function now runs with nested loops off: a hash join, linear in the rows.
//! - Each row was built by `to_jsonb` of the whole row (payload included) and four key deletions, then appended
//!   in a PL/pgSQL loop; `json_build_object` of the columns the news carries, grouped into notifications by
//!   one SQL aggregate, writes the same JSON keys for less.
//!
//! The wire format (`src/jobs/events.rs`) is unchanged: an object per row with the same keys, the lease and the
//! payload left out, rows in id order; each notification holds at most 4,000 bytes plus one row.

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

use crate::m20261202_000001_create_jobs::NOTIFY_TRIGGERS;

#[derive(DeriveMigrationName)]
pub struct Migration;

const NOTIFY_UPDATE: &str = r#"CREATE OR REPLACE FUNCTION alx_jobs_notify_update() RETURNS trigger
    LANGUAGE plpgsql SET enable_nestloop = off AS $$
    BEGIN
      PERFORM pg_notify('alx_jobs', '{"changed":[' || string_agg(row_text, ',' ORDER BY id) || ']}')
      FROM (
        SELECT id, row_text, sum(octet_length(row_text)) OVER (ORDER BY id) / 4000 AS notification
        FROM (
          SELECT n.id, json_build_object(
              'id', n.id, 'kind', n.kind, 'state', n.state, 'result', n.result, 'progress', n.progress,
              'attempts', n.attempts, 'max_attempts', n.max_attempts, 'priority', n.priority, 'run_at', n.run_at,
              'cancel_requested', n.cancel_requested, 'error_id', n.error_id, 'error_args', n.error_args,
              'owner_id', n.owner_id, 'version', n.version, 'created_at', n.created_at, 'updated_at', n.updated_at,
              'started_at', n.started_at, 'finished_at', n.finished_at)::text AS row_text
          FROM new_rows n JOIN old_rows o ON o.id = n.id
          WHERE n.version <> o.version
        ) changed
      ) numbered
      GROUP BY notification
      ORDER BY notification;
      RETURN NULL;
    END $$"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            manager.get_connection().execute_unprepared(NOTIFY_UPDATE).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            let db = manager.get_connection();
            db.execute_unprepared("ALTER FUNCTION alx_jobs_notify_update() RESET ALL")
                .await?;
            let previous = NOTIFY_TRIGGERS[2].replacen("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1);
            db.execute_unprepared(&previous).await?;
        }
        Ok(())
    }
}
