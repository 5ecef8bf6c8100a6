//! Hostile and malformed requests, on the webhook and on the operator API: each one
//! gets a 4xx `application/problem+json` naming the field where one applies, and the
//! table is left exactly as it was (every item of it, compared before and after).
//! The same table of requests runs on the embedded store and on DynamoDB in moto.
//!
//! Then what must be accepted but kept harmless: markup and line breaks in the values a
//! call brings (contact name, summary) come out escaped in the email and flattened in
//! the SMS and the subject; a signed redelivery with another body changes nothing.

mod harness;

use axum::body::Body;
use axum::http::Request;
use harness::*;
use serde_json::{Value, json};
use service::signature::WebhookSecret;

/// What a case's request may refer to: the world's secrets and the records made
/// before the table runs.
struct Ctx {
    now: i64,
    acme_secret: WebhookSecret,
    globex_secret: WebhookSecret,
    /// A scheduled SMS of acme's.
    acme_sms: String,
    /// A `needs_review` SMS of globex's.
    globex_review: String,
    /// One of globex's follow-ups.
    globex_followup: String,
    globex_secret_id: String,
    /// A cursor acme got from `GET /v1/campaigns/camp-1/followups?limit=1`.
    acme_cursor: String,
    /// A body acme's platform delivered as `msg_first`, and its signature then.
    first_body: String,
    first_signature: String,
}

type Build = Box<dyn Fn(&Ctx) -> Request<Body>>;

struct Case {
    name: &'static str,
    build: Build,
    status: u16,
    /// A field the problem's `errors` must name (exactly, or as the prefix of an
    /// indexed name like `allowed_days[0]`).
    field: Option<&'static str>,
}

fn case(name: &'static str, status: u16, field: Option<&'static str>, build: Build) -> Case {
    Case {
        name,
        build,
        status,
        field,
    }
}

// ---- request builders ----

fn fresh_id() -> String {
    format!("msg_{}", uuid::Uuid::new_v4().simple())
}

/// A delivery with exactly these Standard Webhooks headers (absent when `None`).
fn webhook_raw(
    account: &str,
    id: Option<&str>,
    timestamp: Option<&str>,
    signature: Option<&[u8]>,
    body: Vec<u8>,
) -> Request<Body> {
    let mut request = Request::post(format!("/v1/webhooks/{account}/call-completed"))
        .header("content-type", "application/json");
    if let Some(id) = id {
        request = request.header("webhook-id", id);
    }
    if let Some(ts) = timestamp {
        request = request.header("webhook-timestamp", ts);
    }
    if let Some(sig) = signature {
        request = request.header("webhook-signature", sig);
    }
    request.body(Body::from(body)).unwrap()
}

/// A delivery correctly signed with `secret` at `ts`.
fn signed_at(
    account: &str,
    secret: &WebhookSecret,
    id: &str,
    ts: i64,
    body: Vec<u8>,
) -> Request<Body> {
    let sig = secret.sign(id, ts, &body);
    webhook_raw(
        account,
        Some(id),
        Some(&ts.to_string()),
        Some(sig.as_bytes()),
        body,
    )
}

/// acme's platform delivering `body`, correctly signed, now.
fn hook(body: impl Fn(i64) -> Vec<u8> + 'static) -> Build {
    Box::new(move |c: &Ctx| signed_at(ACME, &c.acme_secret, &fresh_id(), c.now, body(c.now)))
}

/// acme's platform delivering a valid call with one field changed (`None` removes it).
fn hook_with(pointer: &'static str, value: Option<Value>) -> Build {
    hook(move |now| {
        let body = edit(valid_call_at(now), pointer, value.clone());
        body.to_string().into_bytes()
    })
}

/// A delivery with a signature header of acme's choosing.
fn hook_signature(signature: impl Fn(&Ctx, &str, &[u8]) -> Vec<u8> + 'static) -> Build {
    Box::new(move |c: &Ctx| {
        let id = fresh_id();
        let body = valid_call(chrono::DateTime::from_timestamp(c.now, 0).unwrap())
            .to_string()
            .into_bytes();
        let sig = signature(c, &id, &body);
        webhook_raw(ACME, Some(&id), Some(&c.now.to_string()), Some(&sig), body)
    })
}

fn valid_call_at(now: i64) -> Value {
    valid_call(chrono::DateTime::from_timestamp(now, 0).unwrap())
}

fn valid_call(now: chrono::DateTime<chrono::Utc>) -> Value {
    answered_call(
        "call-h",
        "contact-h",
        "+14155552671",
        "hostile@example.com",
        now,
    )
}

/// `value` with the field at the JSON pointer set, or removed when `new` is `None`.
fn edit(mut value: Value, pointer: &str, new: Option<Value>) -> Value {
    let (parent, field) = pointer.rsplit_once('/').unwrap();
    let parent = value
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("no {parent}"));
    match new {
        Some(new) => {
            parent.insert(field.to_string(), new);
        }
        None => {
            parent.remove(field);
        }
    }
    value
}

/// An operator request: `token` acme's unless said otherwise; a body as given.
fn api(
    method: &'static str,
    uri: impl Fn(&Ctx) -> String + 'static,
    token: Option<&'static str>,
    body: Option<Vec<u8>>,
    headers: &'static [(&'static str, &'static str)],
) -> Build {
    Box::new(move |c: &Ctx| {
        let mut request = Request::builder().method(method).uri(uri(c));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let body = match &body {
            Some(body) => {
                request = request.header("content-type", "application/json");
                Body::from(body.clone())
            }
            None => Body::empty(),
        };
        request.body(body).unwrap()
    })
}

fn acme(method: &'static str, uri: &'static str, body: Option<Value>) -> Build {
    api(
        method,
        move |_| uri.to_string(),
        Some(ACME_TOKEN),
        body.map(|b| b.to_string().into_bytes()),
        &[],
    )
}

fn acme_raw(method: &'static str, uri: &'static str, body: &'static [u8]) -> Build {
    api(
        method,
        move |_| uri.to_string(),
        Some(ACME_TOKEN),
        Some(body.to_vec()),
        &[],
    )
}

fn with_json(base: Value, pointer: &str, value: Option<Value>) -> Option<Value> {
    Some(edit(base, pointer, value))
}

