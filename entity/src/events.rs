use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub name: String,
    pub starts_at: DateTimeUtc,
    pub capacity: i32,
    pub available_seats: i32,
    pub reservation_enabled: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::seat_reservations::Entity")]
    SeatReservations,
}

impl Related<super::seat_reservations::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SeatReservations.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
