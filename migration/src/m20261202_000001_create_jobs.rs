use sea_orm_migration::{prelude::*, schema::*, sea_orm::DatabaseBackend};

use crate::m20261124_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Jobs::Table)
                    .col(pk_auto(Jobs::Id))
                    .col(string(Jobs::Kind))
                    .col(string(Jobs::State))
                    .col(text(Jobs::Payload))
                    .col(text_null(Jobs::Result))
                    .col(integer(Jobs::Progress).default(0))
                    .col(integer(Jobs::Attempts).default(0))
                    .col(integer(Jobs::MaxAttempts))
                    .col(integer(Jobs::Priority).default(0))
                    .col(timestamp_with_time_zone(Jobs::RunAt))
                    .col(string_null(Jobs::LeaseToken))
                    .col(timestamp_with_time_zone_null(Jobs::LeaseExpiresAt))
                    .col(timestamp_with_time_zone_null(Jobs::HeartbeatAt))
                    .col(boolean(Jobs::CancelRequested).default(false))
                    .col(string_null(Jobs::ErrorId))
                    .col(text_null(Jobs::ErrorArgs))
                    .col(integer_null(Jobs::OwnerId))
                    .col(big_integer(Jobs::Version).default(1))
                    .col(timestamp_with_time_zone(Jobs::CreatedAt))
                    .col(timestamp_with_time_zone(Jobs::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Jobs::StartedAt))
                    .col(timestamp_with_time_zone_null(Jobs::FinishedAt))
                    .check(Expr::col(Jobs::Progress).between(0, 100))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_jobs_owner")
                            .from(Jobs::Table, Jobs::OwnerId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        // Partial indexes (both engines have them): the claim reads only ready jobs in claim order, the rescuer
        // only active leases, the pruner only finished jobs; each index stays as small as its queue.
        for statement in [
            "CREATE INDEX idx_jobs_ready ON jobs (priority, run_at, id) WHERE state = 'QUEUED'",
            "CREATE INDEX idx_jobs_leases ON jobs (lease_expires_at) WHERE state = 'ACTIVE'",
            "CREATE INDEX idx_jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL",
            "CREATE INDEX idx_jobs_owner ON jobs (owner_id, id)",
            "CREATE INDEX idx_jobs_kind_state ON jobs (kind, state, id)",
            // A seat names the job that took it, once: a job run twice cannot take two seats.
            "ALTER TABLE seat_reservations ADD COLUMN job_id INTEGER",
            "CREATE UNIQUE INDEX idx_seat_reservations_job_id ON seat_reservations (job_id)",
        ] {
            db.execute_unprepared(statement).await?;
        }
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            for statement in NOTIFY_TRIGGERS {
                db.execute_unprepared(statement).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            db.execute_unprepared("DROP TRIGGER jobs_notify_insert ON jobs; DROP TRIGGER jobs_notify_update ON jobs")
                .await?;
            db.execute_unprepared("DROP FUNCTION alx_jobs_notify_insert(); DROP FUNCTION alx_jobs_notify_update()")
                .await?;
        }
        db.execute_unprepared("DROP INDEX idx_seat_reservations_job_id").await?;
        db.execute_unprepared("ALTER TABLE seat_reservations DROP COLUMN job_id")
            .await?;
        manager.drop_table(Table::drop().table(Jobs::Table).to_owned()).await
    }
}

/// The jobs table tells the bus (`src/bus.rs`, channel `alx_jobs`) about every change, from inside the writing
/// transaction, so the news is delivered exactly when the change commits, whichever process wrote it. Statement
/// triggers send one notification per statement: an enqueue of 1,000 jobs says only its id range. The wire format
/// is read by `src/jobs/events.rs`; a changed row leaves out the payload (it never changes) and the lease.
pub const NOTIFY_TRIGGERS: [&str; 4] = [
    r#"CREATE FUNCTION alx_jobs_notify_insert() RETURNS trigger LANGUAGE plpgsql AS $$
       DECLARE first_id integer; last_id integer;
       BEGIN
         SELECT min(id), max(id) INTO first_id, last_id FROM inserted;
         IF first_id IS NOT NULL THEN
           PERFORM pg_notify('alx_jobs', json_build_object('enqueued', json_build_array(first_id, last_id))::text);
         END IF;
         RETURN NULL;
       END $$"#,
    "CREATE TRIGGER jobs_notify_insert AFTER INSERT ON jobs REFERENCING NEW TABLE AS inserted \
     FOR EACH STATEMENT EXECUTE FUNCTION alx_jobs_notify_insert()",
    r#"CREATE FUNCTION alx_jobs_notify_update() RETURNS trigger LANGUAGE plpgsql AS $$
       DECLARE row_text text; batch text := '';
       BEGIN
         FOR row_text IN
           SELECT (to_jsonb(n) - 'payload' - 'lease_token' - 'lease_expires_at' - 'heartbeat_at')::text
           FROM new_rows n JOIN old_rows o ON o.id = n.id
           WHERE n.version <> o.version
           ORDER BY n.id
         LOOP
           IF batch <> '' AND octet_length(batch) + octet_length(row_text) > 6000 THEN
             PERFORM pg_notify('alx_jobs', '{"changed":[' || batch || ']}');
             batch := '';
           END IF;
           batch := CASE WHEN batch = '' THEN row_text ELSE batch || ',' || row_text END;
         END LOOP;
         IF batch <> '' THEN
           PERFORM pg_notify('alx_jobs', '{"changed":[' || batch || ']}');
         END IF;
         RETURN NULL;
       END $$"#,
    "CREATE TRIGGER jobs_notify_update AFTER UPDATE ON jobs REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows \
     FOR EACH STATEMENT EXECUTE FUNCTION alx_jobs_notify_update()",
];

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    Kind,
    State,
    Payload,
    Result,
    Progress,
    Attempts,
    MaxAttempts,
    Priority,
    RunAt,
    LeaseToken,
    LeaseExpiresAt,
    HeartbeatAt,
    CancelRequested,
    ErrorId,
    ErrorArgs,
    OwnerId,
    Version,
    CreatedAt,
    UpdatedAt,
    StartedAt,
    FinishedAt,
}
