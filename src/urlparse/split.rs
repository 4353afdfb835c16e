//! `urlsplit`, `urlparse`, `urlunsplit`, `urlunparse` and the netloc attributes
//! (`username`, `password`, `hostname`, `port`), ported from CPython 3.13.0.
//!
//! Results borrow from the input when no cleaning was needed (the common case), so a batch
//! of millions of URLs allocates little.

use std::borrow::Cow;

use memchr::{memchr, memchr2, memchr3, memrchr};
use unicode_normalization::UnicodeNormalization;

use super::PyError;
use super::pyrepr::repr;

/// Schemes whose URLs `urlunsplit` writes with `//` even when the netloc is empty.
pub const USES_NETLOC: &[&str] = &[
    "",
    "ftp",
    "http",
    "gopher",
    "nntp",
    "telnet",
    "imap",
    "wais",
    "file",
    "mms",
    "https",
    "shttp",
    "snews",
    "prospero",
    "rtsp",
    "rtsps",
    "rtspu",
    "rsync",
    "svn",
    "svn+ssh",
    "sftp",
    "nfs",
    "git",
    "git+ssh",
    "ws",
    "wss",
    "itms-services",
];

/// Schemes for which `urlparse` splits `;params` off the last path segment.
pub const USES_PARAMS: &[&str] = &[
    "", "ftp", "hdl", "prospero", "http", "imap", "https", "shttp", "rtsp", "rtsps", "rtspu",
    "sip", "sips", "mms", "sftp", "tel",
];

/// The five fields of `urlsplit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitResult<'a> {
    pub scheme: Cow<'a, str>,
    pub netloc: Cow<'a, str>,
    pub path: Cow<'a, str>,
    pub query: Cow<'a, str>,
    pub fragment: Cow<'a, str>,
}

/// The six fields of `urlparse`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseResult<'a> {
    pub scheme: Cow<'a, str>,
    pub netloc: Cow<'a, str>,
    pub path: Cow<'a, str>,
    pub params: Cow<'a, str>,
    pub query: Cow<'a, str>,
    pub fragment: Cow<'a, str>,
}

fn own(c: Cow<'_, str>) -> Cow<'static, str> {
    Cow::Owned(c.into_owned())
}

impl SplitResult<'_> {
    pub fn into_owned(self) -> SplitResult<'static> {
        SplitResult {
            scheme: own(self.scheme),
            netloc: own(self.netloc),
            path: own(self.path),
            query: own(self.query),
            fragment: own(self.fragment),
        }
    }

    /// `geturl()`: `urlunsplit(self)`.
    pub fn geturl(&self) -> String {
        urlunsplit(
            &self.scheme,
            &self.netloc,
            &self.path,
            &self.query,
            &self.fragment,
        )
    }
}

impl ParseResult<'_> {
    /// `geturl()`: `urlunparse(self)`.
    pub fn geturl(&self) -> String {
        urlunparse(
            &self.scheme,
            &self.netloc,
            &self.path,
            &self.params,
            &self.query,
            &self.fragment,
        )
    }
}

/// `_WHATWG_C0_CONTROL_OR_SPACE`.
fn is_c0_or_space(c: char) -> bool {
    c <= ' '
}

/// `_UNSAFE_URL_BYTES_TO_REMOVE`.
fn is_unsafe(c: char) -> bool {
    matches!(c, '\t' | '\r' | '\n')
}

fn has_unsafe(s: &str) -> bool {
    memchr3(b'\t', b'\r', b'\n', s.as_bytes()).is_some()
}

/// Below this length a plain loop finds a byte faster than memchr's vector code.
const SHORT: usize = 32;

fn find_byte(s: &str, b: u8) -> Option<usize> {
    let bytes = s.as_bytes();
    if bytes.len() < SHORT {
        bytes.iter().position(|&x| x == b)
    } else {
        memchr(b, bytes)
    }
}

fn rfind_byte(s: &str, b: u8) -> Option<usize> {
    let bytes = s.as_bytes();
    if bytes.len() < SHORT {
        bytes.iter().rposition(|&x| x == b)
    } else {
        memrchr(b, bytes)
    }
}

