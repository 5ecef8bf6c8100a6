//! The OAuth 2.0 side of a mailbox: PKCE, the authorization URL, the code exchange,
//! refreshing the access token, and learning the address the token belongs to.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{MAILBOX_DISCONNECTED, OAuthApp, Provider};
use crate::http::{snippet, transport_reason};
use crate::{Secret, SendError};

/// The HTTP client the OAuth calls share (10 s timeouts).
#[derive(Clone, Debug)]
pub struct OAuthHttp(reqwest::Client);

impl Default for OAuthHttp {
    fn default() -> Self {
        OAuthHttp(crate::http::client(crate::DEFAULT_HTTP_TIMEOUT))
    }
}

/// A PKCE pair (RFC 7636, S256): the verifier stays with us, the challenge goes into
/// the authorization URL.
pub struct Pkce {
    pub verifier: Secret,
    pub challenge: String,
}

impl Pkce {
    /// 32 random bytes as the verifier (43 characters of base64url).
    pub fn generate() -> Result<Pkce, SendError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|e| SendError::retryable(format!("no randomness for PKCE: {e}")))?;
        let verifier = URL_SAFE_NO_PAD.encode(bytes);
        let challenge = challenge_of(&verifier);
        Ok(Pkce {
            verifier: Secret::new(verifier),
            challenge,
        })
    }
}

/// The S256 challenge of `verifier`: base64url(SHA-256(verifier)), unpadded.
pub fn challenge_of(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The provider's authorization URL the user is sent to.
pub fn authorization_url(
    app: &OAuthApp,
    redirect_uri: &str,
    state: &str,
    challenge: &str,
) -> Result<String, SendError> {
    let mut params = vec![
        ("client_id", app.client_id.as_str()),
        ("response_type", "code"),
        ("redirect_uri", redirect_uri),
        ("scope", app.provider.scopes()),
        ("state", state),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ];
    match app.provider {
        // A refresh token, every time (Google gives one only on the first consent).
        Provider::Google => params.extend([("access_type", "offline"), ("prompt", "consent")]),
        Provider::Microsoft => params.push(("response_mode", "query")),
    }
    reqwest::Url::parse_with_params(&app.endpoints.authorize, &params)
        .map(String::from)
        .map_err(|e| SendError::permanent("invalid_configuration", format!("authorize URL: {e}")))
}

/// What the token endpoint answered.
pub struct Tokens {
    pub access_token: Secret,
    /// Absent on most refreshes (Google); Microsoft rotates it.
    pub refresh_token: Option<Secret>,
    pub expires_in: Duration,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct OAuthError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// Exchanges an authorization code (with its PKCE verifier) for tokens.
pub async fn exchange_code(
    http: &OAuthHttp,
    app: &OAuthApp,
    code: &str,
    verifier: &Secret,
    redirect_uri: &str,
) -> Result<Tokens, SendError> {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("client_id", app.client_id.as_str()),
        ("client_secret", app.client_secret.expose()),
        ("code_verifier", verifier.expose()),
    ];
    token_request(http, app, &form).await
}

/// A fresh access token for `refresh_token`. `invalid_grant` (revoked consent, an
/// expired or rotated-out token) comes back as [`MAILBOX_DISCONNECTED`].
pub async fn refresh(
    http: &OAuthHttp,
    app: &OAuthApp,
    refresh_token: &Secret,
) -> Result<Tokens, SendError> {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.expose()),
        ("client_id", app.client_id.as_str()),
        ("client_secret", app.client_secret.expose()),
    ];
    if app.provider == Provider::Microsoft {
        form.push(("scope", app.provider.scopes()));
    }
    token_request(http, app, &form).await
}

