use sea_orm::entity::prelude::*;

/// The one row that describes the imported dataset as a whole.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "baby_names_dataset")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    /// Rows in the imported file, bad ones included: one more than the largest `index` a file has given out.
    pub size: i32,
    /// Raised by every import batch and every deletion.
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