fn has(s: &str, b: u8) -> bool {
    find_byte(s, b).is_some()
}

/// `s.partition(c)` for an ASCII `c`, when `c` is there.
fn split_at_byte(s: &str, b: u8) -> Option<(&str, &str)> {
    find_byte(s, b).map(|i| (&s[..i], &s[i + 1..]))
}

/// `s.rpartition(c)` for an ASCII `c`, when `c` is there.
fn rsplit_at_byte(s: &str, b: u8) -> Option<(&str, &str)> {
    rfind_byte(s, b).map(|i| (&s[..i], &s[i + 1..]))
}

/// A table of byte classes: each `(first, last, class)` gives the bytes `first..=last` that
/// class; the other bytes are 0.
const fn byte_classes(ranges: &[(u8, u8, u8)]) -> [u8; 256] {
    let mut t = [0; 256];
    let mut r = 0;
    while r < ranges.len() {
        let (first, last, class) = ranges[r];
        let mut b = first as usize;
        while b <= last as usize {
            t[b] = class;
            b += 1;
        }
        r += 1;
    }
    t
}

/// The bytes of a scheme (1): ASCII letters and digits, `+`, `-` and `.`.
const SCHEME_CHAR: [u8; 256] = byte_classes(&[
    (b'a', b'z', 1),
    (b'A', b'Z', 1),
    (b'0', b'9', 1),
    (b'+', b'+', 1),
    (b'-', b'.', 1),
]);

fn is_scheme_char(b: u8) -> bool {
    SCHEME_CHAR[usize::from(b)] != 0
}

/// `urlsplit(url, scheme, allow_fragments)`.
pub fn urlsplit<'a>(
    url: &'a str,
    scheme: &'a str,
    allow_fragments: bool,
) -> Result<SplitResult<'a>, PyError> {
    split_trimmed(url, scheme, allow_fragments, true)
}

/// [`urlsplit`] for a URL and a default scheme in which the caller has found no byte below
/// 0x20 (writing JSON, it looks for them anyway): the search for the tab, CR and LF that
/// `urlsplit` removes is skipped. The results are `urlsplit`'s only when that holds.
pub fn urlsplit_without_controls<'a>(
    url: &'a str,
    scheme: &'a str,
    allow_fragments: bool,
) -> Result<SplitResult<'a>, PyError> {
    debug_assert!(!url.bytes().chain(scheme.bytes()).any(|b| b < b' '));
    split_trimmed(url, scheme, allow_fragments, false)
}

/// [`urlsplit`]; `controls` false when the caller knows there is no byte below 0x20.
fn split_trimmed<'a>(
    url: &'a str,
    scheme: &'a str,
    allow_fragments: bool,
    controls: bool,
) -> Result<SplitResult<'a>, PyError> {
    let url = url.trim_start_matches(is_c0_or_space);
    // The default scheme is nearly always empty: no trimming or search for it then.
    let scheme = if scheme.is_empty() {
        scheme
    } else {
        scheme.trim_matches(is_c0_or_space)
    };
    if controls && (has_unsafe(url) || (!scheme.is_empty() && has_unsafe(scheme))) {
        let url: String = url.chars().filter(|&c| !is_unsafe(c)).collect();
        let scheme: String = scheme.chars().filter(|&c| !is_unsafe(c)).collect();
        return split_clean(&url, &scheme, allow_fragments).map(SplitResult::into_owned);
    }
    split_clean(url, scheme, allow_fragments)
}

