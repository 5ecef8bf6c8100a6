//! The README path, end to end: the real `followups-local` binary on a free port and a
//! temporary data directory, `examples/demo.py` run against it with `python3`, then a
//! restart on the same data directory and the local clock moved forward until the
//! callback call the demo asked for is placed.
//!
//! No assertion is about how long anything took: every wait polls, with a bound.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// How long the binary may take to print its banner (a cold debug start is quick; a
/// loaded CI machine is not).
const START_BOUND: Duration = Duration::from_secs(60);
/// How long a due follow-up may take to show in the outbox.
const SEND_BOUND: Duration = Duration::from_secs(10);

const CAMPAIGN: &str = "spring-demo";
const AGENT: &str = "agent-ana";
/// The variables both the binary and the demo read: none may leak in from the shell.
const ENV: [&str; 10] = [
    "FOLLOWUPS_PORT",
    "FOLLOWUPS_STORE",
    "FOLLOWUPS_SENDERS",
    "FOLLOWUPS_DATA_DIR",
    "FOLLOWUPS_ACCOUNT",
    "FOLLOWUPS_TOKEN",
    "FOLLOWUPS_ADVANCE",
    "FOLLOWUPS_URL",
    "FOLLOWUPS_WEBHOOK_SECRET",
    "RUST_LOG",
];

/// The running binary; killed (and reaped) when dropped, also when a test panics.
struct Local {
    child: Child,
    base: String,
    output: Arc<Mutex<Vec<String>>>,
}

