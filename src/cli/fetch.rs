//! `postie fetch`: curl's flag names, turned into a [`FetchConfig`] for the engine.
//!
//! Decisions where curl and the issue leave room: redirects are followed by default (`-L`
//! is accepted and changes nothing; `--no-follow` stops at the first response); data flags
//! join in the order -d, --data-raw, --data-binary, --data-urlencode (clap keeps order per
//! flag only); `-C` accepts only `-` (resume from the size of the existing file).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;

use crate::cli::CliError;
use crate::cli::common::PasswordArgs;
use crate::cookies::{CookieOptions, CookieSource};
use crate::error::Error;
use crate::exit::Exit;
use crate::fetch::{
    Auth, FetchConfig, FetchError, FileOptions, FormPart, Job, OutputTarget, PartContent,
    ProxySettings, RequestBody, ValidatorStore, default_state_path, urlencode_component,
};
use crate::netrc::Netrc;
use crate::secret::{PasswordLookup, PasswordSource, Secret, resolve_password};

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
    #[arg(value_name = "URL", required_unless_present = "url_file")]
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
    #[command(flatten)]
    pub tls_stall: crate::cli::fetch_tls::FetchTlsStallArgs,

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
    pub more: MoreFlags,
    #[command(flatten)]
    pub browser: super::browser_cookies::FetchFromBrowserArgs,
    #[command(flatten)]
    pub update: UpdateFlags,
    #[command(flatten)]
    pub many: super::fetch_many::FetchManyArgs,
}

/// Issue 14's "only what changed": `--update` and its state file.
#[derive(Debug, clap::Args)]
pub struct UpdateFlags {
    /// Fetch only what changed: send If-None-Match / If-Modified-Since from the last
    /// download of each output file, leave the file untouched on 304, and resume a
    /// `FILE.part` an earlier run left (Range + If-Range).
    #[arg(long)]
    pub update: bool,
    /// The --update state file (default: beside the -c/--jar jar as JAR.fetch-state.json,
    /// else $XDG_STATE_HOME/postie/fetch-state.json).
    #[arg(long, value_name = "FILE", requires = "update")]
    pub state: Option<PathBuf>,
}

/// Issue 19's options (headers and tokens from files, proxy credentials, file management),
/// in one block.
#[derive(Debug, clap::Args)]
pub struct MoreFlags {
    /// Write the response headers (every hop's) to FILE; `-` is stdout.
    #[arg(short = 'D', long = "dump-header", value_name = "FILE")]
    pub dump_header: Option<PathBuf>,
    /// `Authorization: Bearer TOKEN` (curl's flag; prefer --bearer-env/-file/-command, which
    /// keep the token off the command line).
    #[arg(long = "oauth2-bearer", value_name = "TOKEN", group = "bearer")]
    pub oauth2_bearer: Option<String>,
    /// Bearer token from this environment variable.
    #[arg(long, value_name = "VAR", group = "bearer")]
    pub bearer_env: Option<String>,
    /// Bearer token from the first line of this file.
    #[arg(long, value_name = "FILE", group = "bearer")]
    pub bearer_file: Option<PathBuf>,
    /// Bearer token from the first line this shell command prints.
    #[arg(long, value_name = "CMD", group = "bearer")]
    pub bearer_command: Option<String>,
    /// Proxy credentials `user[:password]`; without a password it comes from
    /// --proxy-password-*, else ~/.netrc for the proxy host, else a prompt.
    #[arg(short = 'U', long = "proxy-user", value_name = "USER[:PASSWORD]")]
    pub proxy_user: Option<String>,
    /// The proxy password from this environment variable.
    #[arg(long, value_name = "VAR", group = "proxy_password")]
    pub proxy_password_env: Option<String>,
    /// The proxy password from the first line of this file.
    #[arg(long, value_name = "FILE", group = "proxy_password")]
    pub proxy_password_file: Option<PathBuf>,
    /// The proxy password from the first line this shell command prints.
    #[arg(long, value_name = "CMD", group = "proxy_password")]
    pub proxy_password_command: Option<String>,
    /// Create the missing folders of output files (-o, -O, --output-dir).
    #[arg(long)]
    pub create_dirs: bool,
    /// Skip a URL whose output file already exists (wget -nc), with a note on stderr.
    #[arg(long = "no-clobber", visible_alias = "nc", conflicts_with = "clobber")]
    pub no_clobber: bool,
    /// Set the output file's modification time from the Last-Modified header.
    #[arg(short = 'R', long = "remote-time")]
    pub remote_time: bool,
}

