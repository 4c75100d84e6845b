//! Logs and metrics: a tracing subscriber (pretty or JSON) and the process-wide Prometheus recorder.

use std::{sync::OnceLock, time::Duration};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sea_orm::{DatabaseConnection, DbBackend};
use tracing_subscriber::{EnvFilter, fmt};

use crate::config::LogFormat;

/// Installs the log subscriber; a second call (tests start many apps in one process) keeps the first.
pub fn init_logging(format: LogFormat, filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _already_installed = match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}

/// Upper bounds of the latency histograms, in seconds: from a cached field to the request timeout.
const LATENCY_BUCKETS: &[f64] = &[
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// How often recorded samples are folded into the histograms whether or not anyone scrapes `/metrics`.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The Prometheus recorder is global to the process; every app in it shares this handle.
///
/// Histograms have buckets rather than quantiles so that the figures of several `serve` processes add up in
/// Prometheus. The recorder keeps every raw sample until it is folded in, which it does only on a scrape or an
/// upkeep: without the upkeep thread a server nobody scrapes grew by about 2 MB a second under load.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets(LATENCY_BUCKETS)
                .expect("the bucket list is not empty")
                .install_recorder()
                .expect("no other metrics recorder is installed");
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP_EVERY);
                        upkeep.run_upkeep();
                    }
                })
                .expect("a thread can be started at start-up");
            handle
        })
        .clone()
}

/// The pool's size and idle connections, read at scrape time.
pub fn record_pool_gauges(db: &DatabaseConnection) {
    let (size, idle) = match db.get_database_backend() {
        DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle())
        }
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle())
        }
        _ => return,
    };
    metrics::gauge!("db_pool_connections").set(f64::from(size));
    metrics::gauge!("db_pool_idle_connections").set(idle as f64);
}
