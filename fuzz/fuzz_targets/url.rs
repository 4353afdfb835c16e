//! `postie url` / `postie qs` (src/urlparse): urlsplit/urlparse/urlunsplit, urljoin,
//! urldefrag, the netloc attributes, quote/unquote, parse_qs(l)/urlencode.
//!
//! Input: one selector byte (options), then UTF-8 text; for urljoin the text is
//! `base NUL url`. Invariants beyond "no panic":
//! - split fields hold no TAB/CR/LF, the scheme is lower-case scheme characters;
//! - `urlsplit` and `urlsplit_without_controls` agree on input without control bytes;
//! - the netloc attributes found in one pass equal the ones found one by one;
//! - urljoin(base, "") == base and urljoin("", url) == url (as CPython);
//! - unquote(quote(s)) == s and parse_qsl(urlencode(pairs)) == pairs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postie::urlparse::{
    self, Codec, Errors, QsOptions, QsValue, QuoteVia, split, urldefrag, urljoin, urlsplit,
};

fuzz_target!(|data: &[u8]| {
    let Some((sel, rest)) = postie_fuzz::selector(data) else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let allow_fragments = sel & 1 == 0;
    match text.split_once('\0') {
        Some((base, url)) => join(base, url, allow_fragments),
        None => {
            split_and_unsplit(text, allow_fragments);
            query(text, sel);
            quoting(text);
        }
    }
});

fn split_and_unsplit(url: &str, allow_fragments: bool) {
    let _ = urldefrag(url);
    let Ok(s) = urlsplit(url, "", allow_fragments) else {
        return;
    };
    for field in [&s.scheme, &s.netloc, &s.path, &s.query, &s.fragment] {
        assert!(
            !field.contains(['\t', '\r', '\n']),
            "urlsplit kept a TAB, CR or LF: {s:?}"
        );
    }
    assert!(
        s.scheme
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b)),
        "scheme {:?}",
        s.scheme
    );
    if !url.bytes().any(|b| b < b' ') {
        let fast = split::urlsplit_without_controls(url, "", allow_fragments);
        assert_eq!(fast.as_ref(), Ok(&s), "urlsplit_without_controls differs");
    }
    let _ = s.geturl();
    if let Ok(p) = urlparse::urlparse(url, "", allow_fragments) {
        let _ = p.geturl();
    }
    attributes(&s.netloc);
}

/// The one-pass attributes equal the attribute functions one by one.
fn attributes(netloc: &str) {
    let all = split::attributes(netloc);
    assert_eq!(
        all.username,
        split::username(netloc),
        "username of {netloc:?}"
    );
    assert_eq!(
        all.password,
        split::password(netloc),
        "password of {netloc:?}"
    );
    assert_eq!(
        all.hostname,
        split::hostname(netloc),
        "hostname of {netloc:?}"
    );
    assert_eq!(all.port, split::port(netloc), "port of {netloc:?}");
}

fn join(base: &str, url: &str, allow_fragments: bool) {
    let _ = urljoin(base, url, allow_fragments);
    if let Ok(out) = urljoin(base, "", allow_fragments) {
        assert_eq!(out, base, "urljoin(base, '')");
    }
    if let Ok(out) = urljoin("", url, allow_fragments) {
        assert_eq!(out, url, "urljoin('', url)");
    }
}

fn query(qs: &str, sel: u8) {
    let opts = QsOptions {
        keep_blank_values: true,
        strict_parsing: sel & 2 != 0,
        separator: if sel & 4 != 0 { ";" } else { "&" }.to_owned(),
        max_num_fields: (sel & 8 != 0).then_some(usize::from(sel >> 4)),
        ..QsOptions::default()
    };
    let _ = urlparse::parse_qs(qs, &opts);
    let Ok(pairs) = urlparse::parse_qsl(qs, &opts) else {
        return;
    };
    let query: Vec<(String, QsValue)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), QsValue::Str(v.to_string())))
        .collect();
    let via = if sel & 16 != 0 {
        QuoteVia::Quote
    } else {
        QuoteVia::QuotePlus
    };
    let encoded = urlparse::urlencode(&query, false, "", Codec::Utf8, Errors::Strict, via)
        .expect("urlencode of UTF-8 text");
    let again = urlparse::parse_qsl(
        &encoded,
        &QsOptions {
            keep_blank_values: true,
            ..QsOptions::default()
        },
    )
    .expect("parse_qsl of urlencode's output");
    assert_eq!(again, pairs, "parse_qsl(urlencode(pairs)) for {encoded:?}");
}

fn quoting(s: &str) {
    for errors in [Errors::Strict, Errors::Replace, Errors::Ignore] {
        for codec in [Codec::Utf8, Codec::Latin1, Codec::Ascii, Codec::Cp1252] {
            let _ = urlparse::unquote(s, codec, errors);
            let _ = urlparse::unquote_plus(s, codec, errors);
            let _ = urlparse::quote(s, "/", codec, errors);
        }
    }
    let q = urlparse::quote(s, "", Codec::Utf8, Errors::Strict).expect("quote of UTF-8 text");
    assert_eq!(
        urlparse::unquote(&q, Codec::Utf8, Errors::Strict)
            .ok()
            .as_deref(),
        Some(s),
        "unquote(quote(s))"
    );
    let q = urlparse::quote_plus(s, "", Codec::Utf8, Errors::Strict).expect("quote_plus");
    assert_eq!(
        urlparse::unquote_plus(&q, Codec::Utf8, Errors::Strict)
            .ok()
            .as_deref(),
        Some(s),
        "unquote_plus(quote_plus(s))"
    );
}
