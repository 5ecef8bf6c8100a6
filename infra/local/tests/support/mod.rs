//! The running `followups-local` binary and its API, shared by the tests of this
//! directory (each test file uses a part).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;

/// How long the binary may take to print its banner (a cold debug start is quick; a
/// loaded CI machine is not).
pub const START_BOUND: Duration = Duration::from_secs(60);
/// How long a due follow-up may take to show in the outbox.
pub const SEND_BOUND: Duration = Duration::from_secs(10);

pub const CAMPAIGN: &str = "spring-demo";
pub const AGENT: &str = "agent-ana";
/// The variables both the binary and the demo read: none may leak in from the shell.
pub const ENV: [&str; 17] = [
    "FOLLOWUPS_PORT",
    "FOLLOWUPS_STORE",
    "FOLLOWUPS_SENDERS",
    "FOLLOWUPS_DATA_DIR",
    "FOLLOWUPS_ACCOUNT",
    "FOLLOWUPS_TOKEN",
    "FOLLOWUPS_ADVANCE",
    "FOLLOWUPS_URL",
    "FOLLOWUPS_WEBHOOK_SECRET",
    "PUBLIC_BASE_URL",
    "GOOGLE_CLIENT_ID",
    "GOOGLE_CLIENT_SECRET",
    "GOOGLE_OAUTH_BASE",
    "MICROSOFT_CLIENT_ID",
    "MICROSOFT_CLIENT_SECRET",
    "MICROSOFT_OAUTH_BASE",
    "RUST_LOG",
];

/// The running binary; killed (and reaped) when dropped, also when a test panics.
pub struct Local {
    pub child: Child,
    pub base: String,
    output: Arc<Mutex<Vec<String>>>,
}

impl Local {
    /// Starts `followups-local --port 0 --data-dir DIR` and reads the bound address from
    /// the banner on its standard output.
    pub fn start(data_dir: &Path) -> Local {
        Local::start_with(data_dir, &[])
    }

    /// [`Local::start`] with more flags.
    pub fn start_with(data_dir: &Path, flags: &[&str]) -> Local {
        Local::start_with_env(data_dir, flags, &[])
    }

    /// [`Local::start_with`], with these environment variables set.
    pub fn start_with_env(data_dir: &Path, flags: &[&str], vars: &[(&str, &str)]) -> Local {
        let mut command = Command::new(env!("CARGO_BIN_EXE_followups-local"));
        command
            .args(["--port", "0", "--data-dir"])
            .arg(data_dir)
            .args(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for name in ENV {
            command.env_remove(name);
        }
        command.envs(vars.iter().copied());
        let mut child = command.spawn().expect("start followups-local");
        let output = Arc::new(Mutex::new(Vec::new()));
        let (lines_tx, lines_rx) = mpsc::channel();
        // Both streams are drained for the whole life of the process, so it never
        // blocks on a full pipe; every line is kept for the failure message.
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        for (stream, tx) in [
            (
                Box::new(stdout) as Box<dyn std::io::Read + Send>,
                Some(lines_tx),
            ),
            (Box::new(stderr), None),
        ] {
            let output = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    output.lock().unwrap().push(line.clone());
                    if let Some(tx) = &tx {
                        let _ = tx.send(line);
                    }
                }
            });
        }
        let mut local = Local {
            child,
            base: String::new(),
            output,
        };
        let deadline = Instant::now() + START_BOUND;
        while local.base.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines_rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(base) = api_address(&line) {
                        local.base = base;
                    }
                }
                Err(_) => panic!(
                    "followups-local printed no API address within {START_BOUND:?} (exit: {:?}):\n{}",
                    local.child.try_wait(),
                    local.output()
                ),
            }
        }
        local
    }

    pub fn output(&self) -> String {
        self.output.lock().unwrap().join("\n")
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- followups-local output ---\n{}", self.output());
        }
    }
}

/// `  API            http://127.0.0.1:PORT/v1  (OpenAPI: ...)` → `http://127.0.0.1:PORT`.
pub fn api_address(line: &str) -> Option<String> {
    let mut words = line.split_whitespace();
    if words.next() != Some("API") {
        return None;
    }
    let url = words.next()?.strip_prefix("http://")?;
    let host = url.strip_suffix("/v1").unwrap_or(url);
    Some(format!("http://{host}"))
}

pub fn demo_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/demo.py")
}

/// Runs `python3 examples/demo.py --url BASE --data-dir DIR [extra]` as a newcomer would.
pub fn run_demo(local: &Local, data_dir: &Path, extra: &[&str]) -> String {
    let mut command = Command::new("python3");
    command
        .arg(demo_script())
        .args(["--url", &local.base, "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .stdin(Stdio::null());
    for name in ENV {
        command.env_remove(name);
    }
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("python3 is needed to run examples/demo.py: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "demo.py {extra:?} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    println!("--- demo.py {extra:?} ---\n{stdout}");
    stdout
}

pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
}

impl Api {
    pub fn new(local: &Local, data_dir: &Path) -> Api {
        let token = std::fs::read_to_string(data_dir.join("token")).expect("the token file");
        Api {
            http: reqwest::Client::new(),
            base: local.base.clone(),
            token: token.trim().to_string(),
        }
    }

    pub async fn get(&self, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        answer(response, path).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.send(reqwest::Method::POST, path, body).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Value {
        self.send(reqwest::Method::PUT, path, body).await
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let response = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        answer(response, path).await
    }

    pub async fn outbox(&self) -> Vec<Value> {
        items(self.get("/v1/outbox").await)
    }

    /// Waits (bounded) until the outbox holds an entry matching `wanted`.
    pub async fn wait_for_outbox(&self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + SEND_BOUND;
        loop {
            let outbox = self.outbox().await;
            if let Some(entry) = outbox.iter().find(|e| wanted(e)) {
                return entry.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no {what} in the outbox within {SEND_BOUND:?}: {outbox:#?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn followups_of(&self, contact: &str) -> Vec<Value> {
        items(self.get(&format!("/v1/contacts/{contact}/followups")).await)
    }

    /// The one follow-up of `contact` on `channel`.
    pub async fn followup(&self, contact: &str, channel: &str) -> Value {
        let all = self.followups_of(contact).await;
        let mut matching = all.iter().filter(|f| f["channel"] == channel);
        let found = matching
            .next()
            .unwrap_or_else(|| panic!("no {channel} follow-up for {contact}: {all:#?}"))
            .clone();
        assert!(matching.next().is_none(), "two {channel} for {contact}");
        found
    }

    pub async fn campaign(&self) -> Vec<Value> {
        items(
            self.get(&format!("/v1/campaigns/{CAMPAIGN}/followups?limit=100"))
                .await,
        )
    }
}

pub async fn answer(response: reqwest::Response, path: &str) -> Value {
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"))
}

pub fn items(page: Value) -> Vec<Value> {
    page["items"].as_array().cloned().unwrap_or_default()
}

pub fn to(destination: &'static str) -> impl Fn(&Value) -> bool {
    move |e: &Value| e["destination"] == destination
}

pub fn time(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .unwrap_or_else(|| panic!("not a time: {value}"))
        .with_timezone(&Utc)
}
