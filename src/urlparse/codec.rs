//! The Python codecs that quote/unquote/parse_qs/urlencode take, with Python's `errors`
//! handlers (`strict`, `replace`, `ignore`) and Python's exception messages.
//!
//! Supported: utf-8, latin-1 (iso-8859-1), ascii, cp1252 (Python's table, where five bytes are
//! undefined, not WHATWG's). Any other name is refused by [`Codec::lookup`].

use super::pyrepr::escape;
use super::{PyError, PyErrorKind};

/// A supported Python codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Utf8,
    Latin1,
    Ascii,
    Cp1252,
}

/// Python's `errors=` handlers that postie supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Errors {
    Strict,
    Replace,
    Ignore,
}

impl Errors {
    /// `strict`, `replace` or `ignore`; None for any other handler name.
    pub fn lookup(name: &str) -> Option<Errors> {
        match name {
            "strict" => Some(Errors::Strict),
            "replace" => Some(Errors::Replace),
            "ignore" => Some(Errors::Ignore),
            _ => None,
        }
    }
}

/// cp1252's 0x80..=0x9F; 0 marks Python's undefined bytes.
const CP1252_HIGH: [u16; 32] = [
    0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039,
    0x0152, 0, 0x017D, 0, 0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC,
    0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
];

impl Codec {
    /// Finds a codec by any of Python's names for it (case, `-`, `_` and spaces as Python's
    /// `encodings.normalize_encoding` treats them). Unsupported or unknown names give the
    /// LookupError Python would raise for an unknown one.
    pub fn lookup(name: &str) -> Result<Codec, PyError> {
        let norm: String = name
            .trim()
            .chars()
            .map(|c| match c {
                '-' | ' ' => '_',
                c => c.to_ascii_lowercase(),
            })
            .collect();
        let codec = match norm.as_str() {
            "utf_8" | "utf8" | "u8" | "utf" | "cp65001" => Codec::Utf8,
            "latin_1" | "latin1" | "latin" | "l1" | "iso_8859_1" | "iso8859_1" | "iso8859"
            | "8859" | "cp819" | "iso_ir_100" | "csisolatin1" | "iso_8859_1:1987" => Codec::Latin1,
            "ascii" | "us_ascii" | "646" | "us" | "ansi_x3.4_1968" | "ansi_x3.4_1986"
            | "iso646_us" | "cp367" | "csascii" | "ibm367" | "iso_ir_6" => Codec::Ascii,
            "cp1252" | "windows_1252" | "1252" => Codec::Cp1252,
            _ => {
                return Err(PyError {
                    kind: PyErrorKind::LookupError,
                    message: format!(
                        "unknown encoding: {name} (postie supports utf-8, latin-1, ascii, cp1252)"
                    ),
                });
            }
        };
        Ok(codec)
    }

    /// The name Python's error messages use.
    fn error_name(self) -> &'static str {
        match self {
            Codec::Utf8 => "utf-8",
            Codec::Latin1 => "latin-1",
            Codec::Ascii => "ascii",
            Codec::Cp1252 => "charmap",
        }
    }

    fn encode_char(self, c: char, out: &mut Vec<u8>) -> bool {
        let cp = c as u32;
        match self {
            Codec::Utf8 => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                true
            }
            Codec::Latin1 | Codec::Ascii => {
                let limit = if self == Codec::Ascii { 0x80 } else { 0x100 };
                match u8::try_from(cp) {
                    Ok(b) if cp < limit => {
                        out.push(b);
                        true
                    }
                    _ => false,
                }
            }
            Codec::Cp1252 => {
                let byte = match u8::try_from(cp) {
                    Ok(b) if !(0x80..0xA0).contains(&b) => Some(b),
                    _ => CP1252_HIGH
                        .iter()
                        .position(|&u| u != 0 && u32::from(u) == cp)
                        .and_then(|i| u8::try_from(0x80 + i).ok()),
                };
                byte.map(|b| out.push(b)).is_some()
            }
        }
    }

    /// `s.encode(codec, errors)`.
    pub fn encode(self, s: &str, errors: Errors) -> Result<Vec<u8>, PyError> {
        if self == Codec::Utf8 || s.is_ascii() {
            return Ok(s.as_bytes().to_vec());
        }
        let mut out = Vec::with_capacity(s.len());
        let chars: Vec<char> = s.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            if self.encode_char(chars[i], &mut out) {
                i += 1;
                continue;
            }
            // Python's encoders report the whole run of characters they cannot encode.
            let mut end = i + 1;
            let mut scratch = Vec::new();
            while end < chars.len() && !self.encode_char(chars[end], &mut scratch) {
                end += 1;
            }
            match errors {
                Errors::Strict => return Err(self.encode_error(&chars, i, end)),
                Errors::Replace => out.extend(std::iter::repeat_n(b'?', end - i)),
                Errors::Ignore => {}
            }
            i = end;
        }
        Ok(out)
    }

    fn encode_error(self, chars: &[char], start: usize, end: usize) -> PyError {
        let reason = match self {
            Codec::Ascii => "ordinal not in range(128)",
            Codec::Latin1 => "ordinal not in range(256)",
            _ => "character maps to <undefined>",
        };
        let name = self.error_name();
        let message = if end == start + 1 {
            let mut ch = String::new();
            escape(&mut ch, chars[start]);
            format!("'{name}' codec can't encode character '{ch}' in position {start}: {reason}")
        } else {
            format!(
                "'{name}' codec can't encode characters in position {start}-{}: {reason}",
                end - 1
            )
        };
        PyError {
            kind: PyErrorKind::UnicodeEncodeError,
            message,
        }
    }

    /// `bytes.decode(codec, errors)`.
    pub fn decode(self, bytes: &[u8], errors: Errors) -> Result<String, PyError> {
        match self {
            Codec::Utf8 => decode_utf8(bytes, errors),
            Codec::Latin1 => Ok(bytes.iter().map(|&b| char::from(b)).collect()),
            Codec::Ascii | Codec::Cp1252 => self.decode_single_byte(bytes, errors),
        }
    }

    fn decode_single_byte(self, bytes: &[u8], errors: Errors) -> Result<String, PyError> {
        let mut out = String::with_capacity(bytes.len());
        for (pos, &b) in bytes.iter().enumerate() {
            let c = match (self, b) {
                (_, 0..=0x7f) => Some(char::from(b)),
                (Codec::Cp1252, 0x80..=0x9f) => {
                    let u = CP1252_HIGH[usize::from(b - 0x80)];
                    (u != 0).then(|| char::from_u32(u32::from(u))).flatten()
                }
                (Codec::Cp1252, _) => Some(char::from(b)),
                _ => None,
            };
            match (c, errors) {
                (Some(c), _) => out.push(c),
                (None, Errors::Strict) => {
                    let reason = if self == Codec::Ascii {
                        "ordinal not in range(128)"
                    } else {
                        "character maps to <undefined>"
                    };
                    return Err(decode_error(self.error_name(), bytes, pos, pos + 1, reason));
                }
                (None, Errors::Replace) => out.push('\u{fffd}'),
                (None, Errors::Ignore) => {}
            }
        }
        Ok(out)
    }
}

