use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PersistedQueries::Table)
                    // The SHA-256 of the query text in lower-case hex, as Apollo's protocol names it.
                    .col(string_len(PersistedQueries::Hash, 64).primary_key())
                    .col(text(PersistedQueries::Query))
                    .col(timestamp_with_time_zone(PersistedQueries::CreatedAt))
                    .to_owned(),
            )
            .await?;
        // The store keeps only its newest registrations; pruning walks this index from the newest down.
        manager
            .create_index(
                Index::create()
                    .name("idx_persisted_queries_created_at")
                    .table(PersistedQueries::Table)
                    .col(PersistedQueries::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PersistedQueries::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum PersistedQueries {
    Table,
    Hash,
    Query,
    CreatedAt,
}
