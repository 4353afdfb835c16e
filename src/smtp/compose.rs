//! Message composition, pure apart from reading the files it is told to attach: a
//! [`MessageSpec`] (what the flags or a batch line say) becomes the exact RFC 5322 bytes and
//! the SMTP envelope, over lettre's builder.
//!
//! What this layer guarantees on top of lettre: a Message-ID and a Date on every message, Bcc
//! only in the envelope, one RCPT per distinct address, attachments always base64 (lettre
//! would send short-line `Vec<u8>` bodies as 7bit with bare LF), text bodies with CRLF and
//! lines within 998 octets (lettre picks quoted-printable or base64 for long or non-ASCII
//! lines) whose decoded content is exactly the input text (one final line end added only
//! when it had none; lettre's own CRLF after a single part is dropped when it would be an
//! extra empty line), non-ASCII attachment names as RFC 2231 `filename*` plus an RFC 2047
//! `name=`, and the header rules of [`headers`] on every header.
//! Each attachment is read once and encoded once, so a big file costs its base64 text plus
//! the formatted message, not more copies. It does not open connections.

use std::path::{Path, PathBuf};

use lettre::Address;
use lettre::address::Envelope;
use lettre::message::header::{
    ContentDisposition, ContentTransferEncoding, ContentType, HeaderName, HeaderValue,
};
use lettre::message::{Body, Mailbox, Mailboxes, MultiPart, SinglePart};

use super::{SmtpError, headers};

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
    /// A body in no declared charset and not UTF-8 (issue 20): sent unchanged,
    /// quoted-printable, as `charset=unknown-8bit` (RFC 1428). Replaces `body` when set.
    pub body_unknown_8bit: Option<Vec<u8>>,
    /// An HTML alternative (UTF-8).
    pub html: Option<String>,
    pub attach: Vec<AttachSpec>,
    pub inline: Vec<InlineSpec>,
    /// The MAIL FROM address when it differs from From.
    pub envelope_from: Option<String>,
    /// `--8bit`: text parts go as 8bit (not quoted-printable or base64) where their lines
    /// allow; set only when the server offers 8BITMIME (RFC 6152).
    pub eight_bit: bool,
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
        if cid.is_empty() || cid.contains(['<', '>', ' ']) || cid.contains(char::is_control) {
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
    headers::check_text(flag, "the type", value)?;
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
    headers::check_text(flag, "the address", value)?;
    let list: Mailboxes = trimmed
        .parse()
        .map_err(|_| SmtpError::usage(flag, format!("{value:?} is not a valid address list")))?;
    // Unicode domains as A-labels, on the envelope and in the headers alike.
    list.into_iter()
        .map(|m| super::idna::ascii_mailbox(flag, m))
        .collect()
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
    let reply_to = match &spec.reply_to {
        Some(r) => parse_mailboxes("--reply-to", r)?,
        None => Vec::new(),
    };
    for (name, list) in [("To", &to), ("Cc", &cc), ("Reply-To", &reply_to)] {
        if !list.is_empty() {
            builder = builder.raw_header(headers::address_header(name, list));
        }
    }
    if let Some(s) = &spec.subject {
        headers::check_text("--subject", "the subject", s)?;
        builder = builder.subject(s.clone());
    }
    let builder = extra_headers(builder, &spec.headers)?;

    let body = build_body(spec)?;
    // lettre writes CRLF after a single part's body; when the body already ends a line (or
    // is empty) that CRLF would be an extra empty line at the end of the message.
    let trim_final_crlf = matches!(&body, Part::Single(p) if ends_a_line(p.raw_body()));
    let message = match body {
        Part::Single(p) => builder.singlepart(p),
        Part::Multi(m) => builder.multipart(m),
    }
    .map_err(|e| SmtpError::Compose(e.to_string()))?;
    headers::check_block(message.headers(), "")?;
    let message_id = message
        .headers()
        .get_raw("Message-ID")
        .unwrap_or_default()
        .to_owned();
    let mut bytes = message.formatted();
    drop(message);
    if trim_final_crlf && bytes.ends_with(b"\r\n") {
        bytes.truncate(bytes.len() - 2);
    }
    Ok(Composed {
        bytes,
        envelope,
        message_id,
    })
}

