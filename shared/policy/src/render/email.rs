//! Email rendering: a one-line subject and a body written in basic Markdown
//! (paragraphs, bold, italics, links, lists), turned into safe HTML and a plain-text part.
//!
//! Safety comes from structure, not from scrubbing strings: the operator's body is
//! parsed as Markdown with variables replaced by private-use placeholder characters, and
//! the values are put back only into text events (which the HTML writer escapes) or
//! checked link targets. Raw HTML in the body is shown as text; links other than
//! http(s) and mailto lose their link; images become their alt text.

use pulldown_cmark::{CowStr, Event, LinkType, Options, Parser, Tag, TagEnd, html};
use serde::Serialize;

use crate::error::Error;
use crate::followup::{Channel, FollowUp, Reason};
use crate::render::{Values, expect_channel};
use crate::settings::Settings;
use crate::template::{Segment, TemplateText, Variable};
use crate::values::normalize_line;

/// The longest subject after filling in values.
pub const MAX_SUBJECT_CHARS: usize = 250;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmailMessage {
    /// The display name of the `From:` header (header-safe), if any.
    pub from_name: Option<String>,
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// Renders an `email` or `missed_call_email` follow-up with the campaign's texts.
pub fn render_email(followup: &FollowUp, settings: &Settings) -> Result<EmailMessage, Error> {
    expect_channel(followup, &[Channel::Email, Channel::MissedCallEmail])?;
    let campaign = settings.campaign.as_ref().ok_or_else(|| {
        Error::not_renderable(
            Reason::ChannelDisabled,
            "the campaign has no email settings",
        )
    })?;
    let (subject, body) = match followup.channel {
        Channel::MissedCallEmail => (
            &campaign.missed_call_email.subject,
            &campaign.missed_call_email.body,
        ),
        _ => (&campaign.email.subject, &campaign.email.body),
    };
    let (Some(subject), Some(body)) = (subject, body) else {
        return Err(Error::not_renderable(
            Reason::NoTemplate,
            "the email has no subject or body",
        ));
    };
    let from_name = settings.email_from_name();
    let values = Values {
        followup,
        sender_name: from_name,
        meeting_link: settings.email_meeting_link(),
    };
    values.require_meeting_link([subject, body])?;
    let (html, text) = render_body(body, &values);
    Ok(EmailMessage {
        from_name: from_name.map(|n| n.as_str().to_owned()),
        subject: render_subject(subject, &values),
        html,
        text,
    })
}

/// A header-safe subject: values flattened to one line, bounded.
fn render_subject(subject: &TemplateText, values: &Values<'_>) -> String {
    let filled = normalize_line(&subject.fill(|v| normalize_line(&values.get(v))));
    if filled.chars().count() <= MAX_SUBJECT_CHARS {
        return filled;
    }
    let cut: String = filled.chars().take(MAX_SUBJECT_CHARS - 3).collect();
    format!("{}...", cut.trim_end())
}

/// The placeholder standing for a variable inside the Markdown source.
fn placeholder(variable: Variable) -> char {
    let index = Variable::ALL
        .iter()
        .position(|v| *v == variable)
        .unwrap_or(0);
    char::from_u32(0xE000 + index as u32).unwrap_or('\u{E000}')
}

fn variable_of(c: char) -> Option<Variable> {
    let index = (c as u32).checked_sub(0xE000)?;
    Variable::ALL.get(index as usize).copied()
}

/// Replaces placeholders in `s` by raw values.
fn fill_raw(s: &str, values: &Values<'_>) -> String {
    s.chars()
        .map(|c| variable_of(c).map_or_else(|| c.to_string(), |v| values.get(v)))
        .collect()
}

/// Only web and mail links survive, in their normalized form.
fn safe_link(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw.trim()).ok()?;
    matches!(url.scheme(), "http" | "https" | "mailto").then(|| url.to_string())
}

fn render_body(body: &TemplateText, values: &Values<'_>) -> (String, String) {
    let source: String = body
        .segments()
        .iter()
        .map(|segment| match segment {
            Segment::Text(text) => text.clone(),
            Segment::Variable(v) => placeholder(*v).to_string(),
        })
        .collect();
    let events = safe_events(Parser::new_ext(&source, Options::empty()), values);
    let mut fragment = String::new();
    html::push_html(&mut fragment, events.iter().cloned());
    let html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body>\n{fragment}</body></html>\n"
    );
    (html, plain_text(&events))
}

