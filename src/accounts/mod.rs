//! Accounts and access: registration, login, token rotation, roles, and the limits on login and registration.

pub mod loaders;
pub mod model;
mod password;
mod rate_limit;
mod repo;
pub mod resolvers;
mod service;
mod tokens;

pub use model::{Caller, NewUser, ProfileChange, Role, User, parse_new_user};
pub use service::{AccountsService, AttemptLimits, AuthSession, Identity, IdentityError};
pub use tokens::{TokenError, Tokens};
