use std::fmt;

use aws_sdk_sesv2::types::{
    Body, Content, Destination, EmailContent as SesContent, Message, MessageHeader, MessageTag,
};
use base64::Engine;

use crate::aws::{Repeat, classify, without_sdk_retries_sesv2};
use crate::{EmailContent, EmailIdentity, Outbound, RetryPolicy, SendError, Sender, Sent};

/// Email through Amazon SES v2 `SendEmail`, from a verified identity, with an HTML and a
/// text part, the account's configuration set and tags carrying the follow-up id.
pub struct SesEmail {
    client: aws_sdk_sesv2::Client,
    retry: RetryPolicy,
}

impl SesEmail {
    /// Takes a client built the usual way; its SDK-level retries are turned off here
    /// because `SendEmail` is not idempotent (see the crate's `aws` module): throttling
    /// and refused connections are retried by [`RetryPolicy`] instead.
    pub fn new(client: &aws_sdk_sesv2::Client) -> Self {
        SesEmail {
            client: without_sdk_retries_sesv2(client),
            retry: RetryPolicy::default(),
        }
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
}

impl fmt::Debug for SesEmail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SesEmail")
            .field("retry", &self.retry)
            .finish()
    }
}

/// The `From` header value for `name` and `address`: `"Name" <address>`.
///
/// An ASCII name is written as an RFC 5322 quoted string (`"` and `\` escaped); a name
/// with other characters as RFC 2047 UTF-8 encoded words, which SES requires. A name,
/// or an address, with a CR, LF or other control character is refused: it could inject
/// headers.
pub fn from_header(name: &str, address: &str) -> Result<String, SendError> {
    check_address("from_address", address)?;
    if name.chars().any(char::is_control) {
        return Err(SendError::permanent(
            "invalid_header",
            "from_name contains a control character (CR/LF)",
        ));
    }
    let name = name.trim();
    if name.is_empty() {
        return Ok(address.to_owned());
    }
    let phrase = if name.is_ascii() {
        let mut quoted = String::with_capacity(name.len() + 2);
        quoted.push('"');
        for c in name.chars() {
            if c == '"' || c == '\\' {
                quoted.push('\\');
            }
            quoted.push(c);
        }
        quoted.push('"');
        quoted
    } else {
        encoded_words(name)
    };
    Ok(format!("{phrase} <{address}>"))
}

