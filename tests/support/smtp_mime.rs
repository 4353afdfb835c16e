//! A strict reader of the messages postie composes, for byte-exact body checks: splits a
//! message into its leaf parts by the RFC 2046 rules (the CRLF before a delimiter belongs to
//! the delimiter) and decodes 7bit/8bit, quoted-printable and base64 itself, so a test
//! compares exactly the bytes a reader would get, without a parser's leniency.
#![allow(dead_code)]

use base64::Engine as _;

/// One leaf part: its (unfolded, lower-cased name) headers and decoded content.
#[derive(Debug)]
pub struct Leaf {
    pub headers: Vec<(String, String)>,
    pub encoding: String,
    pub content: Vec<u8>,
}

impl Leaf {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The Content-Type's media type, lower-cased (text/plain when absent).
    pub fn media_type(&self) -> String {
        self.header("content-type")
            .and_then(|v| v.split(';').next())
            .unwrap_or("text/plain")
            .trim()
            .to_ascii_lowercase()
    }

    pub fn is_attachment(&self) -> bool {
        self.header("content-disposition")
            .is_some_and(|d| d.to_ascii_lowercase().starts_with("attachment"))
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Splits `entity` into its header fields (unfolded) and body; adds its raw header lines
/// to `raw`.
fn split_entity<'a>(entity: &'a [u8], raw: &mut Vec<String>) -> (Vec<(String, String)>, &'a [u8]) {
    let (head, body) = if entity.starts_with(b"\r\n") {
        (&entity[..0], &entity[2..])
    } else {
        let at = find(entity, b"\r\n\r\n").expect("a header block ends with an empty line");
        (&entity[..at], &entity[at + 4..])
    };
    let text = std::str::from_utf8(head).expect("ASCII headers");
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        raw.push(line.to_owned());
        if line.starts_with([' ', '\t']) {
            let last = headers.last_mut().expect("a continuation follows a field");
            last.1.push_str(line);
        } else {
            let (name, value) = line.split_once(':').expect("name: value");
            headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    (headers, body)
}

fn boundary(content_type: &str) -> Option<String> {
    let lower = content_type.to_ascii_lowercase();
    if !lower.starts_with("multipart/") {
        return None;
    }
    let at = lower.find("boundary=")?;
    let rest = &content_type[at + "boundary=".len()..];
    let value = match rest.strip_prefix('"') {
        Some(q) => q.split('"').next().unwrap_or_default(),
        None => rest.split([';', ' ']).next().unwrap_or_default(),
    };
    Some(value.to_owned())
}

/// Every leaf part of `message`, in order (a single-part message is its own leaf).
pub fn leaves(message: &[u8]) -> Vec<Leaf> {
    let mut out = Vec::new();
    walk(message, &mut out, &mut Vec::new());
    out
}

fn walk(entity: &[u8], out: &mut Vec<Leaf>, raw: &mut Vec<String>) {
    let (headers, body) = split_entity(entity, raw);
    let content_type = headers
        .iter()
        .find(|(n, _)| n == "content-type")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    if let Some(b) = boundary(&content_type) {
        let first = format!("--{b}\r\n");
        let delimiter = format!("\r\n--{b}");
        assert!(body.starts_with(first.as_bytes()), "no preamble expected");
        let mut rest = &body[first.len()..];
        loop {
            let end = find(rest, delimiter.as_bytes()).expect("a closing delimiter");
            walk(&rest[..end], out, raw);
            let after = &rest[end + delimiter.len()..];
            if let Some(close) = after.strip_prefix(b"--") {
                assert!(
                    close.is_empty() || close.starts_with(b"\r\n"),
                    "close delimiter"
                );
                return;
            }
            rest = after.strip_prefix(b"\r\n").expect("CRLF after a delimiter");
        }
    }
    let encoding = headers
        .iter()
        .find(|(n, _)| n == "content-transfer-encoding")
        .map(|(_, v)| v.to_ascii_lowercase())
        .unwrap_or_else(|| "7bit".to_owned());
    let content = match encoding.as_str() {
        "base64" => base64_decode(body),
        "quoted-printable" => qp_decode(body),
        _ => body.to_vec(),
    };
    out.push(Leaf {
        headers,
        encoding,
        content,
    });
}

fn base64_decode(body: &[u8]) -> Vec<u8> {
    let clean: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(clean)
        .expect("valid base64")
}

/// RFC 2045 6.7: `=XX` is a byte, `=` at a line's end is a soft break, CRLF is a line break.
fn qp_decode(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut lines = body.split(|b| *b == b'\n').peekable();
    while let Some(raw) = lines.next() {
        let last = lines.peek().is_none();
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        assert!(line.len() <= 76, "QP line over 76 octets");
        let (line, soft) = match line.strip_suffix(b"=") {
            Some(l) => (l, true),
            None => (line, false),
        };
        let mut i = 0;
        while i < line.len() {
            if line[i] == b'=' {
                let hex = std::str::from_utf8(&line[i + 1..i + 3]).expect("hex");
                out.push(u8::from_str_radix(hex, 16).expect("=XX"));
                i += 3;
            } else {
                out.push(line[i]);
                i += 1;
            }
        }
        if !soft && !last {
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

/// What the body of `input` must arrive as: line ends made CRLF, and a final CRLF added only
/// when the text has none (an empty text stays empty).
pub fn expected_text(input: &str) -> Vec<u8> {
    let mut out = input
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\n', "\r\n");
    if !out.is_empty() && !out.ends_with("\r\n") {
        out.push_str("\r\n");
    }
    out.into_bytes()
}

/// The decoded text/plain (or `media`) body part that is not an attachment.
pub fn body_part<'a>(leaves: &'a [Leaf], media: &str) -> &'a Leaf {
    leaves
        .iter()
        .find(|l| l.media_type() == media && !l.is_attachment())
        .unwrap_or_else(|| panic!("no {media} body part in {leaves:?}"))
}

/// Every header line of `message`: the message's own and each part's (multipart ones too),
/// for the 998-octet and control-character rules.
pub fn header_lines(message: &[u8]) -> Vec<String> {
    let mut leaves = Vec::new();
    let mut lines = Vec::new();
    walk(message, &mut leaves, &mut lines);
    lines
}
