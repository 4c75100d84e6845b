//! Events with seats. Admins create and change events; seats are taken by queued jobs (`seats`), so a job run
//! twice still takes one seat.

pub mod loaders;
pub mod model;
mod repo;
pub mod resolvers;
mod seats;
mod service;

pub use model::{Event, NewEvent, SeatReservation};
pub use seats::{SeatJobs, SeatsService};
pub use service::EventsService;