/// RFC 2047 `=?UTF-8?B?...?=` words of at most 75 characters, split on character
/// boundaries (45 bytes of UTF-8 make 60 characters of base64).
fn encoded_words(text: &str) -> String {
    const MAX_BYTES: usize = 45;
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        if chunk.len() + c.len_utf8() > MAX_BYTES {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(chunk);
    }
    words
        .iter()
        .map(|w| {
            format!(
                "=?UTF-8?B?{}?=",
                base64::engine::general_purpose::STANDARD.encode(w)
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A plain `local@domain` with nothing that could break out of the header.
/// An extra header of an email (`List-Unsubscribe`, …): a name of printable ASCII
/// without a colon, a value without CR, LF or another control character, so neither
/// can inject a header of its own.
pub(crate) fn check_header(name: &str, value: &str) -> Result<(), SendError> {
    let bad_name = name.is_empty() || !name.chars().all(|c| c.is_ascii_graphic() && c != ':');
    if bad_name || value.chars().any(char::is_control) {
        return Err(SendError::permanent(
            "invalid_header",
            format!("the header {name:?} holds a character it may not"),
        ));
    }
    Ok(())
}

pub(crate) fn check_address(field: &str, address: &str) -> Result<(), SendError> {
    let bad = |why: &str| {
        Err(SendError::permanent(
            "invalid_address",
            format!("{field} {why}"),
        ))
    };
    if address
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || "<>\",;()[]\\".contains(c))
    {
        return bad("contains a character not allowed in an address");
    }
    match address.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() && domain.contains('.') => Ok(()),
        _ => bad("is not an email address"),
    }
}

/// SES tag names and values allow only `[A-Za-z0-9_\-.@]`, 1 to 256 characters; anything
/// else becomes `_`.
fn tag_part(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_-.@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(256)
        .collect();
    if cleaned.is_empty() {
        "_".to_owned()
    } else {
        cleaned
    }
}

fn content(text: &str) -> Result<Content, SendError> {
    Content::builder()
        .data(text)
        .charset("UTF-8")
        .build()
        .map_err(|e| SendError::permanent("invalid_request", e.to_string()))
}

/// The message as SESv2 takes it: subject, HTML and text parts, the extra headers.
fn ses_content(
    EmailContent {
        subject,
        html,
        text,
    }: &EmailContent,
    headers: &[(String, String)],
) -> Result<SesContent, SendError> {
    if subject.contains(['\r', '\n']) {
        return Err(SendError::permanent(
            "invalid_header",
            "subject contains CR/LF",
        ));
    }
    let mut body = Body::builder();
    if !html.is_empty() {
        body = body.html(content(html)?);
    }
    if !text.is_empty() || html.is_empty() {
        body = body.text(content(text)?);
    }
    let headers = headers
        .iter()
        .map(|(name, value)| {
            check_header(name, value)?;
            MessageHeader::builder()
                .name(name)
                .value(value)
                .build()
                .map_err(|e| SendError::permanent("invalid_request", e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SesContent::builder()
        .simple(
            Message::builder()
                .subject(content(subject)?)
                .body(body.build())
                .set_headers(Some(headers).filter(|h| !h.is_empty()))
                .build(),
        )
        .build())
}

/// The message's tags, each part cut to what SES accepts.
fn ses_tags(tags: &[(String, String)]) -> Result<Vec<MessageTag>, SendError> {
    tags.iter()
        .map(|(name, value)| {
            MessageTag::builder()
                .name(tag_part(name))
                .value(tag_part(value))
                .build()
                .map_err(|e| SendError::permanent("invalid_request", e.to_string()))
        })
        .collect()
}

#[async_trait::async_trait]
impl Sender for SesEmail {
    async fn send(&self, message: &Outbound) -> Result<Sent, SendError> {
        let Outbound::Email {
            to,
            sender:
                EmailIdentity {
                    name: from_name,
                    address: from_address,
                    configuration_set,
                },
            content,
            tags,
            headers,
            ..
        } = message
        else {
            return Err(SendError::wrong_channel("email", message));
        };
        let from = from_header(from_name, from_address)?;
        check_address("to", to.as_str())?;
        let email = ses_content(content, headers)?;
        let tags = ses_tags(tags)?;
        let output = self
            .retry
            .run("ses send email", || async {
                self.client
                    .send_email()
                    .from_email_address(&from)
                    .destination(Destination::builder().to_addresses(to.as_str()).build())
                    .content(email.clone())
                    .set_configuration_set_name(configuration_set.clone().filter(|c| !c.is_empty()))
                    .set_email_tags(Some(tags.clone()).filter(|t| !t.is_empty()))
                    .send()
                    .await
                    .map_err(|e| classify(e, Repeat::MayDuplicate))
            })
            .await?;
        let provider_id = output.message_id().unwrap_or_default().to_owned();
        tracing::info!(channel = "email", provider_id, "sent");
        Ok(Sent { provider_id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ascii_display_name_is_quoted_and_escaped() {
        assert_eq!(
            from_header("Maria at Acme", "maria@acme.example").unwrap(),
            r#""Maria at Acme" <maria@acme.example>"#
        );
        assert_eq!(
            from_header(r#"Acme, "Sales" \ Team"#, "s@acme.example").unwrap(),
            r#""Acme, \"Sales\" \\ Team" <s@acme.example>"#
        );
        assert_eq!(
            from_header("  ", "s@acme.example").unwrap(),
            "s@acme.example"
        );
    }

    #[test]
    fn a_non_ascii_display_name_is_encoded_in_short_words() {
        let header = from_header("José Müller", "j@acme.example").unwrap();
        assert_eq!(header, "=?UTF-8?B?Sm9zw6kgTcO8bGxlcg==?= <j@acme.example>");

        let long = "Ñ".repeat(60);
        let header = from_header(&long, "j@acme.example").unwrap();
        let (words, _) = header.rsplit_once(" <").unwrap();
        let mut decoded = String::new();
        for word in words.split(' ') {
            assert!(word.len() <= 75, "{word}");
            let b64 = word
                .strip_prefix("=?UTF-8?B?")
                .unwrap()
                .strip_suffix("?=")
                .unwrap();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap();
            decoded.push_str(std::str::from_utf8(&bytes).unwrap());
        }
        assert_eq!(decoded, long);
    }

    #[test]
    fn header_injection_is_refused() {
        for (name, address) in [
            ("Acme\r\nBcc: all@example.com", "s@acme.example"),
            ("Acme\n", "s@acme.example"),
            ("Acme", "s@acme.example\r\nBcc: x@y.z"),
            ("Acme", "s@acme.example>, <x@y.z"),
            ("Acme", "not-an-address"),
        ] {
            assert!(
                matches!(from_header(name, address), Err(SendError::Permanent { .. })),
                "{name:?} {address:?}"
            );
        }
    }

    #[test]
    fn tag_values_keep_only_what_ses_allows() {
        assert_eq!(tag_part("fu_01J9Z-abc.d@e"), "fu_01J9Z-abc.d@e");
        assert_eq!(tag_part("acme corp/ü"), "acme_corp__");
        assert_eq!(tag_part(""), "_");
        assert_eq!(tag_part(&"x".repeat(300)).len(), 256);
    }
}
