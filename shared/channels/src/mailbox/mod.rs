//! Email from the user's own mailbox: a Gmail or Outlook account connected through
//! OAuth 2.0 (authorization code with PKCE, offline access), sent through the Gmail API
//! (`users.messages.send`, raw RFC 5322) or Microsoft Graph (`/me/sendMail`, MIME).
//!
//! [`oauth`] speaks to the providers' authorization and token endpoints, [`mime`]
//! builds the message, [`MailboxApi`] sends it with an access token refreshed when
//! expired and cached until then. The refresh token is the caller's to keep (sealed in
//! the store); it only passes through here as a [`Secret`].

mod api;
mod mime;
pub mod oauth;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use api::{MailboxApi, Sleep};
pub use mime::{FOLLOWUP_ID_HEADER, build_mime};

use crate::{Outbound, Secret, SendError};

/// The error code of a [`SendError::Permanent`] that says the mailbox lost its consent
/// (`invalid_grant`, revoked access): it must be connected again.
pub const MAILBOX_DISCONNECTED: &str = "mailbox_disconnected";

/// Where a mailbox lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// Gmail and Google Workspace.
    Google,
    /// Outlook.com and Microsoft 365 (the Microsoft identity platform).
    Microsoft,
}

impl Provider {
    pub fn parse(raw: &str) -> Option<Provider> {
        match raw {
            "google" => Some(Provider::Google),
            "microsoft" => Some(Provider::Microsoft),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Google => "google",
            Provider::Microsoft => "microsoft",
        }
    }

    /// The scopes asked for: sending, offline access, and enough to learn the address.
    pub fn scopes(self) -> &'static str {
        match self {
            Provider::Google => "openid email https://www.googleapis.com/auth/gmail.send",
            Provider::Microsoft => {
                "openid email offline_access https://graph.microsoft.com/User.Read https://graph.microsoft.com/Mail.Send"
            }
        }
    }
}

/// A provider's URLs; the defaults are the public ones, tests and the local runtime
/// point them at stubs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub authorize: String,
    pub token: String,
    /// Answers who the token belongs to (OpenID userinfo, Graph `/me`).
    pub profile: String,
    /// Gmail `users/me/messages/send`, Graph `me/sendMail`.
    pub send: String,
}

impl Endpoints {
    pub fn default_for(provider: Provider) -> Endpoints {
        match provider {
            Provider::Google => Endpoints {
                authorize: "https://accounts.google.com/o/oauth2/v2/auth".into(),
                token: "https://oauth2.googleapis.com/token".into(),
                profile: "https://openidconnect.googleapis.com/v1/userinfo".into(),
                send: "https://gmail.googleapis.com/gmail/v1/users/me/messages/send".into(),
            },
            Provider::Microsoft => Endpoints {
                authorize: "https://login.microsoftonline.com/common/oauth2/v2.0/authorize".into(),
                token: "https://login.microsoftonline.com/common/oauth2/v2.0/token".into(),
                profile: "https://graph.microsoft.com/v1.0/me".into(),
                send: "https://graph.microsoft.com/v1.0/me/sendMail".into(),
            },
        }
    }

    /// All four under one base URL (a stub serving `/authorize`, `/token`, `/profile`,
    /// `/send`).
    pub fn under(base: &str) -> Endpoints {
        let base = base.trim_end_matches('/');
        Endpoints {
            authorize: format!("{base}/authorize"),
            token: format!("{base}/token"),
            profile: format!("{base}/profile"),
            send: format!("{base}/send"),
        }
    }
}

/// The OAuth client registered with a provider.
#[derive(Clone)]
pub struct OAuthApp {
    pub provider: Provider,
    pub client_id: String,
    pub client_secret: Secret,
    pub endpoints: Endpoints,
}

impl fmt::Debug for OAuthApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthApp")
            .field("provider", &self.provider)
            .field("client_id", &self.client_id)
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

/// A connected mailbox as the sender needs it.
#[derive(Clone)]
pub struct Mailbox {
    /// The account the mailbox belongs to.
    pub account_id: String,
    /// `mb_…`: keys the access-token cache.
    pub id: String,
    pub provider: Provider,
    pub address: String,
    pub refresh_token: Secret,
}

impl fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailbox")
            .field("id", &self.id)
            .field("provider", &self.provider)
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

/// What a mailbox send returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxSent {
    /// Gmail's message id; Graph answers 202 without one, so our `Message-ID`.
    pub provider_id: String,
    /// A refresh token the provider rotated while refreshing (Microsoft does): the
    /// caller stores it in place of the old one.
    pub rotated_refresh_token: Option<Secret>,
}

/// Sends an email follow-up from a connected mailbox: [`MailboxApi`] for real, the
/// [`crate::Outbox`] locally and in tests.
#[async_trait::async_trait]
pub trait MailboxSend: Send + Sync {
    async fn send_from(
        &self,
        mailbox: &Mailbox,
        message: &Outbound,
    ) -> Result<MailboxSent, SendError>;
}
