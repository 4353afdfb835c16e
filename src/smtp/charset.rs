//! The charset of a text body read from a file or stdin (issue 20): UTF-8 as it is; a
//! charset declared with `--body-charset` decoded to UTF-8 (encoding_rs, WHATWG labels:
//! latin-1, cp1252, koi8-r...); bytes in no known charset kept unchanged and sent as
//! `charset=unknown-8bit` (RFC 1428), quoted-printable, so nothing is dropped. Pure.

use super::SmtpError;

/// A text body as the message will carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyText {
    /// UTF-8 text (as read, or decoded from the declared charset).
    Text(String),
    /// Bytes that are not UTF-8 and whose charset nobody declared.
    Unknown8bit(Vec<u8>),
}

/// `bytes` read from `what` (`--body-file F`, `stdin`) as a body, in `charset` when given.
/// A declared charset the bytes are not valid in is an error: the user said what they are.
pub fn decode_body(
    what: &str,
    bytes: Vec<u8>,
    charset: Option<&str>,
) -> Result<BodyText, SmtpError> {
    let Some(label) = charset else {
        return Ok(match String::from_utf8(bytes) {
            Ok(text) => BodyText::Text(text),
            Err(e) => BodyText::Unknown8bit(e.into_bytes()),
        });
    };
    let label = label.trim();
    // WHATWG labels ("latin1", "iso-8859-1", "cp1252"), and the dashed spellings people
    // also write ("latin-1", "cp-1252").
    let squeezed = label.replace(['-', '_'], "");
    let encoding = encoding_rs::Encoding::for_label(label.as_bytes())
        .or_else(|| encoding_rs::Encoding::for_label(squeezed.as_bytes()));
    let encoding = encoding.ok_or_else(|| {
        SmtpError::usage(
            "--body-charset",
            format!("{label:?} is not a charset postie knows (latin-1, cp1252, utf-8, ...)"),
        )
    })?;
    encoding
        .decode_without_bom_handling_and_without_replacement(&bytes)
        .map(|text| BodyText::Text(text.into_owned()))
        .ok_or_else(|| {
            SmtpError::usage(
                "--body-charset",
                format!("{what} is not valid {} text", encoding.name()),
            )
        })
}

/// Lone CR and lone LF as CRLF, and a final line end when the last line has none: what
/// `compose` does for UTF-8 text, on bytes.
pub fn crlf_lines(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 32 + 2);
    // The line-end rule of `--message`; reading a slice cannot fail.
    let _ = super::prepared::read_crlf(&mut &bytes[..], &mut out);
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_passes_and_other_bytes_are_unknown_8bit() {
        assert_eq!(
            decode_body("stdin", "é".into(), None).expect("ok"),
            BodyText::Text("é".into())
        );
        assert_eq!(
            decode_body("stdin", b"caf\xe9".to_vec(), None).expect("ok"),
            BodyText::Unknown8bit(b"caf\xe9".to_vec())
        );
    }

    #[test]
    fn a_declared_charset_is_decoded() {
        for label in ["latin-1", "ISO-8859-1", "cp1252"] {
            assert_eq!(
                decode_body("stdin", b"caf\xe9 \x80".to_vec(), Some(label)).expect(label),
                BodyText::Text("café €".into())
            );
        }
        let e = decode_body("stdin", b"x".to_vec(), Some("klingon")).expect_err("unknown");
        assert!(
            e.to_string().starts_with("--body-charset: \"klingon\""),
            "{e}"
        );
        let e = decode_body("--body-file b.txt", b"\xff".to_vec(), Some("utf-8")).expect_err("bad");
        assert_eq!(
            e.to_string(),
            "--body-charset: --body-file b.txt is not valid UTF-8 text"
        );
    }

    #[test]
    fn line_ends_become_crlf() {
        assert_eq!(crlf_lines(b"a\nb\rc\r\nd"), b"a\r\nb\r\nc\r\nd\r\n");
        assert_eq!(crlf_lines(b""), b"");
        assert_eq!(crlf_lines(b"\xe9\r"), b"\xe9\r\n");
    }
}
