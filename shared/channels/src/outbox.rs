use std::collections::VecDeque;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::mailbox::{Mailbox, MailboxSend, MailboxSent};
use crate::{Clock, Outbound, SendError, Sender, Sent};

/// One message the [`Outbox`] "sent".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// The account whose follow-up this was (none for a message sent without one, and
    /// for lines written before the outbox recorded it: those are nobody's to see).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// `sms`, `email`, `missed_call_email`, `whatsapp` or `call`.
    pub channel: String,
    /// The phone number or email address.
    pub destination: String,
    /// The SMS text, or a one-glance summary of an email, WhatsApp template or call.
    pub text: String,
    /// The whole [`Outbound`] message, as JSON.
    pub detail: serde_json::Value,
    /// `outbox-<n>`, counting from 1 over the outbox's whole life.
    pub provider_id: String,
    pub sent_at: DateTime<Utc>,
}

/// The sender of the local runtime and of tests: records what would have been sent
/// instead of sending it, as JSON lines appended to a file given a path (the whole
/// record, surviving a restart of the local runtime), and in memory for the most
/// recent [`Outbox::MEMORY_LIMIT`] messages (so a long run does not grow without
/// bound).
pub struct Outbox {
    clock: Clock,
    path: Option<PathBuf>,
    limit: usize,
    state: Mutex<State>,
}

struct State {
    /// The most recent entries, oldest first.
    entries: VecDeque<OutboxEntry>,
    /// Every entry ever recorded (numbers the provider ids).
    recorded: u64,
    file: Option<File>,
}

impl Outbox {
    /// Opens the outbox, reading back what an earlier run recorded at `path` (created if
    /// missing). `clock` stamps each entry, so a moved local clock shows in `sent_at`.
    pub fn new(path: Option<PathBuf>, clock: Clock) -> std::io::Result<Outbox> {
        Self::with_memory_limit(path, clock, Self::MEMORY_LIMIT)
    }

    /// How many of the most recent messages are kept in memory (and listed).
    pub const MEMORY_LIMIT: usize = 10_000;

    /// [`Outbox::new`] keeping the `limit` most recent messages in memory.
    pub fn with_memory_limit(
        path: Option<PathBuf>,
        clock: Clock,
        limit: usize,
    ) -> std::io::Result<Outbox> {
        let limit = limit.max(1);
        let mut entries = VecDeque::new();
        let mut recorded = 0u64;
        let file = match &path {
            None => None,
            Some(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)?;
                }
                let mut file = OpenOptions::new()
                    .create(true)
                    .read(true)
                    .append(true)
                    .open(path)?;
                let ends_torn = file.metadata()?.len() > 0 && {
                    let mut last = [0u8];
                    file.seek(SeekFrom::End(-1))?;
                    file.read_exact(&mut last)?;
                    last[0] != b'\n'
                };
                file.seek(SeekFrom::Start(0))?;
                for (number, line) in BufReader::new(&file).split(b'\n').enumerate() {
                    let line = line?;
                    let line = String::from_utf8_lossy(&line);
                    if line.trim().is_empty() {
                        continue;
                    }
                    match serde_json::from_str::<OutboxEntry>(&line) {
                        Ok(entry) => {
                            recorded += 1;
                            if entries.len() == limit {
                                entries.pop_front();
                            }
                            entries.push_back(entry);
                        }
                        // A line torn by a crash mid-write: the rest is still good.
                        Err(e) => tracing::warn!(
                            path = %path.display(),
                            line = number + 1,
                            error = %e,
                            "skipping an unreadable outbox line"
                        ),
                    }
                }
                if ends_torn {
                    // End the torn line, so the next entry starts on a line of its own.
                    file.write_all(b"\n")?;
                }
                Some(file)
            }
        };
        Ok(Outbox {
            clock,
            path,
            limit,
            state: Mutex::new(State {
                entries,
                recorded,
                file,
            }),
        })
    }

    /// The most recent messages recorded (up to the memory limit), oldest first.
    pub fn list(&self) -> Vec<OutboxEntry> {
        self.lock().entries.iter().cloned().collect()
    }

    /// The most recent messages recorded for `account_id`, oldest first: one tenant
    /// never sees another's.
    pub fn list_for(&self, account_id: &str) -> Vec<OutboxEntry> {
        self.lock()
            .entries
            .iter()
            .filter(|e| e.account_id.as_deref() == Some(account_id))
            .cloned()
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl fmt::Debug for Outbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outbox")
            .field("path", &self.path)
            .field("entries", &self.lock().entries.len())
            .finish()
    }
}

