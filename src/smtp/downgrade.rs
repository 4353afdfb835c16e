//! 8-bit to 7-bit conversion of a finished message for a server without 8BITMIME (RFC 6152
//! section 3: the client converts), as Postfix's `smtp` client does: every MIME leaf part
//! whose body holds 8-bit bytes is quoted-printable encoded and its Content-Transfer-Encoding
//! says so; multiparts and message/rfc822 parts are walked into; a message that is not MIME
//! is labelled `text/plain; charset=unknown-8bit` (RFC 1428), since nothing says what its
//! bytes are. 8-bit bytes in a header section cannot be converted without changing their
//! meaning: that is an error, as are 8-bit bytes in a part already declared base64 or
//! quoted-printable (a broken message). Pure: CRLF bytes in, CRLF bytes out.

use memchr::memmem;

/// Why a message could not be made 7-bit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DowngradeError(pub &'static str);

/// How deep multiparts and attached messages are walked (a bound against crafted input).
const MAX_DEPTH: usize = 20;

/// `message` (CRLF line ends) with every 8-bit body quoted-printable encoded.
pub fn to_7bit(message: &[u8]) -> Result<Vec<u8>, DowngradeError> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 4);
    entity(message, true, 0, &mut out)?;
    Ok(out)
}

/// One MIME entity (a message or a part): its header section, then its body.
fn entity(bytes: &[u8], top: bool, depth: usize, out: &mut Vec<u8>) -> Result<(), DowngradeError> {
    if depth > MAX_DEPTH {
        return Err(DowngradeError("MIME nesting too deep to convert"));
    }
    let (head, body) = split_head(bytes);
    if !head.is_ascii() {
        return Err(DowngradeError(
            "8-bit bytes in a header section cannot be converted to 7-bit",
        ));
    }
    if body.is_ascii() {
        out.extend_from_slice(bytes);
        return Ok(());
    }
    let fields = unfolded_fields(head);
    let value = |name: &str| {
        fields
            .iter()
            .rev()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
    };
    let content_type = value("Content-Type").unwrap_or_default();
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let add = Added {
        version: top && value("MIME-Version").is_none(),
        content_type: value("Content-Type").is_none(),
    };
    if media.starts_with("multipart/") {
        let boundary = parameter(&content_type, "boundary")
            .ok_or(DowngradeError("a multipart without a boundary"))?;
        out.extend_from_slice(&bytes[..bytes.len() - body.len()]);
        return multipart(body, boundary.as_bytes(), depth, out);
    }
    if media == "message/rfc822" || media == "message/global" {
        out.extend_from_slice(&bytes[..bytes.len() - body.len()]);
        return entity(body, false, depth + 1, out);
    }
    let encoding = value("Content-Transfer-Encoding")
        .unwrap_or_default()
        .to_ascii_lowercase();
    if matches!(encoding.as_str(), "base64" | "quoted-printable") {
        return Err(DowngradeError(
            "8-bit bytes in a part declared base64 or quoted-printable",
        ));
    }
    leaf_head(head, add, out);
    quoted_printable(body, out);
    Ok(())
}

/// The fields a converted leaf lacks: MIME-Version (a message that was not MIME) and a
/// Content-Type (without one the type would be us-ascii text, which 8-bit bytes are not).
#[derive(Debug, Clone, Copy)]
struct Added {
    version: bool,
    content_type: bool,
}

/// The header section of a leaf without its Content-Transfer-Encoding fields, with
/// `quoted-printable` instead, and the fields it lacks.
fn leaf_head(head: &[u8], add: Added, out: &mut Vec<u8>) {
    let mut skipping = false;
    for line in head.split_inclusive(|b| *b == b'\n') {
        if line == b"\r\n" {
            break;
        }
        if !matches!(line.first(), Some(b' ' | b'\t')) {
            skipping =
                line.len() > 26 && line[..26].eq_ignore_ascii_case(b"content-transfer-encoding:");
        }
        if !skipping {
            out.extend_from_slice(line);
        }
    }
    if add.version {
        out.extend_from_slice(b"MIME-Version: 1.0\r\n");
    }
    if add.content_type {
        out.extend_from_slice(b"Content-Type: text/plain; charset=unknown-8bit\r\n");
    }
    out.extend_from_slice(b"Content-Transfer-Encoding: quoted-printable\r\n\r\n");
}

/// The parts of a multipart body, each converted; preamble and epilogue must be 7-bit.
fn multipart(
    body: &[u8],
    boundary: &[u8],
    depth: usize,
    out: &mut Vec<u8>,
) -> Result<(), DowngradeError> {
    let mut delimiter = b"\r\n--".to_vec();
    delimiter.extend_from_slice(boundary);
    // The first delimiter may open the body without a CRLF before it.
    let mut search = b"\r\n".to_vec();
    search.extend_from_slice(body);
    let finder = memmem::Finder::new(&delimiter);
    let starts: Vec<usize> = finder.find_iter(&search).collect();
    let Some(&first) = starts.first() else {
        return Err(DowngradeError("a multipart whose boundary never appears"));
    };
    let preamble = &search[2..first.max(2)];
    if !preamble.is_ascii() {
        return Err(DowngradeError("8-bit bytes in a multipart preamble"));
    }
    out.extend_from_slice(&search[2..first + delimiter.len()]);
    for (i, &start) in starts.iter().enumerate() {
        let after = start + delimiter.len();
        let end = starts.get(i + 1).copied().unwrap_or(search.len());
        let rest = &search[after..end];
        if i + 1 == starts.len() || rest.starts_with(b"--") {
            if !rest.is_ascii() {
                return Err(DowngradeError("8-bit bytes in a multipart epilogue"));
            }
            out.extend_from_slice(rest);
            if i + 1 < starts.len() {
                out.extend_from_slice(&search[end..]);
            }
            return Ok(());
        }
        // The rest of the delimiter line (transport padding), then the part.
        let line = memchr::memchr(b'\n', rest).map_or(rest.len(), |n| n + 1);
        out.extend_from_slice(&rest[..line]);
        entity(&rest[line..], false, depth + 1, out)?;
        out.extend_from_slice(&delimiter);
    }
    Ok(())
}

