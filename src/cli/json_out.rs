//! The JSON writer of `postie url` and `postie qs`: strings escaped as serde_json would, into
//! a reused output buffer, without building a value tree per record (millions of URLs).

use crate::urlparse::PyError;

/// Bytes a JSON string must escape.
const JSON_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// True when one of the 8 bytes of `w` must be escaped in a JSON string (a control character,
/// `"` or `\`): the classic SWAR zero-byte tests.
fn word_needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_bytes = |x: u64| x.wrapping_sub(ONES) & !x;
    let below_space = w.wrapping_sub(ONES * 0x20) & !w;
    let quote = zero_bytes(w ^ (ONES * u64::from(b'"')));
    let backslash = zero_bytes(w ^ (ONES * u64::from(b'\\')));
    (below_space | quote | backslash) & HIGH != 0
}

/// Appends `s` as a JSON string.
pub(crate) fn json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    json_text(out, s, false);
    out.push(b'"');
}

/// Appends the inside of the JSON string for `s` (no quotes); `clean` says it is known to need
/// no escapes.
pub(crate) fn json_text(out: &mut Vec<u8>, s: &str, clean: bool) {
    let bytes = s.as_bytes();
    if clean || !needs_escape(bytes) {
        // Empty fields are common (params, fragment): no copy for them.
        if !bytes.is_empty() {
            out.extend_from_slice(bytes);
        }
        return;
    }
    out.reserve(bytes.len() + 8);
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !JSON_ESCAPE[usize::from(b)] {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// True when some byte of `bytes` must be escaped in a JSON string.
pub(crate) fn needs_escape(bytes: &[u8]) -> bool {
    // Inputs are short and nearly always clean: testing every word without an early exit
    // keeps the loop free of branches.
    let mut chunks = bytes.chunks_exact(8);
    let mut any = false;
    for chunk in chunks.by_ref() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        any |= word_needs_escape(u64::from_le_bytes(word));
    }
    any || chunks
        .remainder()
        .iter()
        .any(|&b| JSON_ESCAPE[usize::from(b)])
}

/// Appends `s` (known clean or not) as a JSON string, or `null`.
pub(crate) fn json_known_opt(out: &mut Vec<u8>, s: Option<&str>, clean: bool) {
    match s {
        Some(s) => {
            out.push(b'"');
            json_text(out, s, clean);
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
}

/// `{"<key>": <input>, "error": "<error>"}` for an input that failed.
pub(crate) fn json_error(out: &mut Vec<u8>, key: &str, input: &[u8], err: &PyError) {
    out.extend_from_slice(b"{\"");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\": ");
    json_str(out, &String::from_utf8_lossy(input));
    out.extend_from_slice(b", \"error\": ");
    json_str(out, &err.to_string());
    out.extend_from_slice(b"}\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_escape_controls() {
        let mut out = Vec::new();
        json_str(&mut out, "a\"\\\r\n\t\x01é");
        assert_eq!(out, b"\"a\\\"\\\\\\r\\n\\t\\u0001\xc3\xa9\"");
        // Whatever the position of the byte to escape, the output matches serde_json's.
        for pos in 0..20 {
            for special in ['"', '\\', '\x1f', '\n', 'é', '\x7f'] {
                let mut text: String = "abcdefghijklmnopqrstu".into();
                text.insert(pos, special);
                let mut out = Vec::new();
                json_str(&mut out, &text);
                let back: String = serde_json::from_slice(&out).expect("valid JSON");
                assert_eq!(back, text);
            }
        }
    }
}
