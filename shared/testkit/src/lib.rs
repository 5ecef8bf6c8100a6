//! Test support for the integration tests: a real AWS emulator (moto server) on a
//! loopback port, started once per test process and stopped with it, plus helpers to
//! give every test its own namespace inside it and to read back what moto recorded;
//! and the stubs and signatures the test crates share (voice platforms, mail providers,
//! Lambda), so each exists once.
//!
//! Tests never reset moto (other tests of the same process share it); they isolate
//! themselves with unique names from [`unique`] instead.

mod counter;
pub mod fixtures;
mod lambda_stub;
mod mail_provider;
pub mod platforms;
pub mod recording;

pub use counter::RequestCounter;
pub use lambda_stub::{Invocation, LambdaStub};
pub use mail_provider::{Flavor, MailProviderStub, SentMime, TokenRequest, consent};
pub use platforms::{PlatformStub, Received};

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;

/// A moto server owned by this test process.
pub struct Moto {
    endpoint: String,
    // Holding the child's stdin keeps moto alive; the pipe closes when this process
    // exits, and `infra/moto/serve.py` stops the server on that EOF.
    _lifeline: Mutex<(Child, ChildStdin)>,
}

static MOTO: OnceLock<Moto> = OnceLock::new();

impl Moto {
    /// The process-wide moto server, started on first use on a free loopback port.
    ///
    /// Panics with the remedy when moto cannot start: an integration test that cannot
    /// reach its emulator must fail, never pass vacuously.
    pub fn shared() -> &'static Moto {
        MOTO.get_or_init(|| Moto::start().unwrap_or_else(|e| panic!("{e}")))
    }

    fn start() -> Result<Moto, String> {
        let root = workspace_root();
        let python = python(&root);
        let script = root.join("infra/moto/serve.py");
        let log = std::fs::File::create(std::env::temp_dir().join("followups-moto.log"))
            .map_err(|e| format!("cannot create moto log: {e}"))?;
        let mut child = Command::new(&python)
            .arg(&script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot start moto with {}: {e}; run `./infra/test.sh` (it installs moto into .venv)",
                    python.display()
                )
            })?;
        let stdout = child.stdout.take().ok_or("moto has no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| format!("moto did not start: {e}"))?;
        let port = line
            .strip_prefix("PORT ")
            .and_then(|p| p.trim().parse::<u16>().ok())
            .ok_or_else(|| {
                format!(
                    "moto did not start (is `moto[server]` installed for {}? see {}): got {line:?}",
                    python.display(),
                    std::env::temp_dir().join("followups-moto.log").display()
                )
            })?;
        let stdin = child.stdin.take().ok_or("moto has no stdin")?;
        Ok(Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            _lifeline: Mutex::new((child, stdin)),
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// An SDK configuration that talks only to this moto server, with dummy credentials.
    pub fn sdk_config(&self) -> SdkConfig {
        sdk_config_for(&self.endpoint)
    }

    /// Everything moto recorded (`GET /moto-api/data.json`): sent SMS under
    /// `sns.SMS`, sent email under `ses.Message`, schedules under `scheduler.Schedule`.
    ///
    /// moto builds this by walking every backend's state, and answers 500 when a request
    /// of another test changes that state during the walk: asked again, a few times.
    pub async fn data(&self) -> serde_json::Value {
        let url = format!("{}/moto-api/data.json", self.endpoint);
        let mut tries = 0;
        let response = loop {
            tries += 1;
            match reqwest::get(&url).await.and_then(|r| r.error_for_status()) {
                Err(e) if tries < 5 && e.status().is_some_and(|s| s.is_server_error()) => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                other => break other.unwrap_or_else(|e| panic!("GET {url}: {e}")),
            }
        };
        response
            .json()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: not JSON: {e}"))
    }
}

/// An SDK configuration for an AWS-compatible endpoint on loopback.
pub fn sdk_config_for(endpoint: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(Credentials::new(
                "testing", "testing", None, None, "testkit",
            )),
        )
        .http_client(sdk_http::http_client())
        .build()
}

/// A name nobody else in this moto server uses: `<prefix>-<uuid>`.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// A file path in the temp directory, unique to the test, removed on drop.
pub struct TempFile(pub PathBuf);

impl TempFile {
    /// `<temp dir>/<prefix>-<uuid>.<extension>`; nothing is created.
    pub fn new(prefix: &str, extension: &str) -> Self {
        TempFile(std::env::temp_dir().join(format!("{}.{extension}", unique(prefix))))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A unique, valid North American E.164 number, so a test can find its own SMS among
/// others' in moto. Never ends in `99` (moto treats those as opted out).
pub fn unique_phone() -> String {
    let n = uuid::Uuid::new_v4().as_u128();
    let exchange = 2 + n % 8; // exchanges never start with 0 or 1
    let line = (n >> 8) % 1_000_000;
    let line = if line % 100 == 99 { line - 1 } else { line };
    format!("+1202{exchange}{line:06}")
}

/// The workspace root, from this crate's manifest directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The interpreter that has moto: `$FOLLOWUPS_PYTHON`, else the project's `.venv`,
/// else `python3`.
fn python(root: &Path) -> PathBuf {
    if let Some(p) = std::env::var_os("FOLLOWUPS_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = root.join(".venv/bin/python");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}