fn split_clean<'a>(
    mut url: &'a str,
    default_scheme: &'a str,
    allow_fragments: bool,
) -> Result<SplitResult<'a>, PyError> {
    let mut scheme = Cow::Borrowed(default_scheme);
    // The first ':' ends a scheme when everything before it is a scheme character: scanning
    // scheme characters and looking at where the scan stops finds the same ':'.
    let bytes = url.as_bytes();
    let i = bytes.iter().take_while(|&&b| is_scheme_char(b)).count();
    if i > 0 && bytes.get(i) == Some(&b':') && bytes[0].is_ascii_alphabetic() {
        scheme = ascii_lower(&url[..i]);
        url = &url[i + 1..];
    }
    let mut netloc = "";
    let mut seen = 0;
    if let Some(rest) = url.strip_prefix("//") {
        let (delim, classes) = netloc_end(rest.as_bytes());
        netloc = &rest[..delim];
        url = &rest[delim..];
        seen = classes;
        if seen & BRACKET != 0 {
            check_brackets(netloc)?;
        }
    }
    let (path, query, fragment) = split_query_fragment(url, allow_fragments);
    if seen & NON_ASCII != 0 {
        check_netloc(netloc)?;
    }
    Ok(SplitResult {
        scheme,
        netloc: Cow::Borrowed(netloc),
        path: Cow::Borrowed(path),
        query: Cow::Borrowed(query),
        fragment: Cow::Borrowed(fragment),
    })
}

/// Netloc byte class (a bit of [`NETLOC_BYTE`]): `/`, `?` or `#` ends the netloc.
const END: u8 = 1;
/// Netloc byte class: `[` or `]`, which `urlsplit` checks.
const BRACKET: u8 = 2;
/// Netloc byte class: a byte of a non-ASCII character, which `_checknetloc` checks.
const NON_ASCII: u8 = 4;
/// Netloc byte class: `@`.
const AT: u8 = 8;
/// Netloc byte class: `:`.
const COLON: u8 = 16;
/// Netloc byte class: an ASCII capital.
const UPPER: u8 = 32;
/// Netloc byte class: a byte that takes the general path of the attributes (see
/// [`NetlocScan::plain`]).
const SPECIAL: u8 = 64;

/// The classes of each byte, for [`netloc_end`] and [`NetlocScan::of`]; most bytes have none.
const NETLOC_BYTE: [u8; 256] = byte_classes(&[
    (b'/', b'/', END),
    (b'?', b'?', END),
    (b'#', b'#', END),
    (b'@', b'@', AT),
    (b':', b':', COLON),
    (b'A', b'Z', UPPER),
    (b'[', b'[', BRACKET | SPECIAL),
    (b']', b']', BRACKET | SPECIAL),
    (b'%', b'%', SPECIAL),
    (0x80, 0xff, NON_ASCII | SPECIAL),
]);

/// Where the netloc at the start of `rest` ends (its first `/`, `?` or `#`), and the union of
/// the classes of its bytes: one pass instead of a search and two checks. Netlocs are short,
/// so a table lookup per byte beats a vector search.
fn netloc_end(rest: &[u8]) -> (usize, u8) {
    let mut seen = 0;
    for (i, &b) in rest.iter().enumerate() {
        let class = NETLOC_BYTE[usize::from(b)];
        if class & END != 0 {
            return (i, seen);
        }
        seen |= class;
    }
    (rest.len(), seen)
}

/// Path, query and fragment: the fragment after the first `#` (when fragments are allowed),
/// the query after the first `?` before it. One search finds whichever comes first.
fn split_query_fragment(url: &str, allow_fragments: bool) -> (&str, &str, &str) {
    let stop = if allow_fragments {
        memchr2(b'?', b'#', url.as_bytes())
    } else {
        find_byte(url, b'?')
    };
    let Some(i) = stop else {
        return (url, "", "");
    };
    let (path, rest) = (&url[..i], &url[i + 1..]);
    if url.as_bytes()[i] == b'#' {
        return (path, "", rest);
    }
    if allow_fragments && let Some((query, fragment)) = split_at_byte(rest, b'#') {
        return (path, query, fragment);
    }
    (path, rest, "")
}

