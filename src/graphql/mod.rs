//! The GraphQL toolkit every domain's resolvers use, naming no domain: connections, per-request context and
//! loaders, guards, global ids, the document budget and cache, and the one mapping of errors to codes.

pub mod children;
pub mod connection;
pub mod context;
pub mod documents;
pub mod errors;
pub mod guards;
pub mod ids;
pub mod limits;
mod loaders;

pub use context::RequestContext;
pub(crate) use loaders::by_id_loader;
pub use loaders::{Loaders, ParentPage, RequestLoader, load_many, load_one, load_page};
