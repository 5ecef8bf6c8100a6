//! An account's connection to a voice platform (`PUT /v1/platforms/{platform}`), the
//! part that is not secret: how Vapi authenticates its webhooks, and where the
//! account's analysis puts each value. The API key and webhook secret travel in the
//! same request but are stored apart, write-only (see the service).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{MappingOverrides, Platform};
use crate::fields::{FieldError, ValidationErrors};
use crate::json::{Errors, FromJson, Obj};

const MAX_SECRET_CHARS: usize = 4096;
const MAX_HEADER_CHARS: usize = 100;
const MAX_FORMAT_CHARS: usize = 200;

/// How Vapi proves a server message is its own (its "credential" on the server URL).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum VapiAuth {
    /// A bearer credential: `header` carries the webhook secret, after `Bearer ` when
    /// `bearer_prefix` (Vapi's default is `Authorization` with the prefix; the legacy
    /// `X-Vapi-Secret` is that header without it).
    Bearer { header: String, bearer_prefix: bool },
    /// Vapi's HMAC plan, as configured on the credential.
    Hmac(HmacPlan),
}

impl Default for VapiAuth {
    fn default() -> Self {
        Self::Bearer {
            header: "authorization".into(),
            bearer_prefix: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HmacAlgorithm {
    Sha256,
    Sha512,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignatureEncoding {
    Hex,
    Base64,
}

/// Vapi's `HMACAuthenticationPlan` (the parts that change what is signed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HmacPlan {
    pub algorithm: HmacAlgorithm,
    pub signature_header: String,
    pub timestamp_header: String,
    /// Prepended to the encoded signature, e.g. `sha256=`.
    pub signature_prefix: String,
    /// Placeholders `{body}`, `{timestamp}`, `{svix-id}`, `{method}`.
    pub payload_format: String,
    pub include_timestamp: bool,
    pub message_id_header: Option<String>,
    pub encoding: SignatureEncoding,
    pub secret_is_base64: bool,
}

/// The stored, non-secret part of a connection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    /// Vapi only; `None` for the other platforms (each has one scheme).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vapi_auth: Option<VapiAuth>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis_mapping: Option<Value>,
}

impl Connection {
    /// The account's analysis overrides (validated when stored).
    pub fn mapping_overrides(&self) -> Option<MappingOverrides> {
        self.analysis_mapping
            .as_ref()
            .and_then(|v| MappingOverrides::from_json(v).ok())
    }
}

/// A `PUT /v1/platforms/{platform}` body: the connection plus its write-only secrets
/// (absent: the stored one is kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionInput {
    pub connection: Connection,
    pub api_key: Option<String>,
    pub webhook_secret: Option<String>,
}

impl std::fmt::Display for ConnectionInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConnectionInput(<secrets redacted>)")
    }
}

impl ConnectionInput {
    /// Reads a body for `platform`, reporting every invalid field.
    pub fn from_json(platform: Platform, value: &Value) -> Result<Self, ValidationErrors> {
        let mut errors = Errors::default();
        let input = read_input(platform, value, &mut errors);
        errors.finish(input)
    }
}

fn read_input(platform: Platform, value: &Value, errors: &mut Errors) -> Option<ConnectionInput> {
    let mut known = vec!["api_key", "webhook_secret", "analysis_mapping"];
    if platform == Platform::Vapi {
        known.push("vapi_auth");
    }
    let obj = Obj::new("", value, &known, true, errors)?;
    let api_key = secret(&obj, "api_key", errors);
    let webhook_secret = secret(&obj, "webhook_secret", errors);
    if platform == Platform::Retell && webhook_secret.is_some() {
        errors.push(FieldError::new(
            "webhook_secret",
            "Retell signs webhooks with the API key: set api_key",
        ));
    }
    let analysis_mapping = obj.get("analysis_mapping").and_then(|raw| {
        MappingOverrides::from_json_at("analysis_mapping", raw, errors).map(|_| raw.clone())
    });
    let vapi_auth = obj.optional::<VapiAuth>("vapi_auth", errors);
    Some(ConnectionInput {
        connection: Connection {
            vapi_auth: vapi_auth.or((platform == Platform::Vapi).then(VapiAuth::default)),
            analysis_mapping,
        },
        api_key,
        webhook_secret,
    })
}

fn secret(obj: &Obj<'_>, key: &str, errors: &mut Errors) -> Option<String> {
    let raw: String = obj.optional(key, errors)?;
    let raw = raw.trim();
    if raw.is_empty() || raw.chars().count() > MAX_SECRET_CHARS || raw.chars().any(char::is_control)
    {
        errors.push(FieldError::new(
            obj.path(key),
            format!("must be 1 to {MAX_SECRET_CHARS} characters without control characters"),
        ));
        return None;
    }
    Some(raw.to_owned())
}