fn ascii_lower(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

fn invalid_ipv6() -> PyError {
    PyError::value("Invalid IPv6 URL")
}

/// The bracket checks of `urlsplit`, with the CVE-2025-0938 fix's checks first (postie's one
/// deliberate deviation from 3.13.0: nothing may come before `[` in the host, and only `:port`
/// after `]`).
fn check_brackets(netloc: &str) -> Result<(), PyError> {
    // Most netlocs have no bracket at all: one search settles it.
    if !netloc.bytes().any(|b| matches!(b, b'[' | b']')) {
        return Ok(());
    }
    let open = has(netloc, b'[');
    let close = has(netloc, b']');
    if open != close {
        return Err(invalid_ipv6());
    }
    if !open {
        return Ok(());
    }
    // _check_bracketed_netloc (CPython 3.13.2+), mirroring _hostinfo's split.
    let host_and_port = rsplit_at_byte(netloc, b'@').map_or(netloc, |(_, h)| h);
    if let Some((before, bracketed)) = split_at_byte(host_and_port, b'[') {
        if !before.is_empty() {
            return Err(invalid_ipv6());
        }
        let port = split_at_byte(bracketed, b']').map_or("", |(_, p)| p);
        if !port.is_empty() && !port.starts_with(':') {
            return Err(invalid_ipv6());
        }
    }
    // 3.13.0's own check, on the first bracketed part of the whole netloc.
    let after_open = split_at_byte(netloc, b'[').map_or("", |(_, a)| a);
    let host = split_at_byte(after_open, b']').map_or(after_open, |(h, _)| h);
    check_bracketed_host(host)
}

/// `_check_bracketed_host`: IPvFuture (`v1.x`) or an IPv6 address (not IPv4).
fn check_bracketed_host(host: &str) -> Result<(), PyError> {
    if let Some(rest) = host.strip_prefix('v') {
        // \Av[a-fA-F0-9]+\..+\Z  ('.' matches anything but '\n'; '\n' was removed already)
        let hex = rest.bytes().take_while(u8::is_ascii_hexdigit).count();
        let ok = hex > 0 && rest[hex..].starts_with('.') && rest.len() > hex + 1;
        return if ok {
            Ok(())
        } else {
            Err(PyError::value("IPvFuture address is invalid"))
        };
    }
    if is_ipv4(host.as_bytes()) {
        return Err(PyError::value("An IPv4 address cannot be in brackets"));
    }
    if is_ipv6(host.as_bytes()) {
        return Ok(());
    }
    Err(PyError::value(format!(
        "{} does not appear to be an IPv4 or IPv6 address",
        repr(host)
    )))
}

/// `ipaddress.IPv4Address(s)` succeeds.
fn is_ipv4(s: &[u8]) -> bool {
    let mut n = 0;
    for octet in s.split(|&b| b == b'.') {
        n += 1;
        // Three digits at most: the value fits a u16.
        let ok = !octet.is_empty()
            && octet.len() <= 3
            && octet.iter().all(u8::is_ascii_digit)
            && (octet == b"0" || octet.first() != Some(&b'0'))
            && octet
                .iter()
                .fold(0u16, |v, &d| v * 10 + u16::from(d - b'0'))
                <= 255;
        if !ok {
            return false;
        }
    }
    n == 4
}

/// `ipaddress.IPv6Address(s)` succeeds (scope id included).
fn is_ipv6(s: &[u8]) -> bool {
    let addr = match s.iter().position(|&b| b == b'%') {
        Some(i) if s[i + 1..].is_empty() || s[i + 1..].contains(&b'%') => return false,
        Some(i) => &s[..i],
        None => s,
    };
    if addr.is_empty() || addr.contains(&b'/') {
        return false;
    }
    // More than 9 parts never make an address (8 hextets and a `::`, or fewer with an IPv4
    // suffix, which counts as two): a fixed array holds the rest without allocating.
    let mut parts: [&[u8]; 10] = [b""; 10];
    let mut n = 0;
    for part in addr.split(|&b| b == b':') {
        if n == 9 {
            return false;
        }
        parts[n] = part;
        n += 1;
    }
    if n < 3 {
        return false;
    }
    if parts[n - 1].contains(&b'.') {
        if !is_ipv4(parts[n - 1]) {
            return false;
        }
        // Two hextets stand in for the IPv4 suffix; their values are valid by construction.
        parts[n - 1] = b"0";
        parts[n] = b"0";
        n += 1;
    }
    if n > 9 {
        return false;
    }
    let parts = &parts[..n];
    let Some((hi, lo)) = hextet_counts(parts) else {
        return false;
    };
    parts[..hi]
        .iter()
        .chain(&parts[n - lo..])
        .all(|h| !h.is_empty() && h.len() <= 4 && h.iter().all(u8::is_ascii_hexdigit))
}

/// How many parts before and after the `::` hold hextets (all of them when there is no
/// `::`), as `ipaddress.IPv6Address._ip_int_from_string` counts them; `None` when the parts
/// cannot make an address (two `::`, a lone leading or trailing `:`, too many hextets).
fn hextet_counts(parts: &[&[u8]]) -> Option<(usize, usize)> {
    let n = parts.len();
    let mut skip = None;
    for (i, p) in parts.iter().enumerate().take(n - 1).skip(1) {
        if p.is_empty() {
            if skip.is_some() {
                return None;
            }
            skip = Some(i);
        }
    }
    let Some(skip) = skip else {
        return (n == 8 && !parts[0].is_empty() && !parts[n - 1].is_empty()).then_some((n, 0));
    };
    let mut hi = skip;
    let mut lo = n - skip - 1;
    if parts[0].is_empty() {
        hi -= 1;
        if hi > 0 {
            return None;
        }
    }
    if parts[n - 1].is_empty() {
        lo -= 1;
        if lo > 0 {
            return None;
        }
    }
    (hi + lo <= 7).then_some((hi, lo))
}

/// `_checknetloc`: characters that NFKC-normalize into URL delimiters are refused.
fn check_netloc(netloc: &str) -> Result<(), PyError> {
    if netloc.is_ascii() {
        return Ok(());
    }
    let n: String = netloc
        .chars()
        .filter(|c| !matches!(c, '@' | ':' | '#' | '?'))
        .collect();
    let normalized: String = n.nfkc().collect();
    if n == normalized {
        return Ok(());
    }
    if normalized.contains(['/', '?', '#', '@', ':']) {
        return Err(PyError::value(format!(
            "netloc '{netloc}' contains invalid characters under NFKC normalization"
        )));
    }
    Ok(())
}

/// `urlparse(url, scheme, allow_fragments)`.
pub fn urlparse<'a>(
    url: &'a str,
    scheme: &'a str,
    allow_fragments: bool,
) -> Result<ParseResult<'a>, PyError> {
    urlsplit(url, scheme, allow_fragments).map(parse_split)
}

