//! Follow-up calls through the voice platform an agent names: each platform's own
//! create-call request, with the contact's number, the call instructions and contact
//! variables as its overrides / dynamic variables, and our follow-up id and attempt in
//! its metadata (so its completion webhook is tied back to the follow-up):
//!
//! | platform | request | auth | metadata |
//! |---|---|---|---|
//! | Vapi | `POST /call` | `Authorization: Bearer` | `assistantOverrides.metadata` (+ `variableValues`) |
//! | Retell | `POST /v2/create-phone-call` | `Authorization: Bearer` | `metadata` (+ `retell_llm_dynamic_variables`) |
//! | Bland | `POST /v1/calls` | `authorization: <key>` | `metadata` (+ `request_data`) |
//! | ElevenLabs | `POST /v1/convai/twilio/outbound-call` | `xi-api-key` | `conversation_initiation_client_data.dynamic_variables` |
//!
//! None of them honours an idempotency key, so an answer that is not a clear
//! rejection (a 5xx, a timeout after sending) is [`SendError::Unknown`]: the call may
//! be ringing, and it is never placed twice. A call without a platform goes to the
//! generic sender (the deployment's endpoint), when there is one.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::http::{DEFAULT_HTTP_TIMEOUT, client, snippet, transport_error};
use crate::message::PlatformTarget;
use crate::{Outbound, Secret, SecretStore, SendError, Sender, Sent};

/// The platforms' API roots (overridable for tests and regional endpoints).
#[derive(Debug, Clone)]
pub struct PlatformApis {
    pub vapi: String,
    pub retell: String,
    pub bland: String,
    pub elevenlabs: String,
}

impl Default for PlatformApis {
    fn default() -> Self {
        Self {
            vapi: "https://api.vapi.ai".into(),
            retell: "https://api.retellai.com".into(),
            bland: "https://api.bland.ai".into(),
            elevenlabs: "https://api.elevenlabs.io".into(),
        }
    }
}

/// Names the API key secret of `(account, platform)` in the store.
pub type KeyName = Arc<dyn Fn(&str, &str) -> Option<String> + Send + Sync>;

/// The call sender of an executor: platform calls, else the generic sender.
pub struct PlatformCalls {
    http: reqwest::Client,
    apis: PlatformApis,
    secrets: Arc<dyn SecretStore>,
    key_name: KeyName,
    generic: Option<Arc<dyn Sender>>,
}

impl fmt::Debug for PlatformCalls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlatformCalls")
            .field("apis", &self.apis)
            .field("generic", &self.generic.is_some())
            .finish()
    }
}

impl PlatformCalls {
    pub fn new(
        apis: PlatformApis,
        secrets: Arc<dyn SecretStore>,
        key_name: KeyName,
        generic: Option<Arc<dyn Sender>>,
    ) -> Self {
        Self {
            http: client(DEFAULT_HTTP_TIMEOUT),
            apis,
            secrets,
            key_name,
            generic,
        }
    }
}

/// One platform request: where, how authenticated, what, and where the call id is
/// in the answer.
struct Request {
    url: String,
    auth: (&'static str, String),
    body: Value,
    id_fields: &'static [&'static str],
}

/// What every platform carries back: ours, as strings.
fn metadata(call: &CallParts<'_>) -> BTreeMap<String, Value> {
    let mut metadata: BTreeMap<String, Value> = call
        .variables
        .iter()
        .filter(|(k, _)| ["agent_id", "campaign_id", "contact_id"].contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    metadata.insert("account_id".into(), json!(call.account_id));
    metadata.insert("followup_id".into(), json!(call.followup_id));
    metadata.insert("attempt".into(), json!(call.attempt));
    metadata
}

/// Dynamic variables: the contact variables, the instructions and our ids, as strings.
fn variables(call: &CallParts<'_>) -> BTreeMap<String, String> {
    let mut vars = call.variables.clone();
    vars.insert("followup_instructions".into(), call.instructions.to_owned());
    vars.insert("followup_id".into(), call.followup_id.to_owned());
    vars.insert("followup_attempt".into(), call.attempt.to_string());
    vars.insert("account_id".into(), call.account_id.to_owned());
    vars
}

struct CallParts<'a> {
    to: &'a str,
    instructions: &'a str,
    account_id: &'a str,
    followup_id: &'a str,
    attempt: u32,
    variables: &'a BTreeMap<String, String>,
}

fn missing(what: &str, platform: &str) -> SendError {
    SendError::permanent(
        "platform_settings",
        format!("calls.platform.{what} is required for {platform}"),
    )
}

/// A platform setting the request cannot go without.
fn need(value: &Option<String>, what: &str, target: &PlatformTarget) -> Result<String, SendError> {
    value.clone().ok_or_else(|| missing(what, &target.name))
}

