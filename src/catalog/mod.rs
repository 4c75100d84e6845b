//! Things people reserve: products with stock, and events with seats. Reservations take stock atomically; seats
//! are taken by queued jobs (`seats`).

pub mod loaders;
pub mod model;
mod repo;
pub mod resolvers;
mod seats;
mod service;

pub use model::{Event, NewEvent, NewProduct, Product, Reservation, SeatReservation};
pub use resolvers::reservations_of_user;
pub use seats::{SeatJobs, SeatsService};
pub use service::CatalogService;
