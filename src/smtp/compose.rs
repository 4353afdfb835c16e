//! Message composition, pure apart from reading the files it is told to attach: a
//! [`MessageSpec`] (what the flags or a batch line say) becomes the exact RFC 5322 bytes and
//! the SMTP envelope, over lettre's builder.
//!
//! What this layer guarantees on top of lettre: a Message-ID and a Date on every message, Bcc
//! only in the envelope, one RCPT per distinct address, attachments always base64 (lettre
//! would send short-line `Vec<u8>` bodies as 7bit with bare LF), text bodies with CRLF and
//! lines within 998 octets (lettre picks quoted-printable or base64 for long or non-ASCII
//! lines), non-ASCII attachment names as RFC 2231 `filename*` plus an RFC 2047 `name=`.
//! Each attachment is read once and encoded once, so a big file costs its base64 text plus
//! the formatted message, not more copies. It does not open connections.

use std::path::{Path, PathBuf};

use lettre::Address;
use lettre::address::Envelope;
use lettre::message::header::{
    ContentDisposition, ContentTransferEncoding, ContentType, HeaderName, HeaderValue,
};
use lettre::message::{Body, Mailbox, Mailboxes, MultiPart, SinglePart};

use super::SmtpError;

/// One message as the user described it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageSpec {
    pub from: Option<String>,
    /// Each entry may itself be a comma list of `addr` or `Name <addr>`.
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub bcc: Vec<String>,
    pub reply_to: Option<String>,
    pub subject: Option<String>,
    /// Extra headers, `(name, value)`.
    pub headers: Vec<(String, String)>,
    /// The text body (UTF-8).
    pub body: Option<String>,
    /// An HTML alternative (UTF-8).
    pub html: Option<String>,
    pub attach: Vec<AttachSpec>,
    pub inline: Vec<InlineSpec>,
    /// The MAIL FROM address when it differs from From.
    pub envelope_from: Option<String>,
}

/// `--attach FILE[;type=MIME][;name=NAME]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachSpec {
    pub path: PathBuf,
    pub content_type: Option<String>,
    pub name: Option<String>,
}

/// `--inline FILE[;cid=ID][;type=MIME]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineSpec {
    pub path: PathBuf,
    pub cid: String,
    pub content_type: Option<String>,
}

/// A composed message: its bytes (CRLF line ends, not dot-stuffed) and its envelope.
#[derive(Debug)]
pub struct Composed {
    pub bytes: Vec<u8>,
    pub envelope: Envelope,
    pub message_id: String,
}

/// Headers postie writes itself; `-H` may not set them (Message-ID may: it replaces ours).
const MANAGED_HEADERS: &[&str] = &[
    "from",
    "to",
    "cc",
    "bcc",
    "reply-to",
    "subject",
    "date",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "content-disposition",
];

impl AttachSpec {
    /// Parses `FILE[;type=MIME][;name=NAME]`. A `;` that does not start a known key stays part
    /// of the file name.
    pub fn parse(arg: &str) -> Result<AttachSpec, SmtpError> {
        let (path, params) = split_params(arg, &["type", "name"]);
        let mut spec = AttachSpec {
            path: PathBuf::from(path),
            content_type: None,
            name: None,
        };
        for (key, value) in params {
            match key {
                "type" => spec.content_type = Some(check_mime("--attach", value)?),
                _ => spec.name = Some(value.to_owned()),
            }
        }
        Ok(spec)
    }
}

impl InlineSpec {
    /// Parses `FILE[;cid=ID][;type=MIME]`; the Content-ID defaults to the file's name.
    pub fn parse(arg: &str) -> Result<InlineSpec, SmtpError> {
        let (path, params) = split_params(arg, &["cid", "type"]);
        let path = PathBuf::from(path);
        let mut cid = None;
        let mut content_type = None;
        for (key, value) in params {
            match key {
                "cid" => cid = Some(value.to_owned()),
                _ => content_type = Some(check_mime("--inline", value)?),
            }
        }
        let cid = cid.unwrap_or_else(|| file_name(&path));
        if cid.is_empty() || cid.contains(['<', '>', '\r', '\n', ' ']) {
            return Err(SmtpError::usage(
                "--inline",
                format!("{cid:?} is not a usable Content-ID"),
            ));
        }
        Ok(InlineSpec {
            path,
            cid,
            content_type,
        })
    }
}

