//! `postie url`: flags, the batch loop over arguments or stdin lines, and the output formats.
//!
//! Batch rules (shared with `postie qs`): inputs come from the arguments, or one per line
//! from stdin when there are none (split on LF only; a CR stays in the input, as Python's
//! `for line in sys.stdin` with `line[:-1]` would keep it). Every input gives exactly one output
//! record, in input order; a failing input is reported and the batch goes on, ending with exit 1.
//! A stdin line that is not UTF-8 fails with the UnicodeDecodeError Python's strict UTF-8 stdin
//! would raise (Python itself would stop the whole script there).

use std::borrow::Cow;
use std::io::{self, Read, StdoutLock, Write};

use clap::{Args, Subcommand};

use crate::cli::CliError;
use crate::error::{Error, Exit};
use crate::urlparse::pyrepr::repr;
use crate::urlparse::query::for_each_pair;
use crate::urlparse::{self, Codec, Errors, PyError, QsOptions, UrlError, split};

#[derive(Debug, Args)]
pub struct UrlArgs {
    #[command(subcommand)]
    pub command: UrlCommand,
}

#[derive(Debug, Subcommand)]
pub enum UrlCommand {
    /// urlparse (or urlsplit) each URL: fields and attributes.
    Parse(ParseArgs),
    /// Print fields of each URL through a template ({hostname}, {query:NAME}...).
    Get(GetArgs),
    /// urlunparse/urlunsplit: build a URL from fields or from `url parse --json` lines.
    Unparse(UnparseArgs),
    /// urljoin each REF onto BASE.
    Join(JoinArgs),
    /// urldefrag each URL.
    Defrag(DefragArgs),
    /// quote (or quote_plus) each TEXT.
    Quote(QuoteArgs),
    /// unquote (or unquote_plus) each TEXT.
    Unquote(UnquoteArgs),
}

/// urlparse/urlsplit options.
#[derive(Debug, Args)]
pub struct SplitFlags {
    /// The scheme= default for URLs that have none.
    #[arg(long, value_name = "S", default_value = "")]
    pub default_scheme: String,
    /// allow_fragments=False: keep `#...` in the path or query.
    #[arg(long)]
    pub no_fragments: bool,
}

#[derive(Debug, Args)]
pub struct ParseArgs {
    /// URLs; one per line from stdin when none are given.
    pub urls: Vec<String>,
    /// JSON Lines: one object per URL (null where Python gives None).
    #[arg(long)]
    pub json: bool,
    /// urlsplit's five fields instead of urlparse's six (no params).
    #[arg(long)]
    pub split: bool,
    #[command(flatten)]
    pub flags: SplitFlags,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// Template: {scheme} {netloc} {path} {params} {query} {fragment} {username} {password}
    /// {hostname} {port} {url} {query:NAME} {query-all:NAME}; `{{` is a literal `{`.
    pub template: String,
    /// URLs; one per line from stdin when none are given.
    pub urls: Vec<String>,
    #[command(flatten)]
    pub flags: SplitFlags,
}

#[derive(Debug, Args)]
pub struct UnparseArgs {
    #[arg(long)]
    pub scheme: Option<String>,
    #[arg(long)]
    pub netloc: Option<String>,
    #[arg(long)]
    pub path: Option<String>,
    /// Given (even empty): urlunparse; otherwise urlunsplit.
    #[arg(long)]
    pub params: Option<String>,
    #[arg(long)]
    pub query: Option<String>,
    #[arg(long)]
    pub fragment: Option<String>,
}

#[derive(Debug, Args)]
pub struct JoinArgs {
    /// The base URL.
    pub base: String,
    /// References; one per line from stdin when none are given.
    pub refs: Vec<String>,
    /// allow_fragments=False.
    #[arg(long)]
    pub no_fragments: bool,
}

#[derive(Debug, Args)]
pub struct DefragArgs {
    /// URLs; one per line from stdin when none are given.
    pub urls: Vec<String>,
    /// JSON Lines with `url` and `fragment` (text mode prints only the URL).
    #[arg(long)]
    pub json: bool,
}

