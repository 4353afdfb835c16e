//! `postie fetch`: curl's flag names, turned into a [`FetchConfig`] for the engine.
//!
//! Decisions where curl and the issue leave room: redirects are followed by default (`-L`
//! is accepted and changes nothing; `--no-follow` stops at the first response); data flags
//! join in the order -d, --data-raw, --data-binary, --data-urlencode (clap keeps order per
//! flag only); `-C` accepts only `-` (resume from the size of the existing file).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::CliError;
use crate::cli::common::PasswordArgs;
use crate::cookies::{CookieOptions, CookieSource};
use crate::error::{Error, Exit};
use crate::fetch::{
    Auth, FetchConfig, FetchError, FormPart, Job, OutputTarget, ProxySettings, RequestBody,
    urlencode_component,
};
use crate::netrc::Netrc;
use crate::secret::{PasswordLookup, Secret, resolve_password};
use crate::tls::TlsOptions;

const FORM_URLENCODED: &str = "application/x-www-form-urlencoded";

/// The flags of `postie fetch` (boxed: they are many, and the subcommand enum stays small).
#[derive(Debug, clap::Args)]
pub struct FetchArgs {
    #[command(flatten)]
    pub flags: Box<FetchFlags>,
}

#[derive(Debug, clap::Args)]
pub struct FetchFlags {
    /// The URLs to fetch, in order (one connection pool for all).
    #[arg(value_name = "URL", required = true)]
    pub urls: Vec<String>,

    /// The request method (GET, POST, PUT, DELETE, ...).
    #[arg(short = 'X', long = "request", value_name = "METHOD")]
    pub method: Option<String>,
    /// Form data (application/x-www-form-urlencoded); `@file` reads a file (newlines
    /// removed), `@-` stdin. Repeats join with `&`. Implies POST.
    #[arg(short = 'd', long = "data", value_name = "DATA")]
    pub data: Vec<String>,
    /// Like -d, but `@` has no special meaning.
    #[arg(long = "data-raw", value_name = "DATA")]
    pub data_raw: Vec<String>,
    /// Data sent exactly as given; `@file` is streamed from disk as is.
    #[arg(long = "data-binary", value_name = "DATA")]
    pub data_binary: Vec<String>,
    /// Data to percent-encode: `content`, `=content`, `name=content`, `@file`, `name@file`.
    #[arg(long = "data-urlencode", value_name = "DATA")]
    pub data_urlencode: Vec<String>,
    /// JSON data (or `@file`): sets Content-Type and Accept to application/json.
    #[arg(long, value_name = "DATA")]
    pub json: Vec<String>,
    /// A multipart/form-data part: `name=value`, `name=@file[;type=T][;filename=N]`,
    /// `name=<file` (file content as a text field). File parts are streamed.
    #[arg(short = 'F', long = "form", value_name = "PART")]
    pub form: Vec<String>,
    /// Put the data into the URL's query string and send a GET.
    #[arg(short = 'G', long)]
    pub get: bool,
    /// Send HEAD and print the response headers.
    #[arg(short = 'I', long)]
    pub head: bool,

    /// An extra header `Name: value` (repeatable); `Name:` removes a default header.
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub headers: Vec<String>,
    /// The User-Agent header.
    #[arg(short = 'A', long = "user-agent", value_name = "NAME")]
    pub user_agent: Option<String>,
    /// The Referer header.
    #[arg(short = 'e', long, value_name = "URL")]
    pub referer: Option<String>,
    /// Basic authentication `user[:password]`; without a password it is looked up in
    /// ~/.netrc or asked for on the terminal (no echo).
    #[arg(short = 'u', long = "user", value_name = "USER[:PASSWORD]")]
    pub user: Option<String>,
    /// Where the password of `-u USER` comes from (else ~/.netrc, else a prompt).
    #[command(flatten)]
    pub password: PasswordArgs,
    /// Take credentials from ~/.netrc for each host.
    #[arg(long)]
    pub netrc: bool,
    /// Take credentials from this netrc file.
    #[arg(long, value_name = "FILE")]
    pub netrc_file: Option<PathBuf>,

