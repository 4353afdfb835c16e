//! The parts of a parsed message (mail-parser 0.11) as postie sees them: which part is the
//! text body, the HTML body, an attachment, a nested message; each part's decoded name,
//! MIME type, Content-ID and whether its decoding hit a problem. Also the decoded headers
//! message.json reports. No file system here.

use std::borrow::Cow;
use std::sync::OnceLock;

use mail_parser::{Address, HeaderName, Message, MessagePart, MimeHeaders, PartType};
use serde::Serialize;

use super::{decode, params};

/// What a leaf part is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The first inline text/plain part: body.txt.
    BodyText,
    /// The first inline text/html part: body.html.
    BodyHtml,
    /// Another inline text/plain or text/html part (saved with --include-text-parts).
    ExtraText,
    /// A file the sender attached (or an inline image).
    Attachment,
    /// A nested message/rfc822 part.
    Message,
}

/// One non-multipart part of a message.
#[derive(Debug)]
pub struct Leaf<'m> {
    pub role: Role,
    pub mime_type: String,
    /// The name the sender gave, decoded (RFC 2231 / 2047), before sanitising.
    pub name: Option<String>,
    pub content_id: Option<String>,
    pub inline: bool,
    pub part: &'m MessagePart<'m>,
}

/// One node of the MIME tree, for `--list`.
#[derive(Debug, Serialize)]
pub struct Node {
    pub depth: usize,
    pub mime_type: String,
    pub size: usize,
    pub name: Option<String>,
}

/// Decoded headers for message.json.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Headers {
    pub from: Vec<String>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: Option<String>,
    pub date: Option<String>,
    pub message_id: Option<String>,
}

/// Parses `raw` (never panics; mail-parser returns `None` only for input with no headers).
/// Only the headers postie reads are parsed into values; the parser is built once.
pub fn parse(raw: &[u8]) -> Option<Message<'_>> {
    match decode::unfold_boundaries(raw) {
        Some(patched) => parse_as_is(&patched).map(Message::into_owned),
        None => parse_as_is(raw),
    }
}

fn parse_as_is(raw: &[u8]) -> Option<Message<'_>> {
    static PARSER: OnceLock<mail_parser::MessageParser> = OnceLock::new();
    PARSER
        .get_or_init(|| {
            mail_parser::MessageParser::new()
                .with_mime_headers()
                .with_date_headers()
                .with_address_headers()
                .with_message_ids()
                .header_text(mail_parser::HeaderName::Subject)
        })
        .parse(raw)
}

/// The MIME type of a part, lower-case; text/plain when absent or not a valid `type/subtype`
/// (RFC 2045 5.2, as Python reads `<html>` or a type with no subtype).
pub fn mime_type_of(part: &MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => match ct.subtype() {
            Some(sub) if is_token(ct.ctype()) && is_token(sub) => {
                format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase()
            }
            _ => "text/plain".to_owned(),
        },
        None if matches!(part.body, PartType::Message(_)) => "message/rfc822".to_owned(),
        None => "text/plain".to_owned(),
    }
}

/// An RFC 2045 token: printable ASCII but space and tspecials.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| (b'!'..=b'~').contains(&b) && !b"()<>@,;:\\\"/[]?=".contains(&b))
}

/// The raw bytes of the first header `name` of `part`, from the message's raw bytes.
fn raw_header<'a>(
    msg: &'a Message<'_>,
    part: &MessagePart<'_>,
    name: &HeaderName<'_>,
) -> Option<&'a [u8]> {
    let h = part.headers.iter().find(|h| &h.name == name)?;
    msg.raw_message
        .get(h.offset_start as usize..h.offset_end as usize)
}

/// The sender's file name of `part`: Content-Disposition filename, else Content-Type name.
pub fn original_name(msg: &Message<'_>, part: &MessagePart<'_>) -> Option<String> {
    raw_header(msg, part, &HeaderName::ContentDisposition)
        .and_then(|raw| params::param(raw, "filename"))
        .or_else(|| {
            raw_header(msg, part, &HeaderName::ContentType)
                .and_then(|raw| params::param(raw, "name"))
        })
}