fn split_params<'a>(arg: &'a str, keys: &[&str]) -> (&'a str, Vec<(&'a str, &'a str)>) {
    let mut parts: Vec<&str> = arg.split(';').collect();
    let mut params = Vec::new();
    while parts.len() > 1 {
        let last = parts[parts.len() - 1];
        match last.split_once('=') {
            Some((k, v)) if keys.contains(&k.trim()) => {
                params.push((k.trim(), v));
                parts.pop();
            }
            _ => break,
        }
    }
    params.reverse();
    let path_len = parts.iter().map(|p| p.len()).sum::<usize>() + parts.len() - 1;
    (&arg[..path_len], params)
}

fn check_mime(flag: &str, value: &str) -> Result<String, SmtpError> {
    ContentType::parse(value)
        .map(|_| value.to_owned())
        .map_err(|_| SmtpError::usage(flag, format!("{value:?} is not a MIME type")))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "attachment".to_owned())
}

/// Parses a comma list of mailboxes (`addr`, `Name <addr>`, `"Last, First" <addr>`).
pub fn parse_mailboxes(flag: &str, value: &str) -> Result<Vec<Mailbox>, SmtpError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(SmtpError::usage(flag, "empty address"));
    }
    let list: Mailboxes = trimmed
        .parse()
        .map_err(|_| SmtpError::usage(flag, format!("{value:?} is not a valid address list")))?;
    Ok(list.into_iter().collect())
}

fn parse_one(flag: &str, value: &str) -> Result<Mailbox, SmtpError> {
    let mut list = parse_mailboxes(flag, value)?;
    if list.len() != 1 {
        return Err(SmtpError::usage(flag, "give exactly one address"));
    }
    Ok(list.remove(0))
}

fn parse_all(flag: &str, values: &[String]) -> Result<Vec<Mailbox>, SmtpError> {
    let mut out = Vec::new();
    for v in values {
        out.extend(parse_mailboxes(flag, v)?);
    }
    Ok(out)
}

/// The envelope: MAIL FROM (`--envelope-from`, else From's address) and every distinct
/// recipient of To, Cc and Bcc, in order of first appearance (addresses compare
/// case-insensitively in the domain, exactly in the local part).
fn envelope(
    from: &Mailbox,
    sender: Option<Address>,
    rcpts: &[&Mailbox],
) -> Result<Envelope, SmtpError> {
    let mut seen: Vec<Address> = Vec::new();
    for m in rcpts {
        let addr = &m.email;
        let dup = seen
            .iter()
            .any(|s| s.user() == addr.user() && s.domain().eq_ignore_ascii_case(addr.domain()));
        if !dup {
            seen.push(addr.clone());
        }
    }
    if seen.is_empty() {
        return Err(SmtpError::usage(
            "--to",
            "no recipient (give --to, --cc or --bcc)",
        ));
    }
    let sender = sender.unwrap_or_else(|| from.email.clone());
    Envelope::new(Some(sender), seen).map_err(|e| SmtpError::usage("--to", e.to_string()))
}

