//! The parts of a parsed message (mail-parser 0.11) as postie sees them: which part is the
//! text body, the HTML body, an attachment, a nested message; each part's decoded name,
//! MIME type, Content-ID and whether its decoding hit a problem. Also the decoded headers
//! message.json reports. No file system here.

use std::borrow::Cow;
use std::sync::OnceLock;

use mail_parser::{Address, HeaderName, Message, MessagePart, MimeHeaders, PartType};
use serde::Serialize;

use super::{UnpackOptions, decode, params, tnef, uu};

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
    /// Where the part's raw body ends when mail-parser's offset is wrong (see [`strays`]).
    pub end: Option<usize>,
}

/// One node of the MIME tree, for `--list`.
#[derive(Debug, Serialize)]
pub struct Node {
    pub depth: usize,
    pub mime_type: String,
    pub size: usize,
    pub name: Option<String>,
    /// For a file inside a part: `tnef`, `uuencode` or `yenc`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<&'static str>,
    /// Whether unpacking writes this node as a file of its own (not a body, a multipart, a
    /// skipped inline image or a dropped TNEF container): what `--type`/`--name` choose from.
    #[serde(skip)]
    pub file: bool,
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
    for visit in visits(msg) {
        let part = visit.part;
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
            end: visit.end,
        });
    }
    out
}

/// One part in document order: the part, its depth, and where its raw body ends when that is
/// not where mail-parser says.
struct Visit<'m> {
    part: &'m MessagePart<'m>,
    depth: usize,
    end: Option<usize>,
}

/// Every part of `msg` in document order, the parts [`strays`] finds put back in place.
fn visits<'m>(msg: &'m Message<'m>) -> Vec<Visit<'m>> {
    let mut out = Vec::new();
    for (id, depth) in walk(msg, 0) {
        let Some(part) = msg.parts.get(id) else {
            continue;
        };
        let strays = strays(part);
        let end = strays
            .first()
            .and_then(|&(nested, root)| nested.parts.get(root))
            .map(|p| delimiter_start(&msg.raw_message, p.offset_header as usize));
        out.push(Visit { part, depth, end });
        for (nested, root) in strays {
            for (id, d) in walk(nested, root) {
                if let Some(part) = nested.parts.get(id) {
                    out.push(Visit {
                        part,
                        depth: depth + d,
                        end: None,
                    });
                }
            }
        }
    }
    out
}

/// The parts mail-parser 0.11 files in the wrong place: when a message/rfc822 part holds
/// another message/rfc822 directly (no multipart between), it ends the outer one too late,
/// and the enclosing multipart's next parts land in a nested message, out of its tree (no
/// part lists them). Python's `email` reads them as the enclosing multipart's parts, which
/// they are; this finds them (as message and part id, in document order) so they are saved
/// there.
fn strays<'m>(part: &'m MessagePart<'m>) -> Vec<(&'m Message<'m>, usize)> {
    let mut out = Vec::new();
    let mut body = &part.body;
    while let PartType::Message(nested) = body {
        let mut seen = vec![false; nested.parts.len()];
        for (id, _) in walk(nested, 0) {
            seen[id] = true;
        }
        for root in 0..nested.parts.len() {
            if !seen[root] {
                for (id, _) in walk(nested, root) {
                    seen[id] = true;
                }
                out.push((nested, root));
            }
        }
        let Some(first) = nested.parts.first() else {
            break;
        };
        body = &first.body;
    }
    out.sort_by_key(|&(m, id)| m.parts.get(id).map_or(0, |p| p.offset_header));
    out
}

/// Where the delimiter line before the part whose headers start at `headers` begins: the
/// line break before `--boundary` belongs to the delimiter (RFC 2046 5.1.1).
fn delimiter_start(raw: &[u8], headers: usize) -> usize {
    let before = raw.get(..headers).unwrap_or(raw);
    let line = before.strip_suffix(b"\n").unwrap_or(before);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let start = line.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let mut end = start.saturating_sub(1);
    if start > 1 && raw.get(start - 2) == Some(&b'\r') {
        end -= 1;
    }
    end
}

