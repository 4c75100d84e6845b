use sea_orm_migration::{prelude::*, schema::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut first_name_lower = string(BabyNames::FirstNameLower);
        if manager.get_database_backend() == DbBackend::Postgres {
            // Name filters compare ranges of this column (a prefix is `>= 'ab' AND < 'ac'`), which holds only in
            // code-point order; SQLite compares bytes already, PostgreSQL would follow the database's locale.
            first_name_lower.extra("COLLATE \"C\"");
        }
        manager
            .create_table(
                Table::create()
                    .table(BabyNames::Table)
                    .col(pk_auto(BabyNames::Id))
                    .col(integer_uniq(BabyNames::Index))
                    .col(integer(BabyNames::YearOfBirth))
                    .col(string_len(BabyNames::Gender, 8))
                    .col(string_len(BabyNames::Ethnicity, 32))
                    .col(string(BabyNames::FirstName))
                    .col(first_name_lower)
                    .col(integer(BabyNames::Count))
                    .col(integer(BabyNames::Rank))
                    .to_owned(),
            )
            .await?;
        // Each index serves a keyset ordering (the column, then `index` as the tie-breaker) and the equality or
        // range filter on its first column. Gender and ethnicity get none: each value covers a quarter to a half of
        // the rows, so walking the `index` order and skipping non-matching rows is as fast as an index would be.
        for (name, column) in [
            ("idx_baby_names_year_index", BabyNames::YearOfBirth),
            ("idx_baby_names_name_index", BabyNames::FirstNameLower),
            ("idx_baby_names_count_index", BabyNames::Count),
            ("idx_baby_names_rank_index", BabyNames::Rank),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(BabyNames::Table)
                        .col(column)
                        .col(BabyNames::Index)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(BabyNamesDataset::Table)
                    .col(integer(BabyNamesDataset::Id).primary_key())
                    .col(integer(BabyNamesDataset::Size).default(0))
                    .col(big_integer(BabyNamesDataset::Version).default(0))
                    .to_owned(),
            )
            .await?;
        let mut row = Query::insert();
        row.into_table(BabyNamesDataset::Table)
            .columns([BabyNamesDataset::Id, BabyNamesDataset::Size, BabyNamesDataset::Version])
            .values([1.into(), 0.into(), 0i64.into()])
            .map_err(|error| DbErr::Migration(error.to_string()))?;
        manager.exec_stmt(row).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(BabyNamesDataset::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(BabyNames::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum BabyNames {
    Table,
    Id,
    Index,
    YearOfBirth,
    Gender,
    Ethnicity,
    FirstName,
    FirstNameLower,
    Count,
    Rank,
}

#[derive(DeriveIden)]
enum BabyNamesDataset {
    Table,
    Id,
    Size,
    Version,
}
