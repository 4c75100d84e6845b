//! Logs and metrics: a tracing subscriber (pretty or JSON) and the process-wide Prometheus recorder.

use std::{cell::RefCell, collections::HashMap, sync::OnceLock, time::Duration};

use metrics::{Counter, Histogram};
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

// Metric handles by label values, kept per thread. `metrics::counter!` with labels known only at run time builds,
// hashes and looks up its key in the global registry on every call: about 8 % of the instructions of a
// `{ __typename }` request (callgrind). A handle, once found, is an atomic add. The labels are bounded (routes,
// methods and statuses; operation labels are capped by `graphql::operation_label`), so the maps stay small.
type CountAndDuration = (Counter, Histogram);
/// (route, method, status) → handles; hashed with foldhash rather than SipHash, which took a third of the cost of
/// recording a cached answer's request.
type HttpHandles = HashMap<(&'static str, &'static str, u16), CountAndDuration, foldhash::fast::RandomState>;
/// Operation label → handles for `ok` and for `error`.
type GraphqlHandles = HashMap<String, [CountAndDuration; 2]>;

thread_local! {
    static HTTP_HANDLES: RefCell<HttpHandles> = RefCell::new(HttpHandles::default());
    static GRAPHQL_HANDLES: RefCell<GraphqlHandles> = RefCell::new(HashMap::new());
}

/// Counts one answered HTTP request and its duration.
pub fn record_http_request(method: &'static str, route: &'static str, status: u16, seconds: f64) {
    HTTP_HANDLES.with_borrow_mut(|handles| {
        let (requests, duration) = handles.entry((route, method, status)).or_insert_with(|| {
            (
                metrics::counter!("http_requests_total", "method" => method, "route" => route, "status" => status.to_string()),
                metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route),
            )
        });
        requests.increment(1);
        duration.record(seconds);
    });
}

/// Counts one GraphQL operation by its label and outcome, and its duration.
pub fn record_graphql_operation(operation: &str, ok: bool, seconds: f64) {
    GRAPHQL_HANDLES.with_borrow_mut(|operations| {
        let record = |[ok_handles, error_handles]: &[CountAndDuration; 2]| {
            let (count, duration) = if ok { ok_handles } else { error_handles };
            count.increment(1);
            duration.record(seconds);
        };
        // One lookup for a label seen before; the label is copied only the first time.
        if let Some(handles) = operations.get(operation) {
            return record(handles);
        }
        let handles = |outcome: &'static str| {
            (
                metrics::counter!("graphql_operations_total", "operation" => operation.to_string(), "outcome" => outcome),
                metrics::histogram!("graphql_operation_duration_seconds", "operation" => operation.to_string()),
            )
        };
        record(operations.entry(operation.to_string()).or_insert([handles("ok"), handles("error")]));
    });
}

/// The statement counter's handle; see `record_http_request` for why handles are kept.
pub fn db_statements() -> &'static Counter {
    static STATEMENTS: OnceLock<Counter> = OnceLock::new();
    STATEMENTS.get_or_init(|| {
        metrics_handle();
        metrics::counter!("db_statements_total")
    })
}