fn deep_json(depth: usize) -> Vec<u8> {
    let mut body = "[".repeat(depth);
    body.push_str(&"]".repeat(depth));
    body.into_bytes()
}

fn huge_json() -> Vec<u8> {
    json!({"type": "call.completed", "padding": "x".repeat(300 * 1024)})
        .to_string()
        .into_bytes()
}

fn cases() -> Vec<Case> {
    let crlf_name = json!("Ana\r\nBcc: victim@example.com");
    vec![
        // ---- the webhook: bodies (correctly signed) ----
        case("malformed JSON", 400, Some("body"), hook(|_| b"{".to_vec())),
        case("empty body", 400, Some("body"), hook(|_| Vec::new())),
        case("a JSON array", 400, Some("body"), hook(|_| b"[1]".to_vec())),
        case(
            "invalid UTF-8",
            400,
            Some("body"),
            hook(|_| b"\xff\xfe{".to_vec()),
        ),
        case(
            "JSON nested 10,000 deep",
            400,
            Some("body"),
            hook(|_| deep_json(10_000)),
        ),
        case("no type", 400, Some("type"), hook(|_| b"{}".to_vec())),
        case(
            "type is a number",
            400,
            Some("type"),
            hook_with("/type", Some(json!(7))),
        ),
        case(
            "call.id missing",
            400,
            Some("call.id"),
            hook_with("/call/id", None),
        ),
        case(
            "call.id is a number",
            400,
            Some("call.id"),
            hook_with("/call/id", Some(json!(42))),
        ),
        case(
            "call.id of 200 characters",
            400,
            Some("call.id"),
            hook_with("/call/id", Some(json!("c".repeat(200)))),
        ),
        case(
            "call.outcome unknown",
            400,
            Some("call.outcome"),
            hook_with("/call/outcome", Some(json!("hung_up"))),
        ),
        case(
            "call.outcome a boolean",
            400,
            Some("call.outcome"),
            hook_with("/call/outcome", Some(json!(true))),
        ),
        case(
            "call.ended_at not RFC 3339",
            400,
            Some("call.ended_at"),
            hook_with("/call/ended_at", Some(json!("yesterday"))),
        ),
        case(
            "call.started_at a number",
            400,
            Some("call.started_at"),
            hook_with("/call/started_at", Some(json!(1_700_000_000))),
        ),
        case(
            "call.campaign_id with the key separator #",
            400,
            Some("call.campaign_id"),
            hook_with("/call/campaign_id", Some(json!("camp-1#GUARD"))),
        ),
        case(
            "call.followup_id path traversal",
            400,
            Some("call.followup_id"),
            hook_with("/call/followup_id", Some(json!("../fu_1"))),
        ),
        case(
            "contact.phone not E.164",
            400,
            Some("contact.phone"),
            hook_with("/contact/phone", Some(json!("555-1234"))),
        ),
        case(
            "contact.phone with CR/LF",
            400,
            Some("contact.phone"),
            hook_with(
                "/contact/phone",
                Some(json!("+14155552671\r\nX-Injected: 1")),
            ),
        ),
        case(
            "contact.phone too long",
            400,
            Some("contact.phone"),
            hook_with("/contact/phone", Some(json!("+141555526711234567890"))),
        ),
        case(
            "contact.email invalid",
            400,
            Some("contact.email"),
            hook_with("/contact/email", Some(json!("ana@"))),
        ),
        case(
            "contact.email with a header injection",
            400,
            Some("contact.email"),
            hook_with(
                "/contact/email",
                Some(json!("ana@example.com\r\nBcc: victim@example.com")),
            ),
        ),
        // An unknown `contact.timezone` is not refused: the call is decided in the
        // fallback zone (shared/http/tests/api/operators.rs).
        case(
            "contact.id path traversal",
            400,
            Some("contact.id"),
            hook_with("/contact/id", Some(json!("../contact-2"))),
        ),
        case(
            "contact.id with the key separator #",
            400,
            Some("contact.id"),
            hook_with("/contact/id", Some(json!("c#PENDING"))),
        ),
        case(
            "analysis.consent.sms a string",
            400,
            Some("analysis.consent.sms"),
            hook_with("/analysis/consent/sms", Some(json!("yes"))),
        ),
        case(
            "analysis.sms_destination.number invalid",
            400,
            Some("analysis.sms_destination.number"),
            hook_with("/analysis/sms_destination/number", Some(json!("12345"))),
        ),
        case(
            "analysis.email_address.address with CR/LF",
            400,
            Some("analysis.email_address.address"),
            hook_with(
                "/analysis/email_address/address",
                Some(json!("a@example.com\nBcc: b@example.com")),
            ),
        ),
        case(
            "analysis.followup_requests not a list",
            400,
            Some("analysis.followup_requests"),
            hook_with(
                "/analysis/followup_requests",
                Some(json!({"channel": "call"})),
            ),
        ),
        case(
            "a follow-up request on the sms channel",
            400,
            Some("analysis.followup_requests[0].channel"),
            hook_with(
                "/analysis/followup_requests",
                Some(json!([{"channel": "sms"}])),
            ),
        ),
        case(
            "a follow-up request at an unreadable time",
            400,
            Some("analysis.followup_requests[0].at"),
            hook_with(
                "/analysis/followup_requests",
                Some(json!([{"channel": "call", "at": "next tuesday"}])),
            ),
        ),
        case(
            "an appointment at an unreadable time",
            400,
            Some("analysis.appointment.at"),
            hook_with("/analysis/appointment", Some(json!({"at": "soon"}))),
        ),
        case("a 300 KB body", 413, None, hook(|_| huge_json())),
        // ---- the webhook: signatures and headers ----
        case(
            "no webhook-id",
            401,
            Some("webhook-id"),
            Box::new(|c: &Ctx| {
                let body = valid_call_at(c.now).to_string().into_bytes();
                let sig = c.acme_secret.sign("", c.now, &body);
                webhook_raw(
                    ACME,
                    None,
                    Some(&c.now.to_string()),
                    Some(sig.as_bytes()),
                    body,
                )
            }),
        ),
        case(
            "no webhook-timestamp",
            401,
            Some("webhook-timestamp"),
            Box::new(|c: &Ctx| {
                let body = valid_call_at(c.now).to_string().into_bytes();
                let sig = c.acme_secret.sign("m", c.now, &body);
                webhook_raw(ACME, Some("m"), None, Some(sig.as_bytes()), body)
            }),
        ),
        case(
            "no webhook-signature",
            401,
            Some("webhook-signature"),
            Box::new(|c: &Ctx| {
                let body = valid_call_at(c.now).to_string().into_bytes();
                webhook_raw(
                    ACME,
                    Some(&fresh_id()),
                    Some(&c.now.to_string()),
                    None,
                    body,
                )
            }),
        ),
        case(
            "an empty signature",
            401,
            Some("webhook-signature"),
            hook_signature(|_, _, _| Vec::new()),
        ),
        case(
            "a bare v1,",
            401,
            None,
            hook_signature(|_, _, _| b"v1,".to_vec()),
        ),
        case(
            "v1 without a comma",
            401,
            None,
            hook_signature(|_, _, _| b"v1".to_vec()),
        ),
        case(
            "a v2 signature only",
            401,
            None,
            hook_signature(|c, id, body| {
                c.acme_secret
                    .sign(id, c.now, body)
                    .replace("v1,", "v2,")
                    .into_bytes()
            }),
        ),
        case(
            "a truncated signature",
            401,
            None,
            hook_signature(|c, id, body| {
                let sig = c.acme_secret.sign(id, c.now, body);
                sig.as_bytes()[..sig.len() - 6].to_vec()
            }),
        ),
        case(
            "a signature by an unknown secret",
            401,
            None,
            hook_signature(|c, id, body| {
                WebhookSecret::generate()
                    .unwrap()
                    .0
                    .sign(id, c.now, body)
                    .into_bytes()
            }),
        ),
        case(
            "a signature by another tenant's secret",
            401,
            None,
            hook_signature(|c, id, body| c.globex_secret.sign(id, c.now, body).into_bytes()),
        ),
        case(
            "a signature header that is not ASCII",
            401,
            None,
            hook_signature(|_, _, _| b"v1,\xc3\xa9\xc3\xa9".to_vec()),
        ),
        case(
            "a timestamp 301 s old",
            401,
            None,
            Box::new(|c: &Ctx| {
                signed_at(
                    ACME,
                    &c.acme_secret,
                    &fresh_id(),
                    c.now - 301,
                    valid_call_at(c.now).to_string().into_bytes(),
                )
            }),
        ),
        case(
            "a timestamp 301 s ahead",
            401,
            None,
            Box::new(|c: &Ctx| {
                signed_at(
                    ACME,
                    &c.acme_secret,
                    &fresh_id(),
                    c.now + 301,
                    valid_call_at(c.now).to_string().into_bytes(),
                )
            }),
        ),
        case(
            "a timestamp in milliseconds",
            401,
            None,
            Box::new(|c: &Ctx| {
                signed_at(
                    ACME,
                    &c.acme_secret,
                    &fresh_id(),
                    c.now * 1000,
                    valid_call_at(c.now).to_string().into_bytes(),
                )
            }),
        ),
        case(
            "a timestamp that is not a number",
            401,
            None,
            Box::new(|c: &Ctx| {
                let body = valid_call_at(c.now).to_string().into_bytes();
                let sig = c.acme_secret.sign("m", c.now, &body);
                webhook_raw(
                    ACME,
                    Some("m"),
                    Some("yesterday"),
                    Some(sig.as_bytes()),
                    body,
                )
            }),
        ),
        case(
            "a webhook-id of 257 characters, signed",
            401,
            None,
            Box::new(|c: &Ctx| {
                signed_at(
                    ACME,
                    &c.acme_secret,
                    &"m".repeat(257),
                    c.now,
                    valid_call_at(c.now).to_string().into_bytes(),
                )
            }),
        ),
        case(
            "a replayed id and signature with another body",
            401,
            None,
            Box::new(|c: &Ctx| {
                let body = c
                    .first_body
                    .replace("Ana wants a demo", "Ana wants a refund");
                webhook_raw(
                    ACME,
                    Some("msg_first"),
                    Some(&c.now.to_string()),
                    Some(c.first_signature.as_bytes()),
                    body.into_bytes(),
                )
            }),
        ),
        case(
            "acme's delivery posted to globex's URL",
            401,
            None,
            Box::new(|c: &Ctx| {
                signed_at(
                    GLOBEX,
                    &c.acme_secret,
                    &fresh_id(),
                    c.now,
                    valid_call_at(c.now).to_string().into_bytes(),
                )
            }),
        ),
        case(
            "an account id with ..%2F",
            401,
            None,
            Box::new(|c: &Ctx| {
                signed_at(
                    "..%2Facme",
                    &c.acme_secret,
                    &fresh_id(),
                    c.now,
                    valid_call_at(c.now).to_string().into_bytes(),
                )
            }),
        ),
        case(
            "an account id with %23",
            401,
            None,
            Box::new(|c: &Ctx| {
                signed_at(
                    "acme%23GUARD",
                    &c.acme_secret,
                    &fresh_id(),
                    c.now,
                    valid_call_at(c.now).to_string().into_bytes(),
                )
            }),
        ),
        case(
            "an account nobody has",
            401,
            None,
            Box::new(|c: &Ctx| {
                signed_at(
                    "initech",
                    &c.acme_secret,
                    &fresh_id(),
                    c.now,
                    valid_call_at(c.now).to_string().into_bytes(),
                )
            }),
        ),
        // ---- the API: who is calling ----
        case(
            "no token",
            401,
            None,
            api("GET", |_| "/v1/settings".into(), None, None, &[]),
        ),
        case(
            "an unknown token",
            401,
            None,
            api(
                "PUT",
                |_| "/v1/settings".into(),
                Some("token-nobody"),
                Some(account_json().to_string().into_bytes()),
                &[],
            ),
        ),
        case(
            "a token in the wrong scheme",
            401,
            None,
            api(
                "GET",
                |_| "/v1/dnc".into(),
                None,
                None,
                &[("authorization", "Basic dG9rZW4tYWNtZQ==")],
            ),
        ),
        // ---- the API: account settings ----
        case(
            "settings: malformed JSON",
            400,
            Some("body"),
            acme_raw("PUT", "/v1/settings", b"{\"default_sender_name\":"),
        ),
        case(
            "settings: a JSON array",
            400,
            Some("body"),
            acme_raw("PUT", "/v1/settings", b"[]"),
        ),
        case(
            "settings: an unknown time zone",
            400,
            Some("default_time_zone"),
            acme(
                "PUT",
                "/v1/settings",
                with_json(
                    account_json(),
                    "/default_time_zone",
                    Some(json!("Europe/Atlantis")),
                ),
            ),
        ),
        case(
            "settings: a javascript: meeting link",
            400,
            Some("default_meeting_link"),
            acme(
                "PUT",
                "/v1/settings",
                with_json(
                    account_json(),
                    "/default_meeting_link",
                    Some(json!("javascript:alert(1)")),
                ),
            ),
        ),
        case(
            "settings: an http meeting link",
            400,
            Some("default_meeting_link"),
            acme(
                "PUT",
                "/v1/settings",
                with_json(
                    account_json(),
                    "/default_meeting_link",
                    Some(json!("http://cal.example.com/acme")),
                ),
            ),
        ),
        case(
            "settings: a from address with CR/LF",
            400,
            Some("email_from_address"),
            acme(
                "PUT",
                "/v1/settings",
                with_json(
                    account_json(),
                    "/email_from_address",
                    Some(json!("a@example.com\r\nBcc: b@example.com")),
                ),
            ),
        ),
        case(
            "settings: a sender name with CR/LF",
            400,
            Some("default_sender_name"),
            acme(
                "PUT",
                "/v1/settings",
                with_json(
                    account_json(),
                    "/default_sender_name",
                    Some(crlf_name.clone()),
                ),
            ),
        ),
        case(
            "settings: an unknown field",
            400,
            Some("secret"),
            acme(
                "PUT",
                "/v1/settings",
                with_json(account_json(), "/secret", Some(json!("x"))),
            ),
        ),
        case(
            "settings: quiet hours as a string",
            400,
            Some("quiet_hours"),
            acme(
                "PUT",
                "/v1/settings",
                with_json(account_json(), "/quiet_hours", Some(json!("all day"))),
            ),
        ),
        case(
            "settings: an origination number not E.164",
            400,
            Some("sms_origination_number"),
            acme(
                "PUT",
                "/v1/settings",
                with_json(
                    account_json(),
                    "/sms_origination_number",
                    Some(json!("555-1234")),
                ),
            ),
        ),
        case(
            "settings: a 300 KB body",
            413,
            None,
            api(
                "PUT",
                |_| "/v1/settings".into(),
                Some(ACME_TOKEN),
                Some(huge_json()),
                &[],
            ),
        ),
        // ---- the API: agent settings ----
        case(
            "agent: start after end",
            400,
            Some("allowed_hours.end"),
            acme(
                "PUT",
                "/v1/agents/agent-1/followup-settings",
                with_json(
                    agent_json(),
                    "/allowed_hours",
                    Some(json!({"start": "20:00", "end": "08:00"})),
                ),
            ),
        ),
        case(
            "agent: start equal to end",
            400,
            Some("allowed_hours.end"),
            acme(
                "PUT",
                "/v1/agents/agent-1/followup-settings",
                with_json(
                    agent_json(),
                    "/allowed_hours",
                    Some(json!({"start": "09:00", "end": "09:00"})),
                ),
            ),
        ),
        case(
            "agent: no allowed days",
            400,
            Some("allowed_days"),
            acme(
                "PUT",
                "/v1/agents/agent-1/followup-settings",
                with_json(agent_json(), "/allowed_days", Some(json!([]))),
            ),
        ),
        case(
            "agent: an unknown day",
            400,
            Some("allowed_days"),
            acme(
                "PUT",
                "/v1/agents/agent-1/followup-settings",
                with_json(agent_json(), "/allowed_days", Some(json!(["funday"]))),
            ),
        ),
        case(
            "agent: an unknown time zone",
            400,
            Some("time_zone"),
            acme(
                "PUT",
                "/v1/agents/agent-1/followup-settings",
                with_json(agent_json(), "/time_zone", Some(json!("Mars/Olympus"))),
            ),
        ),
        case(
            "agent: hour 25",
            400,
            Some("allowed_hours.start"),
            acme(
                "PUT",
                "/v1/agents/agent-1/followup-settings",
                with_json(
                    agent_json(),
                    "/allowed_hours",
                    Some(json!({"start": "25:00", "end": "26:00"})),
                ),
            ),
        ),
        case(
            "agent: 99 retries",
            400,
            Some("calls.max_retries"),
            acme(
                "PUT",
                "/v1/agents/agent-1/followup-settings",
                with_json(agent_json(), "/calls/max_retries", Some(json!(99))),
            ),
        ),
        case(
            "agent: retries as a string",
            400,
            Some("calls.max_retries"),
            acme(
                "PUT",
                "/v1/agents/agent-1/followup-settings",
                with_json(agent_json(), "/calls/max_retries", Some(json!("2"))),
            ),
        ),
        case(
            "agent: an unknown variable in a WhatsApp parameter",
            400,
            Some("whatsapp.template.parameters[0]"),
            acme(
                "PUT",
                "/v1/agents/agent-1/followup-settings",
                with_json(
                    agent_json(),
                    "/whatsapp",
                    Some(
                        json!({"enabled": true, "template": {"name": "followup_v1", "language": "en_US", "parameters": ["{{first_name}}"]}}),
                    ),
                ),
            ),
        ),
        case(
            "agent: an id with ..%2F",
            400,
            Some("agent_id"),
            api(
                "PUT",
                |_| "/v1/agents/..%2F..%2Fsettings/followup-settings".into(),
                Some(ACME_TOKEN),
                Some(agent_json().to_string().into_bytes()),
                &[],
            ),
        ),
        case(
            "agent: an id with %23",
            400,
            Some("agent_id"),
            api(
                "PUT",
                |_| "/v1/agents/agent%231/followup-settings".into(),
                Some(ACME_TOKEN),
                Some(agent_json().to_string().into_bytes()),
                &[],
            ),
        ),
        case(
            "agent: an If-Match that is no ETag",
            400,
            Some("If-Match"),
            api(
                "DELETE",
                |_| "/v1/agents/agent-1/followup-settings".into(),
                Some(ACME_TOKEN),
                None,
                &[("if-match", "yesterday")],
            ),
        ),
        case(
            "agent: a stale If-Match on delete",
            412,
            None,
            api(
                "DELETE",
                |_| "/v1/agents/agent-1/followup-settings".into(),
                Some(ACME_TOKEN),
                None,
                &[("if-match", "\"v99\"")],
            ),
        ),
        // ---- the API: campaign settings ----
        case(
            "campaign: an unknown SMS template",
            400,
            Some("sms.template"),
            acme(
                "PUT",
                "/v1/campaigns/camp-1/followup-settings",
                with_json(campaign_json(), "/sms/template", Some(json!("free_text"))),
            ),
        ),
        case(
            "campaign: an unknown variable in the email body",
            400,
            Some("email.body"),
            acme(
                "PUT",
                "/v1/campaigns/camp-1/followup-settings",
                with_json(
                    campaign_json(),
                    "/email/body",
                    Some(json!("Hi {{first_name}}")),
                ),
            ),
        ),
        case(
            "campaign: an unknown variable in the subject",
            400,
            Some("email.subject"),
            acme(
                "PUT",
                "/v1/campaigns/camp-1/followup-settings",
                with_json(campaign_json(), "/email/subject", Some(json!("Hi {{ssn}}"))),
            ),
        ),
        case(
            "campaign: a subject with CR/LF",
            400,
            Some("email.subject"),
            acme(
                "PUT",
                "/v1/campaigns/camp-1/followup-settings",
                with_json(
                    campaign_json(),
                    "/email/subject",
                    Some(json!("Hello\r\nBcc: victim@example.com")),
                ),
            ),
        ),
        case(
            "campaign: a missed-call subject with LF",
            400,
            Some("missed_call_email.subject"),
            acme(
                "PUT",
                "/v1/campaigns/camp-1/followup-settings",
                with_json(
                    campaign_json(),
                    "/missed_call_email/subject",
                    Some(json!("Sorry\nBcc: x@example.com")),
                ),
            ),
        ),
        case(
            "campaign: a from name with CR/LF",
            400,
            Some("email.from_name"),
            acme(
                "PUT",
                "/v1/campaigns/camp-1/followup-settings",
                with_json(campaign_json(), "/email/from_name", Some(crlf_name.clone())),
            ),
        ),
        case(
            "campaign: an SMS sender name with CR/LF",
            400,
            Some("sms.sender_name"),
            acme(
                "PUT",
                "/v1/campaigns/camp-1/followup-settings",
                with_json(campaign_json(), "/sms/sender_name", Some(crlf_name.clone())),
            ),
        ),
        case(
            "campaign: an http SMS meeting link",
            400,
            Some("sms.meeting_link"),
            acme(
                "PUT",
                "/v1/campaigns/camp-1/followup-settings",
                with_json(
                    campaign_json(),
                    "/sms/meeting_link",
                    Some(json!("http://cal.example.com")),
                ),
            ),
        ),
        case(
            "campaign: a javascript: email meeting link",
            400,
            Some("email.meeting_link"),
            acme(
                "PUT",
                "/v1/campaigns/camp-1/followup-settings",
                with_json(
                    campaign_json(),
                    "/email/meeting_link",
                    Some(json!("javascript:alert(document.cookie)")),
                ),
            ),
        ),
        case(
            "campaign: an offer without a promo code",
            400,
            Some("sms.promo_code"),
            acme(
                "PUT",
                "/v1/campaigns/camp-1/followup-settings",
                with_json(
                    campaign_json(),
                    "/sms",
                    Some(
                        json!({"enabled": true, "template": "offer_promo", "offer_summary": "20% off"}),
                    ),
                ),
            ),
        ),
        case(
            "campaign: an agent id with /",
            400,
            Some("agent_id"),
            acme(
                "PUT",
                "/v1/campaigns/camp-1/followup-settings",
                with_json(campaign_json(), "/agent_id", Some(json!("agent/1"))),
            ),
        ),
        case(
            "campaign: email enabled as a string",
            400,
            Some("email.enabled"),
            acme(
                "PUT",
                "/v1/campaigns/camp-1/followup-settings",
                with_json(campaign_json(), "/email/enabled", Some(json!("true"))),
            ),
        ),
        case(
            "campaign: a 300 KB body",
            413,
            None,
            api(
                "PUT",
                |_| "/v1/campaigns/camp-1/followup-settings".into(),
                Some(ACME_TOKEN),
                Some(huge_json()),
                &[],
            ),
        ),
        case(
            "campaign: a stale If-Match",
            412,
            None,
            api(
                "PUT",
                |_| "/v1/campaigns/camp-1/followup-settings".into(),
                Some(ACME_TOKEN),
                Some(campaign_json().to_string().into_bytes()),
                &[("if-match", "\"v99\"")],
            ),
        ),
        case(
            "campaign: an id with %23",
            400,
            Some("campaign_id"),
            api(
                "PUT",
                |_| "/v1/campaigns/camp%23GUARD/followup-settings".into(),
                Some(ACME_TOKEN),
                Some(campaign_json().to_string().into_bytes()),
                &[],
            ),
        ),
        case(
            "campaign: another tenant's campaign",
            404,
            None,
            acme("GET", "/v1/campaigns/camp-globex/followup-settings", None),
        ),
        // ---- the API: do-not-call ----
        case(
            "dnc: neither a number nor an address",
            400,
            Some("phone_or_email"),
            acme("PUT", "/v1/dnc/not-a-number", None),
        ),
        case(
            "dnc: a number with CR/LF",
            400,
            Some("phone_or_email"),
            acme("PUT", "/v1/dnc/%2B14155552671%0D%0AX", None),
        ),
        case(
            "dnc: an address with ..%2F",
            400,
            Some("phone_or_email"),
            acme("PUT", "/v1/dnc/..%2F..%2Fa%40example.com", None),
        ),
        case(
            "dnc: removing what is not listed",
            404,
            None,
            acme("DELETE", "/v1/dnc/%2B14155550001", None),
        ),
        // ---- the API: follow-up lists ----
        case(
            "list: an unknown status",
            400,
            Some("status"),
            acme("GET", "/v1/campaigns/camp-1/followups?status=bogus", None),
        ),
        case(
            "list: limit 0",
            400,
            Some("limit"),
            acme("GET", "/v1/campaigns/camp-1/followups?limit=0", None),
        ),
        case(
            "list: limit 101",
            400,
            Some("limit"),
            acme("GET", "/v1/campaigns/camp-1/followups?limit=101", None),
        ),
        case(
            "list: limit not a number",
            400,
            Some("limit"),
            acme("GET", "/v1/campaigns/camp-1/followups?limit=ten", None),
        ),
        case(
            "list: an unknown parameter",
            400,
            Some("account_id"),
            acme(
                "GET",
                "/v1/campaigns/camp-1/followups?account_id=globex",
                None,
            ),
        ),
        case(
            "list: a repeated parameter",
            400,
            Some("status"),
            acme(
                "GET",
                "/v1/campaigns/camp-1/followups?status=sent&status=failed",
                None,
            ),
        ),
        case(
            "list: a made-up cursor",
            400,
            Some("cursor"),
            acme(
                "GET",
                "/v1/campaigns/camp-1/followups?cursor=eyJwayI6IkEjZ2xvYmV4In0",
                None,
            ),
        ),
        case(
            "list: a cursor from another campaign",
            400,
            Some("cursor"),
            api(
                "GET",
                |c| format!("/v1/campaigns/camp-2/followups?cursor={}", c.acme_cursor),
                Some(ACME_TOKEN),
                None,
                &[],
            ),
        ),
        case(
            "list: acme's cursor used by globex",
            400,
            Some("cursor"),
            api(
                "GET",
                |c| format!("/v1/campaigns/camp-1/followups?cursor={}", c.acme_cursor),
                Some(GLOBEX_TOKEN),
                None,
                &[],
            ),
        ),
        case(
            "list: acme's campaign cursor on a contact's list",
            400,
            Some("cursor"),
            api(
                "GET",
                |c| format!("/v1/contacts/contact-1/followups?cursor={}", c.acme_cursor),
                Some(ACME_TOKEN),
                None,
                &[],
            ),
        ),
        case(
            "list: a contact id with ..%2F",
            400,
            Some("contact_id"),
            acme("GET", "/v1/contacts/..%2Fcontact-1/followups", None),
        ),
        case(
            "list: a campaign id with %23",
            400,
            Some("campaign_id"),
            acme("GET", "/v1/campaigns/camp-1%23x/followups", None),
        ),
        // ---- the API: one follow-up ----
        case(
            "followup: another tenant's",
            404,
            None,
            api(
                "GET",
                |c| format!("/v1/followups/{}", c.globex_followup),
                Some(ACME_TOKEN),
                None,
                &[],
            ),
        ),
        case(
            "followup: cancelling another tenant's",
            404,
            None,
            api(
                "POST",
                |c| format!("/v1/followups/{}/cancel", c.globex_followup),
                Some(ACME_TOKEN),
                None,
                &[],
            ),
        ),
        case(
            "followup: sending another tenant's needs-review SMS",
            404,
            None,
            api(
                "POST",
                |c| format!("/v1/followups/{}/send", c.globex_review),
                Some(ACME_TOKEN),
                Some(
                    json!({"destination": "+14155552671"})
                        .to_string()
                        .into_bytes(),
                ),
                &[],
            ),
        ),
        case(
            "followup: an id with ..%2F (an id that cannot exist is not found)",
            404,
            None,
            acme("GET", "/v1/followups/..%2F..%2Fsettings", None),
        ),
        case(
            "followup: an id with %23 (an id that cannot exist is not found)",
            404,
            None,
            acme("GET", "/v1/followups/fu_1%23A", None),
        ),
        case(
            "followup: sending with a number that is not E.164",
            400,
            Some("destination"),
            api(
                "POST",
                |c| format!("/v1/followups/{}/send", c.acme_sms),
                Some(ACME_TOKEN),
                Some(json!({"destination": "call me"}).to_string().into_bytes()),
                &[],
            ),
        ),
        case(
            "followup: sending with a number with CR/LF",
            400,
            Some("destination"),
            api(
                "POST",
                |c| format!("/v1/followups/{}/send", c.acme_sms),
                Some(ACME_TOKEN),
                Some(
                    json!({"destination": "+14155552671\r\n"})
                        .to_string()
                        .into_bytes(),
                ),
                &[],
            ),
        ),
        case(
            "followup: sending with malformed JSON",
            400,
            Some("body"),
            api(
                "POST",
                |c| format!("/v1/followups/{}/send", c.acme_sms),
                Some(ACME_TOKEN),
                Some(b"{\"destination\"".to_vec()),
                &[],
            ),
        ),
        case(
            "followup: sending one that is not waiting for review",
            409,
            None,
            api(
                "POST",
                |c| format!("/v1/followups/{}/send", c.acme_sms),
                Some(ACME_TOKEN),
                Some(
                    json!({"destination": "+14155552671"})
                        .to_string()
                        .into_bytes(),
                ),
                &[],
            ),
        ),
        // ---- the API: preview, secrets, routes ----
        case(
            "preview: malformed JSON",
            400,
            Some("body"),
            acme_raw("POST", "/v1/decisions/preview", b"{{"),
        ),
        case(
            "preview: an invalid phone",
            400,
            Some("contact.phone"),
            acme(
                "POST",
                "/v1/decisions/preview",
                Some(edit(valid_call_at(0), "/contact/phone", Some(json!("0")))),
            ),
        ),
        case(
            "secrets: a negative overlap",
            400,
            Some("previous_secrets_expire_in_seconds"),
            acme(
                "POST",
                "/v1/webhook-secrets",
                Some(json!({"previous_secrets_expire_in_seconds": -5})),
            ),
        ),
        case(
            "secrets: an overlap of a year",
            400,
            Some("previous_secrets_expire_in_seconds"),
            acme(
                "POST",
                "/v1/webhook-secrets",
                Some(json!({"previous_secrets_expire_in_seconds": 31_536_000})),
            ),
        ),
        case(
            "secrets: the overlap as a string",
            400,
            Some("previous_secrets_expire_in_seconds"),
            acme(
                "POST",
                "/v1/webhook-secrets",
                Some(json!({"previous_secrets_expire_in_seconds": "1d"})),
            ),
        ),
        case(
            "secrets: an unknown field",
            400,
            Some("secret"),
            acme(
                "POST",
                "/v1/webhook-secrets",
                Some(json!({"secret": "whsec_chosen_by_the_client"})),
            ),
        ),
        case(
            "secrets: a body that is not an object",
            400,
            Some("body"),
            acme("POST", "/v1/webhook-secrets", Some(json!([86400]))),
        ),
        case(
            "secrets: deleting another tenant's",
            404,
            None,
            api(
                "DELETE",
                |c| format!("/v1/webhook-secrets/{}", c.globex_secret_id),
                Some(ACME_TOKEN),
                None,
                &[],
            ),
        ),
        case(
            "an unknown route",
            404,
            None,
            acme("GET", "/v1/../../etc/passwd", None),
        ),
        case(
            "an unknown route under /v1",
            404,
            None,
            acme("GET", "/v1/accounts/globex/settings", None),
        ),
    ]
}

