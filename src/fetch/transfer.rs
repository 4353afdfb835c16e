//! One run of `postie fetch`: one ureq Agent for every URL (connections are reused), our own
//! redirect loop, retries, the cookie session on every hop, and the body streamed to its
//! sink in constant memory.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::time::Instant;

use base64::Engine as _;
use ureq::config::AutoHeaderValue;
use ureq::http;
use ureq::{Agent, Body, SendBody};

use super::error::from_ureq;
use super::output::{self, Sink};
use super::resume::{Resume, ResumePlan, resume_outcome, resume_plan};
use super::retry::{backoff, retry_after, retryable_status};
use super::show::{header_block, header_list, print_request, print_response};
use super::stall::{Partial, copy_body};
use super::writeout::{self, TransferInfo};
use super::{Auth, FetchConfig, FetchError, Job, OutputTarget};
use crate::cookies::CookieSession;
use crate::error::{Error, Exit};

const USER_AGENT: &str = concat!("postie/", env!("CARGO_PKG_VERSION"));

/// Runs every job in order; each failure is reported on stderr and the batch goes on. The
/// exit code is that of the last failure (as curl), 0 when all worked.
pub fn run(config: FetchConfig) -> Result<Exit, Error> {
    if config.show_cert {
        return super::certs::show_certs(&config);
    }
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
    let client = crate::tls::TlsClient::new(&config.tls)?;
    let agent_config = Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .user_agent(AutoHeaderValue::None)
        .accept(AutoHeaderValue::None)
        .accept_encoding(AutoHeaderValue::None)
        .allow_non_standard_methods(true)
        .timeout_connect(config.connect_timeout)
        .timeout_resolve(config.connect_timeout)
        .timeout_per_read(config.stall.per_read())
        .build();
    Ok(crate::tls::http::agent(agent_config, client))
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
    // curl takes a URL without a scheme as http:// (`host:8080/x` included), but
    // `mailto:x` or `file:x` name a scheme postie does not speak.
    if !raw.contains("://")
        && let Ok(u) = url::Url::parse(raw)
        && !u.path().starts_with(|c: char| c.is_ascii_digit())
    {
        return Err(bad(format!(
            "unsupported scheme {:?} (http and https only)",
            u.scheme()
        )));
    }
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
        info.time_starttransfer = start.elapsed().as_secs_f64();
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
            _ => {
                let redo = Redo(agent, cookies, trusted, deadline);
                break deliver_retrying(redo, (cfg, job, &hop), resp, &resume, info);
            }
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

pub(super) fn header_value<'a>(resp: &'a http::Response<Body>, name: &str) -> Option<&'a str> {
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
        let user = output::percent_decode(url.username());
        let pass = output::percent_decode(url.password().unwrap_or(""));
        return Ok(basic(&user, &pass));
    }
    match &cfg.auth {
        Auth::None => Ok(None),
        Auth::Basic { user, password } if trusted => Ok(basic(user, password.expose())),
        Auth::Basic { .. } => Ok(None),
        Auth::Netrc(netrc) => {
            let host = url.host_str().unwrap_or("");
            let entry = netrc.find(host, None);
            Ok(entry.and_then(|e| {
                let user = e.login.as_deref().unwrap_or("");
                e.password.as_ref().and_then(|p| basic(user, p.expose()))
            }))
        }
    }
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

