//! `TestApp`: one running server and its database, with helpers that speak the domain.

use std::{fmt::Write, net::SocketAddr};

use alx_backend::{
    accounts::{Role, parse_new_user},
    app::App,
    clock::{Clock, system_clock},
    config::Settings,
    names::{BadRow, ImportEvent, ImportSummary, NamesCsv},
};
use reqwest::{Client, Response, StatusCode};
use sea_orm::{ConnectionTrait, Database};
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub const JWT_SECRET: &str = "integration-test-secret-that-is-long-enough";
pub const PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub address: SocketAddr,
    /// Where `/metrics` is served on its own, when the settings ask for a metrics listener.
    pub metrics_address: Option<SocketAddr>,
    pub client: Client,
    pub app_services: alx_backend::services::Services,
    /// The engine the server runs every operation through, to look inside (its document cache).
    pub engine: std::sync::Arc<alx_backend::schema::Engine>,
    /// The test's own database, for commands run against it.
    pub database_url: String,
    pub statements: alx_backend::db::StatementCounter,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
}

/// A fresh database URL: a new SQLite file, or a new PostgreSQL database beside `TEST_DATABASE_URL`.
pub async fn fresh_database(dir: &tempfile::TempDir) -> String {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(admin_url) if !admin_url.is_empty() => {
            let name = format!("test_{}", uuid::Uuid::new_v4().simple());
            let admin = Database::connect(&admin_url)
                .await
                .expect("TEST_DATABASE_URL is reachable");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create test database");
            admin.close().await.expect("close admin connection");
            let base = admin_url.rsplit_once('/').map(|(base, _)| base).unwrap_or(&admin_url);
            format!("{base}/{name}")
        }
        _ => format!("sqlite://{}", dir.path().join("test.db").display()),
    }
}