/// An API root (with or without a trailing slash) joined with a path.
fn root(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

fn vapi_request(
    api: &str,
    target: &PlatformTarget,
    call: &CallParts<'_>,
    key: String,
) -> Result<Request, SendError> {
    Ok(Request {
        url: root(api, "/call"),
        auth: ("authorization", format!("Bearer {key}")),
        body: json!({
            "assistantId": need(&target.agent_id, "agent_id", target)?,
            "phoneNumberId": need(&target.from_number_id, "from_number_id", target)?,
            "customer": {
                "number": call.to,
                "name": call.variables.get("contact_name"),
                "externalId": call.variables.get("contact_id"),
            },
            "assistantOverrides": {
                "metadata": metadata(call),
                "variableValues": variables(call),
            },
        }),
        id_fields: &["id"],
    })
}

fn retell_request(
    api: &str,
    target: &PlatformTarget,
    call: &CallParts<'_>,
    key: String,
) -> Result<Request, SendError> {
    let mut body = json!({
        "from_number": need(&target.from_number, "from_number", target)?,
        "to_number": call.to,
        "metadata": metadata(call),
        "retell_llm_dynamic_variables": variables(call),
    });
    if let Some(agent) = &target.agent_id {
        body["override_agent_id"] = json!(agent);
    }
    Ok(Request {
        url: root(api, "/v2/create-phone-call"),
        auth: ("authorization", format!("Bearer {key}")),
        body,
        id_fields: &["call_id"],
    })
}

/// Bland needs nothing beyond the number: a pathway when the agent names one, else the
/// instructions as the call's task.
fn bland_request(api: &str, target: &PlatformTarget, call: &CallParts<'_>, key: String) -> Request {
    let mut body = json!({
        "phone_number": call.to,
        "metadata": metadata(call),
        "request_data": variables(call),
    });
    match &target.agent_id {
        Some(pathway) => body["pathway_id"] = json!(pathway),
        None => body["task"] = json!(call.instructions),
    }
    if let Some(from) = &target.from_number {
        body["from"] = json!(from);
    }
    Request {
        url: root(api, "/v1/calls"),
        auth: ("authorization", key),
        body,
        id_fields: &["call_id"],
    }
}

fn elevenlabs_request(
    api: &str,
    target: &PlatformTarget,
    call: &CallParts<'_>,
    key: String,
) -> Result<Request, SendError> {
    Ok(Request {
        url: root(api, "/v1/convai/twilio/outbound-call"),
        auth: ("xi-api-key", key),
        body: json!({
            "agent_id": need(&target.agent_id, "agent_id", target)?,
            "agent_phone_number_id": need(&target.from_number_id, "from_number_id", target)?,
            "to_number": call.to,
            "conversation_initiation_client_data": {
                "dynamic_variables": variables(call),
                "user_id": call.variables.get("contact_id"),
            },
        }),
        id_fields: &["conversation_id", "callSid"],
    })
}

impl PlatformCalls {
    /// The name and value of the account's API key for `platform`.
    async fn api_key(
        &self,
        account_id: &str,
        platform: &str,
    ) -> Result<(String, Secret), SendError> {
        let key_name = (self.key_name)(account_id, platform).ok_or_else(|| {
            SendError::permanent(
                "platform_settings",
                format!("invalid account or platform {platform}"),
            )
        })?;
        let key = self.secrets.read(&key_name, false).await?.ok_or_else(|| {
            SendError::permanent(
                "platform_not_connected",
                format!("no {platform} API key: connect it with PUT /v1/platforms/{platform}"),
            )
        })?;
        Ok((key_name, key))
    }

    fn request(
        &self,
        target: &PlatformTarget,
        call: &CallParts<'_>,
        key: String,
    ) -> Result<Request, SendError> {
        match target.name.as_str() {
            "vapi" => vapi_request(&self.apis.vapi, target, call, key),
            "retell" => retell_request(&self.apis.retell, target, call, key),
            "bland" => Ok(bland_request(&self.apis.bland, target, call, key)),
            "elevenlabs" => elevenlabs_request(&self.apis.elevenlabs, target, call, key),
            other => Err(SendError::permanent(
                "platform_settings",
                format!("unknown voice platform {other:?}"),
            )),
        }
    }

    async fn place(
        &self,
        target: &PlatformTarget,
        call: &CallParts<'_>,
    ) -> Result<Sent, SendError> {
        let name = target.name.as_str();
        let (key_name, key) = self.api_key(call.account_id, name).await?;
        let request = self.request(target, call, key.expose().to_owned())?;
        let response = self
            .http
            .post(&request.url)
            .header(request.auth.0, request.auth.1)
            .json(&request.body)
            .send()
            .await
            .map_err(|e| transport_error(name, &e))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| transport_error(name, &e))?;
        let reason = || format!("{name} answered {status}: {}", snippet(&text, 300));
        match status.as_u16() {
            200..=299 => {
                let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                request
                    .id_fields
                    .iter()
                    .find_map(|f| answer.get(*f).and_then(Value::as_str))
                    .map(|id| Sent {
                        provider_id: id.to_owned(),
                    })
                    // Accepted, but without an id we cannot look it up.
                    .ok_or_else(|| SendError::unknown(reason()))
            }
            401 | 403 => {
                self.secrets.read(&key_name, true).await.ok();
                Err(SendError::permanent(
                    format!("http_{}", status.as_u16()),
                    reason(),
                ))
            }
            429 => Err(SendError::retryable(reason())),
            400..=499 if status.as_u16() != 408 && status.as_u16() != 409 => Err(
                SendError::permanent(format!("http_{}", status.as_u16()), reason()),
            ),
            _ => Err(SendError::unknown(reason())),
        }
    }
}