/// The rest of `urlparse`: `;params` split off the path of `urlsplit`'s result (from
/// [`urlsplit`] or [`urlsplit_without_controls`]).
pub fn parse_split(s: SplitResult<'_>) -> ParseResult<'_> {
    let (path, params) = if has(&s.path, b';') && USES_PARAMS.contains(&s.scheme.as_ref()) {
        split_params(s.path)
    } else {
        (s.path, Cow::Borrowed(""))
    };
    ParseResult {
        scheme: s.scheme,
        netloc: s.netloc,
        path,
        params,
        query: s.query,
        fragment: s.fragment,
    }
}

/// `_splitparams`: `;params` of the last path segment.
fn split_params(path: Cow<'_, str>) -> (Cow<'_, str>, Cow<'_, str>) {
    let i = match path.rfind('/') {
        Some(slash) => match path[slash..].find(';') {
            Some(j) => slash + j,
            None => return (path, Cow::Borrowed("")),
        },
        None => path.find(';').unwrap_or(0),
    };
    match path {
        Cow::Borrowed(p) => (Cow::Borrowed(&p[..i]), Cow::Borrowed(&p[i + 1..])),
        Cow::Owned(p) => (
            Cow::Owned(p[..i].to_owned()),
            Cow::Owned(p[i + 1..].to_owned()),
        ),
    }
}

/// `urlunsplit((scheme, netloc, url, query, fragment))`.
pub fn urlunsplit(scheme: &str, netloc: &str, path: &str, query: &str, fragment: &str) -> String {
    let mut out = String::with_capacity(
        scheme.len() + netloc.len() + path.len() + query.len() + fragment.len() + 8,
    );
    if !scheme.is_empty() {
        out.push_str(scheme);
        out.push(':');
    }
    if !netloc.is_empty() {
        out.push_str("//");
        out.push_str(netloc);
        if !path.is_empty() && !path.starts_with('/') {
            out.push('/');
        }
    } else if path.starts_with("//")
        || (!scheme.is_empty()
            && USES_NETLOC.contains(&scheme)
            && (path.is_empty() || path.starts_with('/')))
    {
        out.push_str("//");
    }
    out.push_str(path);
    if !query.is_empty() {
        out.push('?');
        out.push_str(query);
    }
    if !fragment.is_empty() {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// `urlunparse((scheme, netloc, url, params, query, fragment))`.
pub fn urlunparse(
    scheme: &str,
    netloc: &str,
    path: &str,
    params: &str,
    query: &str,
    fragment: &str,
) -> String {
    if params.is_empty() {
        urlunsplit(scheme, netloc, path, query, fragment)
    } else {
        let path = format!("{path};{params}");
        urlunsplit(scheme, netloc, &path, query, fragment)
    }
}

/// `.username` of a result with this netloc.
pub fn username(netloc: &str) -> Option<&str> {
    let (userinfo, _) = rsplit_at_byte(netloc, b'@')?;
    Some(split_at_byte(userinfo, b':').map_or(userinfo, |(u, _)| u))
}

/// `.password` of a result with this netloc.
pub fn password(netloc: &str) -> Option<&str> {
    let (userinfo, _) = rsplit_at_byte(netloc, b'@')?;
    split_at_byte(userinfo, b':').map(|(_, p)| p)
}

/// `_hostinfo`: the raw hostname and port text (None when empty).
fn hostinfo(netloc: &str) -> (&str, Option<&str>) {
    host_port(rsplit_at_byte(netloc, b'@').map_or(netloc, |(_, h)| h))
}

/// The host and port parts of the text after the last `@`.
fn host_port(hostinfo: &str) -> (&str, Option<&str>) {
    let (host, port) = match split_at_byte(hostinfo, b'[') {
        Some((_, bracketed)) => {
            let (host, after) = split_at_byte(bracketed, b']').unwrap_or((bracketed, ""));
            (host, split_at_byte(after, b':').map_or("", |(_, p)| p))
        }
        None => split_at_byte(hostinfo, b':').unwrap_or((hostinfo, "")),
    };
    (host, (!port.is_empty()).then_some(port))
}

/// `.hostname` of a result with this netloc: lowercased, except an IPv6 zone after `%`.
pub fn hostname(netloc: &str) -> Option<Cow<'_, str>> {
    let scan = NetlocScan::of(netloc);
    if scan.plain {
        scan.hostname(netloc)
    } else {
        lower_host(hostinfo(netloc).0)
    }
}

fn lower_host(host: &str) -> Option<Cow<'_, str>> {
    if host.is_empty() {
        return None;
    }
    let (name, zone) = match find_byte(host, b'%') {
        Some(i) => host.split_at(i),
        None => (host, ""),
    };
    if name.is_ascii() && !name.bytes().any(|b| b.is_ascii_uppercase()) {
        return Some(Cow::Borrowed(host));
    }
    let mut out = if name.is_ascii() {
        name.to_ascii_lowercase()
    } else {
        name.to_lowercase()
    };
    out.push_str(zone);
    Some(Cow::Owned(out))
}

/// `.port` of a result with this netloc: raises as Python does when it is read.
pub fn port(netloc: &str) -> Result<Option<u16>, PyError> {
    parse_port(hostinfo(netloc).1)
}

fn parse_port(port: Option<&str>) -> Result<Option<u16>, PyError> {
    let Some(port) = port else {
        return Ok(None);
    };
    // Nearly every port: at most 5 digits, so no overflow, and a value in range.
    let bytes = port.as_bytes();
    if bytes.len() <= 5 && bytes.iter().all(u8::is_ascii_digit) {
        let v = bytes
            .iter()
            .fold(0u32, |v, &d| v * 10 + u32::from(d - b'0'));
        if let Ok(v) = u16::try_from(v) {
            return Ok(Some(v));
        }
    }
    if !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PyError::value(format!(
            "Port could not be cast to integer value as {}",
            repr(port)
        )));
    }
    let digits = port.trim_start_matches('0');
    match digits.parse::<u32>() {
        _ if digits.is_empty() => Ok(Some(0)),
        Ok(v) if v <= 65535 => Ok(u16::try_from(v).ok()),
        _ => Err(PyError::value("Port out of range 0-65535")),
    }
}