async fn token_request(
    http: &OAuthHttp,
    app: &OAuthApp,
    form: &[(&str, &str)],
) -> Result<Tokens, SendError> {
    let response = http
        .0
        .post(&app.endpoints.token)
        .form(form)
        .send()
        .await
        // Asking for a token twice is harmless: every transport failure is retryable.
        .map_err(|e| SendError::retryable(transport_reason("token endpoint", &e)))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| SendError::retryable(transport_reason("token answer", &e)))?;
    if status.is_success() {
        let answer: TokenAnswer = serde_json::from_str(&text).map_err(|_| {
            SendError::permanent(
                "invalid_token_answer",
                "the token endpoint answered without an access token",
            )
        })?;
        return Ok(Tokens {
            access_token: Secret::new(answer.access_token),
            refresh_token: answer
                .refresh_token
                .filter(|t| !t.is_empty())
                .map(Secret::new),
            expires_in: Duration::from_secs(answer.expires_in.unwrap_or(3600)),
        });
    }
    Err(token_error(status.as_u16(), &text))
}

/// The token endpoint's refusal as a [`SendError`]. Error descriptions are the
/// provider's words about the grant, never the token itself.
fn token_error(status: u16, body: &str) -> SendError {
    let parsed = serde_json::from_str::<OAuthError>(body).ok();
    let reason = match &parsed {
        Some(e) => format!(
            "{}: {}",
            e.error,
            snippet(e.error_description.as_deref().unwrap_or(""), 300)
        ),
        None => format!("HTTP {status}: {}", snippet(body, 300)),
    };
    match parsed.as_ref().map(|e| e.error.as_str()) {
        Some("invalid_grant" | "interaction_required" | "consent_required") => {
            SendError::permanent(MAILBOX_DISCONNECTED, reason)
        }
        _ if status == 429 || status >= 500 => {
            SendError::retryable(format!("token endpoint {reason}"))
        }
        _ => SendError::permanent("oauth_error", reason),
    }
}

#[derive(Deserialize)]
struct Profile {
    /// OpenID userinfo.
    #[serde(default)]
    email: Option<String>,
    /// Graph `/me`.
    #[serde(default)]
    mail: Option<String>,
    #[serde(default, rename = "userPrincipalName")]
    user_principal_name: Option<String>,
}

/// The address the access token belongs to: OpenID userinfo's `email` (Google), Graph
/// `/me`'s `mail`, else its `userPrincipalName` (Microsoft).
pub async fn mailbox_address(
    http: &OAuthHttp,
    app: &OAuthApp,
    access_token: &Secret,
) -> Result<String, SendError> {
    let response = http
        .0
        .get(&app.endpoints.profile)
        .bearer_auth(access_token.expose())
        .send()
        .await
        .map_err(|e| SendError::retryable(transport_reason("profile", &e)))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| SendError::retryable(transport_reason("profile answer", &e)))?;
    if !status.is_success() {
        return Err(SendError::permanent(
            "oauth_error",
            format!(
                "the profile endpoint answered HTTP {status}: {}",
                snippet(&text, 300)
            ),
        ));
    }
    let profile: Profile = serde_json::from_str(&text)
        .map_err(|_| SendError::permanent("oauth_error", "the profile answer is not JSON"))?;
    let address = match app.provider {
        Provider::Google => profile.email,
        Provider::Microsoft => profile.mail.or(profile.user_principal_name),
    };
    address
        .filter(|a| a.contains('@') && !a.chars().any(|c| c.is_control() || c.is_whitespace()))
        .ok_or_else(|| SendError::permanent("oauth_error", "the profile has no email address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_rfc7636s_example() {
        // RFC 7636 appendix B.
        assert_eq!(
            challenge_of("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn invalid_grant_disconnects_and_throttling_is_retryable() {
        let revoked = token_error(
            400,
            r#"{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"#,
        );
        assert!(
            matches!(&revoked, SendError::Permanent { code, reason } if code == MAILBOX_DISCONNECTED && reason.contains("revoked"))
        );
        assert!(token_error(429, "slow down").is_retryable());
        assert!(token_error(503, "").is_retryable());
        assert!(
            matches!(token_error(401, r#"{"error":"invalid_client"}"#), SendError::Permanent { code, .. } if code == "oauth_error")
        );
    }
}
