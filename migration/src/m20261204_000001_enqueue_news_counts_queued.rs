//! The enqueue notification also says how many of the inserted jobs were written queued: `[first, last, queued]`.
//! A job written claimed (handed to its enqueuer's worker, `src/jobs/handoff.rs`) gives no worker anything to
//! claim, and waking every worker of every process for it cost each one a claim that found nothing.

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

use crate::m20261202_000001_create_jobs::NOTIFY_TRIGGERS;

#[derive(DeriveMigrationName)]
pub struct Migration;

const NOTIFY_INSERT: &str = r#"CREATE OR REPLACE FUNCTION alx_jobs_notify_insert() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE first_id integer; last_id integer; queued integer;
    BEGIN
      SELECT min(id), max(id), count(*) FILTER (WHERE state = 'QUEUED') INTO first_id, last_id, queued FROM inserted;
      IF first_id IS NOT NULL THEN
        PERFORM pg_notify('alx_jobs', json_build_object('enqueued', json_build_array(first_id, last_id, queued))::text);
      END IF;
      RETURN NULL;
    END $$"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            manager.get_connection().execute_unprepared(NOTIFY_INSERT).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            let previous = NOTIFY_TRIGGERS[0].replacen("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1);
            manager.get_connection().execute_unprepared(&previous).await?;
        }
        Ok(())
    }
}