/// The four netloc attributes of a result, found in one pass over the netloc.
#[derive(Debug)]
pub struct Attributes<'a> {
    pub username: Option<&'a str>,
    pub password: Option<&'a str>,
    pub hostname: Option<Cow<'a, str>>,
    /// Reading `.port` may raise: the error is kept for the caller to report.
    pub port: Result<Option<u16>, PyError>,
}

/// `username`, `password`, `hostname` and `port` of a result with this netloc.
pub fn attributes(netloc: &str) -> Attributes<'_> {
    let scan = NetlocScan::of(netloc);
    if scan.plain {
        scan.attributes(netloc)
    } else {
        general_attributes(netloc)
    }
}

/// Where the delimiters of a netloc are, found in one pass over its bytes.
struct NetlocScan {
    /// The last `@`: userinfo before it, host and port after it.
    at: Option<usize>,
    /// The first `:` of the whole netloc (it splits the userinfo when it comes before `at`).
    first_colon: Option<usize>,
    /// The first `:` after `at`: the host ends there.
    host_colon: Option<usize>,
    /// The host and port (after `at`) have an ASCII capital. A capital in the port only costs
    /// a needless lowercase copy of a host that is lowercase already.
    upper: bool,
    /// False when the host and port hold a byte the general path must see: brackets, `%` (an
    /// IPv6 zone keeps its case), or non-ASCII (Unicode lowercasing).
    plain: bool,
}

