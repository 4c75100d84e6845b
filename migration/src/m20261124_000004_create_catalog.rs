use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261124_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Products::Table)
                    .col(pk_auto(Products::Id))
                    .col(string(Products::Name))
                    .col(integer(Products::PriceCents))
                    .col(integer(Products::InitialStock))
                    .col(integer(Products::Reserved).default(0))
                    .col(timestamp_with_time_zone(Products::CreatedAt))
                    .col(timestamp_with_time_zone(Products::UpdatedAt))
                    // The database itself refuses overselling, whatever the code does.
                    .check(Expr::col(Products::Reserved).between(0, Expr::col(Products::InitialStock)))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Reservations::Table)
                    .col(pk_auto(Reservations::Id))
                    .col(integer(Reservations::ProductId))
                    .col(integer(Reservations::UserId))
                    .col(integer(Reservations::Quantity))
                    .col(timestamp_with_time_zone(Reservations::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_reservations_product")
                            .from(Reservations::Table, Reservations::ProductId)
                            .to(Products::Table, Products::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_reservations_user")
                            .from(Reservations::Table, Reservations::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The per-parent loaders page each parent's reservations by id: (parent, id) makes that an index range.
        for (name, column) in [
            ("idx_reservations_product_id", Reservations::ProductId),
            ("idx_reservations_user_id", Reservations::UserId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Reservations::Table)
                        .col(column)
                        .col(Reservations::Id)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(Events::Table)
                    .col(pk_auto(Events::Id))
                    .col(string(Events::Name))
                    .col(timestamp_with_time_zone(Events::StartsAt))
                    .col(integer(Events::Capacity))
                    .col(integer(Events::AvailableSeats))
                    .col(boolean(Events::ReservationEnabled).default(true))
                    .col(timestamp_with_time_zone(Events::CreatedAt))
                    .col(timestamp_with_time_zone(Events::UpdatedAt))
                    .check(Expr::col(Events::AvailableSeats).between(0, Expr::col(Events::Capacity)))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SeatReservations::Table)
                    .col(pk_auto(SeatReservations::Id))
                    .col(integer(SeatReservations::EventId))
                    .col(integer(SeatReservations::UserId))
                    .col(timestamp_with_time_zone(SeatReservations::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_seat_reservations_event")
                            .from(SeatReservations::Table, SeatReservations::EventId)
                            .to(Events::Table, Events::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_seat_reservations_user")
                            .from(SeatReservations::Table, SeatReservations::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_seat_reservations_event_id")
                    .table(SeatReservations::Table)
                    .col(SeatReservations::EventId)
                    .col(SeatReservations::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            SeatReservations::Table.into_iden(),
            Events::Table.into_iden(),
            Reservations::Table.into_iden(),
            Products::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Products {
    Table,
    Id,
    Name,
    PriceCents,
    InitialStock,
    Reserved,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Reservations {
    Table,
    Id,
    ProductId,
    UserId,
    Quantity,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    Name,
    StartsAt,
    Capacity,
    AvailableSeats,
    ReservationEnabled,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SeatReservations {
    Table,
    Id,
    EventId,
    UserId,
    CreatedAt,
}
