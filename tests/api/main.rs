//! The API as clients see it: the real app on 127.0.0.1:0, a fresh database per test (SQLite, or PostgreSQL
//! when `TEST_DATABASE_URL` is set).

mod abuse;
mod accounts;
mod budget;
mod catalog;
mod helpers;
mod http;
mod i18n;
mod identity;
mod inputs;
mod job_processes;
mod jobs;
mod names;
mod persisted;
mod processes;
mod protections;
mod read_lease;
mod response_cache;
mod schema;
mod server;
mod websocket;
