use sea_orm::entity::prelude::*;

/// A unit of background work. `payload`, `result` and `error_args` hold JSON text; `version` grows with every
/// change, so subscribers can order what they see.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub kind: String,
    pub state: String,
    pub payload: String,
    pub result: Option<String>,
    pub progress: i32,
    pub attempts: i32,
    pub max_attempts: i32,
    pub priority: i32,
    pub run_at: DateTimeUtc,
    pub lease_token: Option<String>,
    pub lease_expires_at: Option<DateTimeUtc>,
    pub heartbeat_at: Option<DateTimeUtc>,
    pub cancel_requested: bool,
    pub error_id: Option<String>,
    pub error_args: Option<String>,
    pub owner_id: Option<i32>,
    pub version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::OwnerId",
        to = "super::users::Column::Id",
        on_delete = "Cascade"
    )]
    Owner,
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Owner.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