/// encoding= and errors= of the quoting functions.
#[derive(Debug, Args)]
pub struct CodecFlags {
    /// Python codec: utf-8, latin-1 (iso-8859-1), ascii, cp1252.
    #[arg(long, value_name = "E", default_value = "utf-8")]
    pub encoding: String,
    /// Python error handler: strict, replace or ignore (default: Python's for the function).
    #[arg(long, value_name = "E")]
    pub errors: Option<String>,
}

impl CodecFlags {
    /// The validated codec and handler; `default` is the function's own default handler.
    pub fn resolve(&self, default: Errors) -> Result<(Codec, Errors), CliError> {
        let codec = Codec::lookup(&self.encoding)
            .map_err(|e| CliError::invalid("--encoding", e.message))?;
        let errors = match &self.errors {
            None => default,
            Some(name) => Errors::lookup(name).ok_or_else(|| {
                CliError::invalid("--errors", format!("{name}: use strict, replace or ignore"))
            })?,
        };
        Ok((codec, errors))
    }
}

#[derive(Debug, Args)]
pub struct QuoteArgs {
    /// Texts; one per line from stdin when none are given.
    pub texts: Vec<String>,
    /// quote_plus: spaces become `+` (and the default safe set is empty).
    #[arg(long)]
    pub plus: bool,
    /// Characters not to quote (default: `/` for quote, none for quote_plus).
    #[arg(long, value_name = "S")]
    pub safe: Option<String>,
    #[command(flatten)]
    pub codec: CodecFlags,
}

#[derive(Debug, Args)]
pub struct UnquoteArgs {
    /// Texts; one per line from stdin when none are given.
    pub texts: Vec<String>,
    /// unquote_plus: `+` becomes a space first.
    #[arg(long)]
    pub plus: bool,
    #[command(flatten)]
    pub codec: CodecFlags,
}

pub fn run(args: UrlArgs) -> Result<Exit, Error> {
    match args.command {
        UrlCommand::Parse(a) => parse(&a),
        UrlCommand::Get(a) => get(&a),
        UrlCommand::Unparse(a) => unparse(&a),
        UrlCommand::Join(a) => join(&a),
        UrlCommand::Defrag(a) => defrag(&a),
        UrlCommand::Quote(a) => quote(&a),
        UrlCommand::Unquote(a) => unquote(&a),
    }
}

// ---------------------------------------------------------------------------------------------
// The batch loop and output, shared with `postie qs`.

/// Output size past which a batch writes its buffer to stdout: one syscall per many records.
const FLUSH_AT: usize = 1 << 16;

/// Stdout, the output buffer records are written into, and the failure count of a batch.
#[derive(Debug)]
pub(crate) struct Batch {
    what: &'static str,
    out: StdoutLock<'static>,
    /// Records are appended here; [`Batch::flush_if_full`] writes them out.
    pub buf: Vec<u8>,
    failed: u64,
}

impl Batch {
    pub fn new(what: &'static str) -> Batch {
        Batch {
            what,
            out: io::stdout().lock(),
            buf: Vec::with_capacity(FLUSH_AT + 4096),
            failed: 0,
        }
    }

    fn flush(&mut self) -> Result<(), Error> {
        self.out
            .write_all(&self.buf)
            .and_then(|()| self.out.flush())
            .map_err(|e| Error::output("stdout", e))?;
        self.buf.clear();
        Ok(())
    }

    pub fn flush_if_full(&mut self) -> Result<(), Error> {
        if self.buf.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(())
    }

    /// Counts a failed input and reports it on stderr as `postie: <cmd>: '<input>': <error>`.
    pub fn report(&mut self, input: &str, err: &dyn std::fmt::Display) {
        self.failed += 1;
        // A closed stderr must not stop the batch (eprintln! would panic).
        let _ = writeln!(
            io::stderr(),
            "postie: {}: {}: {err}",
            self.what,
            repr(input)
        );
    }

    /// Counts a failed input whose error went into the output record (JSON mode).
    pub fn count_failure(&mut self) {
        self.failed += 1;
    }

    pub fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.buf.extend_from_slice(bytes);
        self.flush_if_full()
    }

    pub fn finish(mut self) -> Result<Exit, Error> {
        self.flush()?;
        Ok(Exit::from_all_ok(self.failed == 0))
    }
}