pub(super) fn remote_path(
    dir: Option<&PathBuf>,
    url: &url::Url,
    raw: &str,
) -> Result<PathBuf, FetchError> {
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

/// What a retry of a body that broke off needs to ask for the rest: the agent, the cookie
/// session, whether the hop is on the first origin, and the `--max-time` deadline.
struct Redo<'a>(&'a Agent, &'a mut CookieSession, bool, Option<Instant>);

/// Writes the final response where it goes; with `--retry`, a body that stalls or breaks
/// off is asked for again from where it stopped (see `stall`).
fn deliver_retrying(
    Redo(agent, cookies, trusted, deadline): Redo<'_>,
    (cfg, job, hop): (&FetchConfig, &Job, &Hop),
    resp: http::Response<Body>,
    resume: &ResumePlan,
    info: &mut TransferInfo,
) -> Result<(), FetchError> {
    let mut partial = Partial {
        validator: Partial::validator_of(
            header_value(&resp, "etag"),
            header_value(&resp, "last-modified"),
        ),
        ..Partial::default()
    };
    let mut resp = resp;
    let mut attempt = 0u32;
    loop {
        let err = match deliver(cfg, job, hop, resp, resume, info, &mut partial) {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        let wait = backoff(attempt, cfg);
        let late = deadline.is_some_and(|d| Instant::now() + wait >= d);
        if attempt >= cfg.retry || !err.is_transient() || partial.sink.is_none() || late {
            return Err(err);
        }
        let from = partial.base + partial.written;
        if !cfg.silent {
            eprintln!(
                "postie: {err}; retrying from byte {from} in {} s ({} retries left)",
                wait.as_secs_f64(),
                cfg.retry - attempt
            );
        }
        std::thread::sleep(wait);
        attempt += 1;
        let mut again = cfg.clone();
        again.retry = cfg.retry - attempt;
        if let Some(v) = &partial.validator {
            again.headers.push(("If-Range".into(), Some(v.clone())));
        }
        resp = call_with_retry(agent, &again, cookies, hop, trusted, from, deadline)?;
    }
}

fn deliver(
    cfg: &FetchConfig,
    job: &Job,
    hop: &Hop,
    resp: http::Response<Body>,
    resume: &ResumePlan,
    info: &mut TransferInfo,
    partial: &mut Partial,
) -> Result<(), FetchError> {
    let status = resp.status().as_u16();
    let url = hop.url.to_string();
    if cfg.fail && status >= 400 {
        return Err(FetchError::HttpStatus { url, status });
    }
    let complete = match partial.sink.is_some() {
        true => continue_partial(cfg, hop, &resp, partial)?,
        false => start_output(cfg, job, hop, &resp, resume, info, partial)?,
    };
    if !complete
        && hop.method != "HEAD"
        && let Some(sink) = partial.sink.as_mut()
    {
        let len = header_value(&resp, "content-length").and_then(|v| v.parse().ok());
        let bar = output::progress(sink.is_file(), cfg.silent, len);
        let (_, body) = resp.into_parts();
        let mut reader = body.into_reader();
        let copied = copy_body(
            &url,
            &mut reader,
            sink,
            &cfg.stall,
            &mut partial.written,
            &bar,
        );
        info.size_download = partial.written;
        if let Err(e) = copied {
            bar.abandon();
            return Err(e);
        }
        bar.finish_and_clear();
    }
    if let Some(sink) = partial.sink.take() {
        sink.finish()?;
    }
    if cfg.fail_with_body && status >= 400 {
        return Err(FetchError::HttpStatus { url, status });
    }
    Ok(())
}

/// Opens the output for the first response and writes the `-i` headers; true when a
/// `-C -` download turns out to be complete already.
fn start_output(
    cfg: &FetchConfig,
    job: &Job,
    hop: &Hop,
    resp: &http::Response<Body>,
    resume: &ResumePlan,
    info: &mut TransferInfo,
    partial: &mut Partial,
) -> Result<bool, FetchError> {
    let append = match resume_outcome(resp, resume, hop.url.as_ref())? {
        Resume::AlreadyComplete => {
            info.filename_effective = resume.path.as_ref().map(|p| p.display().to_string());
            return Ok(true);
        }
        Resume::Append => true,
        Resume::Replace => false,
    };
    partial.base = if append { resume.offset } else { 0 };
    let mut sink = open_sink(cfg, job, hop, resp, resume, append)?;
    info.filename_effective = sink.is_file().then(|| sink.name());
    if cfg.include || cfg.head {
        sink.write_all(hop.heads.as_bytes())?;
        sink.write_all(header_block(resp).as_bytes())?;
    }
    partial.sink = Some(sink);
    Ok(false)
}

/// The answer to a retry's `Range` request: append (206), done (416 at the end), or the
/// whole body again (200: the server ignores ranges, or `If-Range` saw a changed
/// resource), which starts a file over and is refused on stdout.
fn continue_partial(
    cfg: &FetchConfig,
    hop: &Hop,
    resp: &http::Response<Body>,
    partial: &mut Partial,
) -> Result<bool, FetchError> {
    let url = hop.url.to_string();
    let plan = ResumePlan {
        path: None,
        offset: partial.base + partial.written,
    };
    let outcome = resume_outcome(resp, &plan, &url)?;
    let Some(sink) = partial.sink.as_mut() else {
        return Ok(true);
    };
    match outcome {
        Resume::Append => Ok(false),
        Resume::AlreadyComplete => Ok(true),
        Resume::Replace if plan.offset == 0 && !(cfg.include || cfg.head) => Ok(false),
        Resume::Replace => {
            if !sink.restart()? {
                return Err(FetchError::Partial {
                    url,
                    why: "the server sent the whole body again, which cannot replace what was already written to stdout".into(),
                });
            }
            partial.written = 0;
            partial.base = 0;
            if cfg.include || cfg.head {
                sink.write_all(hop.heads.as_bytes())?;
                sink.write_all(header_block(resp).as_bytes())?;
            }
            Ok(false)
        }
    }
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
    fn urls_are_checked() {
        assert!(parse_url("ftp://x/").is_err());
        assert!(parse_url("mailto:a@b").is_err());
        assert_eq!(
            parse_url("localhost:8080/x").expect("url").as_str(),
            "http://localhost:8080/x"
        );
        assert!(parse_url("http://").is_err());
        assert_eq!(
            parse_url("example.com/a").expect("url").as_str(),
            "http://example.com/a"
        );
    }
}