/// Builds the message described by `spec`. Reads the attachments (a missing or unreadable
/// file is [`SmtpError::Read`]); touches no network.
pub fn compose(spec: &MessageSpec) -> Result<Composed, SmtpError> {
    let from_text = spec.from.as_deref().ok_or_else(|| {
        SmtpError::usage("--from", "no sender (give --from or an account's from)")
    })?;
    let from = parse_one("--from", from_text)?;
    let to = parse_all("--to", &spec.to)?;
    let cc = parse_all("--cc", &spec.cc)?;
    let bcc = parse_all("--bcc", &spec.bcc)?;
    let sender = match &spec.envelope_from {
        Some(a) => Some(parse_one("--envelope-from", a)?.email),
        None => None,
    };
    let rcpts: Vec<&Mailbox> = to.iter().chain(&cc).chain(&bcc).collect();
    let envelope = envelope(&from, sender, &rcpts)?;

    let mut builder = lettre::Message::builder()
        .from(from)
        .envelope(envelope.clone());
    for m in to {
        builder = builder.to(m);
    }
    for m in cc {
        builder = builder.cc(m);
    }
    if let Some(r) = &spec.reply_to {
        for m in parse_mailboxes("--reply-to", r)? {
            builder = builder.reply_to(m);
        }
    }
    if let Some(s) = &spec.subject {
        check_header_value("--subject", s)?;
        builder = builder.subject(s.clone());
    }
    let mut message_id = None;
    for (name, value) in &spec.headers {
        check_header_value("--header", value)?;
        let lower = name.to_ascii_lowercase();
        if MANAGED_HEADERS.contains(&lower.as_str()) {
            return Err(SmtpError::usage(
                "--header",
                format!("{name} is set by its own flag, not by --header"),
            ));
        }
        if lower == "message-id" {
            message_id = Some(value.trim().to_owned());
            continue;
        }
        let hname = HeaderName::new_from_ascii(name.clone())
            .map_err(|_| SmtpError::usage("--header", format!("{name:?} is not a header name")))?;
        builder = builder.raw_header(HeaderValue::new(hname, value.clone()));
    }
    builder = builder.message_id(message_id);

    let body = build_body(spec)?;
    let message = match body {
        Part::Single(p) => builder.singlepart(p),
        Part::Multi(m) => builder.multipart(m),
    }
    .map_err(|e| SmtpError::Compose(e.to_string()))?;
    let message_id = message
        .headers()
        .get_raw("Message-ID")
        .unwrap_or_default()
        .to_owned();
    let bytes = message.formatted();
    drop(message);
    Ok(Composed {
        bytes,
        envelope,
        message_id,
    })
}

fn check_header_value(flag: &str, value: &str) -> Result<(), SmtpError> {
    if value.contains(['\r', '\n', '\0']) {
        return Err(SmtpError::usage(
            flag,
            "a header value may not contain CR, LF or NUL",
        ));
    }
    Ok(())
}

enum Part {
    Single(SinglePart),
    Multi(MultiPart),
}

fn build_body(spec: &MessageSpec) -> Result<Part, SmtpError> {
    let text = text_part(ContentType::TEXT_PLAIN, spec.body.as_deref().unwrap_or(""));
    let main = match &spec.html {
        None if spec.inline.is_empty() => Part::Single(text),
        None => {
            return Err(SmtpError::usage(
                "--inline",
                "inline parts need --html to refer to them",
            ));
        }
        Some(html) => {
            let html_part = text_part(ContentType::TEXT_HTML, html);
            let alt = MultiPart::alternative().singlepart(text);
            if spec.inline.is_empty() {
                Part::Multi(alt.singlepart(html_part))
            } else {
                let mut related = MultiPart::related().singlepart(html_part);
                for inline in &spec.inline {
                    related = related.singlepart(inline_part(inline)?);
                }
                Part::Multi(alt.multipart(related))
            }
        }
    };
    if spec.attach.is_empty() {
        return Ok(main);
    }
    let mut mixed = match main {
        Part::Single(p) => MultiPart::mixed().singlepart(p),
        Part::Multi(m) => MultiPart::mixed().multipart(m),
    };
    for a in &spec.attach {
        mixed = mixed.singlepart(attachment_part(a)?);
    }
    Ok(Part::Multi(mixed))
}

/// A text part with CRLF line ends. lettre would send a NUL as it is in a 7bit part (RFC 2045
/// forbids it there): text holding one is quoted-printable.
fn text_part(content_type: ContentType, text: &str) -> SinglePart {
    let text = normalize_newlines(text);
    let body = if text.contains('\0') {
        Body::new_with_encoding(text, ContentTransferEncoding::QuotedPrintable)
            .unwrap_or_else(Body::new)
    } else {
        Body::new(text)
    };
    SinglePart::builder().header(content_type).body(body)
}