    /// Follow redirects (the default; accepted for curl users).
    #[arg(short = 'L', long)]
    pub location: bool,
    /// Do not follow redirects: stop at the first response.
    #[arg(long)]
    pub no_follow: bool,
    /// The most redirects to follow (-1: no limit).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 10,
        allow_negative_numbers = true
    )]
    pub max_redirs: i64,

    /// Write the body to FILE (repeat once per URL); `-` is stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Vec<PathBuf>,
    /// Name the output file after the URL's last path segment (for every URL without its
    /// own -o, as curl's --remote-name-all).
    #[arg(short = 'O', long = "remote-name", visible_alias = "remote-name-all")]
    pub remote_name: bool,
    /// With -O: take the name from the Content-Disposition header (sanitised).
    #[arg(short = 'J', long = "remote-header-name")]
    pub remote_header_name: bool,
    /// With -J: allow replacing an existing file.
    #[arg(long)]
    pub clobber: bool,
    /// The folder for -o and -O files (must exist).
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// `-`: resume a download into the existing output file.
    #[arg(
        short = 'C',
        long = "continue-at",
        value_name = "-",
        allow_hyphen_values = true
    )]
    pub continue_at: Option<String>,
    /// Write the response headers before the body.
    #[arg(short = 'i', long)]
    pub include: bool,
    /// On HTTP status >= 400: no body, exit 22.
    #[arg(short = 'f', long, conflicts_with = "fail_with_body")]
    pub fail: bool,
    /// On HTTP status >= 400: write the body, then exit 22.
    #[arg(long)]
    pub fail_with_body: bool,
    /// Ask for a compressed response and decode it (the default; accepted for curl users).
    #[arg(long, conflicts_with = "raw")]
    pub compressed: bool,
    /// No progress and no error messages.
    #[arg(short = 's', long)]
    pub silent: bool,
    /// With -s: still show error messages.
    #[arg(short = 'S', long)]
    pub show_error: bool,
    /// Show request and response headers on stderr (secrets masked).
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// Print this after each transfer: %{http_code}, %{url_effective}, %{content_type},
    /// %{size_download}, %{time_total}, %{time_starttransfer}, %{speed_download},
    /// %{num_redirects}, %{filename_effective}, %{json};
    /// `@file` reads the format from a file.
    #[arg(short = 'w', long = "write-out", value_name = "FORMAT")]
    pub write_out: Option<String>,

    /// The most seconds the whole transfer may take.
    #[arg(short = 'm', long = "max-time", value_name = "SECONDS")]
    pub max_time: Option<f64>,
    /// The most seconds connecting may take.
    #[arg(long, value_name = "SECONDS")]
    pub connect_timeout: Option<f64>,
    /// Retry transient failures (connection, timeout, 408, 429, 5xx) N times.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub retry: u32,
    /// Use this proxy (`[scheme://][user:pass@]host[:port]`) for every URL.
    #[arg(short = 'x', long, value_name = "PROXY")]
    pub proxy: Option<String>,
    /// Hosts reached without a proxy (comma-separated; `*` for all).
    #[arg(long, value_name = "HOSTS")]
    pub noproxy: Option<String>,
    /// Trust only the CA certificates in this PEM file.
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Do not verify the server's certificate (dangerous).
    #[arg(short = 'k', long)]
    pub insecure: bool,
    /// Do not ask for compressed responses.
    #[arg(long)]
    pub raw: bool,

    /// Send cookies from a jar FILE, or the literal `NAME=VALUE; NAME2=VALUE2` (repeatable).
    #[arg(short = 'b', long = "cookie", value_name = "FILE|DATA")]
    pub cookie: Vec<String>,
    /// Write every cookie to this jar at the end.
    #[arg(short = 'c', long = "cookie-jar", value_name = "FILE")]
    pub cookie_jar: Option<PathBuf>,
    /// Read cookies from this jar if it exists and save them back to it.
    #[arg(long, value_name = "FILE")]
    pub jar: Option<PathBuf>,
    /// Leave session cookies out when saving.
    #[arg(long)]
    pub discard_session: bool,
    /// Drop session cookies read from files.
    #[arg(short = 'j', long = "junk-session-cookies")]
    pub junk_session_cookies: bool,
    #[command(flatten)]
    pub browser: super::browser_cookies::FetchFromBrowserArgs,
}

pub fn run(args: FetchArgs) -> Result<Exit, Error> {
    let browser = args.flags.browser.clone();
    let mut config = build_config(*args.flags)?;
    let _browser_jar = super::browser_cookies::attach(&browser, &mut config.cookies)?;
    crate::fetch::run(config)
}

fn invalid(flag: &str, why: impl Into<String>) -> CliError {
    CliError::invalid(flag, why)
}

/// Reads an `@file` (or `@-`, stdin) named by `flag`; failure is exit 26, as curl.
fn read_input(flag: &str, path: &str) -> Result<Vec<u8>, Error> {
    let result = if path == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).map(|_| buf)
    } else {
        std::fs::read(path)
    };
    result.map_err(|e| unreadable(flag, path, e))
}

