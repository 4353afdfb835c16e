//! `quote`, `quote_plus`, `unquote`, `unquote_plus`, ported from CPython 3.13.0.

use std::borrow::Cow;

use super::PyError;
use super::codec::{Codec, Errors};

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// `_ALWAYS_SAFE` plus the ASCII characters of `safe` (non-ASCII ones are ignored, as Python's
/// `safe.encode('ascii', 'ignore')` does).
fn safe_table(safe: &str) -> [bool; 256] {
    let mut table = [false; 256];
    for b in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~"
        .iter()
        .chain(safe.as_bytes().iter().filter(|b| b.is_ascii()))
    {
        table[usize::from(*b)] = true;
    }
    table
}

/// `quote_from_bytes(bs, safe)`.
pub fn quote_from_bytes(bytes: &[u8], safe: &str) -> String {
    let table = safe_table(safe);
    let mut out = String::with_capacity(bytes.len() + bytes.len() / 2);
    for &b in bytes {
        if table[usize::from(b)] {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
    out
}

/// `quote(string, safe, encoding, errors)` (Python's defaults: safe `/`, utf-8, strict).
pub fn quote(s: &str, safe: &str, codec: Codec, errors: Errors) -> Result<String, PyError> {
    if s.is_empty() {
        return Ok(String::new());
    }
    let bytes = codec.encode(s, errors)?;
    Ok(quote_from_bytes(&bytes, safe))
}

/// `quote_plus(string, safe, encoding, errors)` (Python's default safe is empty).
pub fn quote_plus(s: &str, safe: &str, codec: Codec, errors: Errors) -> Result<String, PyError> {
    if !s.contains(' ') {
        return quote(s, safe, codec, errors);
    }
    let safe = format!("{safe} ");
    Ok(quote(s, &safe, codec, errors)?.replace(' ', "+"))
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `unquote_to_bytes` of an ASCII run: `%XX` decoded, anything else kept literally (and `+`
/// made a space first when `plus`).
fn unquote_bytes(s: &[u8], plus: bool, out: &mut Vec<u8>) {
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if b == b'%'
            && let (Some(hi), Some(lo)) = (
                s.get(i + 1).copied().and_then(hex_value),
                s.get(i + 2).copied().and_then(hex_value),
            )
        {
            out.push(hi << 4 | lo);
            i += 3;
            continue;
        }
        out.push(if plus && b == b'+' { b' ' } else { b });
        i += 1;
    }
}

/// `unquote(string, encoding, errors)` (Python's defaults: utf-8, replace). Each run of ASCII
/// characters is decoded on its own, as Python does; other characters pass through.
pub fn unquote<'a>(s: &'a str, codec: Codec, errors: Errors) -> Result<Cow<'a, str>, PyError> {
    unquote_impl(s, false, codec, errors)
}

/// `unquote_plus(string, encoding, errors)`: `+` becomes a space before percent-decoding.
pub fn unquote_plus<'a>(s: &'a str, codec: Codec, errors: Errors) -> Result<Cow<'a, str>, PyError> {
    unquote_impl(s, true, codec, errors)
}

fn unquote_impl<'a>(
    s: &'a str,
    plus: bool,
    codec: Codec,
    errors: Errors,
) -> Result<Cow<'a, str>, PyError> {
    let bytes = s.as_bytes();
    // One pass for the three facts (names and values are short: one loop beats three scans).
    let (mut has_pct, mut has_plus, mut ascii) = (false, false, true);
    for &b in bytes {
        has_pct |= b == b'%';
        has_plus |= b == b'+';
        ascii &= b.is_ascii();
    }
    let has_plus = plus && has_plus;
    if !has_pct {
        return Ok(if has_plus {
            Cow::Owned(s.replace('+', " "))
        } else {
            Cow::Borrowed(s)
        });
    }
    if ascii {
        // One ASCII run (the common case): decode in place, one allocation.
        let mut buf = Vec::with_capacity(s.len());
        unquote_bytes(bytes, has_plus, &mut buf);
        return match String::from_utf8(buf) {
            Ok(text) if codec == Codec::Utf8 || text.is_ascii() => Ok(Cow::Owned(text)),
            Ok(text) => codec.decode(text.as_bytes(), errors).map(Cow::Owned),
            Err(e) => codec.decode(e.as_bytes(), errors).map(Cow::Owned),
        };
    }
    let mut out = String::with_capacity(s.len());
    let mut buf = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let ascii = bytes[i].is_ascii();
        while i < bytes.len() && bytes[i].is_ascii() == ascii {
            i += 1;
        }
        let run = &s[start..i];
        if !ascii {
            out.push_str(run);
            continue;
        }
        buf.clear();
        unquote_bytes(run.as_bytes(), has_plus, &mut buf);
        match (codec, std::str::from_utf8(&buf)) {
            (Codec::Utf8, Ok(text)) => out.push_str(text),
            _ => out.push_str(&codec.decode(&buf, errors)?),
        }
    }
    Ok(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_like_python() {
        let q = |s, safe| quote(s, safe, Codec::Utf8, Errors::Strict).expect("quote");
        assert_eq!(q("a b/é~", "/"), "a%20b/%C3%A9~");
        assert_eq!(q("a b/", ""), "a%20b%2F");
        assert_eq!(
            quote_plus("a b+c", "", Codec::Utf8, Errors::Strict).expect("plus"),
            "a+b%2Bc"
        );
    }

    #[test]
    fn unquote_like_python() {
        let u = |s| {
            unquote(s, Codec::Utf8, Errors::Replace)
                .expect("unquote")
                .into_owned()
        };
        assert_eq!(u("a%20b%zz%4"), "a b%zz%4");
        assert_eq!(u("%C3%A9é%ff"), "éé\u{fffd}");
        assert_eq!(
            unquote_plus("a+b%2B", Codec::Utf8, Errors::Replace).expect("plus"),
            "a b+"
        );
    }
}