/// wget's `-nc` (two letters after one dash, which clap cannot declare) as `--no-clobber`,
/// for the arguments after the `fetch` subcommand.
pub fn wget_aliases(args: impl Iterator<Item = std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut in_fetch = false;
    args.map(|a| {
        if in_fetch && a == "-nc" {
            return "--no-clobber".into();
        }
        in_fetch |= a == "fetch";
        a
    })
    .collect()
}

pub fn run(args: FetchArgs) -> Result<Exit, Error> {
    let browser = args.flags.browser.clone();
    let many = args.flags.many.config(args.flags.output_dir.as_ref())?;
    let mut config = build_config(*args.flags)?;
    let _browser_jar = super::browser_cookies::attach(&browser, &mut config.cookies)?;
    match many {
        Some(many) if !config.show_cert => Ok(crate::fetch::many::run(config, many)?),
        _ => Ok(crate::fetch::run(config)?),
    }
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

/// Flag values and combinations clap cannot check.
fn check_flags(args: &FetchFlags) -> Result<(), Error> {
    if args.continue_at.as_deref().is_some_and(|c| c != "-") {
        return Err(invalid(
            "-C",
            "only `-C -` (resume from the existing file) is supported",
        )
        .into());
    }
    if let Some(dir) = &args.output_dir
        && !dir.is_dir()
        && !args.more.create_dirs
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
    if args.update.update {
        check_update(args)?;
    }
    Ok(())
}

/// `--update` keeps validators per output file, named before the request: every URL needs
/// `-o FILE` or `-O` (not stdout, not `-J`, whose name comes with the response).
fn check_update(args: &FetchFlags) -> Result<(), Error> {
    if args.remote_header_name {
        return Err(invalid(
            "--update",
            "cannot be used with -J (the file name must be known before the request)",
        )
        .into());
    }
    for i in 0..args.urls.len() {
        if let OutputTarget::Stdout = output_for(args, i) {
            return Err(invalid(
                "--update",
                "needs an output file for every URL (-o FILE or -O)",
            )
            .into());
        }
        if let OutputTarget::File(p) = output_for(args, i)
            && p.as_os_str() == "-"
        {
            return Err(invalid("--update", "needs an output file, not stdout (-o -)").into());
        }
    }
    Ok(())
}

/// `--update`'s store: `--state FILE`, else the default place.
fn update_store(args: &FetchFlags) -> Result<Option<ValidatorStore>, Error> {
    if !args.update.update {
        return Ok(None);
    }
    let jar = args.cookie_jar.as_deref().or(args.jar.as_deref());
    let path = match &args.update.state {
        Some(p) => p.clone(),
        None => default_state_path(jar).ok_or_else(|| {
            invalid(
                "--update",
                "no state file: give --state FILE (HOME is not set)",
            )
        })?,
    };
    Ok(Some(ValidatorStore::open(&path)?))
}

/// The `--create-dirs`, `-nc`, `-R`, `-D`, `-U` and `--fsync` part of the config.
fn file_options(args: &FetchFlags) -> Result<FileOptions, Error> {
    Ok(FileOptions {
        dump_header: args.more.dump_header.clone(),
        create_dirs: args.more.create_dirs,
        no_clobber: args.more.no_clobber,
        remote_time: args.more.remote_time,
        proxy_user: proxy_credentials(args)?,
        unsynced: args.many.unsynced(args.urls.len()),
    })
}

/// Validates the flags into the engine's config.
pub fn build_config(args: FetchFlags) -> Result<FetchConfig, Error> {
    check_flags(&args)?;
    let (body, json) = build_body(&args)?;
    let mut urls = args.urls.clone();
    let body = if args.get {
        append_query(&body, &mut urls);
        RequestBody::None
    } else {
        body
    };
    let headers = build_headers(&args, json)?;
    let auth = build_auth(&args, urls.first().map(String::as_str))?;
    let jobs = jobs(&args, urls);
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
        stall: args.tls_stall.stall()?,
        show_cert: args.tls_stall.show_cert,
        tls: args.tls_stall.tls(args.cacert.clone(), args.insecure)?,
        raw: args.raw,
        cookies: cookie_options(&args),
        resume: args.continue_at.is_some(),
        update: update_store(&args)?,
        remote_header_name: args.remote_header_name,
        clobber: args.clobber,
        files: file_options(&args)?,
        many: crate::fetch::many::Hooks::default(),
    })
}