impl NetlocScan {
    fn of(netloc: &str) -> NetlocScan {
        let (mut at, mut first_colon, mut host_colon) = (None, None, None);
        // The classes of the bytes after the last `@`.
        let mut seen = 0;
        for (i, &b) in netloc.as_bytes().iter().enumerate() {
            let class = NETLOC_BYTE[usize::from(b)];
            seen |= class;
            if class & (AT | COLON) == 0 {
                continue;
            }
            if class == AT {
                // Everything so far was userinfo: start the host over.
                at = Some(i);
                host_colon = None;
                seen = 0;
            } else {
                first_colon.get_or_insert(i);
                host_colon.get_or_insert(i);
            }
        }
        NetlocScan {
            at,
            first_colon,
            host_colon,
            upper: seen & UPPER != 0,
            plain: seen & SPECIAL == 0,
        }
    }

    /// The attributes of a netloc whose scan is `plain`.
    fn attributes(self, netloc: &str) -> Attributes<'_> {
        let (username, password) = match self.at {
            None => (None, None),
            Some(at) => match self.first_colon.filter(|&c| c < at) {
                Some(c) => (Some(&netloc[..c]), Some(&netloc[c + 1..at])),
                None => (Some(&netloc[..at]), None),
            },
        };
        let port = self.host_colon.map(|c| &netloc[c + 1..]);
        Attributes {
            username,
            password,
            hostname: self.hostname(netloc),
            port: parse_port(port.filter(|p| !p.is_empty())),
        }
    }

    /// `.hostname` of a netloc whose scan is `plain`.
    fn hostname<'a>(&self, netloc: &'a str) -> Option<Cow<'a, str>> {
        let host_start = self.at.map_or(0, |at| at + 1);
        let host = &netloc[host_start..self.host_colon.unwrap_or(netloc.len())];
        match host {
            "" => None,
            _ if self.upper => Some(Cow::Owned(host.to_ascii_lowercase())),
            _ => Some(Cow::Borrowed(host)),
        }
    }
}

