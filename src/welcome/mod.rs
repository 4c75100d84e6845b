//! The welcome message: the smallest use of every i18n piece (translation, locale and zone resolution, ICU4X
//! formatting), and what a frontend shows first.

pub mod resolvers;
mod service;

pub use service::{Welcome, WelcomeService};
