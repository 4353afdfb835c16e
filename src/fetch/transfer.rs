//! One run of `postie fetch`: one ureq Agent for every URL (connections are reused), our own
//! redirect loop, retries, the cookie session on every hop, and the body streamed to its
//! sink in constant memory.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine as _;
use ureq::config::AutoHeaderValue;
use ureq::http;
use ureq::tls::{RootCerts, TlsConfig, TlsProvider};
use ureq::{Agent, Body, SendBody};

use super::error::{from_io, from_ureq};
use super::output::{self, Sink};
use super::writeout::{self, TransferInfo};
use super::{Auth, FetchConfig, FetchError, Job, OutputTarget};
use crate::cookies::CookieSession;
use crate::error::{Error, Exit};
use crate::tls::TlsError;

const USER_AGENT: &str = concat!("postie/", env!("CARGO_PKG_VERSION"));

/// Runs every job in order; each failure is reported on stderr and the batch goes on. The
/// exit code is that of the last failure (as curl), 0 when all worked.
pub fn run(config: FetchConfig) -> Result<Exit, Error> {
    let agent = build_agent(&config)?;
    let mut cookies = CookieSession::open(config.cookies.clone())?;
    let mut last_failure = None;
    for job in &config.jobs {
        let mut info = TransferInfo::default();
        let result = fetch_one(&agent, &config, &mut cookies, job, &mut info);
        if let Some(format) = &config.write_out {
            let text = writeout::render(format, &info);
            let mut out = io::stdout().lock();
            let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
        }
        if let Err(err) = result {
            if crate::error::is_broken_pipe(&err) {
                cookies.finish()?;
                return Err(err.into());
            }
            if !config.silent || config.show_error {
                eprintln!("postie: {err}");
            }
            last_failure = Some(err.exit_code());
        }
    }
    cookies.finish()?;
    Ok(last_failure.map_or(Exit::SUCCESS, Exit::with_code))
}

fn build_agent(config: &FetchConfig) -> Result<Agent, Error> {
    let roots = match &config.tls.cacert {
        Some(path) => {
            let certs = crate::tls::load_certificates(path)?;
            let mut ders = Vec::new();
            for cert in certs {
                let der = cert
                    .to_der()
                    .map_err(|e| TlsError::Setup(format!("--cacert: {e}")))?;
                ders.push(ureq::tls::Certificate::from_der(&der).to_owned());
            }
            RootCerts::new_with_certs(&ders)
        }
        None => RootCerts::PlatformVerifier,
    };
    let tls = TlsConfig::builder()
        .provider(TlsProvider::NativeTls)
        .root_certs(roots)
        .disable_verification(config.tls.insecure)
        .build();
    let agent_config = Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .tls_config(tls)
        .user_agent(AutoHeaderValue::None)
        .accept(AutoHeaderValue::None)
        .accept_encoding(AutoHeaderValue::None)
        .allow_non_standard_methods(true)
        .timeout_connect(config.connect_timeout)
        .timeout_resolve(config.connect_timeout)
        .build();
    Ok(agent_config.new_agent())
}

/// The scheme, host and port that decide whether credentials may follow a redirect.
fn origin(url: &url::Url) -> (String, String, Option<u16>) {
    (
        url.scheme().to_owned(),
        url.host_str().unwrap_or("").to_ascii_lowercase(),
        url.port_or_known_default(),
    )
}

