//! Typed settings: defaults < `alx-backend.toml` < environment (`DATABASE_URL`, `ALX_*`), validated once at start.
//! Besides its own types it names only the cache toolkit's policy and capacity, which parse themselves.

use std::{
    collections::BTreeMap,
    net::{IpAddr, SocketAddr},
    num::NonZeroUsize,
    path::PathBuf,
    time::Duration,
};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use ipnet::IpNet;
use secrecy::SecretString;
use serde::{Deserialize, Deserializer, Serialize};

use crate::{
    cache::{Admission, Capacity, Policy, UnknownAdmission, UnknownPolicy},
    freshness::FreshnessMode,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Development,
    Production,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

/// The settings exactly as a user writes them; `Settings::from_raw` checks and types them.
#[derive(Debug, Serialize, Deserialize)]
struct RawSettings {
    database_url: String,
    listen: String,
    metrics_listen: Option<String>,
    env: Environment,
    jwt_secret: Option<String>,
    jwt_secret_file: PathBuf,
    log_format: Option<LogFormat>,
    log: String,
    cors_origins: Option<String>,
    blocked_phone_numbers: String,
    notification_webhook: Option<String>,
    worker_concurrency: usize,
    worker_listen: Option<String>,
    job_retention: String,
    job_lease_secs: u64,
    job_poll_interval_ms: u64,
    job_time_limit_secs: u64,
    job_max_attempts: u32,
    job_backoff_base_ms: u64,
    job_backoff_max_secs: u64,
    migrate_on_start: bool,
    introspection: Option<bool>,
    db_max_connections: u32,
    body_limit_bytes: usize,
    request_timeout_secs: u64,
    header_read_timeout_secs: u64,
    keep_alive_timeout_secs: u64,
    max_connections: usize,
    shutdown_grace_secs: u64,
    execution_timeout_ms: u64,
    dataloader_delay_ms: u64,
    max_depth: usize,
    max_complexity: usize,
    max_aliases: usize,
    max_batch: usize,
    max_concurrent_operations: usize,
    max_query_bytes: usize,
    max_tokens: usize,
    max_fields: usize,
    max_directives: usize,
    max_arguments: usize,
    ws_init_timeout_secs: u64,
    ws_max_operations: usize,
    ws_keep_alive_secs: u64,
    access_token_ttl_secs: u64,
    refresh_token_ttl_secs: u64,
    login_attempts_per_minute: u32,
    register_attempts_per_minute: u32,
    trust_forwarded_for: bool,
    #[serde(default, deserialize_with = "optional_count_or_text")]
    trusted_proxies: Option<String>,
    default_locale: String,
    cache_policy: String,
    cache_admission: Option<String>,
    #[serde(deserialize_with = "count_or_text")]
    response_cache_capacity: String,
    response_cache_mode: String,
    #[serde(deserialize_with = "count_or_text")]
    document_cache_capacity: String,
    #[serde(deserialize_with = "count_or_text")]
    persisted_query_capacity: String,
    #[serde(deserialize_with = "count_or_text")]
    name_count_cache_capacity: String,
    trusted_documents: Option<PathBuf>,
}

/// A number or a text, kept as text. The environment provider types values, so `ALX_TRUSTED_PROXIES=2` arrives as a
/// number, and in the TOML file a cache capacity may be `10000` or `"64MiB"`: these settings take either.
#[derive(Deserialize)]
#[serde(untagged)]
enum CountOrText {
    Count(u64),
    Text(String),
}

impl From<CountOrText> for String {
    fn from(value: CountOrText) -> Self {
        match value {
            CountOrText::Count(count) => count.to_string(),
            CountOrText::Text(text) => text,
        }
    }
}

fn count_or_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    CountOrText::deserialize(deserializer).map(String::from)
}

fn optional_count_or_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<CountOrText>::deserialize(deserializer)?.map(String::from))
}