/// CRLF line ends for text: lone CR and lone LF both become CRLF (lettre converts LF only).
fn normalize_newlines(text: &str) -> String {
    if !text.contains('\r') {
        return text.to_owned();
    }
    text.replace("\r\n", "\n").replace('\r', "\n")
}

fn read_file(flag: &'static str, path: &Path) -> Result<Vec<u8>, SmtpError> {
    std::fs::read(path).map_err(|source| SmtpError::Read {
        what: flag,
        path: path.to_owned(),
        source,
    })
}

/// A base64 body from the file's bytes: the bytes are consumed, so only the encoded text
/// stays alive.
fn base64_body(bytes: Vec<u8>) -> Body {
    match Body::new_with_encoding(bytes, ContentTransferEncoding::Base64) {
        Ok(body) => body,
        // Base64 accepts every input; lettre's API still returns a Result.
        Err(bytes) => Body::new(bytes),
    }
}

fn content_type_for(path: &Path, given: Option<&str>, name: &str) -> ContentType {
    let mime = given.map(str::to_owned).unwrap_or_else(|| {
        mime_guess::from_path(if name.is_empty() {
            path.as_os_str().to_string_lossy().into_owned()
        } else {
            name.to_owned()
        })
        .first_raw()
        .unwrap_or("application/octet-stream")
        .to_owned()
    });
    let with_name = format!("{mime}; name=\"{}\"", rfc2047_param(name));
    ContentType::parse(&with_name)
        .or_else(|_| ContentType::parse(&mime))
        .unwrap_or(
            ContentType::parse("application/octet-stream").unwrap_or(ContentType::TEXT_PLAIN),
        )
}