fn parse_url(raw: &str) -> Result<url::Url, FetchError> {
    let bad = |why: String| FetchError::BadUrl {
        url: raw.to_owned(),
        why,
    };
    // curl takes a URL without a scheme as http://.
    let with_scheme = if raw.contains("://") {
        raw.to_owned()
    } else {
        format!("http://{raw}")
    };
    let url = url::Url::parse(&with_scheme).map_err(|e| bad(format!("malformed URL: {e}")))?;
    match url.scheme() {
        "http" | "https" => {}
        other => {
            return Err(bad(format!(
                "unsupported scheme {other:?} (http and https only)"
            )));
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host in URL".into()));
    }
    Ok(url)
}

/// The state of one URL's transfer across its redirect hops.
struct Hop {
    url: url::Url,
    method: String,
    send_body: bool,
    redirects: u32,
    /// With `-i`/`-I`: the header blocks of the redirects followed so far (curl -L -i
    /// prints every hop's).
    heads: String,
}

fn fetch_one(
    agent: &Agent,
    cfg: &FetchConfig,
    cookies: &mut CookieSession,
    job: &Job,
    info: &mut TransferInfo,
) -> Result<(), FetchError> {
    let start = Instant::now();
    let deadline = cfg.max_time.map(|d| start + d);
    let first = parse_url(&job.url)?;
    info.url_effective = first.to_string();
    let first_origin = origin(&first);
    let resume = resume_plan(cfg, job, &first)?;
    let mut hop = Hop {
        method: initial_method(cfg),
        send_body: !cfg.body.is_none(),
        url: first,
        redirects: 0,
        heads: String::new(),
    };
    let result = loop {
        let trusted = origin(&hop.url) == first_origin;
        let resp = call_with_retry(agent, cfg, cookies, &hop, trusted, resume.offset, deadline);
        let resp = match resp {
            Ok(r) => r,
            Err(e) => break Err(e),
        };
        info.url_effective = hop.url.to_string();
        info.num_redirects = hop.redirects;
        record_response(info, &resp);
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        match location {
            Some(loc) if cfg.follow && is_redirect(status) => {
                if hop.redirects >= cfg.max_redirs {
                    break Err(FetchError::TooManyRedirects {
                        url: job.url.clone(),
                        max: cfg.max_redirs,
                    });
                }
                if cfg.include || cfg.head {
                    hop.heads.push_str(&header_block(&resp));
                }
                discard(resp);
                let next = hop.url.join(&loc).map_err(|e| FetchError::BadUrl {
                    url: loc.clone(),
                    why: format!("redirect to a malformed URL: {e}"),
                });
                let next = match next.and_then(|u| parse_url(u.as_str())) {
                    Ok(u) => u,
                    Err(e) => break Err(e),
                };
                if cfg.verbose {
                    eprintln!("* redirect {status} to {next}");
                }
                rewrite_method(&mut hop, status);
                hop.url = next;
                hop.redirects += 1;
            }
            _ => break deliver(cfg, job, &hop, resp, &resume, info),
        }
    };
    info.time_total = start.elapsed().as_secs_f64();
    result
}

fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// curl -L: 303 turns anything but HEAD into GET; 301/302 turn POST into GET; 307/308
/// keep the method and the body.
fn rewrite_method(hop: &mut Hop, status: u16) {
    let to_get = match status {
        303 => hop.method != "HEAD",
        301 | 302 => hop.method == "POST",
        _ => false,
    };
    if to_get {
        hop.method = "GET".to_owned();
        hop.send_body = false;
    }
}

fn initial_method(cfg: &FetchConfig) -> String {
    if let Some(m) = &cfg.method {
        return m.clone();
    }
    if cfg.head {
        "HEAD".to_owned()
    } else if cfg.body.is_none() {
        "GET".to_owned()
    } else {
        "POST".to_owned()
    }
}

/// Reads away a small redirect body so the connection can be reused; a large one is
/// dropped with its connection.
fn discard(resp: http::Response<Body>) {
    let (_, body) = resp.into_parts();
    let _ = io::copy(&mut body.into_reader().take(64 * 1024), &mut io::sink());
}

fn record_response(info: &mut TransferInfo, resp: &http::Response<Body>) {
    info.http_code = resp.status().as_u16();
    info.headers = header_list(resp);
    info.content_type = resp
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
}

fn header_list(resp: &http::Response<Body>) -> Vec<(String, String)> {
    resp.headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

fn header_value<'a>(resp: &'a http::Response<Body>, name: &str) -> Option<&'a str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Sends one hop, retrying connection failures, timeouts and 408/429/5xx up to `--retry`
/// times with exponential backoff (or the server's Retry-After).
fn call_with_retry(
    agent: &Agent,
    cfg: &FetchConfig,
    cookies: &mut CookieSession,
    hop: &Hop,
    trusted: bool,
    range_from: u64,
    deadline: Option<Instant>,
) -> Result<http::Response<Body>, FetchError> {
    let mut attempt = 0u32;
    loop {
        let result = call(agent, cfg, cookies, hop, trusted, range_from, deadline);
        let retries_left = attempt < cfg.retry;
        let wait = match &result {
            Ok(resp) if retries_left && retryable_status(resp.status().as_u16()) => {
                let wait = retry_after(resp).unwrap_or_else(|| backoff(attempt, cfg));
                Some(wait.min(cfg.retry_max_wait))
            }
            Err(e) if retries_left && e.is_transient() => Some(backoff(attempt, cfg)),
            _ => None,
        };
        let Some(wait) = wait else { return result };
        if deadline.is_some_and(|d| Instant::now() + wait >= d) {
            return result;
        }
        if !cfg.silent {
            let why = match &result {
                Ok(resp) => format!("HTTP {}", resp.status().as_u16()),
                Err(e) => e.to_string(),
            };
            eprintln!(
                "postie: {why}; retrying in {} s ({} retries left)",
                wait.as_secs_f64(),
                cfg.retry - attempt
            );
        }
        if let Ok(resp) = result {
            discard(resp);
        }
        std::thread::sleep(wait);
        attempt += 1;
    }
}

fn retryable_status(status: u16) -> bool {
    status == 408 || status == 429 || (500..600).contains(&status)
}

fn backoff(attempt: u32, cfg: &FetchConfig) -> Duration {
    Duration::from_secs(1u64 << attempt.min(20)).min(cfg.retry_max_wait)
}

/// Retry-After: delay-seconds or an HTTP date.
fn retry_after(resp: &http::Response<Body>) -> Option<Duration> {
    parse_retry_after(
        header_value(resp, "retry-after")?,
        time::OffsetDateTime::now_utc(),
    )
}

fn parse_retry_after(value: &str, now: time::OffsetDateTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when =
        time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    let secs = (when - now).whole_seconds().max(0);
    Some(Duration::from_secs(secs.unsigned_abs()))
}

/// The request headers of one hop, defaults first, then `-H` (which replaces or removes
/// defaults of the same name).
fn request_headers(
    cfg: &FetchConfig,
    cookies: &CookieSession,
    hop: &Hop,
    trusted: bool,
    range_from: u64,
    content_type: Option<String>,
) -> Result<Vec<(String, String)>, FetchError> {
    let mut defaults: Vec<(String, String)> = vec![
        ("User-Agent".into(), USER_AGENT.into()),
        ("Accept".into(), "*/*".into()),
    ];
    if !cfg.raw {
        defaults.push(("Accept-Encoding".into(), "gzip, br".into()));
    }
    if let Some(auth) = authorization(cfg, &hop.url, trusted)? {
        defaults.push(("Authorization".into(), auth));
    }
    if let Some(ct) = content_type {
        defaults.push(("Content-Type".into(), ct));
    }
    if range_from > 0 {
        defaults.push(("Range".into(), format!("bytes={range_from}-")));
    }
    let user_cookie = cfg
        .headers
        .iter()
        .find(|(n, v)| trusted && n.eq_ignore_ascii_case("cookie") && v.is_some());
    let jar_cookie = cookies.request_header(&hop.url);
    let mut headers: Vec<(String, String)> = defaults
        .into_iter()
        .filter(|(n, _)| !cfg.headers.iter().any(|(u, _)| u.eq_ignore_ascii_case(n)))
        .collect();
    for (name, value) in &cfg.headers {
        // As curl: credentials given with -H do not follow a redirect to another host.
        if !trusted
            && (name.eq_ignore_ascii_case("authorization") || name.eq_ignore_ascii_case("cookie"))
        {
            continue;
        }
        if let Some(v) = value {
            if name.eq_ignore_ascii_case("cookie")
                && let Some(jar) = &jar_cookie
            {
                headers.push((name.clone(), format!("{v}; {jar}")));
                continue;
            }
            headers.push((name.clone(), v.clone()));
        }
    }
    if user_cookie.is_none()
        && let Some(jar) = jar_cookie
    {
        headers.push(("Cookie".into(), jar));
    }
    Ok(headers)
}

/// `Authorization: Basic ...` for this hop: `-u` or credentials in the URL only on the
/// first origin; `--netrc` for whatever host the hop goes to.
fn authorization(
    cfg: &FetchConfig,
    url: &url::Url,
    trusted: bool,
) -> Result<Option<String>, FetchError> {
    let basic = |user: &str, pass: &str| {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        Some(format!("Basic {token}"))
    };
    if !url.username().is_empty() {
        if !trusted {
            return Ok(None);
        }
        let user = percent_decoded(url.username());
        let pass = percent_decoded(url.password().unwrap_or(""));
        return Ok(basic(&user, &pass));
    }
    match &cfg.auth {
        Auth::None => Ok(None),
        Auth::Basic { user, password } if trusted => Ok(basic(user, password.expose())),
        Auth::Basic { .. } => Ok(None),
        Auth::Netrc(path) => {
            let Some(path) = path.clone().or_else(crate::netrc::default_path) else {
                return Ok(None);
            };
            let netrc = crate::netrc::Netrc::load(&path).map_err(|source| FetchError::Read {
                what: path.display().to_string(),
                source,
            })?;
            let host = url.host_str().unwrap_or("");
            let entry = netrc.as_ref().and_then(|n| n.find(host, None));
            Ok(entry.and_then(|e| {
                let user = e.login.as_deref().unwrap_or("");
                e.password.as_ref().and_then(|p| basic(user, p.expose()))
            }))
        }
    }
}

fn percent_decoded(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn call(
    agent: &Agent,
    cfg: &FetchConfig,
    cookies: &mut CookieSession,
    hop: &Hop,
    trusted: bool,
    range_from: u64,
    deadline: Option<Instant>,
) -> Result<http::Response<Body>, FetchError> {
    let url_text = hop.url.to_string();
    let host = hop.url.host_str().unwrap_or("").to_owned();
    let body = if hop.send_body {
        Some(cfg.body.open()?)
    } else {
        None
    };
    let content_type = body.as_ref().and_then(|b| b.content_type.clone());
    let mut headers = request_headers(cfg, cookies, hop, trusted, range_from, content_type)?;
    if let Some(b) = &body {
        headers.push(("Content-Length".to_owned(), b.len.to_string()));
    }
    let mut builder = http::Request::builder()
        .method(hop.method.as_str())
        .uri(url_text.as_str());
    for (name, value) in &headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let send = match body {
        Some(b) => SendBody::from_owned_reader(b.reader),
        None => SendBody::none(),
    };
    let request = builder.body(send).map_err(|e| FetchError::BadUrl {
        url: url_text.clone(),
        why: e.to_string(),
    })?;
    if cfg.verbose {
        print_request(&hop.url, &hop.method, &headers);
    }
    let proxy = match cfg.proxy.for_url(&hop.url) {
        Some(p) => Some(ureq::Proxy::new(p).map_err(|e| FetchError::BadUrl {
            url: p.to_owned(),
            why: format!("proxy: {e}"),
        })?),
        None => None,
    };
    let remaining = match deadline {
        Some(d) => {
            let left = d.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(FetchError::Timeout {
                    url: url_text,
                    why: "--max-time".into(),
                });
            }
            Some(left)
        }
        None => None,
    };
    let request = agent
        .configure_request(request)
        .proxy(proxy)
        .timeout_global(remaining)
        .build();
    let resp = agent
        .run(request)
        .map_err(|e| from_ureq(&url_text, &host, e))?;
    cookies.store_response(
        &hop.url,
        resp.headers()
            .get_all(http::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    );
    if cfg.verbose {
        print_response(&resp);
    }
    Ok(resp)
}

/// Hides the secret part of a header value in `-v` output.
fn mask(name: &str, value: &str) -> String {
    match name.to_ascii_lowercase().as_str() {
        "authorization" | "proxy-authorization" => {
            let scheme = value.split_whitespace().next().unwrap_or("");
            format!("{scheme} (masked)")
        }
        "cookie" => value
            .split(';')
            .map(|pair| {
                let name = pair.split('=').next().unwrap_or("").trim();
                format!("{name}=(masked)")
            })
            .collect::<Vec<_>>()
            .join("; "),
        "set-cookie" => {
            let (pair, rest) = value.split_once(';').unwrap_or((value, ""));
            let name = pair.split('=').next().unwrap_or("").trim();
            if rest.is_empty() {
                format!("{name}=(masked)")
            } else {
                format!("{name}=(masked);{rest}")
            }
        }
        _ => value.to_owned(),
    }
}

fn print_request(url: &url::Url, method: &str, headers: &[(String, String)]) {
    let mut target = url.path().to_owned();
    if let Some(q) = url.query() {
        target.push('?');
        target.push_str(q);
    }
    let mut text = format!("> {method} {target} HTTP/1.1\n");
    let host = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or("")),
        None => url.host_str().unwrap_or("").to_owned(),
    };
    text.push_str(&format!("> Host: {host}\n"));
    for (n, v) in headers {
        text.push_str(&format!("> {n}: {}\n", mask(n, v)));
    }
    text.push_str(">\n");
    let _ = io::stderr().write_all(text.as_bytes());
}