fn unreadable(flag: &str, path: &str, source: std::io::Error) -> Error {
    FetchError::Read {
        what: format!("{flag} @{path}"),
        source,
    }
    .into()
}

/// Validates the flags into the engine's config.
pub fn build_config(args: FetchFlags) -> Result<FetchConfig, Error> {
    if args.continue_at.as_deref().is_some_and(|c| c != "-") {
        return Err(invalid(
            "-C",
            "only `-C -` (resume from the existing file) is supported",
        )
        .into());
    }
    if let Some(dir) = &args.output_dir
        && !dir.is_dir()
    {
        return Err(invalid("--output-dir", format!("{}: no such folder", dir.display())).into());
    }
    if let Some(m) = &args.method
        && ureq::http::Method::from_bytes(m.as_bytes()).is_err()
    {
        return Err(invalid("-X", format!("{m:?} is not a valid method name")).into());
    }
    if args.output.len() > args.urls.len() {
        return Err(invalid("-o", "more -o files than URLs").into());
    }
    let (body, json) = build_body(&args)?;
    let mut urls = args.urls.clone();
    let body = if args.get {
        if let RequestBody::Bytes { data, .. } = &body {
            let query = String::from_utf8_lossy(data).into_owned();
            for url in &mut urls {
                let sep = if url.contains('?') { '&' } else { '?' };
                url.push(sep);
                url.push_str(&query);
            }
        }
        RequestBody::None
    } else {
        body
    };
    let headers = build_headers(&args, json)?;
    let auth = build_auth(&args, urls.first().map(String::as_str))?;
    let jobs = urls
        .into_iter()
        .enumerate()
        .map(|(i, url)| Job {
            output: output_for(&args, i),
            url,
        })
        .collect();
    let seconds = |flag: &str, v: Option<f64>| -> Result<Option<Duration>, CliError> {
        v.map(|s| Duration::try_from_secs_f64(s).map_err(|e| invalid(flag, e.to_string())))
            .transpose()
    };
    Ok(FetchConfig {
        jobs,
        method: args.method.clone(),
        body,
        head: args.head,
        headers,
        auth,
        follow: !args.no_follow,
        max_redirs: u32::try_from(args.max_redirs).unwrap_or(u32::MAX),
        include: args.include,
        fail: args.fail,
        fail_with_body: args.fail_with_body,
        silent: args.silent,
        show_error: args.show_error,
        verbose: args.verbose,
        write_out: build_write_out(args.write_out.as_deref())?,
        max_time: seconds("--max-time", args.max_time)?,
        connect_timeout: seconds("--connect-timeout", args.connect_timeout)?,
        retry: args.retry,
        retry_max_wait: Duration::from_secs(600),
        proxy: ProxySettings::from_env(args.proxy.clone(), args.noproxy.clone()),
        tls: TlsOptions {
            cacert: args.cacert.clone(),
            insecure: args.insecure,
        },
        raw: args.raw,
        cookies: cookie_options(&args),
        resume: args.continue_at.is_some(),
        remote_header_name: args.remote_header_name,
        clobber: args.clobber,
    })
}

fn build_write_out(format: Option<&str>) -> Result<Option<String>, Error> {
    match format {
        Some(f) if f.starts_with('@') => {
            let bytes = read_input("-w", &f[1..])?;
            Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
        }
        other => Ok(other.map(str::to_owned)),
    }
}

fn output_for(args: &FetchFlags, i: usize) -> OutputTarget {
    match args.output.get(i) {
        Some(p) if p.as_os_str() == "-" => OutputTarget::Stdout,
        Some(p) => match &args.output_dir {
            Some(dir) if p.is_relative() => OutputTarget::File(dir.join(p)),
            _ => OutputTarget::File(p.clone()),
        },
        None if args.remote_name || args.remote_header_name => OutputTarget::RemoteName {
            dir: args.output_dir.clone(),
        },
        None => OutputTarget::Stdout,
    }
}

