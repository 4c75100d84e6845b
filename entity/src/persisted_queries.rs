use sea_orm::entity::prelude::*;

/// A document registered through automatic persisted queries, shared by every instance on the database.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "persisted_queries")]
pub struct Model {
    /// The SHA-256 of `query`, lower-case hex.
    #[sea_orm(primary_key, auto_increment = false)]
    pub hash: String,
    #[sea_orm(column_type = "Text")]
    pub query: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
