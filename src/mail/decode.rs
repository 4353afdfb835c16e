//! Lenient transfer decoding of a part's raw body, byte for byte as Python's `email` package
//! decodes it (`get_payload(decode=True)`), and the part's body as Python finds it when its
//! headers run into the body with no empty line between them.
//!
//! mail-parser 0.11 loses bytes here (the last 1-2 bytes after a soft line break that ends a
//! quoted-printable part; base64 whose last group lacks its padding; a body that starts
//! without an empty line becomes a 0-byte part), so postie keeps mail-parser for the
//! structure and decodes every saved part from the raw bytes itself. Pure; no I/O.

/// A part's `Content-Transfer-Encoding`, as far as decoding goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transfer {
    Base64,
    QuotedPrintable,
    /// 7bit, 8bit, binary, absent or unknown: the bytes as they are (as Python keeps them).
    Identity,
}

impl Transfer {
    /// From the header's value (case and surrounding space ignored).
    pub fn from_header(value: Option<&str>) -> Transfer {
        match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            Some("base64") => Transfer::Base64,
            Some("quoted-printable") => Transfer::QuotedPrintable,
            _ => Transfer::Identity,
        }
    }
}

/// Undoes `transfer` on `raw`; the bool is true when the input was damaged (what could be
/// decoded is returned all the same).
pub fn decode(raw: &[u8], transfer: Transfer) -> (Vec<u8>, bool) {
    match transfer {
        Transfer::Base64 => decode_base64_lenient(raw),
        Transfer::QuotedPrintable => (decode_qp(raw), false),
        Transfer::Identity => (raw.to_vec(), false),
    }
}