/// The request body from the data flags; the bool says `--json` was used.
fn build_body(args: &FetchFlags) -> Result<(RequestBody, bool), Error> {
    let has_form_data = !args.data.is_empty()
        || !args.data_raw.is_empty()
        || !args.data_binary.is_empty()
        || !args.data_urlencode.is_empty();
    if !args.form.is_empty() {
        if has_form_data || !args.json.is_empty() {
            return Err(invalid("-F", "cannot be combined with -d/--data-*/--json").into());
        }
        if args.get {
            return Err(invalid("-F", "cannot be combined with -G").into());
        }
        let parts = args
            .form
            .iter()
            .map(|p| parse_form_part(p))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok((RequestBody::Form(parts), false));
    }
    if !args.json.is_empty() {
        if has_form_data {
            return Err(invalid("--json", "cannot be combined with -d/--data-*").into());
        }
        return Ok((json_body(&args.json)?, true));
    }
    if let Some(body) = streamed_data_binary(args)? {
        return Ok((body, false));
    }
    Ok((joined_data(args)?, false))
}

/// `--json` values, `@file` read, concatenated as curl does.
fn json_body(values: &[String]) -> Result<RequestBody, Error> {
    let mut data = Vec::new();
    for j in values {
        match j.strip_prefix('@') {
            Some(path) => data.extend(read_input("--json", path)?),
            None => data.extend_from_slice(j.as_bytes()),
        }
    }
    Ok(RequestBody::Bytes {
        data,
        content_type: "application/json",
    })
}

/// One `--data-binary @file` alone (no other data, no -G) is streamed from disk.
fn streamed_data_binary(args: &FetchFlags) -> Result<Option<RequestBody>, Error> {
    if !(args.data.is_empty() && args.data_raw.is_empty() && args.data_urlencode.is_empty())
        || args.get
    {
        return Ok(None);
    }
    let [only] = args.data_binary.as_slice() else {
        return Ok(None);
    };
    let Some(path) = only.strip_prefix('@').filter(|p| *p != "-") else {
        return Ok(None);
    };
    let path = PathBuf::from(path);
    // Opened now so a missing file fails before any connection (it is opened again, and
    // streamed, for each request that sends it).
    if let Err(e) = std::fs::File::open(&path) {
        return Err(unreadable("--data-binary", &path.display().to_string(), e));
    }
    Ok(Some(RequestBody::File {
        path,
        content_type: FORM_URLENCODED,
    }))
}

/// -d, --data-raw, --data-binary and --data-urlencode pieces, in that order, joined with
/// `&` as curl joins them; no body when there are none.
fn joined_data(args: &FetchFlags) -> Result<RequestBody, Error> {
    let mut pieces: Vec<Vec<u8>> = Vec::new();
    for d in &args.data {
        pieces.push(match d.strip_prefix('@') {
            Some(path) => read_input("-d", path)?
                .into_iter()
                .filter(|b| *b != b'\r' && *b != b'\n')
                .collect(),
            None => d.as_bytes().to_vec(),
        });
    }
    pieces.extend(args.data_raw.iter().map(|d| d.as_bytes().to_vec()));
    for d in &args.data_binary {
        pieces.push(match d.strip_prefix('@') {
            Some(path) => read_input("--data-binary", path)?,
            None => d.as_bytes().to_vec(),
        });
    }
    for d in &args.data_urlencode {
        pieces.push(urlencode_piece(d)?.into_bytes());
    }
    if pieces.is_empty() {
        return Ok(RequestBody::None);
    }
    Ok(RequestBody::Bytes {
        data: pieces.join(&b'&'),
        content_type: FORM_URLENCODED,
    })
}

/// curl's `--data-urlencode` forms.
fn urlencode_piece(d: &str) -> Result<String, Error> {
    if let Some((name, rest)) = d.split_once('=') {
        let enc = urlencode_component(rest.as_bytes());
        return Ok(if name.is_empty() {
            enc
        } else {
            format!("{name}={enc}")
        });
    }
    if let Some((name, path)) = d.split_once('@') {
        let enc = urlencode_component(&read_input("--data-urlencode", path)?);
        return Ok(if name.is_empty() {
            enc
        } else {
            format!("{name}={enc}")
        });
    }
    Ok(urlencode_component(d.as_bytes()))
}