fn header_name(obj: &Obj<'_>, key: &str, default: &str, errors: &mut Errors) -> String {
    let raw: String = obj.or_default(key, default.to_owned(), errors);
    let raw = raw.trim().to_ascii_lowercase();
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if raw.is_empty() || raw.len() > MAX_HEADER_CHARS || !raw.chars().all(token) {
        errors.push(FieldError::new(
            obj.path(key),
            "must be an HTTP header name",
        ));
    }
    raw
}

impl FromJson for VapiAuth {
    fn from_json_at(path: &str, value: &Value, errors: &mut Errors) -> Option<Self> {
        let obj = Obj::new(
            path,
            value,
            &[
                "type",
                "header",
                "bearer_prefix",
                "algorithm",
                "signature_header",
                "timestamp_header",
                "signature_prefix",
                "payload_format",
                "include_timestamp",
                "message_id_header",
                "encoding",
                "secret_is_base64",
            ],
            true,
            errors,
        )?;
        let kind: String = obj.required("type", errors)?;
        match kind.as_str() {
            "bearer" => Some(Self::Bearer {
                header: header_name(&obj, "header", "authorization", errors),
                bearer_prefix: obj.or_default("bearer_prefix", true, errors),
            }),
            "hmac" => hmac_plan(&obj, errors).map(Self::Hmac),
            _ => {
                errors.push(FieldError::new(obj.path("type"), "must be bearer or hmac"));
                None
            }
        }
    }
}

fn hmac_plan(obj: &Obj<'_>, errors: &mut Errors) -> Option<HmacPlan> {
    let algorithm = match obj
        .or_default("algorithm", "sha256".to_owned(), errors)
        .as_str()
    {
        "sha256" => HmacAlgorithm::Sha256,
        "sha512" => HmacAlgorithm::Sha512,
        _ => {
            errors.push(FieldError::new(
                obj.path("algorithm"),
                "must be sha256 or sha512 (sha1 is not accepted)",
            ));
            HmacAlgorithm::Sha256
        }
    };
    let encoding = match obj
        .or_default("encoding", "hex".to_owned(), errors)
        .as_str()
    {
        "hex" => SignatureEncoding::Hex,
        "base64" => SignatureEncoding::Base64,
        _ => {
            errors.push(FieldError::new(
                obj.path("encoding"),
                "must be hex or base64",
            ));
            SignatureEncoding::Hex
        }
    };
    let include_timestamp = obj.or_default("include_timestamp", true, errors);
    let default_format = if include_timestamp {
        "{timestamp}.{body}"
    } else {
        "{body}"
    };
    let payload_format: String =
        obj.or_default("payload_format", default_format.to_owned(), errors);
    check_format(
        &obj.path("payload_format"),
        &payload_format,
        include_timestamp,
        errors,
    );
    let message_id_header = obj
        .get("message_id_header")
        .map(|_| header_name(obj, "message_id_header", "", errors));
    if payload_format.contains("{svix-id}") && message_id_header.is_none() {
        errors.push(FieldError::new(
            obj.path("message_id_header"),
            "is required when payload_format uses {svix-id}",
        ));
    }
    let signature_prefix: String = obj.or_default("signature_prefix", String::new(), errors);
    if signature_prefix.len() > MAX_HEADER_CHARS || signature_prefix.chars().any(char::is_control) {
        errors.push(FieldError::new(
            obj.path("signature_prefix"),
            "is too long or has control characters",
        ));
    }
    Some(HmacPlan {
        algorithm,
        signature_header: header_name(obj, "signature_header", "x-signature", errors),
        timestamp_header: header_name(obj, "timestamp_header", "x-timestamp", errors),
        signature_prefix,
        payload_format,
        include_timestamp,
        message_id_header,
        encoding,
        secret_is_base64: obj.or_default("secret_is_base64", false, errors),
    })
}

fn check_format(field: &str, format: &str, include_timestamp: bool, errors: &mut Errors) {
    if format.chars().count() > MAX_FORMAT_CHARS || !format.contains("{body}") {
        errors.push(FieldError::new(
            field,
            format!("must contain {{body}} and be at most {MAX_FORMAT_CHARS} characters"),
        ));
    }
    if format.contains("{url}") {
        errors.push(FieldError::new(
            field,
            "{url} is not supported (the URL seen behind the gateway differs); use {body}, {timestamp}, {svix-id}, {method}",
        ));
    }
    if format.contains("{timestamp}") && !include_timestamp {
        errors.push(FieldError::new(
            field,
            "uses {timestamp} but include_timestamp is false",
        ));
    }
}
