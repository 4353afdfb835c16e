//! `postie url`: flags, and each subcommand over the batch runner ([`crate::cli::batch`], whose
//! rules `postie qs` shares), the JSON writer ([`crate::cli::json_out`]) and, for `url get`,
//! the template language ([`crate::cli::url_template`]).

use std::borrow::Cow;

use clap::{Args, Subcommand};

use crate::cli::CliError;
use crate::cli::batch::{Batch, for_each_input, simple_batch};
use crate::cli::json_out::{json_error, json_known_opt, json_str, json_text, needs_escape};
use crate::cli::url_template::{parse_template, render};
use crate::error::Error;
use crate::exit::Exit;
use crate::urlparse::{self, Codec, Errors, PyError, split};

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
fn get(a: &GetArgs) -> Result<Exit, Error> {
    let pieces = parse_template(&a.template)?;
    let mut batch = Batch::new("url get");
    for_each_input(&a.urls, &mut batch, |batch, input, raw| {
        let mark = batch.buf.len();
        let (scheme, fragments) = (&a.flags.default_scheme, !a.flags.no_fragments);
        let r = input.and_then(|url| render(&pieces, url, scheme, fragments, &mut batch.buf));
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