fn status_line(resp: &http::Response<Body>) -> String {
    let status = resp.status();
    format!(
        "{:?} {} {}",
        resp.version(),
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    )
    .trim_end()
    .to_owned()
}

fn print_response(resp: &http::Response<Body>) {
    let mut text = format!("< {}\n", status_line(resp));
    for (n, v) in header_list(resp) {
        text.push_str(&format!("< {n}: {}\n", mask(&n, &v)));
    }
    text.push_str("<\n");
    let _ = io::stderr().write_all(text.as_bytes());
}

/// How `-C -` applies to this job: the output file and how much of it exists.
#[derive(Debug, Default)]
struct ResumePlan {
    path: Option<PathBuf>,
    offset: u64,
}

fn resume_plan(cfg: &FetchConfig, job: &Job, url: &url::Url) -> Result<ResumePlan, FetchError> {
    if !cfg.resume {
        return Ok(ResumePlan::default());
    }
    let path = match &job.output {
        OutputTarget::File(p) if p.as_os_str() != "-" => p.clone(),
        OutputTarget::RemoteName { dir } if !cfg.remote_header_name => {
            remote_path(dir.as_ref(), url, &job.url)?
        }
        _ => return Ok(ResumePlan::default()),
    };
    let offset = match std::fs::metadata(&path) {
        Ok(m) if m.is_file() => m.len(),
        _ => 0,
    };
    Ok(ResumePlan {
        path: Some(path),
        offset,
    })
}