impl Default for RawSettings {
    fn default() -> Self {
        Self {
            database_url: "sqlite://alx-backend.db".into(),
            listen: "127.0.0.1:8080".into(),
            metrics_listen: None,
            env: Environment::Development,
            jwt_secret: None,
            jwt_secret_file: ".jwt-secret".into(),
            log_format: None,
            log: "info,sqlx=warn,sea_orm=warn".into(),
            cors_origins: None,
            blocked_phone_numbers: String::new(),
            notification_webhook: None,
            // The curriculum's queue processes two jobs at a time.
            worker_concurrency: 2,
            worker_listen: None,
            job_retention: "7d".into(),
            job_lease_secs: 30,
            job_poll_interval_ms: 1000,
            job_time_limit_secs: 60,
            job_max_attempts: 3,
            job_backoff_base_ms: 1000,
            job_backoff_max_secs: 3600,
            migrate_on_start: true,
            introspection: None,
            db_max_connections: 16,
            body_limit_bytes: 1024 * 1024,
            request_timeout_secs: 30,
            header_read_timeout_secs: 10,
            // Longer than the 60 s idle timeout of common load balancers, so that they, not we, close idle
            // connections: a request they send just as we close one would otherwise fail.
            keep_alive_timeout_secs: 75,
            max_connections: 10_000,
            shutdown_grace_secs: 10,
            execution_timeout_ms: 10_000,
            dataloader_delay_ms: 1,
            max_depth: 15,
            max_complexity: 20_000,
            max_aliases: 30,
            max_batch: 10,
            max_concurrent_operations: 16,
            max_query_bytes: 64 * 1024,
            max_tokens: 10_000,
            max_fields: 5_000,
            max_directives: 10,
            max_arguments: 20,
            ws_init_timeout_secs: 10,
            ws_max_operations: 32,
            ws_keep_alive_secs: 15,
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            login_attempts_per_minute: 5,
            register_attempts_per_minute: 5,
            trust_forwarded_for: false,
            trusted_proxies: None,
            default_locale: "en".into(),
            cache_policy: "LRU".into(),
            cache_admission: None,
            // Bytes, not entries: answers range from a few hundred bytes to 1 MiB (larger ones are not stored), so a
            // count would not bound memory.
            response_cache_capacity: "64MiB".into(),
            response_cache_mode: "strict".into(),
            document_cache_capacity: "1024".into(),
            persisted_query_capacity: "10000".into(),
            name_count_cache_capacity: "1024".into(),
            trusted_documents: None,
        }
    }
}

/// Which `X-Forwarded-For` hops our own proxies added (see `http/client_address.rs`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrustedProxies {
    /// The last N hops: with 1, the right-most entry is the client as our one proxy saw it.
    Count(NonZeroUsize),
    /// Hops from these addresses or networks are ours; the right-most hop outside them is the client.
    List(Vec<IpNet>),
}