#[async_trait::async_trait]
impl Sender for PlatformCalls {
    async fn send(&self, message: &Outbound) -> Result<Sent, SendError> {
        let Outbound::Call {
            to,
            instructions,
            account_id,
            followup_id,
            attempt,
            platform,
            variables,
            ..
        } = message
        else {
            return Err(SendError::wrong_channel("call", message));
        };
        let Some(target) = platform else {
            return match &self.generic {
                Some(generic) => generic.send_for(account_id, message).await,
                None => Err(SendError::permanent(
                    "platform_settings",
                    "the agent names no voice platform (calls.platform) and this deployment has no generic voice endpoint",
                )),
            };
        };
        let call = CallParts {
            to: to.as_str(),
            instructions,
            account_id,
            followup_id,
            attempt: *attempt,
            variables,
        };
        let sent = self.place(target, &call).await?;
        tracing::info!(channel = "call", platform = %target.name, provider_id = sent.provider_id, "placed");
        Ok(sent)
    }
}

/// The platforms' get-call APIs: what became of a call placed through them.
///
/// | platform | request | auth |
/// |---|---|---|
/// | Vapi | `GET /call/{id}` | `Authorization: Bearer` |
/// | Retell | `GET /v2/get-call/{call_id}` | `Authorization: Bearer` |
/// | Bland | `GET /v1/calls/{call_id}` | `authorization: <key>` |
/// | ElevenLabs | `GET /v1/convai/conversations/{conversation_id}` | `xi-api-key` |
#[async_trait::async_trait]
pub trait PlatformLookup: Send + Sync {
    /// The platform's JSON answer about `call_id`, placed for `account_id`.
    async fn get_call(
        &self,
        account_id: &str,
        platform: &str,
        call_id: &str,
    ) -> Result<Vec<u8>, SendError>;
}

impl PlatformCalls {
    /// Where a platform's get-call API is and how it is authenticated.
    fn lookup_request(
        &self,
        platform: &str,
        call_id: &str,
        key: &str,
    ) -> Result<(reqwest::Url, (&'static str, String)), SendError> {
        let (base, path, auth): (&str, &[&str], _) = match platform {
            "vapi" => (
                &self.apis.vapi,
                &["call"],
                ("authorization", format!("Bearer {key}")),
            ),
            "retell" => (
                &self.apis.retell,
                &["v2", "get-call"],
                ("authorization", format!("Bearer {key}")),
            ),
            "bland" => (
                &self.apis.bland,
                &["v1", "calls"],
                ("authorization", key.to_owned()),
            ),
            "elevenlabs" => (
                &self.apis.elevenlabs,
                &["v1", "convai", "conversations"],
                ("xi-api-key", key.to_owned()),
            ),
            other => {
                return Err(SendError::permanent(
                    "platform_settings",
                    format!("unknown voice platform {other:?}"),
                ));
            }
        };
        let bad_base =
            || SendError::permanent("platform_settings", format!("bad {platform} API base"));
        let mut url = reqwest::Url::parse(base).map_err(|_| bad_base())?;
        url.path_segments_mut()
            .map_err(|()| bad_base())?
            .pop_if_empty()
            .extend(path)
            // Escaped: a call id is the platform's text, never a path of ours.
            .push(call_id);
        Ok((url, auth))
    }
}

#[async_trait::async_trait]
impl PlatformLookup for PlatformCalls {
    async fn get_call(
        &self,
        account_id: &str,
        platform: &str,
        call_id: &str,
    ) -> Result<Vec<u8>, SendError> {
        let (key_name, key) = self.api_key(account_id, platform).await?;
        let (url, auth) = self.lookup_request(platform, call_id, key.expose())?;
        let response = self
            .http
            .get(url)
            .header(auth.0, auth.1)
            .send()
            .await
            .map_err(|e| transport_error(platform, &e))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| transport_error(platform, &e))?;
        if status.is_success() {
            return Ok(body.to_vec());
        }
        let reason = format!(
            "{platform} answered {status}: {}",
            snippet(&String::from_utf8_lossy(&body), 300)
        );
        if matches!(status.as_u16(), 401 | 403) {
            // A key rotated a moment ago works on the next lookup.
            self.secrets.read(&key_name, true).await.ok();
        }
        match status.as_u16() {
            429 | 500..=599 => Err(SendError::retryable(reason)),
            code => Err(SendError::permanent(format!("http_{code}"), reason)),
        }
    }
}