/// Every non-multipart part in document order, with its role.
pub fn leaves<'m>(msg: &'m Message<'m>) -> Vec<Leaf<'m>> {
    let mut out = Vec::new();
    let mut have_text = false;
    let mut have_html = false;
    for (id, _depth) in walk(msg) {
        let Some(part) = msg.parts.get(id) else {
            continue;
        };
        let mime_type = mime_type_of(part);
        // A multipart whose boundary never comes holds no part: nothing to save.
        if matches!(part.body, PartType::Multipart(_)) || mime_type.starts_with("multipart/") {
            continue;
        }
        let name = original_name(msg, part);
        let disposition = part
            .content_disposition()
            .map(|d| d.ctype().to_ascii_lowercase());
        let content_id = part.content_id().map(str::to_owned);
        let named = name.is_some() || disposition.as_deref() == Some("attachment");
        let role = if matches!(part.body, PartType::Message(_))
            || mime_type == "message/rfc822"
            || mime_type == "message/global"
        {
            Role::Message
        } else if !named && mime_type == "text/plain" && !have_text {
            have_text = true;
            Role::BodyText
        } else if !named && mime_type == "text/html" && !have_html {
            have_html = true;
            Role::BodyHtml
        } else if !named && (mime_type == "text/plain" || mime_type == "text/html") {
            Role::ExtraText
        } else {
            Role::Attachment
        };
        let inline = match disposition.as_deref() {
            Some("inline") => true,
            None => content_id.is_some(),
            _ => false,
        };
        out.push(Leaf {
            role,
            mime_type,
            name,
            content_id,
            inline,
            part,
        });
    }
    out
}

/// Part ids in document order with their depth; iterative, so hostile nesting cannot
/// exhaust the stack, and each id is visited once.
fn walk(msg: &Message<'_>) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut seen = vec![false; msg.parts.len()];
    let mut stack = vec![(0usize, 0usize)];
    while let Some((id, depth)) = stack.pop() {
        if id >= msg.parts.len() || seen[id] {
            continue;
        }
        seen[id] = true;
        out.push((id, depth));
        if let Some(children) = msg.parts[id].sub_parts() {
            for &child in children.iter().rev() {
                stack.push((child as usize, depth + 1));
            }
        }
    }
    out
}

/// The MIME tree for `--list`, nested messages included (at most `max_nesting` deep).
pub fn outline(msg: &Message<'_>, max_nesting: usize) -> Vec<Node> {
    let mut nodes = Vec::new();
    outline_into(msg, 0, max_nesting, &mut nodes);
    nodes
}

fn outline_into(msg: &Message<'_>, base: usize, nesting_left: usize, out: &mut Vec<Node>) {
    for (id, depth) in walk(msg) {
        let Some(part) = msg.parts.get(id) else {
            continue;
        };
        out.push(Node {
            depth: base + depth,
            mime_type: mime_type_of(part),
            size: part.len(),
            name: original_name(msg, part),
        });
        if let (PartType::Message(nested), Some(left)) = (&part.body, nesting_left.checked_sub(1)) {
            outline_into(nested, base + depth + 1, left, out);
        }
    }
}

/// The raw, still transfer-encoded body of `part` as Python's `email` finds it: from
/// mail-parser's offsets, except that a body which follows the part's headers with no empty
/// line starts at its first line (mail-parser would make it a 0-byte part).
fn raw_body<'a>(raw: &'a [u8], part: &MessagePart<'_>) -> &'a [u8] {
    let (header, body, end) = (
        part.offset_header as usize,
        part.offset_body as usize,
        part.offset_end as usize,
    );
    let body = raw
        .get(header..body)
        .and_then(decode::body_start_in_headers)
        .map_or(body, |at| header + at);
    raw.get(body..end.max(body)).unwrap_or_default()
}