fn decode_error(name: &str, bytes: &[u8], start: usize, end: usize, reason: &str) -> PyError {
    let message = if end == start + 1 {
        format!(
            "'{name}' codec can't decode byte 0x{:02x} in position {start}: {reason}",
            bytes[start]
        )
    } else {
        format!(
            "'{name}' codec can't decode bytes in position {start}-{}: {reason}",
            end - 1
        )
    };
    PyError {
        kind: PyErrorKind::UnicodeDecodeError,
        message,
    }
}

/// UTF-8 decoding with Python's error handlers. Python and Rust both replace each maximal
/// invalid subpart with one U+FFFD (Unicode's recommended practice), so the chunks agree.
fn decode_utf8(bytes: &[u8], errors: Errors) -> Result<String, PyError> {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok(s.to_owned());
    }
    let mut out = String::with_capacity(bytes.len());
    let mut pos = 0;
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        pos += chunk.valid().len();
        let bad = chunk.invalid();
        if bad.is_empty() {
            continue;
        }
        match errors {
            Errors::Strict => {
                let end_of_input = pos + bad.len() == bytes.len();
                let reason = if is_invalid_start(bad[0]) {
                    "invalid start byte"
                } else if end_of_input && continues(bad) {
                    "unexpected end of data"
                } else {
                    "invalid continuation byte"
                };
                return Err(decode_error("utf-8", bytes, pos, pos + bad.len(), reason));
            }
            Errors::Replace => out.push('\u{fffd}'),
            Errors::Ignore => {}
        }
        pos += bad.len();
    }
    Ok(out)
}

fn is_invalid_start(b: u8) -> bool {
    matches!(b, 0x80..=0xC1 | 0xF5..=0xFF)
}

/// True when `bad` is a truncated but so far valid sequence (its bytes are a valid prefix).
fn continues(bad: &[u8]) -> bool {
    let need = match bad[0] {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => return false,
    };
    bad.len() < need
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_strict_messages_match_python() {
        let e = Codec::Utf8
            .decode(b"a\xff", Errors::Strict)
            .expect_err("invalid");
        assert_eq!(
            e.message,
            "'utf-8' codec can't decode byte 0xff in position 1: invalid start byte"
        );
        let e = Codec::Utf8
            .decode(b"\xe2\x82", Errors::Strict)
            .expect_err("truncated");
        assert_eq!(
            e.message,
            "'utf-8' codec can't decode bytes in position 0-1: unexpected end of data"
        );
        let e = Codec::Utf8
            .decode(b"\xe2\x82x", Errors::Strict)
            .expect_err("bad cont");
        assert_eq!(
            e.message,
            "'utf-8' codec can't decode bytes in position 0-1: invalid continuation byte"
        );
        assert_eq!(
            Codec::Utf8
                .decode(b"\xe2\x82x\xff", Errors::Replace)
                .expect("replace"),
            "\u{fffd}x\u{fffd}"
        );
    }

    #[test]
    fn latin1_encode_reports_runs() {
        let e = Codec::Latin1
            .encode("a\u{20ac}\u{20ac}b", Errors::Strict)
            .expect_err("run");
        assert_eq!(
            e.message,
            "'latin-1' codec can't encode characters in position 1-2: ordinal not in range(256)"
        );
        assert_eq!(
            Codec::Latin1.encode("é€", Errors::Replace).expect("ok"),
            b"\xe9?"
        );
        assert_eq!(
            Codec::Cp1252.encode("€", Errors::Strict).expect("ok"),
            b"\x80"
        );
    }
}