/// `-G`: the data flags' bytes go into each URL's query instead of a body.
fn append_query(body: &RequestBody, urls: &mut [String]) {
    if let RequestBody::Bytes { data, .. } = body {
        let query = String::from_utf8_lossy(data).into_owned();
        for url in urls {
            let sep = if url.contains('?') { '&' } else { '?' };
            url.push(sep);
            url.push_str(&query);
        }
    }
}

/// One job per URL, each with the output its position among `-o`/`-O` gives it.
fn jobs(args: &FetchFlags, urls: Vec<String>) -> Vec<Job> {
    urls.into_iter()
        .enumerate()
        .map(|(i, url)| Job {
            output: output_for(args, i),
            url,
        })
        .collect()
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

/// A word of a `-F` value: `"quoted"` (with `\"` and `\\` escapes) or up to the next `;`.
/// Returns the word and the rest (which starts with `;` or is empty).
fn form_word(s: &str) -> (String, &str) {
    if let Some(body) = s.strip_prefix('"') {
        let mut word = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, n)) = chars.next() {
                        word.push(n);
                    }
                }
                '"' if body[i + 1..].is_empty() || body[i + 1..].starts_with(';') => {
                    return (word, &body[i + 1..]);
                }
                c => word.push(c),
            }
        }
    }
    let end = s.find(';').unwrap_or(s.len());
    (s[..end].to_owned(), &s[end..])
}

const FORM_KEYS: [&str; 4] = ["type=", "filename=", "headers=", "encoder="];

/// curl's `;type=`: up to the next `;` that starts another known parameter (so
/// `type=text/plain; charset=utf-8` keeps its parameter), quotes kept as given.
fn form_type(s: &str) -> (String, &str) {
    let mut from = 0;
    while let Some(i) = s[from..].find(';').map(|i| i + from) {
        let next = s[i + 1..].trim_start();
        if FORM_KEYS.iter().any(|k| next.starts_with(k)) {
            return (s[..i].to_owned(), &s[i..]);
        }
        from = i + 1;
    }
    (s.to_owned(), "")
}