/// The `name=` parameter value: plain when it is printable ASCII without quotes or
/// backslashes, else RFC 2047 encoded words (what Outlook reads), each under 76 octets.
fn rfc2047_param(name: &str) -> String {
    use base64::Engine as _;
    if name
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
    {
        return name.to_owned();
    }
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in name.chars() {
        // 45 input octets -> 60 base64 chars + 12 of framing: under 76.
        if chunk.len() + c.len_utf8() > 45 {
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
                "=?utf-8?b?{}?=",
                base64::engine::general_purpose::STANDARD.encode(w.as_bytes())
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn attachment_part(spec: &AttachSpec) -> Result<SinglePart, SmtpError> {
    let bytes = read_file("--attach", &spec.path)?;
    let name = spec.name.clone().unwrap_or_else(|| file_name(&spec.path));
    let ct = content_type_for(&spec.path, spec.content_type.as_deref(), &name);
    Ok(SinglePart::builder()
        .header(ct)
        .header(ContentDisposition::attachment(&name))
        .body(base64_body(bytes)))
}

fn inline_part(spec: &InlineSpec) -> Result<SinglePart, SmtpError> {
    let bytes = read_file("--inline", &spec.path)?;
    let name = file_name(&spec.path);
    let ct = content_type_for(&spec.path, spec.content_type.as_deref(), &name);
    Ok(SinglePart::builder()
        .header(ct)
        .header(ContentDisposition::inline_with_name(&name))
        .header(lettre::message::header::ContentId::from(format!(
            "<{}>",
            spec.cid
        )))
        .body(base64_body(bytes)))
}

/// Checks, before connecting, that every file a message names can be opened.
pub fn check_files(spec: &MessageSpec) -> Result<(), SmtpError> {
    let files = spec
        .attach
        .iter()
        .map(|a| ("--attach", &a.path))
        .chain(spec.inline.iter().map(|i| ("--inline", &i.path)));
    for (what, path) in files {
        std::fs::File::open(path).map_err(|source| SmtpError::Read {
            what,
            path: path.clone(),
            source,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::{MessageParser, MimeHeaders};

    fn spec() -> MessageSpec {
        MessageSpec {
            from: Some("Ann Ö <ann@example.org>".into()),
            to: vec!["bob@example.org, \"Doe, J\" <j@example.org>".into()],
            cc: vec!["carol@example.org".into()],
            bcc: vec![
                "secret@example.org".into(),
                "bob@EXAMPLE.org, carol@example.org".into(),
            ],
            subject: Some("Grüße aus Köln".into()),
            body: Some("hello\n.dot line\n".into()),
            ..MessageSpec::default()
        }
    }

    fn parse(bytes: &[u8]) -> mail_parser::Message<'_> {
        MessageParser::default().parse(bytes).expect("parses")
    }

    fn assert_lines_short(bytes: &[u8]) {
        for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
            assert!(line.len() <= 999, "line {i} is {} octets", line.len());
            if !line.is_empty() {
                assert_eq!(line.last(), Some(&b'\r'), "line {i} has a bare LF");
            }
        }
        assert!(
            !bytes.contains(&b'\r') || !bytes.windows(2).any(|w| w[0] == b'\r' && w[1] != b'\n')
        );
    }

    #[test]
    fn headers_envelope_and_bcc() {
        let c = compose(&spec()).expect("composes");
        let m = parse(&c.bytes);
        assert_eq!(m.subject(), Some("Grüße aus Köln"));
        let from = m.from().and_then(|a| a.first()).expect("from");
        assert_eq!(from.name(), Some("Ann Ö"));
        assert_eq!(from.address(), Some("ann@example.org"));
        let to: Vec<_> = m
            .to()
            .expect("to")
            .iter()
            .map(|a| a.address().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(to, ["bob@example.org", "j@example.org"]);
        assert_eq!(
            m.to().and_then(|a| a.iter().nth(1)).and_then(|a| a.name()),
            Some("Doe, J")
        );
        assert!(m.bcc().is_none());
        let text = String::from_utf8_lossy(&c.bytes);
        assert!(!text.to_ascii_lowercase().contains("secret@"), "{text}");
        assert!(m.message_id().is_some_and(|id| id.contains('@')));
        assert_eq!(
            format!("<{}>", m.message_id().unwrap_or_default()),
            c.message_id
        );
        assert!(m.date().is_some());
        let rcpts: Vec<String> = c.envelope.to().iter().map(|a| a.to_string()).collect();
        assert_eq!(
            rcpts,
            [
                "bob@example.org",
                "j@example.org",
                "carol@example.org",
                "secret@example.org"
            ],
            "duplicates get one RCPT"
        );
        assert_eq!(
            c.envelope.from().map(|a| a.to_string()).as_deref(),
            Some("ann@example.org")
        );
        assert_eq!(
            m.body_text(0).as_deref().map(str::trim_end),
            Some("hello\r\n.dot line")
        );
        assert!(c.bytes.is_ascii());
        assert_lines_short(&c.bytes);
    }

    #[test]
    fn attachments_are_base64_with_their_bytes_and_names() {
        let dir = tempfile::tempdir().expect("tempdir");
        let notes = dir.path().join("notes.txt");
        std::fs::write(&notes, b"line1\n.\n.dot\nlast").expect("write");
        let bin = dir.path().join("data.bin");
        let blob: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        std::fs::write(&bin, &blob).expect("write");
        let mut s = spec();
        s.attach = vec![
            AttachSpec::parse(&notes.display().to_string()).expect("spec"),
            AttachSpec::parse(&format!(
                "{};type=application/x-thing;name=Résumé 2026 — final.bin",
                bin.display()
            ))
            .expect("spec"),
        ];
        let c = compose(&s).expect("composes");
        assert_lines_short(&c.bytes);
        assert!(c.bytes.is_ascii());
        let m = parse(&c.bytes);
        assert_eq!(m.attachment_count(), 2);
        let a = m.attachment(0).expect("first");
        assert_eq!(a.contents(), b"line1\n.\n.dot\nlast");
        assert_eq!(a.content_transfer_encoding(), Some("base64"));
        assert_eq!(a.attachment_name(), Some("notes.txt"));
        assert!(a.is_content_type("text", "plain"));
        let b = m.attachment(1).expect("second");
        assert_eq!(b.contents(), &blob[..]);
        assert_eq!(b.content_transfer_encoding(), Some("base64"));
        assert!(b.is_content_type("application", "x-thing"));
        let name = "Résumé 2026 — final.bin";
        assert_eq!(
            b.content_disposition()
                .and_then(|d| d.attribute("filename")),
            Some(name)
        );
        assert_eq!(
            b.content_type().and_then(|d| d.attribute("name")),
            Some(name)
        );
        let raw = String::from_utf8_lossy(&c.bytes);
        assert!(raw.contains("filename*"), "RFC 2231 form");
        assert!(raw.contains("name=\"=?utf-8?b?"), "RFC 2047 form");
    }

    #[test]
    fn long_and_non_ascii_text_lines_are_encoded() {
        let mut s = spec();
        let long = "x".repeat(5000);
        s.body = Some(format!("{long}\nÄpfel\r\nlone CR\rend"));
        let c = compose(&s).expect("composes");
        assert_lines_short(&c.bytes);
        assert!(c.bytes.is_ascii());
        let m = parse(&c.bytes);
        let got = m.body_text(0).unwrap_or_default();
        let want = format!("{long}\r\nÄpfel\r\nlone CR\r\nend");
        assert!(
            got.trim_end() == want,
            "body differs: {} vs {} chars",
            got.len(),
            want.len()
        );
    }

    #[test]
    fn html_with_inline_parts_is_related() {
        let dir = tempfile::tempdir().expect("tempdir");
        let logo = dir.path().join("logo.png");
        std::fs::write(&logo, b"\x89PNG\r\n\x1a\nfake").expect("write");
        let mut s = spec();
        s.html = Some("<p><img src=\"cid:logo1\"></p>".into());
        s.inline = vec![InlineSpec::parse(&format!("{};cid=logo1", logo.display())).expect("spec")];
        let c = compose(&s).expect("composes");
        let raw = String::from_utf8_lossy(&c.bytes);
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(raw.contains("multipart/related"), "{raw}");
        let m = parse(&c.bytes);
        assert_eq!(m.body_text(0).as_deref(), Some("hello\r\n.dot line\r\n"));
        assert!(m.body_html(0).is_some_and(|h| h.contains("cid:logo1")));
        let part = m
            .parts
            .iter()
            .find(|p| p.content_id() == Some("logo1"))
            .expect("inline part");
        assert_eq!(part.contents(), b"\x89PNG\r\n\x1a\nfake");
        assert!(part.is_content_type("image", "png"));
    }

    #[test]
    fn missing_file_and_bad_input_are_errors() {
        let mut s = spec();
        s.attach = vec![AttachSpec::parse("/nonexistent/file.pdf").expect("spec")];
        let err = compose(&s).expect_err("missing");
        assert_eq!(err.exit_code(), crate::error::code::READ);
        assert!(check_files(&s).is_err());
        let mut s = spec();
        s.headers = vec![("Bcc".into(), "x@example.org".into())];
        assert_eq!(compose(&s).map(|_| ()).expect_err("managed").exit_code(), 2);
        let mut s = spec();
        s.headers = vec![("X-A".into(), "a\r\nBcc: x@y".into())];
        assert!(compose(&s).is_err());
        let mut s = spec();
        s.to = vec!["not an address".into()];
        assert!(compose(&s).is_err());
        let mut s = spec();
        s.to.clear();
        s.cc.clear();
        s.bcc.clear();
        assert!(compose(&s).is_err());
    }

    #[test]
    fn message_id_header_replaces_ours() {
        let mut s = spec();
        s.headers = vec![("Message-ID".into(), "<fixed@example.org>".into())];
        let c = compose(&s).expect("composes");
        assert_eq!(c.message_id, "<fixed@example.org>");
        assert_eq!(
            String::from_utf8_lossy(&c.bytes)
                .matches("Message-ID:")
                .count(),
            1
        );
    }

    #[test]
    fn attach_arguments() {
        let a = AttachSpec::parse("a;b.txt;type=text/csv;name=x.csv").expect("parse");
        assert_eq!(a.path, PathBuf::from("a;b.txt"));
        assert_eq!(a.content_type.as_deref(), Some("text/csv"));
        assert_eq!(a.name.as_deref(), Some("x.csv"));
        assert!(AttachSpec::parse("f;type=not a type").is_err());
        let i = InlineSpec::parse("/x/logo.png").expect("parse");
        assert_eq!(i.cid, "logo.png");
    }
}