/// Runs every case on `world` and returns one line per case that did not hold. With
/// `per_case`, the whole table is compared before and after each request; without
/// (on moto, where a snapshot is a scan), before the first and after the last.
async fn run_cases(world: &World, per_case: bool) -> (usize, Vec<String>) {
    let ctx = prepare(world).await;
    let cases = cases();
    let mut failures = Vec::new();
    let first = world.snapshot().await;
    for case in &cases {
        let before = if per_case {
            world.snapshot().await
        } else {
            Default::default()
        };
        let answer = world.send((case.build)(&ctx)).await;
        let after = if per_case {
            world.snapshot().await
        } else {
            Default::default()
        };
        let mut wrong = Vec::new();
        if answer.status != case.status {
            wrong.push(format!(
                "status {} (expected {})",
                answer.status, case.status
            ));
        }
        if answer.content_type != "application/problem+json" {
            wrong.push(format!("content type {:?}", answer.content_type));
        }
        if answer.body["status"] != json!(answer.status) {
            wrong.push("the problem's status differs from the HTTP status".into());
        }
        if let Some(field) = case.field {
            let named: Vec<&str> = answer.body["errors"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e["field"].as_str())
                .collect();
            let ok = named.iter().any(|n| {
                *n == field
                    || n.strip_prefix(field)
                        .is_some_and(|rest| rest.starts_with('['))
            });
            if !ok {
                wrong.push(format!("errors name {named:?}, not {field:?}"));
            }
        }
        if before != after {
            let changed: Vec<_> = after
                .iter()
                .filter(|(k, v)| before.get(*k) != Some(*v))
                .map(|(k, _)| format!("{}|{}", k.pk, k.sk))
                .chain(
                    before
                        .keys()
                        .filter(|k| !after.contains_key(*k))
                        .map(|k| format!("-{}|{}", k.pk, k.sk)),
                )
                .collect();
            wrong.push(format!("the store changed: {changed:?}"));
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "{}: {} — {}",
                case.name,
                wrong.join("; "),
                answer.body
            ));
        }
    }
    let last = world.snapshot().await;
    if first != last {
        failures.push(format!(
            "the table changed over the run: {} items before, {} after",
            first.len(),
            last.len()
        ));
    }
    (cases.len(), failures)
}