/// Splits `-F name=CONTENT;param=...` as curl does: the content (with its `@`/`<` sign),
/// then the known parameters; unknown ones are skipped with a warning, as curl.
fn parse_form_part(spec: &str) -> Result<FormPart, Error> {
    let flag = format!("-F {spec}");
    let (name, value) = spec
        .split_once('=')
        .ok_or_else(|| invalid(&flag, "expected name=value or name=@file"))?;
    let (sign, body) = match value.chars().next() {
        Some(c @ ('@' | '<')) => (Some(c), &value[1..]),
        _ => (None, value),
    };
    let (content, mut rest) = form_word(body);
    let mut part = FormPart::new(name, PartContent::Text(Vec::new()));
    while let Some(r) = rest.strip_prefix(';') {
        let r = r.trim_start();
        if let Some(t) = r.strip_prefix("type=") {
            let (value, next) = form_type(t);
            part.content_type = Some(value);
            rest = next;
            continue;
        }
        let key = FORM_KEYS.iter().find(|k| r.starts_with(**k));
        let (word, next) = form_word(key.map_or(r, |k| &r[k.len()..]));
        rest = next;
        match key.copied() {
            Some("filename=") => part.filename = Some(word),
            Some("headers=") => part.headers.extend(form_headers(&flag, &word)?),
            Some("encoder=") => part.encoder = Some(word),
            _ => eprintln!("postie: warning: -F {name}: skipping unknown form field {word:?}"),
        }
    }
    part.content = match sign {
        Some('@') => {
            let path = PathBuf::from(&content);
            if let Err(e) = std::fs::File::open(&path) {
                return Err(unreadable(&format!("-F {name}="), &content, e));
            }
            PartContent::File(path)
        }
        Some(_) => PartContent::Text(read_input("-F", &content)?),
        None => PartContent::Text(content.into_bytes()),
    };
    apply_encoder(&flag, &mut part)?;
    Ok(part)
}

/// `;headers=VALUE` or `;headers=@FILE` (one header a line; empty and `#` lines skipped).
fn form_headers(flag: &str, word: &str) -> Result<Vec<String>, Error> {
    let lines = match word.strip_prefix('@') {
        Some(path) => String::from_utf8_lossy(&read_input(flag, path)?)
            .lines()
            .map(|l| l.trim_end_matches('\r').to_owned())
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .collect(),
        None => vec![word.to_owned()],
    };
    if lines.iter().any(|l| l.contains(['\r', '\n', '\0'])) {
        return Err(invalid(flag, "CR, LF or NUL in a part header").into());
    }
    Ok(lines)
}

/// `;encoder=`: binary and 8bit only label the part; 7bit also checks the value; base64
/// encodes a value (76-character lines, as curl). File parts are streamed, so only the
/// labelling encoders apply to them; quoted-printable is not supported.
fn apply_encoder(flag: &str, part: &mut FormPart) -> Result<(), Error> {
    let Some(enc) = part.encoder.clone() else {
        return Ok(());
    };
    match (enc.to_ascii_lowercase().as_str(), &mut part.content) {
        ("binary" | "8bit", _) => Ok(()),
        ("7bit", PartContent::Text(v)) if !v.is_ascii() => {
            Err(invalid(flag, "encoder=7bit on a value that is not 7-bit").into())
        }
        ("7bit", _) => Ok(()),
        ("base64", PartContent::Text(v)) => {
            let encoded = base64::engine::general_purpose::STANDARD.encode(&v[..]);
            let lines: Vec<&[u8]> = encoded.as_bytes().chunks(76).collect();
            *v = lines.join(&b"\r\n"[..]);
            Ok(())
        }
        _ => Err(invalid(
            flag,
            format!("encoder={enc} is not supported here (binary, 8bit, 7bit; base64 for values)"),
        )
        .into()),
    }
}

/// `-H` values with every `@FILE`/`@-` replaced by the file's lines (empty lines skipped), as
/// curl reads them.
fn expand_header_files(values: &[String]) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for h in values {
        let Some(path) = h.strip_prefix('@') else {
            out.push(h.clone());
            continue;
        };
        let bytes = read_input("-H", path)?;
        let text = String::from_utf8_lossy(&bytes);
        out.extend(
            text.lines()
                .map(|l| l.trim_end_matches('\r'))
                .filter(|l| !l.trim().is_empty())
                .map(str::to_owned),
        );
    }
    Ok(out)
}