/// The value of each base64 character, 0xff for anything outside the alphabet.
const fn base64_table() -> [u8; 256] {
    let mut table = [0xffu8; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut i = 0;
    while i < 64 {
        table[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    table
}

static BASE64: [u8; 256] = base64_table();

/// Base64 as CPython's non-strict `binascii.a2b_base64` reads it after `email` has added any
/// missing padding: characters outside the alphabet are skipped, decoding stops at the
/// padding that completes a group, and a last group of 2 or 3 characters without padding
/// still gives its 1 or 2 bytes. Damage (stray characters, missing padding, data after the
/// padding, a lone last character) is reported. One difference from Python: where the data
/// characters are 1 more than a multiple of 4, Python gives up and returns the base64 text
/// itself; postie returns the bytes of the complete groups and reports the damage.
pub fn decode_base64_lenient(raw: &[u8]) -> (Vec<u8>, bool) {
    match decode_base64_clean(raw) {
        Some(out) => (out, false),
        None => decode_base64_bytewise(raw),
    }
}

/// The lenient decoder, a byte at a time (see [`decode_base64_lenient`]): the reference the
/// line-at-a-time fast path must agree with (the unpack fuzz target checks that).
pub fn decode_base64_bytewise(raw: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::with_capacity(raw.len() / 4 * 3 + 2);
    let (mut quad_pos, mut pads, mut acc) = (0u8, 0u8, 0u32);
    let mut problem = false;
    let mut rest: Option<&[u8]> = None;
    for (i, &c) in raw.iter().enumerate() {
        if c == b'=' {
            if quad_pos >= 2 {
                pads += 1;
                if quad_pos + pads >= 4 {
                    rest = Some(&raw[i + 1..]);
                    break;
                }
            } else {
                problem = true;
            }
            continue;
        }
        let v = BASE64[usize::from(c)];
        if v == 0xff {
            problem |= !matches!(c, b'\r' | b'\n' | b' ' | b'\t');
            continue;
        }
        problem |= pads > 0;
        pads = 0;
        acc = acc << 6 | u32::from(v);
        quad_pos += 1;
        match quad_pos {
            2 => out.push((acc >> 4) as u8),
            3 => out.push((acc >> 2) as u8),
            4 => {
                out.push(acc as u8);
                quad_pos = 0;
                acc = 0;
            }
            _ => {}
        }
    }
    // A group cut short (no padding at the end, or a lone last character) is damage; so is
    // anything but white space after the padding that ends the data.
    match rest {
        Some(after) => problem |= after.iter().any(|b| !b.is_ascii_whitespace()),
        None => problem |= quad_pos != 0,
    }
    (out, problem)
}

/// The fast path for the common case, whole lines of canonical base64 with the padding on
/// the last one: decoded a line at a time by the base64 crate. `None` for anything else,
/// which the byte-at-a-time decoder then handles as Python does.
fn decode_base64_clean(raw: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let mut out = Vec::with_capacity(raw.len() / 4 * 3 + 3);
    let mut ended = false;
    for line in raw.split(|&b| b == b'\n') {
        // Only the white space the bytewise decoder skips silently: `trim_ascii` would also
        // drop a form feed, which that decoder reports as damage (found by the unpack fuzz
        // target: the input 04 0c).
        let line = trim_blank(line);
        if line.is_empty() {
            continue;
        }
        if ended || !line.len().is_multiple_of(4) {
            return None;
        }
        base64::engine::general_purpose::STANDARD
            .decode_vec(line, &mut out)
            .ok()?;
        ended = line.ends_with(b"=");
    }
    Some(out)
}

/// `line` without leading and trailing spaces, tabs and CRs.
fn trim_blank(line: &[u8]) -> &[u8] {
    let blank = |b: &u8| matches!(b, b' ' | b'\t' | b'\r');
    let start = line.iter().position(|b| !blank(b)).unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|b| !blank(b))
        .map_or(start, |i| i + 1);
    &line[start..end]
}

/// Whether mail-parser's decoding of `raw` (a base64 body it decoded without reporting a
/// problem) is byte for byte Python's, so that its bytes can be used as they are (one
/// decoding pass instead of two). mail-parser gives up on any character outside the
/// alphabet, `=`, white space and a lone `-`; where it does not, it differs from postie's
/// decoder (Python's rules) only at a `-` (damage to Python, skipped by mail-parser), at `=`
/// before the end of the data and at a last group without its padding. So this checks that
/// there is no `-`, that every `=` comes after all the data, as the padding the data's
/// length needs, and that without padding the data fills whole groups. SIMD scans (memchr) and counts,
/// no decoding: a small fraction of a decoding pass.
pub fn is_canonical_base64(raw: &[u8]) -> bool {
    // A lone `-` is skipped by mail-parser but is damage to postie (and a defect to Python);
    // one scan finds the first `-` or `=` (a `-` after the `=` fails the tail's check).
    let (data_part, tail) = match memchr::memchr2(b'-', b'=', raw) {
        Some(at) if raw[at] == b'-' => return false,
        Some(at) => raw.split_at(at),
        None => (raw, &b""[..]),
    };
    let skipped = count_white_space(raw);
    let padding = memchr::memchr_iter(b'=', tail).count();
    // After the first `=`, only more `=` and white space.
    if !tail
        .iter()
        .all(|&b| matches!(b, b'=' | b'\r' | b'\n' | b' ' | b'\t'))
    {
        return false;
    }
    let tail_skipped = tail.len() - padding;
    let data = data_part.len() - (skipped - tail_skipped);
    let needed = match data % 4 {
        0 => 0,
        2 => 2,
        3 => 1,
        _ => return false,
    };
    padding == needed
}

/// How many CR, LF, space and TAB bytes `raw` holds. Written to vectorize (no branch, a
/// byte-wide accumulator per 255-byte chunk, so 16 bytes a step even with SSE2): a line break every 78 bytes would stop an iterator over
/// matches that often.
fn count_white_space(raw: &[u8]) -> usize {
    raw.chunks(255)
        .map(|chunk| {
            let n = chunk.iter().fold(0u8, |n, &b| {
                n.wrapping_add(u8::from(matches!(b, b'\r' | b'\n' | b' ' | b'\t')))
            });
            usize::from(n)
        })
        .sum()
}

/// Quoted-printable as CPython's `binascii.a2b_qp` reads it: `=XX` (either case) is a byte,
/// `=` before a line end (or at the very end, as when the part's last line ends in a soft
/// line break just before the boundary) is removed, `==` is `=`, any other `=` is kept.
pub fn decode_qp(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] != b'=' {
            out.push(raw[i]);
            i += 1;
            continue;
        }
        i += 1;
        let Some(&next) = raw.get(i) else { break };
        if next == b'\n' || next == b'\r' {
            // A soft line break: everything up to and including the line feed goes.
            while i < raw.len() && raw[i] != b'\n' {
                i += 1;
            }
            i += 1;
        } else if next == b'=' {
            out.push(b'=');
            i += 1;
        } else if let (Some(h), Some(l)) = (hex(next), raw.get(i + 1).and_then(|&b| hex(b))) {
            out.push(h << 4 | l);
            i += 2;
        } else {
            out.push(b'=');
        }
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// True for a header line: a field name (printable ASCII but `:`) and a colon, as Python's
/// parser requires; a line starting with white space continues the previous header.
fn is_header_line(line: &[u8]) -> bool {
    let name_len = line
        .iter()
        .take_while(|&&b| b != b':' && (b'!'..=b'~').contains(&b))
        .count();
    line.get(name_len) == Some(&b':')
}

/// Where the body really starts inside a part's header block `block` (the bytes from the
/// part's first header to where mail-parser put its body), when a line that is not a header
/// comes before the empty line (MimeKit issue 1189: headers, then base64 straight away).
/// `None` when the block is all headers, or when more headers follow the odd line (then it
/// is a badly folded header, as mail-parser reads it, and the body is where mail-parser put
/// it). The first line of a message's own headers is never the body.
pub fn body_start_in_headers(block: &[u8]) -> Option<usize> {
    let mut offset = 0;
    let mut odd_line: Option<usize> = None;
    for line in block.split_inclusive(|&b| b == b'\n') {
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if content.is_empty() {
            break;
        }
        let continuation = matches!(content[0], b' ' | b'\t');
        if is_header_line(content) {
            if odd_line.is_some() {
                return None;
            }
        } else if !continuation && odd_line.is_none() && offset > 0 {
            odd_line = Some(offset);
        }
        offset += line.len();
    }
    odd_line
}

/// `raw` with every `boundary=` whose value is folded onto the next line (`boundary=` CRLF
/// SP `"..."`, as Eudora wrote it) unfolded in place, line ends turned into spaces so every
/// other byte keeps its offset; `None` when there is none. mail-parser reads no boundary
/// there and loses the whole multipart; Python unfolds first.
pub fn unfold_boundaries(raw: &[u8]) -> Option<Vec<u8>> {
    const KEY: &[u8] = b"boundary";
    // Led by the `=` signs (rare outside quoted-printable soft breaks), not by a scan of
    // every byte: this runs on every message.
    let folds: Vec<usize> = memchr::memchr_iter(b'=', raw)
        .map(|eq| eq + 1)
        .filter(|&j| {
            let after = &raw[j..];
            let rest = after
                .strip_prefix(b"\r\n")
                .or_else(|| after.strip_prefix(b"\n"));
            rest.is_some_and(|r| matches!(r.first(), Some(b' ' | b'\t')))
        })
        .filter(|&j| {
            let mut k = j - 1;
            while k > 0 && matches!(raw[k - 1], b' ' | b'\t') {
                k -= 1;
            }
            k >= KEY.len() && raw[k - KEY.len()..k].eq_ignore_ascii_case(KEY)
        })
        .collect();
    if folds.is_empty() {
        return None;
    }
    let mut patched = raw.to_vec();
    for j in folds {
        for b in patched[j..]
            .iter_mut()
            .take_while(|b| matches!(**b, b'\r' | b'\n'))
        {
            *b = b' ';
        }
    }
    Some(patched)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the unpack fuzz target (crash input 04 0c): a form feed, as a whole line or
    /// around the data, is damage to both paths, not white space to one of them.
    #[test]
    fn a_form_feed_is_damage_on_both_base64_paths() {
        for raw in [
            &b"\x0c"[..],
            b"QUJD\x0c\n",
            b"\x0cQUJD\r\n",
            b"QUJD\r\n \t\r\n",
        ] {
            assert_eq!(
                decode_base64_lenient(raw),
                decode_base64_bytewise(raw),
                "{raw:?}"
            );
        }
        assert!(decode_base64_lenient(b"\x0c").1);
    }

    #[test]
    fn the_fast_base64_path_agrees_with_the_bytewise_decoder() {
        use base64::Engine as _;
        for len in 0..300usize {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
            let text = base64::engine::general_purpose::STANDARD.encode(&data);
            for (width, eol) in [(76, "\r\n"), (64, "\n"), (4, "\r\n")] {
                let mut raw = String::new();
                for chunk in text.as_bytes().chunks(width) {
                    raw.push_str(std::str::from_utf8(chunk).expect("ascii"));
                    raw.push_str(eol);
                }
                assert!(
                    decode_base64_clean(raw.as_bytes()).is_some(),
                    "{len} {width}"
                );
                assert_eq!(decode_base64_lenient(raw.as_bytes()), (data.clone(), false));
                assert_eq!(
                    decode_base64_bytewise(raw.as_bytes()),
                    (data.clone(), false)
                );
            }
        }
        // Damage leaves the fast path: the bytewise decoder decides.
        for damaged in [
            "QUJD\r\nRA\r\n",
            "QUJDRA==\r\nQUJD\r\n",
            "QU JD\r\n",
            "QUJDRB==\r\n",
        ] {
            assert!(
                decode_base64_clean(damaged.as_bytes()).is_none(),
                "{damaged}"
            );
        }
    }

    #[test]
    fn boundaries_are_unfolded_only_after_the_boundary_parameter() {
        let raw = b"Content-Type: multipart/mixed; boundary=\r\n \"b1\"\r\nX: a=\r\n b\r\n";
        let fixed = unfold_boundaries(raw).expect("one fold");
        assert_eq!(fixed.len(), raw.len());
        assert!(fixed.starts_with(b"Content-Type: multipart/mixed; boundary=   \"b1\"\r\n"));
        assert!(fixed.ends_with(b"X: a=\r\n b\r\n"));
        assert!(unfold_boundaries(b"BOUNDARY \t=\n\t\"x\"").is_some());
        assert!(unfold_boundaries(b"boundary=\"x\"\r\n").is_none());
    }

    #[test]
    fn base64_as_python_decodes_it() {
        let d = |s: &[u8]| decode_base64_lenient(s);
        assert_eq!(d(b"QUJD\nREVG\n"), (b"ABCDEF".to_vec(), false));
        assert_eq!(d(b"QUJDRA==\n"), (b"ABCD".to_vec(), false));
        // Final padding missing: Python adds it and records a defect.
        assert_eq!(d(b"QUJDRA"), (b"ABCD".to_vec(), true));
        assert_eq!(d(b"QUJDREU"), (b"ABCDE".to_vec(), true));
        assert_eq!(d(b"QUJDREU="), (b"ABCDE".to_vec(), false));
        assert_eq!(d(b"QUJDRA="), (b"ABCD".to_vec(), true));
        // Stray characters are skipped.
        assert_eq!(d(b"QU*JD"), (b"ABC".to_vec(), true));
        // Nothing after the padding that ends the data is read (Python stops there too).
        assert_eq!(d(b"QQ==QkI="), (b"A".to_vec(), true));
        assert_eq!(d(b"QQ==\r\n\r\n"), (b"A".to_vec(), false));
        // A lone last character: the complete groups are kept (Python returns the text).
        assert_eq!(d(b"QUJDR"), (b"ABC".to_vec(), true));
    }

    #[test]
    fn quoted_printable_as_python_decodes_it() {
        assert_eq!(decode_qp(b"a=3Db=3d"), b"a=b=");
        assert_eq!(decode_qp(b"soft=\nbreak=\r\nhere"), b"softbreakhere");
        assert_eq!(
            decode_qp(b"last bytes=F0=9F=98=80="),
            "last bytes😀".as_bytes()
        );
        assert_eq!(decode_qp(b"x=\r"), b"x");
        assert_eq!(decode_qp(b"a==b =zz =4"), b"a=b =zz =4");
    }

    #[test]
    fn a_boundary_folded_after_the_equals_sign_is_unfolded_in_place() {
        let raw = b"Content-Type: multipart/signed; boundary=\r\n \"a b\"; x=\r\n y\r\n\r\n";
        let patched = unfold_boundaries(raw).expect("a fold");
        assert_eq!(patched.len(), raw.len());
        assert!(
            patched.starts_with(b"Content-Type: multipart/signed; boundary=   \"a b\"; x=\r\n")
        );
        assert_eq!(
            unfold_boundaries(b"Content-Type: a/b; boundary=\"x\"\n\n"),
            None
        );
        assert_eq!(unfold_boundaries(b"the boundary=\n\nbody"), None);
        assert!(unfold_boundaries(b"BOUNDARY =\n\t\"x\"").is_some());
    }

    #[test]
    fn a_body_with_no_empty_line_after_the_headers_is_found() {
        let block =
            b"Content-Type: application/zip\nContent-Transfer-Encoding: base64\nUEsDBA\nAAAA\n\n";
        assert_eq!(body_start_in_headers(block), Some(64));
        assert_eq!(&block[64..68], b"UEsD");
        let folded = b"Content-Type: a/b;\nname=\"x.zip\"\nContent-Disposition: attachment\n\n";
        assert_eq!(body_start_in_headers(folded), None);
        assert_eq!(body_start_in_headers(b"A: b\n c\nD: e\r\n\r\n"), None);
        assert_eq!(
            body_start_in_headers(b"\xef\xbb\xbfFrom: a\nTo: b\n\n"),
            None
        );
    }

    #[test]
    fn canonical_base64_is_recognised_and_damage_is_not() {
        for ok in [
            "",
            "QUJD",
            "QUJD\r\nRA==\r\n",
            "QUJ\nDRA==",
            " QUJD\t\n",
            "QU\n=\n=",
        ] {
            assert!(is_canonical_base64(ok.as_bytes()), "{ok:?}");
        }
        for bad in [
            "QUJ", "QQ", "QUJD\nRA", "RA==QUJD", "QU=D", "Q===", "QUJ==", "Q=", "=", "QUJDQ",
            "QU-JD",
        ] {
            assert!(!is_canonical_base64(bad.as_bytes()), "{bad:?}");
        }
    }
}