/// Part ids in document order with their depth; iterative, so hostile nesting cannot
/// exhaust the stack, and each id is visited once.
fn walk(msg: &Message<'_>, root: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut seen = vec![false; msg.parts.len()];
    let mut stack = vec![(root, 0usize)];
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

/// The MIME tree for `--list`, nested messages included (at most `options.max_depth`
/// deep), and under a part the files inside it (TNEF contents, uuencoded and yEnc blocks of
/// the body text) unless `options` turns them off.
pub fn outline(msg: &Message<'_>, options: &UnpackOptions) -> Vec<Node> {
    let mut nodes = Vec::new();
    outline_into(msg, 0, options.max_depth, options, &mut nodes);
    nodes
}

fn outline_into(
    msg: &Message<'_>,
    base: usize,
    nesting_left: usize,
    options: &UnpackOptions,
    out: &mut Vec<Node>,
) {
    let leaves = leaves(msg);
    // The body text part, whose uuencoded and yEnc blocks are listed (found only if asked).
    let body = leaves
        .iter()
        .find(|l| l.role == Role::BodyText && options.uudecode)
        .map(|l| l.part);
    for visit in visits(msg) {
        let (part, depth) = (visit.part, visit.depth);
        let mut node = Node {
            depth: base + depth,
            mime_type: mime_type_of(part),
            size: part.len(),
            name: original_name(msg, part),
            encoding: None,
            file: false,
        };
        node.file = leaves
            .iter()
            .find(|l| std::ptr::eq(l.part, part))
            .is_some_and(|l| is_file(l, options));
        let is_body = body.is_some_and(|b| std::ptr::eq(b, part));
        let (inner, container_dropped) = inner_nodes(msg, &visit, &node, is_body, options);
        node.file &= !container_dropped;
        out.push(node);
        out.extend(inner);
        if let (PartType::Message(nested), Some(left)) = (&part.body, nesting_left.checked_sub(1)) {
            let from = out.len();
            outline_into(nested, base + depth + 1, left, options, out);
            // Listed, but with --no-recursive not written.
            out[from..]
                .iter_mut()
                .for_each(|n| n.file &= options.recursive);
        }
    }
}

/// Whether the leaf `l` is saved as a file of its own.
fn is_file(l: &Leaf<'_>, options: &UnpackOptions) -> bool {
    let kept = !(options.no_inline && l.inline && l.mime_type.starts_with("image/"));
    kept && match l.role {
        Role::Attachment | Role::Message => true,
        Role::ExtraText => options.include_text_parts,
        Role::BodyText | Role::BodyHtml => false,
    }
}

/// The files inside the part `visit` (listed as `node`), one level below it, and whether
/// the part itself is not saved (a TNEF part read whole, with `--no-tnef-container`).
fn inner_nodes(
    msg: &Message<'_>,
    visit: &Visit<'_>,
    node: &Node,
    is_body: bool,
    options: &UnpackOptions,
) -> (Vec<Node>, bool) {
    let tnef = options.tnef && tnef::is_tnef_part(&node.mime_type, node.name.as_deref());
    if !(tnef || is_body && options.uudecode) {
        return (Vec::new(), false);
    }
    let at = node.depth + 1;
    let (bytes, _) = decoded(msg, visit.part, if is_body { None } else { visit.end });
    let file = |name: Option<&str>, mime: Option<&str>, size, encoding| Node {
        depth: at,
        mime_type: mime.map_or_else(|| type_from_name(name), str::to_owned),
        size,
        name: name.map(str::to_owned),
        encoding: Some(encoding),
        file: true,
    };
    if is_body {
        let blocks = uu::find_blocks(&bytes)
            .iter()
            .map(|b| file(Some(&b.name), None, b.data.len(), b.encoding.as_str()))
            .collect();
        return (blocks, false);
    }
    let contents = tnef::read(&bytes);
    let read_whole = contents.as_ref().is_some_and(|c| c.damage.is_none());
    let files = contents.map(|c| c.files).unwrap_or_default();
    let nodes = files
        .iter()
        .map(|f| {
            file(
                f.name.as_deref(),
                f.mime_type.as_deref(),
                f.data.len(),
                "tnef",
            )
        })
        .collect();
    (nodes, read_whole && !options.tnef_container)
}

/// The MIME type a file name suggests (`application/octet-stream` when it suggests none).
pub fn type_from_name(name: Option<&str>) -> String {
    name.and_then(|n| mime_guess::from_path(n).first_raw())
        .unwrap_or("application/octet-stream")
        .to_owned()
}

/// The raw, still transfer-encoded body of `part` as Python's `email` finds it: from
/// mail-parser's offsets, except that a body which follows the part's headers with no empty
/// line starts at its first line (mail-parser would make it a 0-byte part).
fn raw_body<'a>(raw: &'a [u8], part: &MessagePart<'_>, end: Option<usize>) -> &'a [u8] {
    let (header, body, end) = (
        part.offset_header as usize,
        part.offset_body as usize,
        end.unwrap_or(part.offset_end as usize),
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
pub fn decoded_bytes<'m>(msg: &'m Message<'m>, leaf: &Leaf<'m>) -> (Cow<'m, [u8]>, bool) {
    decoded(msg, leaf.part, leaf.end)
}

fn decoded<'m>(
    msg: &'m Message<'m>,
    part: &'m MessagePart<'m>,
    end: Option<usize>,
) -> (Cow<'m, [u8]>, bool) {
    let raw = raw_body(&msg.raw_message, part, end);
    if let Some(bytes) = parser_bytes(msg, part, end, raw) {
        return (Cow::Borrowed(bytes), false);
    }
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

/// mail-parser's own decoding of a binary base64 part, where it is what Python decodes:
/// canonical base64 over the same bytes postie would decode (the body right after the
/// headers' empty line, mail-parser's end). Saves a second decoding pass over every
/// attachment.
fn parser_bytes<'m>(
    msg: &Message<'m>,
    part: &'m MessagePart<'m>,
    end: Option<usize>,
    raw: &[u8],
) -> Option<&'m [u8]> {
    let bytes = match &part.body {
        PartType::Binary(b) | PartType::InlineBinary(b) => b.as_ref(),
        _ => return None,
    };
    let same_start = msg
        .raw_message
        .get(part.offset_body as usize..)
        .is_some_and(|from| from.as_ptr() == raw.as_ptr());
    let usable = part.encoding == mail_parser::Encoding::Base64
        && end.is_none()
        && same_start
        && !part.is_encoding_problem
        && decode::is_canonical_base64(raw);
    usable.then_some(bytes)
}