/// What a person would want to see first of each message.
fn summary(message: &Outbound) -> String {
    match message {
        Outbound::Sms { text, .. } => text.clone(),
        Outbound::Email { content, .. } => format!("{}\n\n{}", content.subject, content.text),
        Outbound::WhatsApp {
            template_name,
            language,
            parameters,
            ..
        } => format!(
            "template {template_name} ({language}): {}",
            parameters.join(" | ")
        ),
        Outbound::Call {
            agent_id,
            attempt,
            instructions,
            ..
        } => format!("call by agent {agent_id}, attempt {attempt}: {instructions}"),
    }
}

#[async_trait::async_trait]
impl Sender for Outbox {
    async fn send(&self, message: &Outbound) -> Result<Sent, SendError> {
        self.record(None, message)
    }

    async fn send_for(&self, account_id: &str, message: &Outbound) -> Result<Sent, SendError> {
        self.record(Some(account_id), message)
    }
}

impl Outbox {
    fn record(&self, account_id: Option<&str>, message: &Outbound) -> Result<Sent, SendError> {
        let detail = serde_json::to_value(message)
            .map_err(|e| SendError::permanent("invalid_request", e.to_string()))?;
        self.write_entry(account_id, message, detail)
    }
}

/// A mailbox send lands in the outbox like any email, from the mailbox's address and
/// with the mailbox named in `detail.sender`.
#[async_trait::async_trait]
impl MailboxSend for Outbox {
    async fn send_from(
        &self,
        mailbox: &Mailbox,
        message: &Outbound,
    ) -> Result<MailboxSent, SendError> {
        let mut message = message.clone();
        if let Outbound::Email { sender, .. } = &mut message {
            sender.address.clone_from(&mailbox.address);
        }
        let mut detail = serde_json::to_value(&message)
            .map_err(|e| SendError::permanent("invalid_request", e.to_string()))?;
        detail["sender"] = serde_json::json!({
            "mailbox_id": mailbox.id,
            "provider": mailbox.provider,
            "address": mailbox.address,
        });
        let sent = self.write_entry(Some(&mailbox.account_id), &message, detail)?;
        Ok(MailboxSent {
            provider_id: sent.provider_id,
            rotated_refresh_token: None,
        })
    }
}

impl Outbox {
    fn write_entry(
        &self,
        account_id: Option<&str>,
        message: &Outbound,
        detail: serde_json::Value,
    ) -> Result<Sent, SendError> {
        let sent_at = (self.clock)();
        let mut state = self.lock();
        let entry = OutboxEntry {
            account_id: account_id.map(str::to_owned),
            channel: message.channel().to_owned(),
            destination: message.destination().to_owned(),
            text: summary(message),
            detail,
            provider_id: format!("outbox-{}", state.recorded + 1),
            sent_at,
        };
        if let Some(file) = state.file.as_mut() {
            let mut line = serde_json::to_string(&entry)
                .map_err(|e| SendError::permanent("invalid_request", e.to_string()))?;
            line.push('\n');
            file.write_all(line.as_bytes())
                .and_then(|()| file.flush())
                .map_err(|e| SendError::retryable(format!("cannot write the outbox: {e}")))?;
        }
        let provider_id = entry.provider_id.clone();
        tracing::info!(
            channel = entry.channel,
            provider_id,
            "recorded in the outbox"
        );
        state.recorded += 1;
        if state.entries.len() == self.limit {
            state.entries.pop_front();
        }
        state.entries.push_back(entry);
        Ok(Sent { provider_id })
    }
}
