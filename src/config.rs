//! Typed settings: defaults < `alx-backend.toml` < environment (`DATABASE_URL`, `ALX_*`), validated once at start.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

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
    env: Environment,
    jwt_secret: Option<String>,
    jwt_secret_file: PathBuf,
    log_format: Option<LogFormat>,
    log: String,
    cors_origins: Option<String>,
    blocked_phone_numbers: String,
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
    access_token_ttl_secs: u64,
    refresh_token_ttl_secs: u64,
    login_attempts_per_minute: u32,
    trust_forwarded_for: bool,
    default_locale: String,
}

impl Default for RawSettings {
    fn default() -> Self {
        Self {
            database_url: "sqlite://alx-backend.db".into(),
            listen: "127.0.0.1:8080".into(),
            env: Environment::Development,
            jwt_secret: None,
            jwt_secret_file: ".jwt-secret".into(),
            log_format: None,
            log: "info,sqlx=warn,sea_orm=warn".into(),
            cors_origins: None,
            blocked_phone_numbers: String::new(),
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
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            login_attempts_per_minute: 5,
            trust_forwarded_for: false,
            default_locale: "en".into(),
        }
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
    pub env: Environment,
    /// `None` in development means "generate one and keep it in `jwt_secret_file`".
    pub jwt_secret: Option<SecretString>,
    pub jwt_secret_file: PathBuf,
    pub log_format: LogFormat,
    pub log: String,
    pub cors_origins: CorsOrigins,
    pub blocked_phone_numbers: Vec<String>,
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
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub login_attempts_per_minute: u32,
    pub trust_forwarded_for: bool,
    pub default_locale: String,
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

impl Settings {
    /// Reads defaults, then the TOML file (`ALX_CONFIG`, default `alx-backend.toml`, optional), then the environment.
    pub fn load() -> Result<Self, ConfigError> {
        let file = std::env::var("ALX_CONFIG").unwrap_or_else(|_| "alx-backend.toml".into());
        let figment = Figment::from(Serialized::defaults(RawSettings::default()))
            .merge(Toml::file(file))
            .merge(Env::prefixed("ALX_").ignore(&["CONFIG"]))
            .merge(Env::raw().only(&["DATABASE_URL"]));
        Self::from_figment(figment)
    }

    fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let raw: RawSettings = figment.extract().map_err(|error| {
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
            ("access_token_ttl_secs", raw.access_token_ttl_secs),
            ("refresh_token_ttl_secs", raw.refresh_token_ttl_secs),
            ("login_attempts_per_minute", raw.login_attempts_per_minute as u64),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be greater than 0"));
            }
        }
        tracing_subscriber::EnvFilter::try_new(&raw.log).map_err(|error| invalid("log", error.to_string()))?;
        Ok(Self {
            database_url: raw.database_url,
            listen,
            env: raw.env,
            jwt_secret,
            jwt_secret_file: raw.jwt_secret_file,
            log_format: raw
                .log_format
                .unwrap_or(if production { LogFormat::Json } else { LogFormat::Pretty }),
            log: raw.log,
            cors_origins,
            blocked_phone_numbers: comma_list(&raw.blocked_phone_numbers),
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
            access_token_ttl: Duration::from_secs(raw.access_token_ttl_secs),
            refresh_token_ttl: Duration::from_secs(raw.refresh_token_ttl_secs),
            login_attempts_per_minute: raw.login_attempts_per_minute,
            trust_forwarded_for: raw.trust_forwarded_for,
            default_locale: raw.default_locale,
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
    fn cors_origins_are_a_comma_separated_list() {
        let settings = load_with(&[("cors_origins", "https://a.example, https://b.example")]).expect("valid");
        assert_eq!(
            settings.cors_origins,
            CorsOrigins::List(vec!["https://a.example".into(), "https://b.example".into()])
        );
    }
}