/// Adds the `-H` (or batch `headers`) fields: valid names only, none postie sets itself, each
/// name once; `Message-ID` replaces the generated one.
fn extra_headers(
    mut builder: lettre::message::MessageBuilder,
    fields: &[(String, String)],
) -> Result<lettre::message::MessageBuilder, SmtpError> {
    let mut message_id = None;
    let mut seen: Vec<String> = Vec::new();
    for (name, value) in fields {
        headers::check_field_name("--header", name)?;
        headers::check_text("--header", &format!("the value of {name}"), value)?;
        let lower = name.to_ascii_lowercase();
        if MANAGED_HEADERS.contains(&lower.as_str()) {
            return Err(SmtpError::usage(
                "--header",
                format!("{name} is set by its own flag, not by --header"),
            ));
        }
        if seen.contains(&lower) {
            // lettre keeps one field per name: a second one would silently replace the first.
            return Err(SmtpError::usage(
                "--header",
                format!("{name} is given twice (postie writes one field per name)"),
            ));
        }
        seen.push(lower);
        if name.eq_ignore_ascii_case("message-id") {
            message_id = Some(value.trim().to_owned());
            continue;
        }
        let hname = HeaderName::new_from_ascii(name.clone())
            .map_err(|_| SmtpError::usage("--header", format!("{name:?} is not a header name")))?;
        builder = builder.raw_header(HeaderValue::new(hname, value.clone()));
    }
    Ok(builder.message_id(message_id))
}

/// Whether an encoded body ends a line already (or is empty), so the message needs no
/// further line end.
fn ends_a_line(raw: &[u8]) -> bool {
    raw.is_empty() || raw.ends_with(b"\r\n")
}

enum Part {
    Single(SinglePart),
    Multi(MultiPart),
}

