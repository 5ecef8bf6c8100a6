//! A stand-in for Google's or Microsoft's OAuth endpoints and mail API on loopback,
//! checking every request's shape as the real one would refuse it:
//!
//! - `GET /authorize`: the query a browser would carry (client id, redirect URI, code
//!   response, S256 challenge, the provider's offline-access parameters); answers 302
//!   to the redirect URI with a code and the state, as after the user consented.
//! - `POST /token`: form-encoded; `authorization_code` needs the code, the same redirect
//!   URI, the client's id and secret, and a `code_verifier` whose S256 is the challenge;
//!   `refresh_token` needs a refresh token not revoked (else `invalid_grant`).
//! - `GET /profile`: bearer access token; OpenID userinfo or Graph `/me`.
//! - `POST /send`: bearer access token; Gmail's `{"raw": base64url}` or Graph's
//!   base64 MIME as `text/plain`; answers from a script of failures, else accepted.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Which provider the stub plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Google,
    Microsoft,
}

/// One message the send endpoint accepted: the decoded MIME and the token used.
#[derive(Debug, Clone)]
pub struct SentMime {
    pub mime: Vec<u8>,
    pub access_token: String,
}

/// One token request, as received (form fields).
pub type TokenRequest = HashMap<String, String>;

#[derive(Default)]
struct Inner {
    /// code -> (challenge, redirect_uri)
    codes: HashMap<String, (String, String)>,
    refresh_tokens: HashMap<String, bool>,
    access_tokens: Vec<String>,
    token_requests: Vec<TokenRequest>,
    sent: Vec<SentMime>,
    send_script: VecDeque<(u16, Option<String>, String)>,
    refused: Vec<String>,
    expires_in: u64,
    rotate: bool,
    counter: u64,
}

#[derive(Clone)]
pub struct MailProviderStub {
    pub base_url: String,
    pub flavor: Flavor,
    pub client_id: String,
    pub client_secret: String,
    pub address: String,
    inner: Arc<Mutex<Inner>>,
}

type Shared = State<MailProviderStub>;

/// What the user's browser does on the consent screen: follows the authorization URL
/// (to the stub, which answers as after consent) and returns where it is sent back:
/// the redirect URI with the code and the state.
pub async fn consent(authorization_url: &str) -> String {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client");
    let answer = browser
        .get(authorization_url)
        .send()
        .await
        .expect("the authorize endpoint answers");
    let status = answer.status();
    let location = answer
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .map(str::to_owned);
    match location {
        Some(location) if status == reqwest::StatusCode::FOUND => location,
        _ => panic!(
            "authorize answered {status}: {}",
            answer.text().await.unwrap_or_default()
        ),
    }
}

