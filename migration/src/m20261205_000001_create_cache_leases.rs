use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The servers holding a read lease on the response cache's freshness (src/freshness/lease.rs), one row per lease
/// connection, named by its backend's pid and start time (a pid alone may be reused). A writer reads it to tell a
/// lease given back from one lost with its connection. PostgreSQL only: on SQLite the one server watches the
/// wal-index instead.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE TABLE cache_leases (pid INTEGER NOT NULL, started TIMESTAMPTZ NOT NULL, \
                 PRIMARY KEY (pid, started))",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE cache_leases")
            .await?;
        Ok(())
    }
}
