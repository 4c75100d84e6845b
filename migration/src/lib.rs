//! The schema's history: one file per migration, shared by SQLite and PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod m20261124_000001_create_users;
mod m20261124_000002_create_refresh_tokens;
mod m20261124_000003_create_baby_names;
mod m20261124_000004_create_catalog;
mod m20261202_000001_create_jobs;
mod m20261202_000002_create_cache_tags;
mod m20261202_120000_create_persisted_queries;
mod m20261203_000001_job_notify_in_one_query;
mod m20261204_000001_enqueue_news_counts_queued;
mod m20261205_000001_create_cache_leases;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_create_users::Migration),
            Box::new(m20261124_000002_create_refresh_tokens::Migration),
            Box::new(m20261124_000003_create_baby_names::Migration),
            Box::new(m20261124_000004_create_catalog::Migration),
            Box::new(m20261202_000001_create_jobs::Migration),
            Box::new(m20261202_000002_create_cache_tags::Migration),
            Box::new(m20261202_120000_create_persisted_queries::Migration),
            Box::new(m20261203_000001_job_notify_in_one_query::Migration),
            Box::new(m20261204_000001_enqueue_news_counts_queued::Migration),
            Box::new(m20261205_000001_create_cache_leases::Migration),
        ]
    }
}