fn parse_form_part(spec: &str) -> Result<FormPart, Error> {
    let (name, value) = spec
        .split_once('=')
        .ok_or_else(|| invalid(&format!("-F {spec}"), "expected name=value or name=@file"))?;
    let name = name.to_owned();
    if let Some(rest) = value.strip_prefix('@') {
        let mut params = rest.split(';');
        let path = PathBuf::from(params.next().unwrap_or(""));
        let mut filename = None;
        let mut content_type = None;
        for p in params {
            match p.split_once('=') {
                Some(("type", t)) => content_type = Some(t.to_owned()),
                Some(("filename", f)) => filename = Some(f.trim_matches('"').to_owned()),
                _ => {
                    return Err(
                        invalid(&format!("-F {spec}"), format!("unknown parameter {p:?}")).into(),
                    );
                }
            }
        }
        if let Err(e) = std::fs::File::open(&path) {
            return Err(unreadable(
                &format!("-F {name}="),
                &path.display().to_string(),
                e,
            ));
        }
        return Ok(FormPart::File {
            name,
            path,
            filename,
            content_type,
        });
    }
    if let Some(path) = value.strip_prefix('<') {
        let bytes = read_input("-F", path)?;
        return Ok(FormPart::Text {
            name,
            value: String::from_utf8_lossy(&bytes).into_owned(),
            content_type: None,
        });
    }
    Ok(FormPart::Text {
        name,
        value: value.to_owned(),
        content_type: None,
    })
}

fn build_headers(args: &FetchFlags, json: bool) -> Result<Vec<(String, Option<String>)>, CliError> {
    let mut headers: Vec<(String, Option<String>)> = Vec::new();
    for h in &args.headers {
        let (name, value) = h.split_once(':').ok_or_else(|| {
            invalid(
                &format!("-H {h:?}"),
                "expected \"Name: value\" or \"Name:\"",
            )
        })?;
        let name = name.trim();
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(invalid(&format!("-H {h:?}"), "bad header name"));
        }
        if value.contains(['\r', '\n', '\0']) {
            return Err(invalid(&format!("-H {h:?}"), "CR, LF or NUL in the value"));
        }
        let value = value.trim();
        if ureq::http::HeaderName::from_bytes(name.as_bytes()).is_err()
            || ureq::http::HeaderValue::from_str(value).is_err()
        {
            return Err(invalid(
                &format!("-H {h:?}"),
                "not a valid header (a token name; no control characters in the value)",
            ));
        }
        headers.push((
            name.to_owned(),
            (!value.is_empty()).then(|| value.to_owned()),
        ));
    }
    // -A, -e and --json's Accept give way to an explicit -H of the same name.
    let mut implied = Vec::new();
    if let Some(ua) = &args.user_agent {
        implied.push(("User-Agent", ua.clone()));
    }
    if let Some(r) = &args.referer {
        implied.push(("Referer", r.clone()));
    }
    if json {
        implied.push(("Accept", "application/json".to_owned()));
    }
    for (name, value) in implied {
        if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            headers.push((name.to_owned(), Some(value)));
        }
    }
    Ok(headers)
}

fn build_auth(args: &FetchFlags, first_url: Option<&str>) -> Result<Auth, Error> {
    if let Some(user) = &args.user {
        if let Some((u, p)) = user.split_once(':') {
            return Ok(Auth::Basic {
                user: u.to_owned(),
                password: Secret::new(p),
            });
        }
        let host = first_url
            .and_then(|u| url::Url::parse(u).ok())
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        let lookup = PasswordLookup {
            source: args.password.source(),
            netrc_file: args.netrc_file.clone(),
            allow_prompt: true,
        };
        let password = resolve_password(&lookup, &host, user)?;
        return Ok(Auth::Basic {
            user: user.clone(),
            password,
        });
    }
    if args.password.source().is_some() {
        return Err(invalid("--password-*", "needs -u USER").into());
    }
    if args.netrc || args.netrc_file.is_some() {
        return load_netrc(args.netrc_file.clone()).map(Auth::Netrc);
    }
    Ok(Auth::None)
}

/// The `.netrc` of `--netrc`/`--netrc-file`, read once for every host of the run; a missing
/// file is empty.
fn load_netrc(file: Option<PathBuf>) -> Result<Netrc, Error> {
    let Some(path) = file.or_else(crate::netrc::default_path) else {
        return Ok(Netrc::default());
    };
    match Netrc::load(&path) {
        Ok(netrc) => Ok(netrc.unwrap_or_default()),
        Err(source) => Err(FetchError::Read {
            what: path.display().to_string(),
            source,
        }
        .into()),
    }
}

fn cookie_options(args: &FetchFlags) -> CookieOptions {
    let sources = args
        .cookie
        .iter()
        .map(|c| {
            // curl: a value with `=` is cookie data, else a file name.
            if c.contains('=') {
                CookieSource::Literal(c.clone())
            } else {
                CookieSource::File(Path::new(c).to_owned())
            }
        })
        .collect();
    CookieOptions {
        sources,
        save_to: args.cookie_jar.clone(),
        jar: args.jar.clone(),
        discard_session: args.discard_session,
        junk_session: args.junk_session_cookies,
    }
}