impl TrustedProxies {
    fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim();
        if let Ok(count) = value.parse::<usize>() {
            return NonZeroUsize::new(count)
                .map(Self::Count)
                .ok_or_else(|| "a count of proxies must be at least 1".into());
        }
        let proxies = comma_list(value)
            .iter()
            .map(|item| {
                item.parse::<IpNet>()
                    .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("`{item}` is not a count, an address or a network such as 10.0.0.0/8"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if proxies.is_empty() {
            return Err("expected a count of proxies or a comma-separated list of addresses and networks".into());
        }
        Ok(Self::List(proxies))
    }
}

/// Which origins may call the API from a browser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CorsOrigins {
    Any,
    List(Vec<String>),
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub database_url: String,
    pub listen: SocketAddr,
    /// Where `/metrics` is served on its own; `None` serves it on `listen` in development and nowhere in
    /// production, where the API listener is public.
    pub metrics_listen: Option<SocketAddr>,
    pub env: Environment,
    /// `None` in development means "generate one and keep it in `jwt_secret_file`".
    pub jwt_secret: Option<SecretString>,
    pub jwt_secret_file: PathBuf,
    pub log_format: LogFormat,
    pub log: String,
    pub cors_origins: CorsOrigins,
    pub blocked_phone_numbers: Vec<String>,
    /// Where notifications are POSTed; none: they are written to the log.
    pub notification_webhook: Option<hyper::Uri>,
    /// Jobs run at once by this process's workers; 0: `serve` runs no workers.
    pub worker_concurrency: usize,
    /// `/healthz` and `/metrics` of `alx-backend worker`.
    pub worker_listen: Option<SocketAddr>,
    /// How long finished jobs are kept.
    pub job_retention: Duration,
    /// How long a claimed job stays its worker's without a heartbeat.
    pub job_lease: Duration,
    /// How often idle workers look for jobs without a notification.
    pub job_poll_interval: Duration,
    /// The longest one attempt may run.
    pub job_time_limit: Duration,
    pub job_max_attempts: i32,
    /// The wait before a failed job's second attempt; it doubles with each attempt, up to `job_backoff_max`.
    pub job_backoff_base: Duration,
    pub job_backoff_max: Duration,
    pub migrate_on_start: bool,
    pub introspection: bool,
    pub db_max_connections: u32,
    pub body_limit_bytes: usize,
    pub request_timeout: Duration,
    /// How long a new connection may take to send its first request head (slowloris).
    pub header_read_timeout: Duration,
    /// How long a kept-alive connection may go without starting a request before it is closed.
    pub keep_alive_timeout: Duration,
    /// Open connections at most; past it the listener stops accepting until one closes.
    pub max_connections: usize,
    /// How long shutdown lets in-flight requests finish before abandoning them.
    pub shutdown_grace: Duration,
    pub execution_timeout: Duration,
    /// How long a DataLoader gathers keys into one batch: longer batches better on a slow machine, costs latency.
    pub dataloader_delay: Duration,
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_aliases: usize,
    pub max_batch: usize,
    /// GraphQL operations this process executes at once; the rest wait their turn. Past what the cores and the
    /// database pool can serve, more interleaved operations only hold more memory and miss more cache.
    pub max_concurrent_operations: usize,
    /// The document budget (see `graphql::limits`): query text bytes, tokens, fields after fragment expansion,
    /// directives per selection and arguments per field.
    pub max_query_bytes: usize,
    pub max_tokens: usize,
    pub max_fields: usize,
    pub max_directives: usize,
    pub max_arguments: usize,
    /// How long a WebSocket client may take to send `connection_init`.
    pub ws_init_timeout: Duration,
    /// Operations one WebSocket connection may run at once.
    pub ws_max_operations: usize,
    /// How often an idle WebSocket is shown the server is alive.
    pub ws_keep_alive: Duration,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub login_attempts_per_minute: u32,
    /// Registrations per client address; all addresses together get 20×.
    pub register_attempts_per_minute: u32,
    pub trust_forwarded_for: bool,
    /// Whose `X-Forwarded-For` hops to skip when `trust_forwarded_for` is on.
    pub trusted_proxies: TrustedProxies,
    pub default_locale: String,
    /// The replacement policy of the server's caches (responses, persisted queries, parsed documents).
    pub cache_policy: Policy,
    /// Whether a full cache stores every new key (`always`) or only keys looked up more often lately than the
    /// entry they would displace (`frequency`); unset, `frequency` under LRU and LFU, `always` otherwise.
    pub cache_admission: Admission,
    pub response_cache_capacity: Capacity,
    /// `strict`: a shared read of the write epoch before every lookup, never stale; `fast`: notifications alone.
    pub response_cache_mode: FreshnessMode,
    /// Counted in documents, the cache also keeps their estimated memory under 32 MiB (see `graphql::documents`).
    pub document_cache_capacity: Capacity,
    pub persisted_query_capacity: Capacity,
    /// Counts of baby names by filter (`babyNamesPage`'s totals).
    pub name_count_cache_capacity: Capacity,
    /// A manifest of trusted documents (`schema::persisted::Manifest`): when set, only its documents run and
    /// clients cannot register persisted queries. Read by `App::build`, which stops on a bad file.
    pub trusted_documents: Option<PathBuf>,
}

/// A setting that cannot be used, named the way the user wrote it.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {setting}: {reason}")]
pub struct ConfigError {
    pub setting: String,
    pub reason: String,
}

fn env_name(key: &str) -> String {
    if key == "database_url" {
        "DATABASE_URL".into()
    } else {
        format!("ALX_{}", key.to_ascii_uppercase())
    }
}

fn invalid(key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        setting: env_name(key),
        reason: reason.into(),
    }
}

fn comma_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(String::from)
        .collect()
}

/// Environment variables as the text they hold. figment's `Env` provider re-types each value (`4153518780` becomes
/// a number, `"abc"` loses its quotes, `0123` its zero), which broke string settings and could change a secret;
/// numbers and booleans are read from this text when the settings are extracted instead (`extract_lossy`).
fn env_text(vars: impl IntoIterator<Item = (String, String)>) -> Serialized<BTreeMap<String, String>> {
    Serialized::defaults(vars.into_iter().collect())
}

fn env_vars(env: &Env) -> impl Iterator<Item = (String, String)> + '_ {
    env.iter().map(|(key, value)| (key.as_str().to_string(), value))
}

impl Settings {
    /// Reads defaults, then the TOML file (`ALX_CONFIG`, default `alx-backend.toml`, optional), then the environment.
    pub fn load() -> Result<Self, ConfigError> {
        let file = std::env::var("ALX_CONFIG").unwrap_or_else(|_| "alx-backend.toml".into());
        let figment = Figment::from(Serialized::defaults(RawSettings::default()))
            .merge(Toml::file(file))
            .merge(env_text(env_vars(&Env::prefixed("ALX_").ignore(&["CONFIG"]))))
            .merge(env_text(env_vars(&Env::raw().only(&["DATABASE_URL"]))));
        Self::from_figment(figment)
    }

    fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        // Lossy: `"30"` is read as the number 30 and `"true"` as true, since the environment only holds text.
        let raw: RawSettings = figment.extract_lossy().map_err(|error| {
            let key = error.path.join(".");
            let setting = if key.is_empty() {
                "configuration".into()
            } else {
                env_name(&key)
            };
            ConfigError {
                setting,
                reason: error.kind.to_string(),
            }
        })?;
        Self::from_raw(raw)
    }

    fn from_raw(raw: RawSettings) -> Result<Self, ConfigError> {
        if !(raw.database_url.starts_with("sqlite:")
            || raw.database_url.starts_with("postgres://")
            || raw.database_url.starts_with("postgresql://"))
        {
            return Err(invalid("database_url", "expected a sqlite://… or postgres://… URL"));
        }
        let listen = raw.listen.parse().map_err(|_| {
            invalid(
                "listen",
                format!("`{}` is not an address and port such as 127.0.0.1:8080", raw.listen),
            )
        })?;
        let metrics_listen = raw
            .metrics_listen
            .as_deref()
            .map(|address| {
                address.parse().map_err(|_| {
                    invalid(
                        "metrics_listen",
                        format!("`{address}` is not an address and port such as 127.0.0.1:9090"),
                    )
                })
            })
            .transpose()?;
        let production = raw.env == Environment::Production;
        let jwt_secret = match raw.jwt_secret {
            Some(secret) if secret.len() < 32 => {
                return Err(invalid("jwt_secret", "must be at least 32 characters long"));
            }
            Some(secret) => Some(SecretString::from(secret)),
            None if production => {
                return Err(invalid("jwt_secret", "is required when ALX_ENV=production"));
            }
            None => None,
        };
        let cors_origins = match raw.cors_origins.as_deref().map(str::trim) {
            Some("*") => CorsOrigins::Any,
            Some(list) => {
                let origins = comma_list(list);
                if let Some(bad) = origins
                    .iter()
                    .find(|origin| !(origin.starts_with("http://") || origin.starts_with("https://")))
                {
                    return Err(invalid(
                        "cors_origins",
                        format!("`{bad}` is not an origin such as https://app.example.com"),
                    ));
                }
                CorsOrigins::List(origins)
            }
            None if production => CorsOrigins::List(Vec::new()),
            None => CorsOrigins::Any,
        };
        for (key, value) in [
            ("db_max_connections", raw.db_max_connections as u64),
            ("body_limit_bytes", raw.body_limit_bytes as u64),
            ("request_timeout_secs", raw.request_timeout_secs),
            ("header_read_timeout_secs", raw.header_read_timeout_secs),
            ("keep_alive_timeout_secs", raw.keep_alive_timeout_secs),
            ("max_connections", raw.max_connections as u64),
            ("execution_timeout_ms", raw.execution_timeout_ms),
            ("max_depth", raw.max_depth as u64),
            ("max_complexity", raw.max_complexity as u64),
            ("max_aliases", raw.max_aliases as u64),
            ("max_batch", raw.max_batch as u64),
            ("max_concurrent_operations", raw.max_concurrent_operations as u64),
            ("max_query_bytes", raw.max_query_bytes as u64),
            ("max_tokens", raw.max_tokens as u64),
            ("max_fields", raw.max_fields as u64),
            ("max_directives", raw.max_directives as u64),
            ("max_arguments", raw.max_arguments as u64),
            ("ws_init_timeout_secs", raw.ws_init_timeout_secs),
            ("ws_max_operations", raw.ws_max_operations as u64),
            ("ws_keep_alive_secs", raw.ws_keep_alive_secs),
            ("access_token_ttl_secs", raw.access_token_ttl_secs),
            ("refresh_token_ttl_secs", raw.refresh_token_ttl_secs),
            ("login_attempts_per_minute", raw.login_attempts_per_minute as u64),
            ("register_attempts_per_minute", raw.register_attempts_per_minute as u64),
            ("job_lease_secs", raw.job_lease_secs),
            ("job_poll_interval_ms", raw.job_poll_interval_ms),
            ("job_time_limit_secs", raw.job_time_limit_secs),
            ("job_max_attempts", u64::from(raw.job_max_attempts)),
            ("job_backoff_base_ms", raw.job_backoff_base_ms),
            ("job_backoff_max_secs", raw.job_backoff_max_secs),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be greater than 0"));
            }
        }
        let trusted_proxies = match raw.trusted_proxies.as_deref() {
            Some(_) if !raw.trust_forwarded_for => {
                return Err(invalid(
                    "trusted_proxies",
                    "has no effect unless ALX_TRUST_FORWARDED_FOR=true",
                ));
            }
            Some(value) => TrustedProxies::parse(value).map_err(|reason| invalid("trusted_proxies", reason))?,
            None => TrustedProxies::Count(NonZeroUsize::MIN),
        };
        let worker_listen = raw
            .worker_listen
            .as_deref()
            .map(|address| {
                address.parse().map_err(|_| {
                    invalid(
                        "worker_listen",
                        format!("`{address}` is not an address and port such as 127.0.0.1:9091"),
                    )
                })
            })
            .transpose()?;
        let job_retention = humantime::parse_duration(&raw.job_retention).map_err(|error| {
            invalid(
                "job_retention",
                format!("`{}` is not a duration such as 7d or 12h: {error}", raw.job_retention),
            )
        })?;
        let notification_webhook = raw
            .notification_webhook
            .as_deref()
            .map(|url| match url.parse::<hyper::Uri>() {
                Ok(uri) if uri.scheme_str() == Some("http") && uri.host().is_some() => Ok(uri),
                _ => Err(invalid(
                    "notification_webhook",
                    format!("`{url}` is not an http:// URL (TLS belongs to a sidecar)"),
                )),
            })
            .transpose()?;
        if raw.job_max_attempts > 100 {
            return Err(invalid("job_max_attempts", "must be at most 100"));
        }
        tracing_subscriber::EnvFilter::try_new(&raw.log).map_err(|error| invalid("log", error.to_string()))?;
        let cache_policy = raw
            .cache_policy
            .parse()
            .map_err(|error: UnknownPolicy| invalid("cache_policy", error.to_string()))?;
        // FIFO, LIFO and MRU offer hot entries as victims: under frequency admission a hot key that is out ties
        // with them and stays out, and under FIFO the oldest entry, read often, would freeze the cache.
        let suits_admission = matches!(cache_policy, Policy::Lru | Policy::Lfu);
        let cache_admission = match raw.cache_admission.as_deref() {
            None => {
                if suits_admission {
                    Admission::Frequency
                } else {
                    Admission::Always
                }
            }
            Some(text) => text
                .parse()
                .map_err(|error: UnknownAdmission| invalid("cache_admission", error.to_string()))?,
        };
        if cache_admission == Admission::Frequency && !suits_admission {
            return Err(invalid(
                "cache_admission",
                format!("frequency admission needs the LRU or LFU policy, not {cache_policy}"),
            ));
        }
        let capacity = |key: &str, value: &str| {
            value
                .parse::<Capacity>()
                .map_err(|error| invalid(key, error.to_string()))
        };
        let response_cache_capacity = capacity("response_cache_capacity", &raw.response_cache_capacity)?;
        let response_cache_mode = raw
            .response_cache_mode
            .parse()
            .map_err(|reason: String| invalid("response_cache_mode", reason))?;
        let document_cache_capacity = capacity("document_cache_capacity", &raw.document_cache_capacity)?;
        let persisted_query_capacity = capacity("persisted_query_capacity", &raw.persisted_query_capacity)?;
        let name_count_cache_capacity = capacity("name_count_cache_capacity", &raw.name_count_cache_capacity)?;
        Ok(Self {
            database_url: raw.database_url,
            listen,
            metrics_listen,
            env: raw.env,
            jwt_secret,
            jwt_secret_file: raw.jwt_secret_file,
            log_format: raw
                .log_format
                .unwrap_or(if production { LogFormat::Json } else { LogFormat::Pretty }),
            log: raw.log,
            cors_origins,
            blocked_phone_numbers: comma_list(&raw.blocked_phone_numbers),
            notification_webhook,
            worker_concurrency: raw.worker_concurrency,
            worker_listen,
            job_retention,
            job_lease: Duration::from_secs(raw.job_lease_secs),
            job_poll_interval: Duration::from_millis(raw.job_poll_interval_ms),
            job_time_limit: Duration::from_secs(raw.job_time_limit_secs),
            job_max_attempts: raw.job_max_attempts as i32,
            job_backoff_base: Duration::from_millis(raw.job_backoff_base_ms),
            job_backoff_max: Duration::from_secs(raw.job_backoff_max_secs),
            migrate_on_start: raw.migrate_on_start,
            introspection: raw.introspection.unwrap_or(!production),
            db_max_connections: raw.db_max_connections,
            body_limit_bytes: raw.body_limit_bytes,
            request_timeout: Duration::from_secs(raw.request_timeout_secs),
            header_read_timeout: Duration::from_secs(raw.header_read_timeout_secs),
            keep_alive_timeout: Duration::from_secs(raw.keep_alive_timeout_secs),
            max_connections: raw.max_connections,
            shutdown_grace: Duration::from_secs(raw.shutdown_grace_secs),
            execution_timeout: Duration::from_millis(raw.execution_timeout_ms),
            dataloader_delay: Duration::from_millis(raw.dataloader_delay_ms),
            max_depth: raw.max_depth,
            max_complexity: raw.max_complexity,
            max_aliases: raw.max_aliases,
            max_batch: raw.max_batch,
            max_concurrent_operations: raw.max_concurrent_operations,
            max_query_bytes: raw.max_query_bytes,
            max_tokens: raw.max_tokens,
            max_fields: raw.max_fields,
            max_directives: raw.max_directives,
            max_arguments: raw.max_arguments,
            ws_init_timeout: Duration::from_secs(raw.ws_init_timeout_secs),
            ws_max_operations: raw.ws_max_operations,
            ws_keep_alive: Duration::from_secs(raw.ws_keep_alive_secs),
            access_token_ttl: Duration::from_secs(raw.access_token_ttl_secs),
            refresh_token_ttl: Duration::from_secs(raw.refresh_token_ttl_secs),
            login_attempts_per_minute: raw.login_attempts_per_minute,
            register_attempts_per_minute: raw.register_attempts_per_minute,
            trust_forwarded_for: raw.trust_forwarded_for,
            trusted_proxies,
            default_locale: raw.default_locale,
            cache_policy,
            cache_admission,
            response_cache_capacity,
            response_cache_mode,
            document_cache_capacity,
            persisted_query_capacity,
            name_count_cache_capacity,
            trusted_documents: raw.trusted_documents,
        })
    }

    /// Development defaults, for tests and embedding: the same values `load` starts from.
    pub fn development() -> Self {
        Self::from_raw(RawSettings::default()).expect("the defaults are valid")
    }

    pub fn is_production(&self) -> bool {
        self.env == Environment::Production
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_with(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(RawSettings::default()));
        for (key, value) in pairs {
            figment = figment.merge((key.to_string(), value.to_string()));
        }
        Settings::from_figment(figment)
    }

    #[test]
    fn defaults_run_on_sqlite_on_localhost_8080() {
        let settings = load_with(&[]).expect("defaults");
        assert_eq!(settings.database_url, "sqlite://alx-backend.db");
        assert_eq!(settings.listen.to_string(), "127.0.0.1:8080");
        assert!(settings.introspection);
        assert_eq!(settings.cors_origins, CorsOrigins::Any);
    }

    #[test]
    fn production_without_a_jwt_secret_is_refused_naming_the_setting() {
        let error = load_with(&[("env", "production")]).expect_err("must refuse");
        assert_eq!(error.setting, "ALX_JWT_SECRET");
    }

    #[test]
    fn production_turns_introspection_off_and_closes_cors() {
        let settings = load_with(&[("env", "production"), ("jwt_secret", &"s".repeat(40))]).expect("valid");
        assert!(!settings.introspection);
        assert_eq!(settings.cors_origins, CorsOrigins::List(vec![]));
        assert_eq!(settings.log_format, LogFormat::Json);
    }

    #[test]
    fn a_bad_listen_address_names_alx_listen() {
        let error = load_with(&[("listen", "localhost")]).expect_err("must refuse");
        assert_eq!(error.setting, "ALX_LISTEN");
    }

    #[test]
    fn a_non_number_names_its_setting() {
        let error = load_with(&[("max_depth", "deep")]).expect_err("must refuse");
        assert_eq!(error.setting, "ALX_MAX_DEPTH");
    }

    #[test]
    fn a_zero_connection_cap_or_timeout_names_its_setting_and_a_zero_grace_is_allowed() {
        let zero = |key: &str| {
            Settings::from_figment(Figment::from(Serialized::defaults(RawSettings::default())).merge((key, 0)))
        };
        for key in ["max_connections", "header_read_timeout_secs", "keep_alive_timeout_secs"] {
            let error = zero(key).expect_err("must refuse");
            assert_eq!(error.setting, format!("ALX_{}", key.to_ascii_uppercase()));
            assert_eq!(error.reason, "must be greater than 0");
        }
        let settings = zero("shutdown_grace_secs").expect("valid");
        assert_eq!(settings.shutdown_grace, Duration::ZERO);
    }

    #[test]
    fn an_unknown_environment_names_alx_env() {
        let error = load_with(&[("env", "staging")]).expect_err("must refuse");
        assert_eq!(error.setting, "ALX_ENV");
    }

    #[test]
    fn environment_text_is_kept_as_written_for_string_settings() {
        let digits = "0123456789".repeat(4);
        let quoted = format!("\"{}\"", "s".repeat(40));
        let load = |pairs: &[(&str, &str)]| {
            let vars = pairs.iter().map(|(key, value)| (key.to_string(), value.to_string()));
            Settings::from_figment(Figment::from(Serialized::defaults(RawSettings::default())).merge(env_text(vars)))
        };
        let settings = load(&[("blocked_phone_numbers", "4153518780"), ("jwt_secret", &digits)]).expect("valid");
        assert_eq!(settings.blocked_phone_numbers, vec!["4153518780".to_string()]);
        assert_eq!(
            settings.jwt_secret.as_ref().map(secrecy::ExposeSecret::expose_secret),
            Some(digits.as_str())
        );
        let settings = load(&[("jwt_secret", &quoted), ("default_locale", "true")]).expect("valid");
        assert_eq!(
            settings.jwt_secret.as_ref().map(secrecy::ExposeSecret::expose_secret),
            Some(quoted.as_str()),
            "the quotes are part of the secret"
        );
        assert_eq!(settings.default_locale, "true");

        let settings = load(&[
            ("max_depth", "12"),
            ("migrate_on_start", "false"),
            ("introspection", "true"),
            ("env", "production"),
            ("jwt_secret", &digits),
        ])
        .expect("numbers and booleans are read from their text");
        assert_eq!(settings.max_depth, 12);
        assert!(!settings.migrate_on_start);
        assert!(settings.introspection);
        assert!(settings.is_production());

        for (key, value, setting) in [
            ("max_depth", "deep", "ALX_MAX_DEPTH"),
            ("max_depth", "-1", "ALX_MAX_DEPTH"),
            ("migrate_on_start", "maybe", "ALX_MIGRATE_ON_START"),
            ("database_url", "4153518780", "DATABASE_URL"),
        ] {
            let error = load(&[(key, value)]).expect_err(value);
            assert_eq!(error.setting, setting, "{key}={value}");
        }
    }

    #[test]
    fn metrics_listen_is_an_address_and_port() {
        let settings = load_with(&[("metrics_listen", "127.0.0.1:9090")]).expect("valid");
        assert_eq!(
            settings.metrics_listen,
            Some("127.0.0.1:9090".parse().expect("address"))
        );
        assert_eq!(load_with(&[]).expect("defaults").metrics_listen, None);
        let error = load_with(&[("metrics_listen", "9090")]).expect_err("must refuse");
        assert_eq!(error.setting, "ALX_METRICS_LISTEN");
    }

    #[test]
    fn cors_origins_are_a_comma_separated_list() {
        let settings = load_with(&[("cors_origins", "https://a.example, https://b.example")]).expect("valid");
        assert_eq!(
            settings.cors_origins,
            CorsOrigins::List(vec!["https://a.example".into(), "https://b.example".into()])
        );
    }

    /// As `load_with`, behind proxies (`ALX_TRUST_FORWARDED_FOR=true`).
    fn forwarded_with(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let mut figment =
            Figment::from(Serialized::defaults(RawSettings::default())).merge(("trust_forwarded_for", true));
        for (key, value) in pairs {
            figment = figment.merge((key.to_string(), value.to_string()));
        }
        Settings::from_figment(figment)
    }

    #[test]
    fn trusted_proxies_default_to_one_when_forwarded_for_is_trusted() {
        let settings = forwarded_with(&[]).expect("valid");
        assert_eq!(settings.trusted_proxies, TrustedProxies::Count(NonZeroUsize::MIN));
    }

    #[test]
    fn trusted_proxies_are_a_count_or_a_list_of_addresses_and_networks() {
        let count = Figment::from(Serialized::defaults(RawSettings::default()))
            .merge(("trust_forwarded_for", true))
            .merge(("trusted_proxies", 2));
        assert_eq!(
            Settings::from_figment(count).expect("valid").trusted_proxies,
            TrustedProxies::Count(NonZeroUsize::new(2).expect("non-zero")),
            "a number, as the environment provider types it"
        );
        let settings = forwarded_with(&[("trusted_proxies", "10.0.0.0/8, 192.0.2.7, 2001:db8::/32")]).expect("valid");
        let expected = ["10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32"].map(|net| net.parse().expect("a network"));
        assert_eq!(settings.trusted_proxies, TrustedProxies::List(expected.to_vec()));
    }

    #[test]
    fn unusable_trusted_proxies_name_alx_trusted_proxies() {
        for value in ["0", "proxy.internal", " , "] {
            let error = forwarded_with(&[("trusted_proxies", value)]).expect_err("must refuse");
            assert_eq!(error.setting, "ALX_TRUSTED_PROXIES", "{value:?}");
        }
        let error = load_with(&[("trusted_proxies", "1")]).expect_err("must refuse without trust");
        assert_eq!(error.setting, "ALX_TRUSTED_PROXIES");
    }

    #[test]
    fn register_attempts_must_be_positive() {
        let error = load_with(&[("register_attempts_per_minute", "0")]).expect_err("must refuse");
        assert_eq!(error.setting, "ALX_REGISTER_ATTEMPTS_PER_MINUTE");
    }

    #[test]
    fn job_and_response_cache_settings_refuse_bad_values_naming_the_setting() {
        for (key, value, setting) in [
            ("response_cache_mode", "eventually", "ALX_RESPONSE_CACHE_MODE"),
            ("job_retention", "a week", "ALX_JOB_RETENTION"),
            ("job_lease_secs", "0", "ALX_JOB_LEASE_SECS"),
            ("job_max_attempts", "101", "ALX_JOB_MAX_ATTEMPTS"),
            ("worker_listen", "nowhere", "ALX_WORKER_LISTEN"),
            (
                "notification_webhook",
                "https://sms.example.com/send",
                "ALX_NOTIFICATION_WEBHOOK",
            ),
        ] {
            let error = load_with(&[(key, value)]).expect_err("must refuse");
            assert_eq!(error.setting, setting, "{key}={value}");
        }
        let settings = load_with(&[("job_retention", "12h"), ("response_cache_mode", "FAST")]).expect("valid");
        assert_eq!(settings.job_retention, Duration::from_secs(12 * 3600));
        assert_eq!(settings.response_cache_mode, FreshnessMode::Fast);
        let settings = load_with(&[("response_cache_mode", " Off ")]).expect("valid");
        assert_eq!(settings.response_cache_mode, FreshnessMode::Off);
    }

    #[test]
    fn caches_default_to_lru_with_64_mib_of_responses_and_a_thousand_documents() {
        let settings = load_with(&[]).expect("defaults");
        let entries = |count| Capacity::Entries(NonZeroUsize::new(count).expect("non-zero"));
        assert_eq!(settings.cache_policy, Policy::Lru);
        assert_eq!(settings.cache_admission, Admission::Frequency);
        assert_eq!(
            settings.response_cache_capacity,
            Capacity::Bytes(NonZeroUsize::new(64 * 1024 * 1024).expect("non-zero"))
        );
        assert_eq!(settings.response_cache_mode, FreshnessMode::Strict);
        assert_eq!(settings.document_cache_capacity, entries(1024));
        assert_eq!(settings.persisted_query_capacity, entries(10_000));
        assert_eq!(settings.name_count_cache_capacity, entries(1024));
    }

    #[test]
    fn cache_settings_take_a_policy_in_any_case_and_entries_or_sizes() {
        let settings = load_with(&[
            ("cache_policy", "lfu"),
            ("cache_admission", "ALWAYS"),
            ("response_cache_capacity", "64MiB"),
            ("document_cache_capacity", "512"),
            ("persisted_query_capacity", "1GiB"),
            ("name_count_cache_capacity", "256KiB"),
        ])
        .expect("valid");
        assert_eq!(settings.cache_policy, Policy::Lfu);
        assert_eq!(settings.cache_admission, Admission::Always);
        let bytes = |count| Capacity::Bytes(NonZeroUsize::new(count).expect("non-zero"));
        assert_eq!(settings.response_cache_capacity, bytes(64 << 20));
        assert_eq!(settings.document_cache_capacity, "512".parse().expect("entries"));
        assert_eq!(settings.persisted_query_capacity, bytes(1 << 30));
        assert_eq!(settings.name_count_cache_capacity, bytes(256 << 10));
        let number =
            Figment::from(Serialized::defaults(RawSettings::default())).merge(("document_cache_capacity", 2048));
        assert_eq!(
            Settings::from_figment(number).expect("valid").document_cache_capacity,
            "2048".parse().expect("entries"),
            "a number, as a TOML file writes it"
        );
    }

    #[test]
    fn an_unknown_policy_or_an_unusable_capacity_names_its_setting() {
        let error = load_with(&[("cache_policy", "random")]).expect_err("must refuse");
        assert_eq!(error.setting, "ALX_CACHE_POLICY");
        assert!(error.reason.contains("FIFO, LIFO, LRU, MRU, LFU"), "{}", error.reason);
        let error = load_with(&[("cache_admission", "sometimes")]).expect_err("must refuse");
        assert_eq!(error.setting, "ALX_CACHE_ADMISSION");
        assert!(error.reason.contains("always or frequency"), "{}", error.reason);
        let error = load_with(&[("cache_policy", "FIFO"), ("cache_admission", "frequency")]).expect_err("must refuse");
        assert_eq!(error.setting, "ALX_CACHE_ADMISSION");
        assert!(error.reason.contains("LRU or LFU"), "{}", error.reason);
        for policy in ["FIFO", "LIFO", "MRU"] {
            let settings = load_with(&[("cache_policy", policy)]).expect("valid");
            assert_eq!(settings.cache_admission, Admission::Always, "{policy}");
        }
        for (key, value) in [
            ("response_cache_capacity", "0"),
            ("response_cache_capacity", "12XB"),
            ("document_cache_capacity", "-1"),
            ("persisted_query_capacity", "lots"),
            ("persisted_query_capacity", "99999999999GiB"),
            ("name_count_cache_capacity", "0"),
            ("name_count_cache_capacity", "1.5MiB"),
        ] {
            let error = load_with(&[(key, value)]).expect_err(value);
            assert_eq!(error.setting, format!("ALX_{}", key.to_ascii_uppercase()), "{value}");
        }
        let error = load_with(&[("response_cache_capacity", "0")]).expect_err("zero");
        assert_eq!(
            error.to_string(),
            "invalid setting ALX_RESPONSE_CACHE_CAPACITY: a cache capacity must be greater than 0"
        );
    }
}