fn remote_path(dir: Option<&PathBuf>, url: &url::Url, raw: &str) -> Result<PathBuf, FetchError> {
    let name = output::remote_name(url).ok_or_else(|| {
        FetchError::write(
            raw,
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "no file name in the URL for -O (use -o FILE)",
            ),
        )
    })?;
    Ok(dir.map_or_else(|| PathBuf::from(&name), |d| d.join(&name)))
}

/// `Content-Range: bytes START-END/TOTAL` → (START, TOTAL); `bytes */TOTAL` → (None, TOTAL).
fn content_range(resp: &http::Response<Body>) -> Option<(Option<u64>, Option<u64>)> {
    let v = header_value(resp, "content-range")?.trim();
    let spec = v.strip_prefix("bytes")?.trim();
    let (range, total) = spec.split_once('/')?;
    let start = range.split('-').next().and_then(|s| s.trim().parse().ok());
    Some((start, total.trim().parse().ok()))
}

/// The status line and headers as `-i` prints them, with the blank line.
fn header_block(resp: &http::Response<Body>) -> String {
    let mut head = format!("{}\r\n", status_line(resp));
    for (n, v) in header_list(resp) {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    head
}

/// What a response means for a `-C -` download.
enum Resume {
    /// 206 from the right offset: append.
    Append,
    /// No resume asked, or the server sent the whole body (200): write it all.
    Replace,
    /// 416 with a total equal to the file's size: nothing to do.
    AlreadyComplete,
}

fn resume_outcome(
    resp: &http::Response<Body>,
    resume: &ResumePlan,
    url: &str,
) -> Result<Resume, FetchError> {
    if resume.offset == 0 {
        return Ok(Resume::Replace);
    }
    let range_error = |why: String| FetchError::Range {
        url: url.to_owned(),
        why,
    };
    match (resp.status().as_u16(), content_range(resp)) {
        (206, Some((Some(start), _))) if start == resume.offset => Ok(Resume::Append),
        (206, _) => Err(range_error(format!(
            "the server's Content-Range does not start at byte {}",
            resume.offset
        ))),
        (416, Some((None, Some(total)))) if total == resume.offset => Ok(Resume::AlreadyComplete),
        (416, _) => Err(range_error("the server refused the range (416)".into())),
        (200..=299, _) => Ok(Resume::Replace),
        // An error page must not be appended to (or replace) the partial file.
        (status, _) => Err(FetchError::HttpStatus {
            url: url.to_owned(),
            status,
        }),
    }
}

/// Writes the final response where it goes.
fn deliver(
    cfg: &FetchConfig,
    job: &Job,
    hop: &Hop,
    resp: http::Response<Body>,
    resume: &ResumePlan,
    info: &mut TransferInfo,
) -> Result<(), FetchError> {
    let status = resp.status().as_u16();
    let url = hop.url.to_string();
    if cfg.fail && status >= 400 {
        return Err(FetchError::HttpStatus { url, status });
    }
    let append = match resume_outcome(&resp, resume, &url)? {
        Resume::AlreadyComplete => {
            info.filename_effective = resume.path.as_ref().map(|p| p.display().to_string());
            return Ok(());
        }
        Resume::Append => true,
        Resume::Replace => false,
    };
    let mut sink = open_sink(cfg, job, hop, &resp, resume, append)?;
    info.filename_effective = sink.is_file().then(|| sink.name());
    if cfg.include || cfg.head {
        sink.write_all(hop.heads.as_bytes())?;
        sink.write_all(header_block(&resp).as_bytes())?;
    }
    if hop.method != "HEAD" {
        let len = header_value(&resp, "content-length").and_then(|v| v.parse().ok());
        let bar = output::progress(sink.is_file(), cfg.silent, len);
        let (_, body) = resp.into_parts();
        let mut reader = body.into_reader();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    bar.abandon();
                    return Err(from_io(url, e, true));
                }
            };
            sink.write_all(&buf[..n])?;
            info.size_download += n as u64;
            bar.inc(n as u64);
        }
        bar.finish_and_clear();
    }
    sink.finish()
}