impl Local {
    /// Starts `followups-local --port 0 --data-dir DIR` and reads the bound address from
    /// the banner on its standard output.
    fn start(data_dir: &Path) -> Local {
        let mut command = Command::new(env!("CARGO_BIN_EXE_followups-local"));
        command
            .args(["--port", "0", "--data-dir"])
            .arg(data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for name in ENV {
            command.env_remove(name);
        }
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

    fn output(&self) -> String {
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
fn api_address(line: &str) -> Option<String> {
    let mut words = line.split_whitespace();
    if words.next() != Some("API") {
        return None;
    }
    let url = words.next()?.strip_prefix("http://")?;
    let host = url.strip_suffix("/v1").unwrap_or(url);
    Some(format!("http://{host}"))
}

fn demo_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/demo.py")
}

/// Runs `python3 examples/demo.py --url BASE --data-dir DIR [extra]` as a newcomer would.
fn run_demo(local: &Local, data_dir: &Path, extra: &[&str]) -> String {
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

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    fn new(local: &Local, data_dir: &Path) -> Api {
        let token = std::fs::read_to_string(data_dir.join("token")).expect("the token file");
        Api {
            http: reqwest::Client::new(),
            base: local.base.clone(),
            token: token.trim().to_string(),
        }
    }

    async fn get(&self, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        answer(response, path).await
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.send(reqwest::Method::POST, path, body).await
    }

    async fn put(&self, path: &str, body: Value) -> Value {
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

    async fn outbox(&self) -> Vec<Value> {
        items(self.get("/v1/outbox").await)
    }

    /// Waits (bounded) until the outbox holds an entry matching `wanted`.
    async fn wait_for_outbox(&self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
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

    async fn followups_of(&self, contact: &str) -> Vec<Value> {
        items(self.get(&format!("/v1/contacts/{contact}/followups")).await)
    }

    /// The one follow-up of `contact` on `channel`.
    async fn followup(&self, contact: &str, channel: &str) -> Value {
        let all = self.followups_of(contact).await;
        let mut matching = all.iter().filter(|f| f["channel"] == channel);
        let found = matching
            .next()
            .unwrap_or_else(|| panic!("no {channel} follow-up for {contact}: {all:#?}"))
            .clone();
        assert!(matching.next().is_none(), "two {channel} for {contact}");
        found
    }

    async fn campaign(&self) -> Vec<Value> {
        items(
            self.get(&format!("/v1/campaigns/{CAMPAIGN}/followups?limit=100"))
                .await,
        )
    }
}

async fn answer(response: reqwest::Response, path: &str) -> Value {
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"))
}

fn items(page: Value) -> Vec<Value> {
    page["items"].as_array().cloned().unwrap_or_default()
}

fn to(destination: &'static str) -> impl Fn(&Value) -> bool {
    move |e: &Value| e["destination"] == destination
}

fn time(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .unwrap_or_else(|| panic!("not a time: {value}"))
        .with_timezone(&Utc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_survives_a_restart_and_the_callback_call_fires_when_the_clock_moves() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    // 1. First start, and the demo as the README shows it.
    let local = Local::start(&data);
    run_demo(&local, &data, &[]);
    let api = Api::new(&local, &data);

    // Consent given: the SMS and the email. Missed call: the missed-call email.
    let sms = api.wait_for_outbox("SMS to Ana", to("+14155550101")).await;
    assert_eq!(sms["channel"], "sms");
    assert!(
        sms["text"].as_str().unwrap().contains("Ana from Acme"),
        "{sms}"
    );
    let email = api
        .wait_for_outbox("email to Ana", to("ana.diaz@example.com"))
        .await;
    assert_eq!(email["channel"], "email");
    assert!(
        email["text"]
            .as_str()
            .unwrap()
            .starts_with("Great talking today, Ana Diaz"),
        "{email}"
    );
    let missed = api
        .wait_for_outbox("missed-call email to Carla", to("carla.ruiz@example.com"))
        .await;
    assert!(
        missed["text"]
            .as_str()
            .unwrap()
            .starts_with("Sorry we missed you"),
        "{missed}"
    );
    let outbox = api.outbox().await;
    // Declined: nothing to Bob, and the reasons are on his inbox view.
    assert!(
        !outbox.iter().any(
            |e| e["destination"] == "+14155550102" || e["destination"] == "bob.lee@example.com"
        ),
        "Bob declined: {outbox:#?}"
    );
    for channel in ["sms", "email"] {
        let f = api.followup("contact-bob", channel).await;
        assert_eq!(f["status"], "suppressed", "{f}");
        assert_eq!(f["reason"], "no_consent", "{f}");
    }
    // Unconfirmed number: the SMS waits for an operator, nothing is sent.
    let review = api.followup("contact-eve", "sms").await;
    assert_eq!(review["status"], "needs_review", "{review}");
    assert_eq!(review["reason"], "destination_unconfirmed", "{review}");
    assert!(
        !outbox
            .iter()
            .any(|e| e["channel"] == "sms" && e["destination"] != "+14155550101")
    );
    // The callback: a follow-up call waiting for tomorrow afternoon (or Monday).
    let call = api.followup("contact-dan", "call").await;
    assert_eq!(call["status"], "scheduled", "{call}");
    assert!(!outbox.iter().any(|e| e["channel"] == "call"));

    // 2. Running the demo again is a redelivery of the same webhooks: nothing changes.
    let followups = api.campaign().await;
    let again = run_demo(&local, &data, &[]);
    assert_eq!(
        again.matches("a redelivery of an earlier run").count(),
        5,
        "{again}"
    );
    assert_eq!(api.outbox().await, outbox);
    assert_eq!(api.campaign().await.len(), followups.len());

    // 3. Restart on the same data directory: nothing is lost.
    drop(local);
    let local = Local::start(&data);
    let api = Api::new(&local, &data);
    assert_eq!(api.outbox().await, outbox);
    let after = api.campaign().await;
    let ids = |list: &[Value]| {
        let mut ids: Vec<String> = list.iter().map(|f| f["id"].to_string()).collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&after), ids(&followups));
    let pending = api.followup("contact-dan", "call").await;
    assert_eq!(pending["status"], "scheduled", "{pending}");
    assert_eq!(pending["due_at"], call["due_at"]);

    // 4. The operator sends the needs-review SMS to the number they confirmed.
    run_demo(&local, &data, &["--send-review", "+14155550199"]);
    let reviewed = api
        .wait_for_outbox("reviewed SMS to Eve", to("+14155550199"))
        .await;
    assert_eq!(reviewed["channel"], "sms");
    assert_eq!(reviewed["detail"]["to"], "+14155550199");

    // 5. Move the clock just past the callback's due time; the in-process scheduler
    // (fed again from the store after the restart) places the call.
    //
    // Not a fixed "30h": the call is re-checked against the agent's window (08:00-20:00
    // Mon-Sat in New York) when it fires, so a fixed jump from a run at 17:00 lands at
    // 23:00 and the call is rightly moved to the next morning instead of placed.
    let now = time(&api.get("/v1/local/clock").await["now"]);
    let due = time(&pending["due_at"]);
    let minutes = (due - now).num_minutes() + 1;
    assert!(minutes > 0, "the callback is in the future: {pending}");
    let moved = api
        .post(
            "/v1/local/clock",
            json!({ "advance": format!("{minutes}m") }),
        )
        .await;
    assert!(time(&moved["now"]) >= due, "{moved}");

    let id = pending["id"].as_str().unwrap().to_string();
    let placed = api
        .wait_for_outbox("the callback call", |e| {
            e["channel"] == "call" && e["detail"]["followup_id"] == id.as_str()
        })
        .await;
    let agent = api
        .get(&format!("/v1/agents/{AGENT}/followup-settings"))
        .await;
    assert_eq!(placed["destination"], "+14155550104");
    // The agent's script, and why the call was asked for.
    let instructions = placed["detail"]["instructions"].as_str().unwrap();
    let script = agent["calls"]["instructions"].as_str().unwrap();
    assert!(instructions.starts_with(script), "{instructions:?}");
    assert!(
        instructions.contains("Asked to be called back tomorrow afternoon."),
        "{instructions:?}"
    );
    assert_eq!(placed["detail"]["agent_id"], AGENT);
    assert_eq!(placed["detail"]["attempt"], 1);
    let call = api.followup("contact-dan", "call").await;
    assert_eq!(call["status"], "placed", "{call}");
}

/// Contacts opting out as they would: a STOP reply to a text, a WhatsApp STOP, an
/// email's unsubscribe link. Each lands on the do-not-call list with its source, the
/// pending follow-ups of that number or address are cancelled, and nothing more goes
/// out to them (the callback call is never placed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_and_unsubscribe_links_opt_contacts_out_and_nothing_more_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let local = Local::start(&data);
    run_demo(&local, &data, &[]);
    let api = Api::new(&local, &data);
    let email = api
        .wait_for_outbox("email to Ana", to("ana.diaz@example.com"))
        .await;
    let mut settings = api.get("/v1/settings").await;
    settings["sms_opt_out_confirmation"] = json!(true);
    settings["sms_origination_number"] = json!("+12125550101");
    api.put("/v1/settings", settings).await;

    // Dan replies STOP to our number: his pending callback call is cancelled, and the
    // one confirmation text goes out.
    let pending = api.followup("contact-dan", "call").await;
    assert_eq!(pending["status"], "scheduled", "{pending}");
    let reply = json!({"from": "+14155550104", "to": "+12125550101", "body": " Stop. "});
    let handled = api.post("/v1/local/inbound/sms", reply.clone()).await;
    assert_eq!(handled["outcome"], "opted_out", "{handled}");
    assert_eq!(handled["cancelled"], 1, "{handled}");
    assert_eq!(handled["confirmation_sent"], true, "{handled}");
    let confirmation = api
        .wait_for_outbox("the opt-out confirmation", to("+14155550104"))
        .await;
    assert!(
        confirmation["text"].as_str().unwrap().contains("opted out"),
        "{confirmation}"
    );
    let call = api.followup("contact-dan", "call").await;
    assert_eq!(
        (call["status"].as_str(), call["reason"].as_str()),
        (Some("cancelled"), Some("opted_out"))
    );
    // A second STOP changes nothing and sends no second confirmation.
    let again = api.post("/v1/local/inbound/sms", reply).await;
    assert_eq!(again["confirmation_sent"], false, "{again}");
    // A reply to a number no account owns is acknowledged and ignored.
    let stray = json!({"from": "+14155550199", "to": "+12125550199", "body": "STOP"});
    assert_eq!(
        api.post("/v1/local/inbound/sms", stray).await["outcome"],
        "ignored"
    );

    // Ana sends STOP on WhatsApp.
    let whatsapp = json!({"from": "+14155550101", "body": "stop"});
    assert_eq!(
        api.post("/v1/local/inbound/whatsapp", whatsapp).await["opted_out"],
        1
    );

    // Ana's email: the one-click link. GET shows a page and changes nothing; POST acts.
    let headers: Vec<(String, String)> =
        serde_json::from_value(email["detail"]["headers"].clone()).unwrap();
    assert!(headers.contains(&(
        "List-Unsubscribe-Post".into(),
        "List-Unsubscribe=One-Click".into()
    )));
    let link = &headers
        .iter()
        .find(|(n, _)| n == "List-Unsubscribe")
        .unwrap()
        .1;
    let url = link
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string();
    assert!(
        url.starts_with(&format!("{}/v1/unsubscribe/", local.base)),
        "{url}"
    );
    let http = reqwest::Client::new();
    let page = http.get(&url).send().await.unwrap();
    assert!(page.status().is_success());
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("<form method=\"post\">")
    );
    let dnc = |entries: Value| -> Vec<String> {
        let mut all: Vec<String> = items(entries)
            .iter()
            .map(|e| {
                format!(
                    "{} {}",
                    e["value"].as_str().unwrap(),
                    e["source"].as_str().unwrap()
                )
            })
            .collect();
        all.sort();
        all
    };
    assert!(
        !dnc(api.get("/v1/dnc").await)
            .iter()
            .any(|e| e.starts_with("ana.diaz"))
    );
    let done = http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert!(done.status().is_success());
    assert_eq!(
        dnc(api.get("/v1/dnc").await),
        [
            "+14155550101 whatsapp_reply",
            "+14155550104 sms_reply",
            "ana.diaz@example.com unsubscribe"
        ]
    );
    let tampered = format!("{}x", url);
    assert_eq!(http.post(&tampered).send().await.unwrap().status(), 404);

    // The clock moves past the callback's time: the operator's reviewed SMS goes out
    // (the runtime is firing due follow-ups), the cancelled call never does.
    let minutes = (time(&pending["due_at"]) - time(&api.get("/v1/local/clock").await["now"]))
        .num_minutes()
        + 1;
    api.post(
        "/v1/local/clock",
        json!({ "advance": format!("{minutes}m") }),
    )
    .await;
    run_demo(&local, &data, &["--send-review", "+14155550199"]);
    api.wait_for_outbox("reviewed SMS to Eve", to("+14155550199"))
        .await;
    let outbox = api.outbox().await;
    assert!(
        !outbox.iter().any(|e| e["channel"] == "call"),
        "{outbox:#?}"
    );
    let to_dan: Vec<_> = outbox
        .iter()
        .filter(|e| e["destination"] == "+14155550104")
        .collect();
    assert_eq!(to_dan.len(), 1, "only the confirmation: {to_dan:#?}");
    assert_eq!(
        api.followup("contact-dan", "call").await["status"],
        "cancelled"
    );
}

#[test]
fn the_banner_address_is_read_from_the_api_line_only() {
    assert_eq!(
        api_address("  API            http://127.0.0.1:41234/v1  (OpenAPI: /v1/openapi.json)"),
        Some("http://127.0.0.1:41234".into())
    );
    assert_eq!(
        api_address("  webhook        POST http://127.0.0.1:1/v1/webhooks/acme/call-completed"),
        None
    );
    assert_eq!(api_address("2030-01-15T15:00:00Z  INFO API started"), None);
}
