//! The parts of a parsed message (mail-parser 0.11) as postie sees them: which part is the
//! text body, the HTML body, an attachment, a nested message; each part's decoded name,
//! MIME type, Content-ID and whether its decoding hit a problem. Also the decoded headers
//! message.json reports. No file system here.

use std::borrow::Cow;
use std::sync::OnceLock;

use base64::Engine;
use mail_parser::{Address, HeaderName, Message, MessagePart, MimeHeaders, PartType};
use serde::Serialize;

use super::params;

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
    /// mail-parser's `is_encoding_problem` (or our own decoder's): the bytes may be damaged.
    pub encoding_problem: bool,
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

/// The MIME type of a part, lower-case; text/plain when absent.
pub fn mime_type_of(part: &MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => {
            let sub = ct.subtype().unwrap_or("octet-stream");
            format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase()
        }
        None if matches!(part.body, PartType::Message(_)) => "message/rfc822".to_owned(),
        None => "text/plain".to_owned(),
    }
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
        if matches!(part.body, PartType::Multipart(_)) {
            continue;
        }
        let mime_type = mime_type_of(part);
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
            encoding_problem: part.is_encoding_problem,
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

/// The bytes to save for an attachment or nested message. Text parts keep their original
/// charset: their transfer encoding is undone here from the raw bytes (mail-parser would
/// have converted them to UTF-8). Returns the bytes and whether decoding hit a problem.
pub fn saved_bytes<'m>(msg: &'m Message<'m>, leaf: &Leaf<'m>) -> (Cow<'m, [u8]>, bool) {
    match &leaf.part.body {
        PartType::Text(_) | PartType::Html(_) => {
            let start = leaf.part.offset_body as usize;
            let end = leaf.part.offset_end as usize;
            let raw = msg
                .raw_message
                .get(start..end.max(start))
                .unwrap_or_default();
            let encoding = leaf
                .part
                .headers
                .iter()
                .find(|h| h.name == HeaderName::ContentTransferEncoding)
                .and_then(|h| h.value.as_text())
                .map(|s| s.trim().to_ascii_lowercase());
            match encoding.as_deref() {
                Some("base64") => {
                    let (bytes, problem) = decode_base64_lenient(raw);
                    (Cow::Owned(bytes), problem || leaf.encoding_problem)
                }
                Some("quoted-printable") => (Cow::Owned(decode_qp(raw)), leaf.encoding_problem),
                _ => (Cow::Borrowed(raw), leaf.encoding_problem),
            }
        }
        _ => (Cow::Borrowed(leaf.part.contents()), leaf.encoding_problem),
    }
}

/// Base64 ignoring characters outside the alphabet (as Python and most readers do).
pub fn decode_base64_lenient(raw: &[u8]) -> (Vec<u8>, bool) {
    let mut clean: Vec<u8> = raw
        .iter()
        .copied()
        .filter(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
        .collect();
    let problem = raw.iter().any(|b| {
        !(b.is_ascii_alphanumeric()
            || matches!(b, b'+' | b'/' | b'=' | b'\r' | b'\n' | b' ' | b'\t'))
    });
    if clean.len() % 4 == 1 {
        clean.pop();
    }
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone),
    );
    match engine.decode(&clean) {
        Ok(bytes) => (bytes, problem),
        Err(_) => (Vec::new(), true),
    }
}

/// Quoted-printable: `=XX` decoded, soft line breaks removed, everything else kept.
pub fn decode_qp(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'=' {
            let rest = &raw[i + 1..];
            if rest.starts_with(b"\r\n") {
                i += 3;
                continue;
            }
            if rest.starts_with(b"\n") {
                i += 2;
                continue;
            }
            if let [h, l, ..] = rest
                && let (Some(h), Some(l)) = ((*h as char).to_digit(16), (*l as char).to_digit(16))
            {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 3;
                continue;
            }
        }
        out.push(raw[i]);
        i += 1;
    }
    out
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

/// The body text: the first inline text/plain part, else the HTML body converted to text.
pub fn body_text<'m>(msg: &'m Message<'m>, leaves: &[Leaf<'m>]) -> Option<Cow<'m, str>> {
    if let Some(l) = leaves.iter().find(|l| l.role == Role::BodyText) {
        return l.part.text_contents().map(Cow::Borrowed);
    }
    leaves
        .iter()
        .any(|l| l.role == Role::BodyHtml)
        .then(|| msg.body_text(0))
        .flatten()
}

/// The HTML body, charset-decoded.
pub fn body_html<'m>(leaves: &[Leaf<'m>]) -> Option<&'m str> {
    leaves
        .iter()
        .find(|l| l.role == Role::BodyHtml)
        .and_then(|l| l.part.text_contents())
}