impl MailProviderStub {
    pub async fn start(flavor: Flavor, address: &str) -> MailProviderStub {
        let inner = Inner {
            expires_in: 3600,
            ..Inner::default()
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base_url = format!("http://{}", listener.local_addr().expect("address"));
        let stub = MailProviderStub {
            base_url,
            flavor,
            client_id: format!("{flavor:?}-client-id").to_lowercase(),
            client_secret: format!("{flavor:?}-client-secret").to_lowercase(),
            address: address.to_owned(),
            inner: Arc::new(Mutex::new(inner)),
        };
        let app = Router::new()
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/profile", get(profile))
            .route("/send", post(send))
            .with_state(stub.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        stub
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Revokes every token issued so far, refresh and access alike (the user removed
    /// the app's access).
    pub fn revoke_consent(&self) {
        let mut inner = self.lock();
        for valid in inner.refresh_tokens.values_mut() {
            *valid = false;
        }
        let issued = inner.access_tokens.clone();
        inner.refused.extend(issued);
    }

    /// Access tokens issued from now on live this long (0: every send refreshes).
    pub fn set_expires_in(&self, seconds: u64) {
        self.lock().expires_in = seconds;
    }

    /// Every refresh answers a new refresh token (Microsoft's behaviour).
    pub fn rotate_refresh_tokens(&self) {
        self.lock().rotate = true;
    }

    /// The next sends answer `status` (with `Retry-After`, if given) and `body`.
    pub fn fail_next_send(&self, status: u16, retry_after: Option<&str>, body: &str) {
        self.lock().send_script.push_back((
            status,
            retry_after.map(str::to_owned),
            body.to_owned(),
        ));
    }

    /// Access tokens the send endpoint answers 401 to (as if expired early).
    pub fn refuse_access_token(&self, token: &str) {
        self.lock().refused.push(token.to_owned());
    }

    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.lock().token_requests.clone()
    }

    pub fn sent(&self) -> Vec<SentMime> {
        self.lock().sent.clone()
    }

    pub fn issued_refresh_tokens(&self) -> Vec<String> {
        self.lock().refresh_tokens.keys().cloned().collect()
    }

    pub fn issued_access_tokens(&self) -> Vec<String> {
        self.lock().access_tokens.clone()
    }
}

fn form(bytes: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(bytes).into_owned().collect()
}

fn oauth_error(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

async fn authorize(State(stub): Shared, RawQuery(query): RawQuery) -> Response {
    let q = form(query.unwrap_or_default().as_bytes());
    let want = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    let scope = want("scope");
    let offline_ok = match stub.flavor {
        Flavor::Google => {
            want("access_type") == "offline"
                && want("prompt") == "consent"
                && scope
                    .split(' ')
                    .any(|s| s == "https://www.googleapis.com/auth/gmail.send")
        }
        Flavor::Microsoft => {
            let scopes: Vec<_> = scope.split(' ').collect();
            scopes.contains(&"offline_access") && scopes.iter().any(|s| s.ends_with("Mail.Send"))
        }
    };
    if want("client_id") != stub.client_id
        || want("response_type") != "code"
        || want("code_challenge_method") != "S256"
        || want("code_challenge").len() != 43
        || want("state").is_empty()
        || !offline_ok
    {
        return (
            StatusCode::BAD_REQUEST,
            format!("bad authorization request: {q:?}"),
        )
            .into_response();
    }
    let redirect = want("redirect_uri").to_owned();
    let mut inner = stub.lock();
    inner.counter += 1;
    let code = format!("code-{}", inner.counter);
    inner.codes.insert(
        code.clone(),
        (want("code_challenge").to_owned(), redirect.clone()),
    );
    let location = reqwest::Url::parse_with_params(
        &redirect,
        &[("code", code.as_str()), ("state", want("state"))],
    )
    .map(String::from)
    .unwrap_or_default();
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

fn issue(inner: &mut Inner, refresh: bool) -> Value {
    inner.counter += 1;
    let access = format!("access-{}", inner.counter);
    inner.access_tokens.push(access.clone());
    let mut answer = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": inner.expires_in,
    });
    if refresh {
        let token = format!("refresh-{}", inner.counter);
        inner.refresh_tokens.insert(token.clone(), true);
        answer["refresh_token"] = json!(token);
    }
    answer
}

async fn token(State(stub): Shared, headers: HeaderMap, body: Bytes) -> Response {
    if headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        != Some("application/x-www-form-urlencoded")
    {
        return oauth_error("invalid_request", "form-encoded body expected");
    }
    let f = form(&body);
    let mut inner = stub.lock();
    inner.token_requests.push(f.clone());
    let field = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    if field("client_id") != stub.client_id || field("client_secret") != stub.client_secret {
        return oauth_error("invalid_client", "unknown client");
    }
    match field("grant_type") {
        "authorization_code" => {
            let Some((challenge, redirect)) = inner.codes.remove(field("code")) else {
                return oauth_error("invalid_grant", "unknown or used code");
            };
            let verified =
                URL_SAFE_NO_PAD.encode(Sha256::digest(field("code_verifier").as_bytes()));
            if verified != challenge {
                return oauth_error(
                    "invalid_grant",
                    "code_verifier does not match the challenge",
                );
            }
            if field("redirect_uri") != redirect {
                return oauth_error("invalid_grant", "redirect_uri differs");
            }
            axum::Json(issue(&mut inner, true)).into_response()
        }
        "refresh_token" => {
            if stub.flavor == Flavor::Microsoft && !field("scope").contains("Mail.Send") {
                return oauth_error("invalid_request", "scope is required");
            }
            match inner.refresh_tokens.get(field("refresh_token")) {
                Some(true) => {
                    let rotate = inner.rotate;
                    axum::Json(issue(&mut inner, rotate)).into_response()
                }
                _ => oauth_error("invalid_grant", "Token has been expired or revoked."),
            }
        }
        _ => oauth_error("unsupported_grant_type", "unknown grant type"),
    }
}

fn bearer(stub: &MailProviderStub, headers: &HeaderMap) -> Option<String> {
    let token = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?
        .to_owned();
    let inner = stub.lock();
    (inner.access_tokens.contains(&token) && !inner.refused.contains(&token)).then_some(token)
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({"error": {"code": 401, "message": "Invalid Credentials"}})),
    )
        .into_response()
}

async fn profile(State(stub): Shared, headers: HeaderMap) -> Response {
    if bearer(&stub, &headers).is_none() {
        return unauthorized();
    }
    axum::Json(match stub.flavor {
        Flavor::Google => json!({"sub": "1234", "email": stub.address, "email_verified": true}),
        Flavor::Microsoft => {
            json!({"id": "abcd", "mail": stub.address, "userPrincipalName": stub.address})
        }
    })
    .into_response()
}

async fn send(State(stub): Shared, headers: HeaderMap, body: Bytes) -> Response {
    let Some(access_token) = bearer(&stub, &headers) else {
        return unauthorized();
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = match stub.flavor {
        Flavor::Google => {
            let raw = serde_json::from_slice::<Value>(&body)
                .ok()
                .filter(|_| content_type.starts_with("application/json"))
                .and_then(|v| v["raw"].as_str().map(str::to_owned))
                .and_then(|raw| URL_SAFE_NO_PAD.decode(raw.trim_end_matches('=')).ok());
            match raw {
                Some(raw) => raw,
                None => {
                    return (
                        StatusCode::BAD_REQUEST,
                        axum::Json(json!({"error": {"code": 400, "message": "Invalid raw"}})),
                    )
                        .into_response();
                }
            }
        }
        Flavor::Microsoft => {
            let decoded = std::str::from_utf8(&body)
                .ok()
                .and_then(|b| STANDARD.decode(b.trim()).ok());
            match decoded {
                Some(mime) if content_type == "text/plain" => mime,
                _ => return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": {"code": "ErrorMimeContentInvalidBase64String", "message": "Invalid base64 string for MIME content."}}))).into_response(),
            }
        }
    };
    let mut inner = stub.lock();
    if let Some((status, retry_after, body)) = inner.send_script.pop_front() {
        let mut response = (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body,
        )
            .into_response();
        if let Some(after) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, after.parse().expect("header value"));
        }
        return response;
    }
    inner.sent.push(SentMime { mime, access_token });
    let n = inner.sent.len();
    match stub.flavor {
        Flavor::Google => axum::Json(json!({"id": format!("gmail-{n}"), "threadId": format!("thread-{n}"), "labelIds": ["SENT"]})).into_response(),
        Flavor::Microsoft => StatusCode::ACCEPTED.into_response(),
    }
}