/// The bytes of a leaf part with its transfer encoding undone, decoded from the raw message
/// (never mail-parser's decoding, which loses bytes on damaged input); text keeps its own
/// charset. The bool is true when the encoding was damaged: what decodes is returned.
pub fn decoded_bytes<'m>(msg: &'m Message<'m>, part: &MessagePart<'_>) -> (Cow<'m, [u8]>, bool) {
    let raw = raw_body(&msg.raw_message, part);
    let transfer = decode::Transfer::from_header(
        part.headers
            .iter()
            .find(|h| h.name == HeaderName::ContentTransferEncoding)
            .and_then(|h| h.value.as_text()),
    );
    if transfer == decode::Transfer::Identity {
        return (Cow::Borrowed(raw), false);
    }
    let (bytes, problem) = decode::decode(raw, transfer);
    (Cow::Owned(bytes), problem)
}

/// A text part as UTF-8: its decoded bytes in the charset its Content-Type names (UTF-8
/// when none or unknown). The bool says whether the transfer encoding was damaged.
pub fn text_of<'m>(msg: &'m Message<'m>, part: &MessagePart<'_>) -> (String, bool) {
    let (bytes, problem) = decoded_bytes(msg, part);
    let charset = part
        .content_type()
        .and_then(|ct| ct.attribute("charset"))
        .unwrap_or("");
    (params::decode_charset(charset, &bytes), problem)
}

fn addresses(addr: Option<&Address<'_>>) -> Vec<String> {
    let Some(addr) = addr else { return Vec::new() };
    addr.iter()
        .map(|a| match (a.name(), a.address()) {
            (Some(n), Some(e)) => format!("{n} <{e}>"),
            (None, Some(e)) => e.to_owned(),
            (Some(n), None) => n.to_owned(),
            (None, None) => String::new(),
        })
        .filter(|s| !s.is_empty())
        .collect()
}

/// From, To, Cc, Subject, Date (RFC 3339), Message-ID, decoded.
pub fn headers(msg: &Message<'_>) -> Headers {
    Headers {
        from: addresses(msg.from()),
        to: addresses(msg.to()),
        cc: addresses(msg.cc()),
        subject: msg.subject().map(str::to_owned),
        date: msg.date().filter(|d| d.is_valid()).map(|d| d.to_rfc3339()),
        message_id: msg.message_id().map(str::to_owned),
    }
}

/// The date as `YYYY-MM-DD_HHMMSS` in UTC, for folder names.
pub fn folder_date(msg: &Message<'_>) -> Option<String> {
    let d = msg.date().filter(|d| d.is_valid())?;
    let t = time::OffsetDateTime::from_unix_timestamp(d.to_timestamp()).ok()?;
    Some(format!(
        "{:04}-{:02}-{:02}_{:02}{:02}{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    ))
}

/// The body text: the first inline text/plain part, else the HTML body converted to text
/// (by mail-parser). The bool says whether the transfer encoding was damaged.
pub fn body_text<'m>(msg: &'m Message<'m>, leaves: &[Leaf<'m>]) -> Option<(String, bool)> {
    if let Some(l) = leaves.iter().find(|l| l.role == Role::BodyText) {
        return Some(text_of(msg, l.part));
    }
    leaves
        .iter()
        .any(|l| l.role == Role::BodyHtml)
        .then(|| msg.body_text(0))
        .flatten()
        .map(|text| (text.into_owned(), false))
}

/// The HTML body, charset-decoded; the bool says whether the transfer encoding was damaged.
pub fn body_html<'m>(msg: &'m Message<'m>, leaves: &[Leaf<'m>]) -> Option<(String, bool)> {
    leaves
        .iter()
        .find(|l| l.role == Role::BodyHtml)
        .map(|l| text_of(msg, l.part))
}