/// Calls `f` with each input: the arguments, or each stdin line (LF removed, CR kept) when
/// there are none. A stdin line that is not UTF-8 comes as the error Python would raise.
pub(crate) fn for_each_input(
    args: &[String],
    batch: &mut Batch,
    mut f: impl FnMut(&mut Batch, Result<&str, PyError>, &[u8]) -> Result<(), Error>,
) -> Result<(), Error> {
    if !args.is_empty() {
        for a in args {
            f(batch, Ok(a), a.as_bytes())?;
        }
        return Ok(());
    }
    let mut stdin = io::stdin().lock();
    // Lines are handled in place in one buffer; it grows only for a line longer than itself,
    // so memory does not depend on the number of lines.
    let mut buf = vec![0u8; 1 << 18];
    let (mut start, mut end) = (0, 0);
    loop {
        start += complete_lines(&buf[start..end], batch, &mut f)?;
        buf.copy_within(start..end, 0);
        end -= start;
        start = 0;
        if end == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = match stdin.read(&mut buf[end..]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(UrlError::Read(e).into()),
        };
        if n == 0 {
            if end > 0 {
                one_line(&buf[..end], batch, &mut f)?;
            }
            return Ok(());
        }
        end += n;
    }
}

/// Hands each complete (LF-ended) line of `block` to `f`; returns the bytes consumed.
/// UTF-8 is checked once for all the lines: LF is ASCII, so the lines of valid text are valid
/// text. Only a block with a bad sequence is checked again line by line, to name the line.
fn complete_lines(
    block: &[u8],
    batch: &mut Batch,
    f: &mut impl FnMut(&mut Batch, Result<&str, PyError>, &[u8]) -> Result<(), Error>,
) -> Result<usize, Error> {
    let Some(last) = memchr::memrchr(b'\n', block) else {
        return Ok(0);
    };
    let lines = &block[..last];
    match std::str::from_utf8(lines) {
        Ok(text) => {
            let mut from = 0;
            for to in memchr::memchr_iter(b'\n', lines).chain([last]) {
                let line = &text[from..to];
                f(batch, Ok(line), line.as_bytes())?;
                batch.flush_if_full()?;
                from = to + 1;
            }
        }
        Err(_) => {
            for line in lines.split(|&b| b == b'\n') {
                one_line(line, batch, f)?;
            }
        }
    }
    Ok(last + 1)
}

