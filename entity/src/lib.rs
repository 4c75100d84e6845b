//! SeaORM entities: the tables as plain data, with no GraphQL and no behaviour.

pub mod refresh_tokens;
pub mod users;