/// A text part as UTF-8: its decoded bytes in the charset its Content-Type names (UTF-8
/// when none or unknown). The bool says whether the transfer encoding was damaged.
pub fn text_of<'m>(msg: &'m Message<'m>, part: &'m MessagePart<'m>) -> (String, bool) {
    let (bytes, problem) = decoded(msg, part, None);
    (text_in_charset(part, &bytes), problem)
}

/// The body text part's bytes, transfer encoding undone but still in its own charset (the
/// bytes [`text_of`] decodes), for finding the files sent inside it.
pub fn body_text_bytes<'m>(msg: &'m Message<'m>, leaf: &Leaf<'m>) -> (Cow<'m, [u8]>, bool) {
    decoded(msg, leaf.part, None)
}

/// Bytes of `part` (or a run of them cut at line breaks) in its charset, as UTF-8.
pub fn text_in_charset(part: &MessagePart<'_>, bytes: &[u8]) -> String {
    let charset = part
        .content_type()
        .and_then(|ct| ct.attribute("charset"))
        .unwrap_or("");
    params::decode_charset(charset, bytes)
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

/// One header line of message.json's `headers` (`--headers`).
#[derive(Debug, Clone, Serialize)]
pub struct HeaderLine {
    pub name: String,
    pub value: String,
}

/// Every header of `msg` in order: its name as written, its value unfolded (line breaks
/// before white space removed), RFC 2047 words decoded, bytes that are not UTF-8 replaced.
pub fn all_headers(msg: &Message<'_>) -> Vec<HeaderLine> {
    let Some(root) = msg.parts.first() else {
        return Vec::new();
    };
    root.headers
        .iter()
        .map(|h| {
            let raw = msg
                .raw_message
                .get(h.offset_start as usize..h.offset_end as usize)
                .unwrap_or_default();
            let text = String::from_utf8_lossy(raw);
            let unfolded: String = text
                .split(['\r', '\n'])
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join("");
            HeaderLine {
                name: h.name.as_str().to_owned(),
                value: params::decode_words(unfolded.trim()),
            }
        })
        .collect()
}

/// What `--folder-template` and `--file-template` fill their placeholders from.
pub fn template_fields(msg: &Message<'_>) -> super::template::Fields {
    let from = msg
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address().or(a.name()))
        .map(str::to_owned);
    super::template::Fields {
        date: folder_date(msg),
        subject: msg.subject().map(str::to_owned),
        from,
        message_id: msg.message_id().map(str::to_owned),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_break_before_a_delimiter_belongs_to_it() {
        let crlf = b"body\r\n--b\r\nContent-Type: text/html\r\n";
        assert_eq!(delimiter_start(crlf, 11), 4);
        let lf = b"body\n\n--b\nContent-Type: text/html\n";
        assert_eq!(delimiter_start(lf, 10), 5);
        assert_eq!(delimiter_start(b"--b\n", 4), 0);
        assert_eq!(delimiter_start(b"", 9), 0);
    }

    #[test]
    fn parts_after_a_message_in_a_message_are_the_outer_multiparts() {
        let raw = b"Content-Type: multipart/mixed; boundary=o\n\n--o\n\
            Content-Type: message/rfc822\n\nContent-Type: message/rfc822\n\n\
            Content-Type: text/plain\n\ninner\n--o\n\
            Content-Type: text/html\n\n<p>after</p>\n--o--\n";
        let msg = parse(raw).expect("a message");
        let leaves = leaves(&msg);
        let types: Vec<&str> = leaves.iter().map(|l| l.mime_type.as_str()).collect();
        assert_eq!(types, ["message/rfc822", "text/html"]);
        let (bytes, _) = decoded_bytes(&msg, &leaves[0]);
        assert!(
            bytes.ends_with(b"inner"),
            "{:?}",
            String::from_utf8_lossy(&bytes)
        );
    }
}
