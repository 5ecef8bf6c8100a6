//! Command-line flags, each with an environment variable for containers and scripts.

use std::io::Write;
use std::path::PathBuf;

use chrono::Duration;

pub const USAGE: &str = "\
usage: followups-local [--port N] [--data-dir DIR] [--account ID] [--token TOKEN] [--advance DURATION]

  --port N           listen on 127.0.0.1:N (FOLLOWUPS_PORT, default 8080; 0 picks a free port)
  --data-dir DIR     where the store and the outbox live (FOLLOWUPS_DATA_DIR, default .local)
  --account ID       the local account (FOLLOWUPS_ACCOUNT, default acme)
  --token TOKEN      the API bearer token (FOLLOWUPS_TOKEN; default: made once, kept in DIR/token)
  --tenant TOKEN=ID  another account and its token, to try tenancy (repeatable;
                     FOLLOWUPS_TENANTS=tok1=globex,tok2=initech)
  --advance DURATION start with the clock moved forward, e.g. 26h, 90m, 2d (FOLLOWUPS_ADVANCE)
  --store KIND       embedded (default: a file in DIR) or dynamodb (FOLLOWUPS_STORE; table TABLE_NAME,
                     default followups-local, created if missing; AWS_ENDPOINT_URL for moto)
  --senders KIND     outbox (default: GET /v1/outbox shows what was sent) or aws (FOLLOWUPS_SENDERS:
                     SNS and SESv2 through the AWS SDK; WhatsApp and calls too when their
                     variables are set, see README; the rest stays in the outbox)";

/// Where the records live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Embedded,
    Dynamodb,
}

/// How follow-ups leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SenderKind {
    Outbox,
    Aws,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub port: u16,
    pub data_dir: PathBuf,
    pub account: String,
    pub token: Option<String>,
    /// More accounts, each with its bearer token.
    pub tenants: Vec<(String, String)>,
    pub advance: Duration,
    pub store: StoreKind,
    pub senders: SenderKind,
}

impl Options {
    pub fn from_args(args: impl Iterator<Item = String>) -> Result<Self, String> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let mut options = Options {
            port: 8080,
            data_dir: PathBuf::from(".local"),
            account: "acme".into(),
            token: env("FOLLOWUPS_TOKEN"),
            tenants: Vec::new(),
            advance: Duration::zero(),
            store: StoreKind::Embedded,
            senders: SenderKind::Outbox,
        };
        if let Some(tenants) = env("FOLLOWUPS_TENANTS") {
            for pair in tenants.split(',').filter(|p| !p.trim().is_empty()) {
                options.tenants.push(parse_tenant(pair.trim())?);
            }
        }
        if let Some(store) = env("FOLLOWUPS_STORE") {
            options.store = parse_store(&store)?;
        }
        if let Some(senders) = env("FOLLOWUPS_SENDERS") {
            options.senders = parse_senders(&senders)?;
        }
        if let Some(port) = env("FOLLOWUPS_PORT") {
            options.port = parse_port(&port)?;
        }
        if let Some(dir) = env("FOLLOWUPS_DATA_DIR") {
            options.data_dir = dir.into();
        }
        if let Some(account) = env("FOLLOWUPS_ACCOUNT") {
            options.account = account;
        }
        if let Some(advance) = env("FOLLOWUPS_ADVANCE") {
            options.advance = parse_duration(&advance)?;
        }
        let mut args = args;
        while let Some(flag) = args.next() {
            if flag == "-h" || flag == "--help" {
                // `--help | head` closes the pipe early: not an error.
                let _ = writeln!(std::io::stdout(), "{USAGE}");
                std::process::exit(0);
            }
            let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--port" => options.port = parse_port(&value)?,
                "--data-dir" => options.data_dir = value.into(),
                "--account" => options.account = value,
                "--token" => options.token = Some(value),
                "--tenant" => options.tenants.push(parse_tenant(&value)?),
                "--advance" => options.advance = parse_duration(&value)?,
                "--store" => options.store = parse_store(&value)?,
                "--senders" => options.senders = parse_senders(&value)?,
                other => return Err(format!("unknown flag {other}")),
            }
        }
        Ok(options)
    }
}

/// `TOKEN=ACCOUNT`.
fn parse_tenant(raw: &str) -> Result<(String, String), String> {
    match raw.split_once('=') {
        Some((token, account)) if !token.is_empty() && !account.is_empty() => {
            Ok((token.to_string(), account.to_string()))
        }
        _ => Err(format!("--tenant takes TOKEN=ACCOUNT, not {raw:?}")),
    }
}

fn parse_store(raw: &str) -> Result<StoreKind, String> {
    match raw {
        "embedded" => Ok(StoreKind::Embedded),
        "dynamodb" => Ok(StoreKind::Dynamodb),
        other => Err(format!("--store is embedded or dynamodb, not {other:?}")),
    }
}

fn parse_senders(raw: &str) -> Result<SenderKind, String> {
    match raw {
        "outbox" => Ok(SenderKind::Outbox),
        "aws" => Ok(SenderKind::Aws),
        other => Err(format!("--senders is outbox or aws, not {other:?}")),
    }
}

fn parse_port(raw: &str) -> Result<u16, String> {
    raw.parse().map_err(|_| format!("not a port: {raw}"))
}

/// `90s`, `45m`, `26h`, `2d`, within the local clock's bound.
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    service::clock::parse_advance(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(parse_duration("26h"), Ok(Duration::hours(26)));
        assert_eq!(parse_duration("90m"), Ok(Duration::minutes(90)));
        assert_eq!(parse_duration("2d"), Ok(Duration::days(2)));
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn more_tenants_are_token_account_pairs() {
        let args = ["--tenant", "tok2=globex", "--tenant", "tok3=initech"].map(String::from);
        let options = Options::from_args(args.into_iter()).unwrap();
        assert_eq!(
            options.tenants,
            vec![
                ("tok2".into(), "globex".into()),
                ("tok3".into(), "initech".into())
            ]
        );
        assert!(parse_tenant("no-account").is_err());
    }
}
