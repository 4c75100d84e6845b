//! SeaORM entities: the tables as plain data, with no GraphQL and no behaviour.

pub mod baby_names;
pub mod baby_names_dataset;
pub mod events;
pub mod jobs;
pub mod persisted_queries;
pub mod products;
pub mod refresh_tokens;
pub mod reservations;
pub mod seat_reservations;
pub mod users;
