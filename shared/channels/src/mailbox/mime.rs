//! The RFC 5322 message a mailbox sends, built by `mail-builder` (no dependencies of
//! its own): multipart/alternative with the text and the HTML, the From name, Reply-To,
//! a Message-ID, the follow-up id in a header of its own, and the email's extra headers
//! (the one-click unsubscribe pair of RFC 8058).

use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use mail_builder::headers::raw::Raw;

use crate::email::{check_address, check_header};
use crate::{EmailContent, EmailIdentity, Outbound, SendError};

/// The header carrying the follow-up's id, so a reply or a bounce can be tied back.
pub const FOLLOWUP_ID_HEADER: &str = "X-Followup-Id";

/// Headers the builder writes itself: an extra header may not repeat one.
const BUILT_HEADERS: [&str; 10] = [
    "From",
    "To",
    "Reply-To",
    "Subject",
    "Message-ID",
    "Date",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    FOLLOWUP_ID_HEADER,
];

/// The message for `message` (an [`Outbound::Email`]) sent from `from_address`, with
/// `<{followup_id}@{domain of from}>` as its Message-ID; returns it with that id.
pub fn build_mime(message: &Outbound, from_address: &str) -> Result<(Vec<u8>, String), SendError> {
    let Outbound::Email {
        to,
        sender: EmailIdentity {
            name: from_name, ..
        },
        content: EmailContent {
            subject,
            html,
            text,
        },
        tags,
        headers,
        ..
    } = message
    else {
        return Err(SendError::wrong_channel("mailbox", message));
    };
    check_address("from_address", from_address)?;
    check_address("to", to.as_str())?;
    for (name, value) in headers {
        check_header(name, value)?;
        if BUILT_HEADERS.iter().any(|b| b.eq_ignore_ascii_case(name)) {
            return Err(SendError::permanent(
                "invalid_header",
                format!("the header {name} is the message's own"),
            ));
        }
    }
    if [from_name, subject]
        .iter()
        .any(|h| h.chars().any(char::is_control))
    {
        return Err(SendError::permanent(
            "invalid_header",
            "from_name or subject contains a control character (CR/LF)",
        ));
    }
    let followup_id = tags
        .iter()
        .find(|(name, _)| name == "followup_id")
        .map(|(_, value)| value.as_str())
        .filter(|id| {
            id.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
        .ok_or_else(|| SendError::permanent("invalid_request", "the email has no follow-up id"))?;
    let domain = from_address
        .rsplit_once('@')
        .map_or("localhost", |(_, d)| d);
    let message_id = format!("{followup_id}@{domain}");
    let from = if from_name.trim().is_empty() {
        Address::new_address(None::<&str>, from_address)
    } else {
        Address::new_address(Some(from_name.trim()), from_address)
    };
    let mut builder = MessageBuilder::new()
        .from(from)
        .to(to.as_str())
        .reply_to(from_address)
        .subject(subject.as_str())
        .message_id(message_id.as_str())
        .header(FOLLOWUP_ID_HEADER, Raw::new(followup_id));
    for (name, value) in headers {
        builder = builder.header(name.as_str(), Raw::new(value.as_str()));
    }
    if !text.is_empty() || html.is_empty() {
        builder = builder.text_body(text.as_str());
    }
    if !html.is_empty() {
        builder = builder.html_body(html.as_str());
    }
    let bytes = builder
        .write_to_vec()
        .map_err(|e| SendError::permanent("invalid_request", format!("cannot build MIME: {e}")))?;
    Ok((bytes, format!("<{message_id}>")))
}
