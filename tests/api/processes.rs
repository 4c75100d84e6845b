//! Processes of the built binary, for the tests where a process is the point (`kill -9`, a second instance), and
//! waiting on a condition with a deadline.

use std::{
    future::Future,
    io::BufRead,
    net::SocketAddr,
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::{Value, json};
use tokio::{sync::mpsc, time::Instant};

use crate::helpers::{JWT_SECRET, assert_no_errors};

/// How long a test waits for a condition before it fails.
// Generous: the whole suite runs in parallel on two cores in CI, with debug builds of both servers.
pub const DEADLINE: Duration = Duration::from_secs(120);

/// A process of the built binary, its log read as it comes; killed if the test ends while it runs.
pub struct Process {
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
    log: Vec<String>,
}

impl Process {
    pub fn start(command: &str, dir: &Path, env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_alx-backend"))
            .arg(command)
            .env("ALX_LISTEN", "127.0.0.1:0")
            .env("ALX_JWT_SECRET", JWT_SECRET)
            .env("ALX_LOG_FORMAT", "json")
            // One line per notification sent to the log would drown the rest.
            .env("ALX_LOG", "info,alx_backend::notifications=warn")
            .envs(env.iter().copied())
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let stderr = child.stderr.take().expect("stderr");
        let (sender, lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            log: Vec::new(),
        }
    }

    /// The address the process logs it listens on: the API for `serve`, `/healthz` and `/metrics` for `worker`.
    pub async fn address(&mut self) -> SocketAddr {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let Ok(Some(line)) = tokio::time::timeout_at(deadline, self.lines.recv()).await else {
                panic!("no address logged; the process logged:\n{}", self.log.join("\n"));
            };
            self.log.push(line.clone());
            if let Ok(entry) = serde_json::from_str::<Value>(&line)
                && let Some(address) = entry["address"].as_str()
            {
                return address.parse().expect("an address");
            }
        }
    }

    /// `kill -9`: no shutdown, no give-back; whatever it was doing stops mid-way.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL sent");
        self.child.wait().expect("reaped");
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A GraphQL request to a server process; fails the test on any error.
pub async fn gql(address: SocketAddr, token: Option<&str>, query: &str, variables: Value) -> Value {
    let mut request = reqwest::Client::new()
        .post(format!("http://{address}/graphql"))
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let body: Value = request.send().await.expect("sent").json().await.expect("a JSON answer");
    assert_no_errors(&body);
    body
}

/// Polls `check` until it gives a value, failing the test after `DEADLINE`.
pub async fn eventually<T, F>(what: &str, mut check: impl FnMut() -> F) -> T
where
    F: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