fn open_sink(
    cfg: &FetchConfig,
    job: &Job,
    hop: &Hop,
    resp: &http::Response<Body>,
    resume: &ResumePlan,
    append: bool,
) -> Result<Sink, FetchError> {
    if append && let Some(path) = &resume.path {
        return Sink::append(path);
    }
    match &job.output {
        OutputTarget::Stdout => Ok(Sink::stdout()),
        OutputTarget::File(p) if p.as_os_str() == "-" => Ok(Sink::stdout()),
        OutputTarget::File(p) => Sink::file(p, false),
        OutputTarget::RemoteName { dir } => {
            let from_header = if cfg.remote_header_name {
                header_value(resp, "content-disposition").and_then(output::content_disposition_name)
            } else {
                None
            };
            match from_header {
                Some(name) => {
                    let path = dir
                        .as_ref()
                        .map_or_else(|| PathBuf::from(&name), |d| d.join(&name));
                    Sink::file(&path, !cfg.clobber)
                }
                None => Sink::file(&remote_path(dir.as_ref(), &hop.url, &job.url)?, false),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_secrets() {
        assert_eq!(
            mask("Authorization", "Basic dXNlcjpwYXNz"),
            "Basic (masked)"
        );
        assert_eq!(mask("Cookie", "a=1; b=2"), "a=(masked); b=(masked)");
        assert_eq!(mask("Accept", "*/*"), "*/*");
    }

    #[test]
    fn retry_after_takes_seconds_and_http_dates() {
        let now = time::macros::datetime!(2026-11-22 04:00:00 UTC);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Sun, 22 Nov 2026 04:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Sun, 22 Nov 2026 03:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn urls_are_checked() {
        assert!(parse_url("ftp://x/").is_err());
        assert!(parse_url("http://").is_err());
        assert_eq!(
            parse_url("example.com/a").expect("url").as_str(),
            "http://example.com/a"
        );
    }
}