/// The settings every test app starts from, on `database_url`: the test secret, and room for many registrations.
pub fn test_settings(dir: &tempfile::TempDir, database_url: String) -> Settings {
    let mut settings = Settings::development();
    settings.database_url = database_url;
    settings.jwt_secret = Some(SecretString::from(JWT_SECRET.to_string()));
    settings.jwt_secret_file = dir.path().join("jwt-secret");
    settings.db_max_connections = 5;
    // Tests register many users from 127.0.0.1; the tests of that limit set it back.
    settings.register_attempts_per_minute = 1_000;
    // No job workers unless a test asks for them: an idle worker's polling would add statements to the tests
    // that count them.
    settings.worker_concurrency = 0;
    settings
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(configure: impl FnOnce(&mut Settings)) -> Self {
        Self::spawn_inner(configure, system_clock(), None).await
    }

    /// An app whose services all read `clock`.
    pub async fn spawn_with_clock(clock: Clock) -> Self {
        Self::spawn_inner(|_| {}, clock, None).await
    }

    /// A second server on `other`'s database, as another instance of a deployment would be (its own bus, pool and
    /// workers). Tokens of one are valid on the other: both sign with `JWT_SECRET`.
    pub async fn spawn_sharing(other: &TestApp, configure: impl FnOnce(&mut Settings)) -> Self {
        Self::spawn_inner(configure, system_clock(), Some(other.database_url.clone())).await
    }

    async fn spawn_inner(configure: impl FnOnce(&mut Settings), clock: Clock, database_url: Option<String>) -> Self {
        // Quiet by default; `TEST_LOG=debug cargo test` shows the server's logs.
        if let Ok(filter) = std::env::var("TEST_LOG") {
            alx_backend::telemetry::init_logging(alx_backend::config::LogFormat::Pretty, &filter);
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = match database_url {
            Some(shared) => shared,
            None => fresh_database(&dir).await,
        };
        let mut settings = test_settings(&dir, database_url);
        configure(&mut settings);
        let app = App::build_with_clock(&settings, clock).await.expect("app builds");
        let app_services = app.services.clone();
        let engine = app.engine.clone();
        let statements = app.statements.clone();
        let metrics_address = app.metrics_address();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let address = listener.local_addr().expect("local address");
        let (shutdown, signal) = oneshot::channel::<()>();
        let server = tokio::spawn(app.serve(listener, async move {
            let _ = signal.await;
        }));
        Self {
            address,
            metrics_address,
            client: Client::new(),
            app_services,
            engine,
            database_url: settings.database_url.clone(),
            statements,
            shutdown: Some(shutdown),
            server: Some(server),
            _dir: dir,
        }
    }

    /// A WebSocket upgrade request to `/graphql`, asking for `protocol` when given.
    pub fn websocket_request(
        &self,
        protocol: Option<&'static str>,
    ) -> tokio_tungstenite::tungstenite::handshake::client::Request {
        use tokio_tungstenite::tungstenite::{client::IntoClientRequest, http::HeaderValue};
        let mut request = format!("ws://{}/graphql", self.address)
            .into_client_request()
            .expect("request");
        if let Some(protocol) = protocol {
            request
                .headers_mut()
                .insert("sec-websocket-protocol", HeaderValue::from_static(protocol));
        }
        request
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// POSTs a GraphQL request as a browser-safe JSON request and returns status and body.
    pub async fn gql_as(&self, token: Option<&str>, query: &str, variables: Value) -> (StatusCode, Value) {
        let mut request = self
            .client
            .post(self.url("/graphql"))
            .header("content-type", "application/json")
            .header("accept", "application/graphql-response+json")
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request sent");
        read(response).await
    }

    /// POSTs a raw body as JSON, for documents too large to build as a `Value` cheaply.
    pub async fn post_raw(&self, body: String) -> (StatusCode, Value) {
        let response = self
            .client
            .post(self.url("/graphql"))
            .header("content-type", "application/json")
            .header("accept", "application/graphql-response+json")
            .body(body)
            .send()
            .await
            .expect("request sent");
        read(response).await
    }

    pub async fn gql(&self, query: &str, variables: Value) -> (StatusCode, Value) {
        self.gql_as(None, query, variables).await
    }

    /// Registers a user through the API and returns its AuthPayload.
    pub async fn register(&self, email: &str) -> Value {
        let (_, body) = self
            .gql(
                "mutation($input: RegisterInput!) { register(input: $input) { accessToken refreshToken expiresAt user { id databaseId email role } } }",
                json!({ "input": { "email": email, "password": PASSWORD, "name": "Test User" } }),
            )
            .await;
        assert_no_errors(&body);
        body["data"]["register"].clone()
    }

    /// Creates an admin the way `alx-backend user create --admin` does, then logs in through the API.
    pub async fn login_as_admin(&self) -> Value {
        let new_user = parse_new_user(
            "",
            "admin@example.com",
            PASSWORD.into(),
            "Admin",
            Role::Admin,
            None,
            None,
        )
        .expect("valid admin");
        self.app_services
            .accounts
            .create_user(new_user, "email")
            .await
            .expect("admin created");
        self.login("admin@example.com", PASSWORD).await.1["data"]["login"].clone()
    }

    /// `login_as_admin`'s access token.
    pub async fn admin_token(&self) -> String {
        self.login_as_admin().await["accessToken"]
            .as_str()
            .expect("an access token")
            .to_string()
    }

    pub async fn login(&self, email: &str, password: &str) -> (StatusCode, Value) {
        self.gql(
            "mutation($email: String!, $password: String!) { login(email: $email, password: $password) { accessToken refreshToken user { id email role } } }",
            json!({ "email": email, "password": password }),
        )
        .await
    }

    /// The server still answers a trivial query after whatever the test sent.
    pub async fn assert_still_serving(&self) {
        let (status, body) = self.gql("{ __typename }", json!({})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["data"]["__typename"], "Query");
    }

    /// Imports a names CSV through the service `alx-backend import-names` uses; returns the summary and the bad rows.
    pub async fn import_names(&self, csv: &str, replace: bool) -> (ImportSummary, Vec<BadRow>) {
        let parsed = NamesCsv::new(std::io::Cursor::new(csv.as_bytes().to_vec())).expect("the header is accepted");
        let mut bad_rows = Vec::new();
        let summary = self
            .app_services
            .names
            .import(parsed, replace, |event| {
                if let ImportEvent::BadRow(bad) = event {
                    bad_rows.push(bad.clone());
                }
            })
            .await
            .expect("import");
        (summary, bad_rows)
    }

    pub fn trigger_shutdown(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }

    pub async fn wait_stopped(mut self) -> anyhow::Result<()> {
        self.server.take().expect("server running").await.expect("server task")
    }
}

pub async fn read(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

pub fn assert_no_errors(body: &Value) {
    assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
}

/// The first error's `extensions.code`.
pub fn error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {body:#}"))
}

pub fn error_field(body: &Value) -> &str {
    body["errors"][0]["extensions"]["field"]
        .as_str()
        .unwrap_or_else(|| panic!("no error field in {body:#}"))
}

pub const NAMES_HEADER: &str = "Year of Birth,Gender,Ethnicity,Child's First Name,Count,Rank";

/// A CSV in the public file's format with `rows` rows: years 2011–2016, both genders, the four groups (2012 with
/// the file's truncated labels), names in mixed case (`Olivia`, `OLIVIA`, `olive`…), counts and ranks with ties,
/// and every tenth row an exact copy of the row before it, as in the public file.
pub fn names_csv(rows: usize) -> String {
    const NAMES: [&str; 9] = [
        "Olivia", "OLIVIA", "Liam", "Oliver", "emma", "Ava", "Noah", "olive", "Zoë",
    ];
    const ETHNICITIES: [&str; 4] = [
        "ASIAN AND PACIFIC ISLANDER",
        "BLACK NON HISPANIC",
        "HISPANIC",
        "WHITE NON HISPANIC",
    ];
    const TRUNCATED: [&str; 4] = ["ASIAN AND PACI", "BLACK NON HISP", "HISPANIC", "WHITE NON HISP"];
    let mut text = format!("{NAMES_HEADER}\n");
    for row in 0..rows {
        let seed = if row % 10 == 9 { row - 1 } else { row };
        let year = 2011 + (seed / 7) % 6;
        let gender = if seed % 2 == 0 { "FEMALE" } else { "MALE" };
        let ethnicity = if year == 2012 {
            TRUNCATED[seed % 4]
        } else {
            ETHNICITIES[seed % 4]
        };
        let name = NAMES[seed % NAMES.len()];
        let count = 10 + (seed * 7) % 13;
        let rank = 1 + (seed * 5) % 11;
        writeln!(text, "{year},{gender},{ethnicity},{name},{count},{rank}").expect("writing to a string");
    }
    text
}

/// The public file, when this checkout sits next to `../shared/data`.
pub fn real_names_file() -> Option<std::path::PathBuf> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/Popular_Baby_Names.csv");
    if path.exists() {
        Some(path)
    } else {
        eprintln!("skipped: {} is absent", path.display());
        None
    }
}

/// Runs one statement on the app's own database, as an operator would behind the API's back.
pub async fn run_sql(app: &TestApp, statement: &str) {
    let db = Database::connect(&app.database_url).await.expect("connect");
    db.execute_unprepared(statement).await.expect("statement runs");
    db.close().await.expect("close");
}