fn build_headers(args: &FetchFlags, json: bool) -> Result<Vec<(String, Option<String>)>, Error> {
    let mut headers: Vec<(String, Option<String>)> = Vec::new();
    for h in &expand_header_files(&args.headers)? {
        let (name, value) = h.split_once(':').ok_or_else(|| {
            Error::from(invalid(
                &format!("-H {h:?}"),
                "expected \"Name: value\" or \"Name:\"",
            ))
        })?;
        let pair = crate::fetch::header_pair(name, value)
            .map_err(|why| Error::from(invalid(&format!("-H {h:?}"), why)))?;
        headers.push(pair);
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

/// `--oauth2-bearer` or a `--bearer-*` source, if given.
fn bearer_token(more: &MoreFlags) -> Result<Option<Secret>, Error> {
    let source = if let Some(t) = &more.oauth2_bearer {
        if t.is_empty() {
            return Err(invalid("--oauth2-bearer", "the token is empty").into());
        }
        PasswordSource::Literal(Secret::new(t.as_str()))
    } else if let Some(v) = &more.bearer_env {
        PasswordSource::Env(v.clone())
    } else if let Some(f) = &more.bearer_file {
        PasswordSource::File(f.clone())
    } else if let Some(c) = &more.bearer_command {
        PasswordSource::Command(c.clone())
    } else {
        return Ok(None);
    };
    let token = crate::secret::token_from_source(&source, "--bearer-")?;
    crate::secret::check_credential("bearer token", token.expose())?;
    Ok(Some(token))
}

/// `-U user[:password]`: the password from the colon, else --proxy-password-*, else the
/// proxy host's ~/.netrc entry, else a prompt.
fn proxy_credentials(args: &FetchFlags) -> Result<Option<(String, Secret)>, Error> {
    let more = &args.more;
    let Some(user) = &more.proxy_user else {
        if more.proxy_password_env.is_some()
            || more.proxy_password_file.is_some()
            || more.proxy_password_command.is_some()
        {
            return Err(invalid("--proxy-password-*", "needs -U USER").into());
        }
        return Ok(None);
    };
    if let Some((u, p)) = user.split_once(':') {
        return Ok(Some((u.to_owned(), Secret::new(p))));
    }
    let source = PasswordArgs {
        password_env: more.proxy_password_env.clone(),
        password_file: more.proxy_password_file.clone(),
        password_command: more.proxy_password_command.clone(),
    }
    .source();
    let host = args
        .proxy
        .as_deref()
        .map(|p| {
            if p.contains("://") {
                p.to_owned()
            } else {
                format!("http://{p}")
            }
        })
        .and_then(|p| url::Url::parse(&p).ok())
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    let lookup = PasswordLookup {
        source,
        netrc_file: args.netrc_file.clone(),
        allow_prompt: true,
    };
    let password = resolve_password(&lookup, &host, user)?;
    Ok(Some((user.clone(), password)))
}

fn build_auth(args: &FetchFlags, first_url: Option<&str>) -> Result<Auth, Error> {
    if let Some(token) = bearer_token(&args.more)? {
        if args.user.is_some() {
            return Err(invalid("--oauth2-bearer", "cannot be combined with -u").into());
        }
        return Ok(Auth::Bearer(token));
    }
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
            } else if c != "-"
                && std::fs::symlink_metadata(c)
                    .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
            {
                // curl: a -b file that does not exist (yet) is an empty jar, so a login
                // script's first `-b jar -c jar` works; `-b ""` turns the engine on.
                if args.verbose {
                    eprintln!("* -b {c}: no such file yet; starting with an empty cookie jar");
                }
                CookieSource::File(PathBuf::new())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_split_as_curl_does() {
        assert_eq!(form_word("\"a;b\";type=x"), ("a;b".to_owned(), ";type=x"));
        assert_eq!(form_word("plain;x"), ("plain".to_owned(), ";x"));
        assert_eq!(form_word("\"un;closed"), ("\"un".to_owned(), ";closed"));
        assert_eq!(
            form_type("text/plain; charset=utf-8;filename=a"),
            ("text/plain; charset=utf-8".to_owned(), ";filename=a")
        );
    }

    #[test]
    fn nc_is_rewritten_only_after_fetch() {
        let args = ["postie", "-nc", "fetch", "-nc", "http://h/"].map(std::ffi::OsString::from);
        let got = wget_aliases(args.into_iter());
        assert_eq!(got[1], "-nc");
        assert_eq!(got[3], "--no-clobber");
    }
}
