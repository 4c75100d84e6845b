use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// What the response cache needs to never serve stale answers (src/freshness/mod.rs): one counter that every
/// invalidating write increments under its row lock (so invalidations commit in counter order), and per tag the
/// counter value of its last change. The table of tags stays as small as the set of tags (a type name each).
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let bigint = if manager.get_database_backend() == DatabaseBackend::Postgres {
            "BIGINT"
        } else {
            "INTEGER"
        };
        for statement in [
            format!("CREATE TABLE cache_epoch (id INTEGER PRIMARY KEY CHECK (id = 1), epoch {bigint} NOT NULL)"),
            "INSERT INTO cache_epoch (id, epoch) VALUES (1, 0)".to_string(),
            format!("CREATE TABLE cache_tags (tag VARCHAR(64) PRIMARY KEY, epoch {bigint} NOT NULL)"),
            "CREATE INDEX idx_cache_tags_epoch ON cache_tags (epoch)".to_string(),
        ] {
            db.execute_unprepared(&statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP TABLE cache_tags").await?;
        db.execute_unprepared("DROP TABLE cache_epoch").await?;
        Ok(())
    }
}