/// The header section (up to and including its empty line) and the body.
fn split_head(bytes: &[u8]) -> (&[u8], &[u8]) {
    if bytes.starts_with(b"\r\n") {
        return (&bytes[..2], &bytes[2..]);
    }
    match memmem::find(bytes, b"\r\n\r\n") {
        Some(i) => bytes.split_at(i + 4),
        None => (bytes, &[]),
    }
}

/// The fields of a header section, unfolded: (name, value).
fn unfolded_fields(head: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(head);
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push_str(line);
            }
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim().to_owned(), value.to_owned()));
        }
    }
    fields
}

/// A parameter of a structured field value (`boundary="x"`), unquoted.
fn parameter(value: &str, name: &str) -> Option<String> {
    for piece in value.split(';').skip(1) {
        let Some((key, v)) = piece.split_once('=') else {
            continue;
        };
        if key.trim().eq_ignore_ascii_case(name) {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            return (!v.is_empty()).then(|| v.to_owned());
        }
    }
    None
}

/// Quoted-printable (RFC 2045 6.7) of a CRLF text body: line ends kept as they are, `=`,
/// bytes over 126 and other controls but TAB encoded, a blank before a line end encoded,
/// soft line breaks to keep lines within 76 octets.
pub fn quoted_printable(body: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut lines = body.split(|b| *b == b'\n').peekable();
    while let Some(raw) = lines.next() {
        let last = lines.peek().is_none();
        let line = match raw.strip_suffix(b"\r") {
            Some(l) if !last => l,
            _ => raw,
        };
        let mut width = 0;
        for (i, &b) in line.iter().enumerate() {
            let at_end = i + 1 == line.len();
            let literal = matches!(b, 33..=60 | 62..=126) || (matches!(b, b' ' | b'\t') && !at_end);
            let len = if literal { 1 } else { 3 };
            if width + len > 75 {
                out.extend_from_slice(b"=\r\n");
                width = 0;
            }
            if literal {
                out.push(b);
            } else {
                out.extend_from_slice(&[b'=', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
            }
            width += len;
        }
        if !last {
            out.extend_from_slice(b"\r\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn down(input: &str) -> String {
        String::from_utf8(to_7bit(input.as_bytes()).expect("converts")).expect("ascii")
    }

    #[test]
    fn a_plain_message_is_labelled_and_encoded() {
        let got = down("From: a@b\r\nSubject: s\r\n\r\nGr\u{fc}\u{df}e = ok \r\nend\r\n");
        assert_eq!(
            got,
            "From: a@b\r\nSubject: s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=unknown-8bit\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe =3D ok=20\r\nend\r\n"
        );
    }

    #[test]
    fn a_mime_part_keeps_its_type_and_gets_a_new_encoding() {
        let got = down(
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\u{e4}\r\n",
        );
        assert_eq!(
            got,
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=C3=A4\r\n"
        );
    }

    #[test]
    fn multiparts_are_walked_and_7bit_parts_untouched() {
        let input = "MIME-Version: 1.0\r\nContent-Type: multipart/mixed;\r\n boundary=\"b1\"\r\n\r\npreamble\r\n--b1\r\nContent-Type: text/plain\r\n\r\nascii\r\n--b1\r\nContent-Type: text/plain; charset=latin1\r\nContent-Transfer-Encoding: 8bit\r\n\r\nK\u{e4}se\r\n--b1--\r\nepilogue\r\n";
        let got = down(input);
        assert_eq!(
            got,
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed;\r\n boundary=\"b1\"\r\n\r\npreamble\r\n--b1\r\nContent-Type: text/plain\r\n\r\nascii\r\n--b1\r\nContent-Type: text/plain; charset=latin1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nK=C3=A4se\r\n--b1--\r\nepilogue\r\n"
        );
    }

    #[test]
    fn long_lines_get_soft_breaks() {
        let line = "\u{e9}".repeat(40);
        let mut out = Vec::new();
        quoted_printable(line.as_bytes(), &mut out);
        let text = String::from_utf8(out).expect("ascii");
        assert!(text.lines().all(|l| l.len() <= 76), "{text}");
        assert!(text.contains("=\r\n"));
        let mut out = Vec::new();
        quoted_printable(b".dot\r\n", &mut out);
        assert_eq!(out, b".dot\r\n");
    }

    #[test]
    fn what_cannot_be_converted_is_an_error() {
        assert!(to_7bit("Subject: K\u{e4}se\r\n\r\nx\r\n".as_bytes()).is_err());
        let b64 = "MIME-Version: 1.0\r\nContent-Transfer-Encoding: base64\r\n\r\n\u{e4}\r\n";
        assert!(to_7bit(b64.as_bytes()).is_err());
        let no_boundary = "MIME-Version: 1.0\r\nContent-Type: multipart/mixed\r\n\r\n\u{e4}\r\n";
        assert!(to_7bit(no_boundary.as_bytes()).is_err());
        let mut deep = String::new();
        for _ in 0..30 {
            deep.push_str("MIME-Version: 1.0\r\nContent-Type: message/rfc822\r\n\r\n");
        }
        deep.push_str("Subject: x\r\n\r\n\u{e4}\r\n");
        assert!(to_7bit(deep.as_bytes()).is_err());
    }
}