/// The records the cases refer to: follow-ups of both tenants (one waiting for
/// review), a delivery to replay, a cursor, and globex's secret id.
async fn prepare(world: &World) -> Ctx {
    let now = world.now();
    let first = answered_call(
        "call-1",
        "contact-1",
        "+14155552671",
        "ana@example.com",
        now,
    );
    let first_body = first.to_string();
    let first_signature =
        world
            .acme_secret
            .sign("msg_first", now.timestamp(), first_body.as_bytes());
    let answer = world
        .send(webhook_raw(
            ACME,
            Some("msg_first"),
            Some(&now.timestamp().to_string()),
            Some(first_signature.as_bytes()),
            first_body.clone().into_bytes(),
        ))
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let acme_sms = answer.body["followups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["channel"] == "sms")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    // globex: a campaign of its own and a call whose SMS waits for review.
    world
        .engine
        .put_campaign_settings(
            &world.globex,
            &policy::CampaignId::parse("campaign_id", "camp-globex").unwrap(),
            policy::CampaignSettings::from_json(&campaign_json()).unwrap(),
            None,
        )
        .await
        .unwrap();
    let mut review = answered_call("call-g", "contact-g", "+14155550123", "g@example.com", now);
    review["analysis"]
        .as_object_mut()
        .unwrap()
        .remove("sms_destination");
    let answer = world
        .post_signed(
            GLOBEX,
            &world.globex_secret,
            "msg_g",
            review.to_string().as_bytes(),
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let globex_followups = answer.body["followups"].as_array().unwrap().clone();
    let globex_review = globex_followups
        .iter()
        .find(|f| f["status"] == "needs_review")
        .unwrap_or_else(|| panic!("no needs_review in {globex_followups:?}"))["id"]
        .as_str()
        .unwrap()
        .to_string();
    let globex_followup = globex_followups[0]["id"].as_str().unwrap().to_string();

    let listed = world
        .api(
            "GET",
            "/v1/campaigns/camp-1/followups?limit=1",
            Some(ACME_TOKEN),
            None,
        )
        .await;
    let acme_cursor = listed.body["next_cursor"]
        .as_str()
        .unwrap_or_else(|| panic!("no cursor in {:?}", listed.body))
        .to_string();
    let secrets = world
        .api("GET", "/v1/webhook-secrets", Some(GLOBEX_TOKEN), None)
        .await;
    let globex_secret_id = secrets.body["items"][0]["id"].as_str().unwrap().to_string();
    world
        .engine
        .add_dnc(
            &world.acme,
            &policy::Destination::parse("value", "+14155550000").unwrap(),
        )
        .await
        .unwrap();
    Ctx {
        now: now.timestamp(),
        acme_secret: world.acme_secret.clone(),
        globex_secret: world.globex_secret.clone(),
        acme_sms,
        globex_review,
        globex_followup,
        globex_secret_id,
        acme_cursor,
        first_body,
        first_signature,
    }
}

#[tokio::test]
async fn every_hostile_request_is_a_4xx_problem_naming_its_field_and_stores_nothing_on_the_embedded_store()
 {
    let world = World::new(StoreKind::Embedded).await;
    let (count, failures) = run_cases(&world, true).await;
    assert!(count >= 60, "only {count} cases");
    println!(
        "{count} hostile requests on the embedded store, {} wrong",
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn every_hostile_request_is_a_4xx_problem_naming_its_field_and_stores_nothing_on_dynamodb() {
    let world = World::new(StoreKind::Moto).await;
    let (count, failures) = run_cases(&world, false).await;
    println!(
        "{count} hostile requests on DynamoDB (moto), {} wrong",
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The field `name` anywhere inside `value`.
fn find<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    match value {
        Value::Object(map) => map
            .get(name)
            .or_else(|| map.values().find_map(|v| find(v, name))),
        Value::Array(items) => items.iter().find_map(|v| find(v, name)),
        _ => None,
    }
}

#[tokio::test]
async fn markup_and_line_breaks_from_a_call_and_an_operator_come_out_escaped_in_the_email_and_flattened_in_the_sms()
 {
    let world = World::embedded().await;
    // An operator's body with raw HTML and a javascript: link: accepted (it is
    // Markdown), and shown as text / without the link when rendered.
    let mut campaign = campaign_json();
    campaign["email"]["subject"] = json!("<b>Hi</b> {{contact_name}}");
    campaign["email"]["body"] = json!(
        "<script>alert('operator')</script>\n\nHi {{contact_name}}: {{summary}}\n\n[pay here](javascript:alert(1)) <a href=\"javascript:alert(2)\">x</a> ![i](https://evil.example/t.png)\n\nBook: {{meeting_link}}"
    );
    let put = world
        .api(
            "PUT",
            "/v1/campaigns/camp-1/followup-settings",
            Some(ACME_TOKEN),
            Some(campaign),
        )
        .await;
    assert_eq!(put.status, 200, "{:?}", put.body);

    let mut call = answered_call(
        "call-x",
        "contact-x",
        "+14155552671",
        "x@example.com",
        world.now(),
    );
    call["contact"]["name"] = json!("<script>alert(1)</script>\r\nBcc: victim@example.com\u{0}");
    call["analysis"]["summary"] = json!(
        "<img src=x onerror=alert(1)>\n[click](javascript:alert(3))\r\n<a href=\"javascript:alert(4)\">y</a> & \"quotes\""
    );
    let answer = world.deliver("msg_x", &call).await.unwrap();
    for followup in answer["followups"].as_array().unwrap() {
        let input = service::execute::ExecutorInput {
            account_id: ACME.into(),
            followup_id: followup["id"].as_str().unwrap().into(),
            attempt: 1,
        };
        let outcome = world.executor.execute(&input).await.unwrap();
        assert!(
            matches!(outcome, service::execute::Outcome::Sent { .. }),
            "{outcome:?}"
        );
    }
    let sent = world.outbox.list();
    let email = sent.iter().find(|e| e.channel == "email").unwrap();
    let html = find(&email.detail, "html").unwrap().as_str().unwrap();
    let subject = find(&email.detail, "subject").unwrap().as_str().unwrap();
    let text = find(&email.detail, "text").unwrap().as_str().unwrap();
    // Text never holds a raw `<` (it is escaped), so every `<` starts a real tag:
    // only the tags Markdown makes, and links only to the web or mail.
    for tag in html.split('<').skip(1) {
        let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '!')
            .collect::<String>()
            .to_ascii_lowercase();
        assert!(
            [
                "!doctype",
                "html",
                "head",
                "meta",
                "body",
                "p",
                "br",
                "strong",
                "em",
                "a",
                "ul",
                "ol",
                "li",
                "code",
                "pre",
                "blockquote",
                "hr",
                "h1",
                "h2",
                "h3",
                "h4",
                "h5",
                "h6"
            ]
            .contains(&name.as_str()),
            "<{tag}> in {html}"
        );
        if let Some(href) = tag.split("href=\"").nth(1) {
            assert!(
                ["https://", "http://", "mailto:"]
                    .iter()
                    .any(|scheme| href.starts_with(scheme)),
                "<{tag}> in {html}"
            );
        }
        assert!(!tag.to_ascii_lowercase().contains(" on"), "<{tag}>");
    }
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{html}"
    );
    assert!(
        html.contains("href=\"https://cal.example.com/acme\""),
        "the meeting link stays a link: {html}"
    );
    assert!(
        !subject.contains(['\r', '\n', '\u{0}']),
        "the subject is one line: {subject:?}"
    );
    assert!(
        subject.starts_with("<b>Hi</b> "),
        "a subject is text, not HTML: {subject:?}"
    );
    assert!(!text.contains('\u{0}'), "{text:?}");

    let sms = sent.iter().find(|e| e.channel == "sms").unwrap();
    assert!(
        !sms.text.contains(['\r', '\u{0}']) && !sms.text.contains("Bcc: victim@example.com\n"),
        "names are flattened to one line in an SMS: {:?}",
        sms.text
    );
    assert!(
        sms.text.ends_with("Reply STOP to opt out."),
        "{:?}",
        sms.text
    );
    let (_, segments) = policy::render::count_segments(&sms.text);
    assert!(segments <= policy::render::sms::MAX_SEGMENTS, "{segments}");
}

#[tokio::test]
async fn a_signed_redelivery_of_a_known_webhook_id_with_another_body_gets_the_first_answer_and_changes_nothing()
 {
    // Standard Webhooks: the id is the idempotency key. Only the platform holding the
    // secret can sign, so a different body under a known id is the platform's mistake,
    // not an attack; it is answered like a redelivery (documented in docs/security.md).
    let world = World::embedded().await;
    let now = world.now();
    let first = answered_call(
        "call-1",
        "contact-1",
        "+14155552671",
        "ana@example.com",
        now,
    );
    let answer = world.deliver("msg_1", &first).await.unwrap();
    let before = world.snapshot().await;
    let mut other = first.clone();
    other["analysis"]["consent"]["email"] = json!(false);
    other["contact"]["id"] = json!("contact-2");
    let again = world.deliver("msg_1", &other).await.unwrap();
    assert_eq!(again, answer);
    assert_eq!(world.snapshot().await, before);
}

#[tokio::test]
async fn a_method_a_route_does_not_have_is_a_405_problem() {
    let world = World::embedded().await;
    let answer = world
        .api("DELETE", "/v1/settings", Some(ACME_TOKEN), None)
        .await;
    assert_eq!(answer.status, 405);
    assert_eq!(
        answer.content_type, "application/problem+json",
        "{answer:?}"
    );
}