/// [`attributes`] for any netloc, brackets and non-ASCII hosts included.
fn general_attributes(netloc: &str) -> Attributes<'_> {
    let (userinfo, hostinfo) = match rsplit_at_byte(netloc, b'@') {
        Some((u, h)) => (Some(u), h),
        None => (None, netloc),
    };
    let (username, password) = match userinfo.map(|u| (u, split_at_byte(u, b':'))) {
        Some((_, Some((user, pw)))) => (Some(user), Some(pw)),
        Some((u, None)) => (Some(u), None),
        None => (None, None),
    };
    let (host, port) = host_port(hostinfo);
    Attributes {
        username,
        password,
        hostname: lower_host(host),
        port: parse_port(port),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(u: &str) -> (String, String, String, String, String) {
        let r = urlsplit(u, "", true).expect("valid");
        (
            r.scheme.into(),
            r.netloc.into(),
            r.path.into(),
            r.query.into(),
            r.fragment.into(),
        )
    }

    #[test]
    fn splits_like_python() {
        assert_eq!(
            split(" \thttp://u:p@Host:80/p;a?q#f\r\n"),
            (
                "http".into(),
                "u:p@Host:80".into(),
                "/p;a".into(),
                "q".into(),
                "f".into()
            )
        );
        let p = urlparse("http://h/a;b/c;d?q", "", true).expect("valid");
        assert_eq!((p.path.as_ref(), p.params.as_ref()), ("/a;b/c", "d"));
        assert_eq!(
            hostname("u@[FE80::1%ZoNe]:8").as_deref(),
            Some("fe80::1%ZoNe")
        );
        assert_eq!(port("h:0080").expect("ok"), Some(80));
        assert_eq!(
            port("h:65536").expect_err("range").message,
            "Port out of range 0-65535"
        );
        assert_eq!(
            port("h:8x").expect_err("cast").message,
            "Port could not be cast to integer value as '8x'"
        );
    }

    #[test]
    fn brackets_are_checked() {
        for bad in [
            "http://[::1]x/",
            "http://prefix.[v6a.ip]/",
            "http://[::1/",
            "http://::1]/",
        ] {
            assert_eq!(
                urlsplit(bad, "", true).expect_err(bad).message,
                "Invalid IPv6 URL"
            );
        }
        assert_eq!(
            urlsplit("http://[127.0.0.1]/", "", true)
                .expect_err("v4")
                .message,
            "An IPv4 address cannot be in brackets"
        );
        assert!(urlsplit("http://[v1.a]:8/", "", true).is_ok());
        assert!(urlsplit("http://[::ffff:1.2.3.4]/", "", true).is_ok());
        assert!(urlsplit("http://[1:2:3:4:5:6:7::]/", "", true).is_ok());
        assert!(urlsplit("http://[1:2:3:4:5:6:7:8:9]/", "", true).is_err());
    }

    /// Every netloc of up to 5 characters from an alphabet of the delimiters, a capital, a
    /// digit and a non-ASCII letter: the one-pass scan agrees with the general path.
    #[test]
    fn netloc_scan_agrees_with_general_path() {
        let alphabet = ['a', 'B', '@', ':', '[', ']', '%', 'é', '1'];
        let mut level = vec![String::new()];
        let mut netlocs = level.clone();
        for _ in 0..5 {
            level = level
                .iter()
                .flat_map(|n| alphabet.iter().map(move |c| format!("{n}{c}")))
                .collect();
            netlocs.extend(level.iter().cloned());
        }
        assert!(netlocs.len() > 60_000);
        for n in &netlocs {
            let fast = format!("{:?}", attributes(n));
            assert_eq!(fast, format!("{:?}", general_attributes(n)), "{n:?}");
            assert_eq!(hostname(n), lower_host(hostinfo(n).0), "{n:?}");
        }
    }
}
