//! Things people reserve: products with stock, which reservations take atomically and give back when cancelled.

pub mod loaders;
pub mod model;
mod repo;
pub mod resolvers;
mod service;

pub use model::{NewProduct, Product, Reservation};
pub use resolvers::reservations_of_user;
pub use service::CatalogService;