/// The event stream with values inserted and anything unsafe neutralized.
fn safe_events<'a>(parser: Parser<'a>, values: &Values<'_>) -> Vec<Event<'a>> {
    let mut out = Vec::new();
    // One entry per open link or image: whether its start was kept.
    let mut open: Vec<bool> = Vec::new();
    let mut in_link = 0usize;
    for event in parser {
        match event {
            Event::Text(text) => push_text(&mut out, &text, values, in_link > 0),
            Event::Html(raw) | Event::InlineHtml(raw) => push_text(&mut out, &raw, values, true),
            Event::Code(code) => out.push(Event::Code(fill_raw(&code, values).into())),
            Event::Start(Tag::HtmlBlock) => out.push(Event::Start(Tag::Paragraph)),
            Event::End(TagEnd::HtmlBlock) => out.push(Event::End(TagEnd::Paragraph)),
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) => match safe_link(&fill_raw(&dest_url, values)) {
                Some(url) if in_link == 0 => {
                    open.push(true);
                    in_link += 1;
                    out.push(Event::Start(Tag::Link {
                        link_type,
                        dest_url: url.into(),
                        title: fill_raw(&title, values).into(),
                        id,
                    }));
                }
                _ => open.push(false),
            },
            Event::End(TagEnd::Link) => {
                if open.pop() == Some(true) {
                    in_link -= 1;
                    out.push(Event::End(TagEnd::Link));
                }
            }
            Event::Start(Tag::Image { .. }) => open.push(false),
            Event::End(TagEnd::Image) => {
                open.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Text with its placeholders expanded: values as text (line breaks kept as breaks),
/// the meeting link as a link unless already inside one.
fn push_text<'a>(out: &mut Vec<Event<'a>>, text: &str, values: &Values<'_>, in_link: bool) {
    let mut plain = String::new();
    let flush = |plain: &mut String, out: &mut Vec<Event<'a>>| {
        if !plain.is_empty() {
            out.push(Event::Text(std::mem::take(plain).into()));
        }
    };
    for c in text.chars() {
        let Some(variable) = variable_of(c) else {
            plain.push(c);
            continue;
        };
        let value = values.get(variable);
        if variable == Variable::MeetingLink && !in_link && !value.is_empty() {
            flush(&mut plain, out);
            out.push(Event::Start(Tag::Link {
                link_type: LinkType::Inline,
                dest_url: CowStr::from(value.clone()),
                title: CowStr::from(""),
                id: CowStr::from(""),
            }));
            out.push(Event::Text(value.into()));
            out.push(Event::End(TagEnd::Link));
            continue;
        }
        for (i, line) in value.lines().enumerate() {
            if i > 0 {
                flush(&mut plain, out);
                out.push(Event::HardBreak);
            }
            plain.push_str(line);
        }
    }
    flush(&mut plain, out);
}

/// The plain-text part: the same structure without markup; links as `text (url)`.
fn plain_text(events: &[Event<'_>]) -> String {
    let mut out = String::new();
    let mut lists: Vec<Option<u64>> = Vec::new();
    let mut links: Vec<(String, usize)> = Vec::new();
    for event in events {
        match event {
            Event::Text(text) | Event::Code(text) => out.push_str(text),
            Event::SoftBreak | Event::HardBreak => out.push('\n'),
            Event::Rule => out.push_str("----\n\n"),
            Event::Start(Tag::List(start)) => {
                ensure_newline(&mut out);
                lists.push(*start);
            }
            Event::End(TagEnd::List(_)) => {
                lists.pop();
                if lists.is_empty() {
                    out.push('\n');
                }
            }
            Event::Start(Tag::Item) => {
                ensure_newline(&mut out);
                out.push_str(&"  ".repeat(lists.len().saturating_sub(1)));
                match lists.last_mut() {
                    Some(Some(n)) => {
                        out.push_str(&format!("{n}. "));
                        *n += 1;
                    }
                    _ => out.push_str("- "),
                }
            }
            Event::End(TagEnd::Item) => ensure_newline(&mut out),
            Event::Start(Tag::Link { dest_url, .. }) => {
                links.push((dest_url.to_string(), out.len()))
            }
            Event::End(TagEnd::Link) => {
                if let Some((url, start)) = links.pop() {
                    let label = out.get(start..).unwrap_or_default();
                    let shown = url.strip_prefix("mailto:").unwrap_or(&url);
                    if label != url && label != shown {
                        out.push_str(&format!(" ({shown})"));
                    }
                }
            }
            Event::End(
                TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::CodeBlock | TagEnd::BlockQuote(_),
            ) => {
                if lists.is_empty() {
                    out.push_str("\n\n");
                } else {
                    ensure_newline(&mut out);
                }
            }
            _ => {}
        }
    }
    let mut text = out.trim_end().to_owned();
    while text.contains("\n\n\n") {
        text = text.replace("\n\n\n", "\n\n");
    }
    text.push('\n');
    text
}

fn ensure_newline(out: &mut String) {
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
}
