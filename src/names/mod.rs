//! The "Popular Baby Names" dataset: its CSV import and three ways to page through it (page numbers, a
//! deletion-resilient start index, Relay cursors).

pub mod import;
pub mod loaders;
pub mod model;
mod repo;
pub mod resolvers;
mod service;

pub use import::{BadRow, HEADER, NamesCsv};
pub use model::{BabyName, Ethnicity, Gender, NameFilter, NameOrder};
pub use service::{IMPORT_BATCH_ROWS, ImportEvent, ImportSummary, NamesService};