/// Hands one stdin line (LF removed) to `f` as text, or as Python's UnicodeDecodeError.
fn one_line(
    line: &[u8],
    batch: &mut Batch,
    f: &mut impl FnMut(&mut Batch, Result<&str, PyError>, &[u8]) -> Result<(), Error>,
) -> Result<(), Error> {
    match std::str::from_utf8(line) {
        Ok(s) => f(batch, Ok(s), line)?,
        Err(_) => {
            let err = Codec::Utf8
                .decode(line, Errors::Strict)
                .err()
                .unwrap_or_else(|| PyError::value("invalid UTF-8"));
            f(batch, Err(err), line)?;
        }
    }
    batch.flush_if_full()
}

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
fn json_text(out: &mut Vec<u8>, s: &str, clean: bool) {
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
fn json_known_opt(out: &mut Vec<u8>, s: Option<&str>, clean: bool) {
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

// ---------------------------------------------------------------------------------------------
// url parse

/// The fields of one parsed URL, as `url parse` prints them.
struct Parsed<'a> {
    fields: [(&'static str, Cow<'a, str>); 6],
    nfields: usize,
}

fn parse_one<'a>(url: &'a str, a: &'a ParseArgs) -> Result<Parsed<'a>, PyError> {
    let frag = !a.flags.no_fragments;
    if a.split {
        let s = urlparse::urlsplit(url, &a.flags.default_scheme, frag)?;
        Ok(Parsed {
            fields: [
                ("scheme", s.scheme),
                ("netloc", s.netloc),
                ("path", s.path),
                ("query", s.query),
                ("fragment", s.fragment),
                ("", Cow::Borrowed("")),
            ],
            nfields: 5,
        })
    } else {
        let p = urlparse::urlparse(url, &a.flags.default_scheme, frag)?;
        Ok(Parsed {
            fields: [
                ("scheme", p.scheme),
                ("netloc", p.netloc),
                ("path", p.path),
                ("params", p.params),
                ("query", p.query),
                ("fragment", p.fragment),
            ],
            nfields: 6,
        })
    }
}

fn parse(a: &ParseArgs) -> Result<Exit, Error> {
    let mut batch = Batch::new("url parse");
    let mut first = true;
    let scheme_clean = !needs_escape(a.flags.default_scheme.as_bytes());
    for_each_input(&a.urls, &mut batch, |batch, input, raw| {
        if a.json {
            // Every field is a piece of the input or of the default scheme (the hostname
            // lowercased): when neither has a byte to escape, none has.
            let clean = scheme_clean && !needs_escape(raw);
            match input.and_then(|url| parse_json(&mut batch.buf, url, a, clean)) {
                Ok(true) => {}
                Ok(false) => batch.count_failure(),
                Err(e) => {
                    batch.count_failure();
                    json_error(&mut batch.buf, "url", raw, &e);
                }
            }
            return Ok(());
        }
        match input.and_then(|url| parse_one(url, a)) {
            Ok(p) => {
                if let Some(e) = parse_text(&mut batch.buf, &p, &mut first) {
                    batch.report(&String::from_utf8_lossy(raw), &e);
                }
            }
            Err(e) => {
                batch.report(&String::from_utf8_lossy(raw), &e);
                separate(&mut batch.buf, &mut first);
                batch
                    .buf
                    .extend_from_slice(format!("error: {e}\n").as_bytes());
            }
        }
        Ok(())
    })?;
    batch.finish()
}

fn separate(buf: &mut Vec<u8>, first: &mut bool) {
    if !*first {
        buf.push(b'\n');
    }
    *first = false;
}

/// The JSON keys of urlparse's fields, in order, each with the punctuation between the
/// previous value and this one: the quotes around the values come with the keys.
const URLPARSE_KEYS: [&str; 6] = [
    "{\"scheme\": \"",
    "\", \"netloc\": \"",
    "\", \"path\": \"",
    "\", \"params\": \"",
    "\", \"query\": \"",
    "\", \"fragment\": \"",
];
/// [`URLPARSE_KEYS`] for urlsplit's fields.
const URLSPLIT_KEYS: [&str; 5] = [
    "{\"scheme\": \"",
    "\", \"netloc\": \"",
    "\", \"path\": \"",
    "\", \"query\": \"",
    "\", \"fragment\": \"",
];

/// Parses `url` and appends its JSON record. Ok(false) when reading the port failed (the
/// record says why).
fn parse_json(buf: &mut Vec<u8>, url: &str, a: &ParseArgs, clean: bool) -> Result<bool, PyError> {
    let frag = !a.flags.no_fragments;
    let scheme = &a.flags.default_scheme;
    // A clean input has no byte below 0x20: no tab, CR or LF for urlsplit to remove.
    let s = if clean {
        split::urlsplit_without_controls(url, scheme, frag)?
    } else {
        urlparse::urlsplit(url, scheme, frag)?
    };
    if a.split {
        let fields = [&s.scheme, &s.netloc, &s.path, &s.query, &s.fragment];
        return Ok(json_record(buf, &URLSPLIT_KEYS, fields, clean));
    }
    let p = split::parse_split(s);
    let fields = [
        &p.scheme,
        &p.netloc,
        &p.path,
        &p.params,
        &p.query,
        &p.fragment,
    ];
    Ok(json_record(buf, &URLPARSE_KEYS, fields, clean))
}

/// Appends the JSON record of these fields (the netloc second) and of the netloc's
/// attributes; false when reading the port failed (the record says why). A copy per field
/// count: the loop unrolls, and the keys' lengths are constants.
fn json_record<const N: usize>(
    buf: &mut Vec<u8>,
    keys: &[&str; N],
    fields: [&Cow<'_, str>; N],
    clean: bool,
) -> bool {
    for (key, value) in keys.iter().zip(fields) {
        buf.extend_from_slice(key.as_bytes());
        if clean {
            buf.extend_from_slice(value.as_bytes());
        } else {
            json_text(buf, value, false);
        }
    }
    let attrs = split::attributes(fields.get(1).map_or("", |n| n));
    match (attrs.username, attrs.password) {
        // Nearly every URL: one copy for both nulls.
        (None, None) => {
            buf.extend_from_slice(b"\", \"username\": null, \"password\": null, \"hostname\": ");
        }
        (username, password) => {
            buf.extend_from_slice(b"\", \"username\": ");
            json_known_opt(buf, username, clean);
            buf.extend_from_slice(b", \"password\": ");
            json_known_opt(buf, password, clean);
            buf.extend_from_slice(b", \"hostname\": ");
        }
    }
    json_known_opt(buf, attrs.hostname.as_deref(), clean);
    buf.extend_from_slice(b", \"port\": ");
    match attrs.port {
        Ok(Some(port)) => {
            let mut digits = [0u8; 5];
            buf.extend_from_slice(u16_digits(port, &mut digits));
        }
        Ok(None) => buf.extend_from_slice(b"null"),
        Err(e) => {
            buf.extend_from_slice(b"null, \"error\": ");
            json_str(buf, &e.to_string());
            buf.extend_from_slice(b"}\n");
            return false;
        }
    }
    buf.extend_from_slice(b"}\n");
    true
}

/// The decimal digits of `n`, without allocating.
fn u16_digits(mut n: u16, out: &mut [u8; 5]) -> &[u8] {
    let mut i = out.len();
    loop {
        i -= 1;
        out[i] = b'0' + u8::try_from(n % 10).unwrap_or(0);
        n /= 10;
        if n == 0 {
            return &out[i..];
        }
    }
}

/// Appends the text record; the port's error when reading it failed.
fn parse_text(buf: &mut Vec<u8>, p: &Parsed<'_>, first: &mut bool) -> Option<PyError> {
    separate(buf, first);
    for (name, value) in &p.fields[..p.nfields] {
        buf.extend_from_slice(format!("{name}: {value}\n").as_bytes());
    }
    let attrs = split::attributes(&p.fields[1].1);
    let none = |s: Option<&str>| s.unwrap_or("None").to_owned();
    buf.extend_from_slice(format!("username: {}\n", none(attrs.username)).as_bytes());
    buf.extend_from_slice(format!("password: {}\n", none(attrs.password)).as_bytes());
    let host = none(attrs.hostname.as_deref());
    buf.extend_from_slice(format!("hostname: {host}\n").as_bytes());
    match attrs.port {
        Ok(port) => {
            let port = port.map_or_else(|| "None".to_owned(), |p| p.to_string());
            buf.extend_from_slice(format!("port: {port}\n").as_bytes());
            None
        }
        Err(e) => {
            buf.extend_from_slice(format!("port: error: {e}\n").as_bytes());
            Some(e)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// url get

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Field(&'static str),
    Query { name: String, all: bool },
}

const FIELDS: &[&str] = &[
    "url", "scheme", "netloc", "path", "params", "query", "fragment", "username", "password",
    "hostname", "port",
];

/// Parses a trurl-style template into pieces.
fn parse_template(t: &str) -> Result<Vec<Piece>, CliError> {
    let bad = |why: String| CliError::invalid("TEMPLATE", why);
    let mut pieces = Vec::new();
    let mut lit = String::new();
    let mut rest = t;
    while let Some(i) = rest.find('{') {
        lit.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('{') {
            lit.push('{');
            rest = r;
            continue;
        }
        let end = rest
            .find('}')
            .ok_or_else(|| bad(format!("unclosed '{{' in {t:?}")))?;
        let name = &rest[..end];
        rest = &rest[end + 1..];
        let piece = if let Some(q) = name.strip_prefix("query:") {
            Piece::Query {
                name: q.to_owned(),
                all: false,
            }
        } else if let Some(q) = name.strip_prefix("query-all:") {
            Piece::Query {
                name: q.to_owned(),
                all: true,
            }
        } else if let Some(f) = FIELDS.iter().find(|f| **f == name) {
            Piece::Field(f)
        } else {
            return Err(bad(format!(
                "unknown field {{{name}}} (known: {}, query:NAME, query-all:NAME)",
                FIELDS.join(", ")
            )));
        };
        if !lit.is_empty() {
            pieces.push(Piece::Literal(std::mem::take(&mut lit)));
        }
        pieces.push(piece);
    }
    lit.push_str(rest);
    if !lit.is_empty() {
        pieces.push(Piece::Literal(lit));
    }
    Ok(pieces)
}

/// Renders one URL through the template; reading `{port}` may fail, as in Python.
fn render(
    pieces: &[Piece],
    url: &str,
    flags: &SplitFlags,
    out: &mut Vec<u8>,
) -> Result<(), PyError> {
    let p = urlparse::urlparse(url, &flags.default_scheme, !flags.no_fragments)?;
    for piece in pieces {
        match piece {
            Piece::Literal(s) => out.extend_from_slice(s.as_bytes()),
            Piece::Field(f) => {
                let v: Cow<'_, str> = match *f {
                    "url" => Cow::Borrowed(url),
                    "scheme" => Cow::Borrowed(&p.scheme),
                    "netloc" => Cow::Borrowed(&p.netloc),
                    "path" => Cow::Borrowed(&p.path),
                    "params" => Cow::Borrowed(&p.params),
                    "query" => Cow::Borrowed(&p.query),
                    "fragment" => Cow::Borrowed(&p.fragment),
                    "username" => Cow::Borrowed(split::username(&p.netloc).unwrap_or("")),
                    "password" => Cow::Borrowed(split::password(&p.netloc).unwrap_or("")),
                    "hostname" => split::hostname(&p.netloc).unwrap_or_default(),
                    _ => split::port(&p.netloc)?
                        .map_or(Cow::Borrowed(""), |n| Cow::Owned(n.to_string())),
                };
                out.extend_from_slice(v.as_bytes());
            }
            Piece::Query { name, all } => query_values(&p.query, name, *all, out)?,
        }
    }
    out.push(b'\n');
    Ok(())
}

/// `parse_qs(query)[name][0]`, or all its values space-separated; nothing when absent.
fn query_values(query: &str, name: &str, all: bool, out: &mut Vec<u8>) -> Result<(), PyError> {
    let mut n = 0;
    for_each_pair(query, &QsOptions::default(), |k, v| {
        if k == name && (all || n == 0) {
            if n > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(v.as_bytes());
            n += 1;
        }
    })
}

fn get(a: &GetArgs) -> Result<Exit, Error> {
    let pieces = parse_template(&a.template)?;
    let mut batch = Batch::new("url get");
    for_each_input(&a.urls, &mut batch, |batch, input, raw| {
        let mark = batch.buf.len();
        let r = input.and_then(|url| render(&pieces, url, &a.flags, &mut batch.buf));
        if let Err(e) = r {
            batch.buf.truncate(mark);
            batch.buf.push(b'\n');
            batch.report(&String::from_utf8_lossy(raw), &e);
        }
        Ok(())
    })?;
    batch.finish()
}

// ---------------------------------------------------------------------------------------------
// url unparse, join, defrag, quote, unquote

fn unparse(a: &UnparseArgs) -> Result<Exit, Error> {
    let given = [&a.netloc, &a.path, &a.params, &a.query, &a.fragment]
        .iter()
        .any(|f| f.is_some())
        || a.scheme.is_some();
    if given {
        let f = |o: &Option<String>| o.clone().unwrap_or_default();
        let url = match &a.params {
            Some(params) => split::urlunparse(
                &f(&a.scheme),
                &f(&a.netloc),
                &f(&a.path),
                params,
                &f(&a.query),
                &f(&a.fragment),
            ),
            None => split::urlunsplit(
                &f(&a.scheme),
                &f(&a.netloc),
                &f(&a.path),
                &f(&a.query),
                &f(&a.fragment),
            ),
        };
        let mut batch = Batch::new("url unparse");
        batch.write(format!("{url}\n").as_bytes())?;
        return batch.finish();
    }
    simple_batch("url unparse", &[], unparse_json_line)
}

/// One `url parse --json` line back to a URL: urlunparse when it has `params`, else urlunsplit.
fn unparse_json_line(line: &str) -> Result<String, PyError> {
    let v: serde_json::Value = serde_json::from_str(line)
        .map_err(|e| PyError::value(format!("not a JSON object: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| PyError::value("not a JSON object"))?;
    if let Some(err) = obj.get("error").and_then(|e| e.as_str())
        && !obj.contains_key("scheme")
    {
        return Err(PyError::value(format!("the record is an error: {err}")));
    }
    let field = |k: &str| -> Result<&str, PyError> {
        match obj.get(k) {
            None | Some(serde_json::Value::Null) => Ok(""),
            Some(serde_json::Value::String(s)) => Ok(s),
            Some(_) => Err(PyError::value(format!("field {k} is not a string"))),
        }
    };
    let (scheme, netloc, path) = (field("scheme")?, field("netloc")?, field("path")?);
    let (query, fragment) = (field("query")?, field("fragment")?);
    Ok(if obj.contains_key("params") {
        split::urlunparse(scheme, netloc, path, field("params")?, query, fragment)
    } else {
        split::urlunsplit(scheme, netloc, path, query, fragment)
    })
}

/// A batch where each input maps to one output line, or to an empty line and a report.
pub(crate) fn simple_batch(
    what: &'static str,
    inputs: &[String],
    f: impl Fn(&str) -> Result<String, PyError>,
) -> Result<Exit, Error> {
    let mut batch = Batch::new(what);
    for_each_input(inputs, &mut batch, |batch, input, raw| {
        match input.and_then(&f) {
            Ok(mut s) => {
                s.push('\n');
                batch.write(s.as_bytes())
            }
            Err(e) => {
                batch.report(&String::from_utf8_lossy(raw), &e);
                batch.write(b"\n")
            }
        }
    })?;
    batch.finish()
}

fn join(a: &JoinArgs) -> Result<Exit, Error> {
    simple_batch("url join", &a.refs, |r| {
        urlparse::urljoin(&a.base, r, !a.no_fragments)
    })
}

fn defrag(a: &DefragArgs) -> Result<Exit, Error> {
    simple_batch("url defrag", &a.urls, |u| {
        let (url, frag) = urlparse::urldefrag(u)?;
        if a.json {
            let mut buf = b"{\"url\": ".to_vec();
            json_str(&mut buf, &url);
            buf.extend_from_slice(b", \"fragment\": ");
            json_str(&mut buf, &frag);
            buf.push(b'}');
            Ok(String::from_utf8_lossy(&buf).into_owned())
        } else {
            Ok(url)
        }
    })
}

fn quote(a: &QuoteArgs) -> Result<Exit, Error> {
    let (codec, errors) = a.codec.resolve(Errors::Strict)?;
    let safe = a.safe.clone().unwrap_or_else(|| {
        if a.plus {
            String::new()
        } else {
            "/".to_owned()
        }
    });
    simple_batch("url quote", &a.texts, |t| {
        if a.plus {
            urlparse::quote_plus(t, &safe, codec, errors)
        } else {
            urlparse::quote(t, &safe, codec, errors)
        }
    })
}

fn unquote(a: &UnquoteArgs) -> Result<Exit, Error> {
    let (codec, errors) = a.codec.resolve(Errors::Replace)?;
    simple_batch("url unquote", &a.texts, |t| {
        let r = if a.plus {
            urlparse::unquote_plus(t, codec, errors)
        } else {
            urlparse::unquote(t, codec, errors)
        };
        r.map(Cow::into_owned)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_parse() {
        assert_eq!(
            parse_template("{{x} {hostname}:{query:a}").expect("valid"),
            vec![
                Piece::Literal("{x} ".into()),
                Piece::Field("hostname"),
                Piece::Literal(":".into()),
                Piece::Query {
                    name: "a".into(),
                    all: false
                }
            ]
        );
        assert!(parse_template("{nope}").is_err());
        assert!(parse_template("{host").is_err());
    }

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