fn build_body(spec: &MessageSpec) -> Result<Part, SmtpError> {
    let text = match &spec.body_unknown_8bit {
        Some(bytes) => unknown_8bit_part(bytes),
        None => text_part(
            ContentType::TEXT_PLAIN,
            text_lines(spec.body.as_deref().unwrap_or("")),
            spec.eight_bit,
        ),
    };
    let text = checked("--body", text)?;
    let main = match &spec.html {
        None if spec.inline.is_empty() => Part::Single(text),
        None => {
            return Err(SmtpError::usage(
                "--inline",
                "inline parts need --html to refer to them",
            ));
        }
        Some(html) => {
            let html_part = checked(
                "--html",
                text_part(ContentType::TEXT_HTML, text_lines(html), spec.eight_bit),
            )?;
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

/// A text part. lettre would send a NUL as it is in a 7bit part (RFC 2045 forbids it there):
/// text holding one is quoted-printable. With `eight_bit`, non-ASCII text goes as 8bit when
/// lettre finds its lines fit (at most 998 octets), else as lettre picks.
fn text_part(content_type: ContentType, text: String, eight_bit: bool) -> SinglePart {
    let body = if text.contains('\0') {
        Body::new_with_encoding(text, ContentTransferEncoding::QuotedPrintable)
            .unwrap_or_else(Body::new)
    } else if eight_bit && !text.is_ascii() {
        Body::new_with_encoding(text, ContentTransferEncoding::EightBit).unwrap_or_else(Body::new)
    } else {
        Body::new(text)
    };
    SinglePart::builder().header(content_type).body(body)
}

/// Bytes in an unknown charset: unchanged apart from CRLF line ends, quoted-printable, so
/// the message stays 7-bit and every octet arrives as it was.
fn unknown_8bit_part(bytes: &[u8]) -> SinglePart {
    let lines = super::charset::crlf_lines(bytes);
    let body = Body::new_with_encoding(lines, ContentTransferEncoding::QuotedPrintable)
        .unwrap_or_else(Body::new);
    let content_type =
        ContentType::parse("text/plain; charset=unknown-8bit").unwrap_or(ContentType::TEXT_PLAIN);
    SinglePart::builder().header(content_type).body(body)
}

/// The text as it goes into a part: lone CR and lone LF both become CRLF (lettre converts
/// LF only), and a last line without its line end gets one, as RFC 5321 needs for the last
/// line of a message. Nothing else is added: the part's decoded content is exactly this text.
fn text_lines(text: &str) -> String {
    let mut out = if text.contains('\r') {
        text.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        text.to_owned()
    };
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// A part whose headers pass [`headers::check_block`]; `flag` names its input.
fn checked(flag: &str, part: SinglePart) -> Result<SinglePart, SmtpError> {
    headers::check_block(part.headers(), flag)?;
    Ok(part)
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
/// backslashes and short enough for ` name="…"` to fit a 78-octet line, else RFC 2047
/// encoded words (what Outlook reads), each under 76 octets, so lettre can fold between
/// them (a long plain name cannot be folded: RFC 5322 folds only at whitespace).
fn rfc2047_param(name: &str) -> String {
    use base64::Engine as _;
    if name.len() <= 70
        && name
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
    {
        return name.to_owned();
    }
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in name.chars() {
        // 42 input octets -> 56 base64 chars + 12 of framing: with ` name="` and the closing
        // quote a folded line stays within 78 octets.
        if chunk.len() + c.len_utf8() > 42 {
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
    let name = spec.name.clone().unwrap_or_else(|| file_name(&spec.path));
    headers::check_text("--attach", "the attachment name", &name)?;
    let bytes = read_file("--attach", &spec.path)?;
    let ct = content_type_for(&spec.path, spec.content_type.as_deref(), &name);
    let part = SinglePart::builder()
        .header(ct)
        .header(ContentDisposition::attachment(&name))
        .body(base64_body(bytes));
    checked("--attach", part)
}

fn inline_part(spec: &InlineSpec) -> Result<SinglePart, SmtpError> {
    let name = file_name(&spec.path);
    headers::check_text("--inline", "the file name", &name)?;
    let bytes = read_file("--inline", &spec.path)?;
    let ct = content_type_for(&spec.path, spec.content_type.as_deref(), &name);
    let part = SinglePart::builder()
        .header(ct)
        .header(ContentDisposition::inline_with_name(&name))
        .header(lettre::message::header::ContentId::from(format!(
            "<{}>",
            spec.cid
        )))
        .body(base64_body(bytes));
    checked("--inline", part)
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
        assert_eq!(err.exit_code(), crate::exit::code::READ);
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
    fn a_single_text_part_ends_exactly_where_the_text_does() {
        for (body, want) in [
            ("", ""),
            ("x", "x\r\n"),
            ("x\n", "x\r\n"),
            ("x\n\n", "x\r\n\r\n"),
            ("a\rb\r\n\r", "a\r\nb\r\n\r\n"),
            ("hello wörld\n", "hello w=C3=B6rld\r\n"),
            ("hello wörld \n\n", "hello w=C3=B6rld=20\r\n\r\n"),
            ("äöü\n", "w6TDtsO8DQo=\r\n"),
        ] {
            let mut s = spec();
            s.body = Some(body.into());
            let c = compose(&s).expect("composes");
            let at = c
                .bytes
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .expect("header end");
            assert_eq!(
                String::from_utf8_lossy(&c.bytes[at + 4..]),
                want,
                "body {body:?}"
            );
        }
    }

    #[test]
    fn parts_of_a_multipart_end_exactly_where_their_text_does() {
        let mut s = spec();
        s.body = Some("x\n\n".into());
        s.html = Some("<p>h</p>".into());
        let c = compose(&s).expect("composes");
        let text = String::from_utf8_lossy(&c.bytes);
        // The CRLF before a delimiter belongs to the delimiter (RFC 2046 5.1.1).
        assert!(text.contains("7bit\r\n\r\nx\r\n\r\n\r\n--"), "{text}");
        assert!(text.contains("7bit\r\n\r\n<p>h</p>\r\n\r\n--"), "{text}");
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

    #[test]
    fn an_unknown_8bit_body_is_quoted_printable_and_unchanged() {
        let mut s = spec();
        s.body = None;
        s.body_unknown_8bit = Some(b"caf\xe9\nna=ive\n".to_vec());
        let c = compose(&s).expect("compose");
        let text = String::from_utf8(c.bytes.clone()).expect("7-bit");
        assert!(
            text.contains("Content-Type: text/plain; charset=unknown-8bit\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=E9\r\nna=3Dive\r\n"),
            "{text}"
        );
    }

    #[test]
    fn unicode_domains_are_a_labels_in_headers_and_envelope() {
        let mut s = spec();
        s.to = vec!["Jörg <jörg@bücher.example>, b@例え.テスト".into()];
        let c = compose(&s).expect("compose");
        let rcpts: Vec<String> = c.envelope.to().iter().map(|a| a.to_string()).collect();
        assert_eq!(
            rcpts[..2],
            ["jörg@xn--bcher-kva.example", "b@xn--r8jz45g.xn--zckzah"]
        );
        let text = String::from_utf8(c.bytes).expect("utf-8");
        assert!(text.contains("To: =?utf-8?b?SsO2cmc=?= <jörg@xn--bcher-kva.example>,\r\n b@xn--r8jz45g.xn--zckzah\r\n"), "{text}");
    }

    #[test]
    fn eight_bit_text_goes_unencoded_when_asked() {
        let mut s = spec();
        s.body = Some("Grüße\n".into());
        s.html = None;
        s.attach.clear();
        s.inline.clear();
        s.eight_bit = true;
        let text = String::from_utf8(compose(&s).expect("compose").bytes).expect("utf-8");
        assert!(
            text.contains("Content-Transfer-Encoding: 8bit\r\n\r\nGrüße\r\n"),
            "{text}"
        );
        s.eight_bit = false;
        let bytes = compose(&s).expect("compose").bytes;
        assert!(bytes.is_ascii());
    }
}
