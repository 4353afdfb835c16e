//! One run of `postie fetch`: one ureq Agent for every URL (connections are reused), our own
//! redirect loop, retries, the cookie session on every hop, and the body streamed to its
//! sink in constant memory.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine as _;
use ureq::config::AutoHeaderValue;
use ureq::http;
use ureq::{Agent, Body, SendBody};

use super::error::from_ureq;
use super::output::{self, Sink};
use super::probe::{self, Probe};
use super::resume::{self, Resume, ResumePlan, resume_outcome, resume_plan};
use super::retry::{backoff, retry_after, retryable_status};
use super::show::{
    header_block, header_block_len, header_list, header_value, print_request, print_response,
};
use super::stall::Partial;
use super::writeout::{self, TransferInfo};
use super::{Auth, FetchConfig, FetchError, Job, OutputTarget, files, mask_url};
use crate::cookies::CookieSession;
use crate::exit::Exit;

/// ureq's input buffer per connection (allocated when the connection is first used).
const INPUT_BUFFER: usize = 512 * 1024;

const USER_AGENT: &str = concat!("postie/", env!("CARGO_PKG_VERSION"));

/// Runs every job in order; each failure is reported on stderr and the batch goes on. The
/// exit code is that of the last failure (as curl), 0 when all worked.
pub fn run(config: FetchConfig) -> Result<Exit, FetchError> {
    if config.show_cert {
        return super::certs::show_certs(&config);
    }
    let probe = Probe::default();
    let agent = build_agent(&config, &probe)?;
    let mut cookies = CookieSession::open(config.cookies.clone())?;
    files::start_dump(&config)?;
    let mut last_failure = None;
    for (urlnum, job) in config.jobs.iter().enumerate() {
        let mut info = TransferInfo {
            urlnum,
            ..TransferInfo::default()
        };
        let result = fetch_reported(&agent, &config, &mut cookies, job, &mut info, Some(&probe));
        if let Err(err) = result {
            if crate::exit::is_broken_pipe(&err) {
                cookies.finish()?;
                save_state(&config)?;
                return Err(err);
            }
            if !config.silent || config.show_error {
                eprintln!("postie: {}", mask_url(&err.to_string()));
            }
            last_failure = Some(err.exit_code());
        }
    }
    cookies.finish()?;
    save_state(&config)?;
    Ok(last_failure.map_or(Exit::SUCCESS, Exit::with_code))
}

/// `--update`: this run's validators into the state file (locked load-merge-save), the
/// entries of files that are gone dropped.
fn save_state(config: &FetchConfig) -> Result<(), FetchError> {
    config
        .update
        .as_ref()
        .map_or(Ok(()), super::ValidatorStore::finish)
}

/// One job with its `-w` line: the transfer, its error noted for `%{errormsg}` and
/// `%{exitcode}`, and the connection's details when `probe` sees only this transfer (one at
/// a time).
pub(super) fn fetch_reported(
    agent: &Agent,
    cfg: &FetchConfig,
    cookies: &mut CookieSession,
    job: &Job,
    info: &mut TransferInfo,
    probe: Option<&Probe>,
) -> Result<(), FetchError> {
    if let Some(p) = probe {
        p.reset();
    }
    let result = fetch_one(agent, cfg, cookies, job, info);
    if let Err(err) = &result {
        info.errormsg = mask_url(&err.to_string());
        info.exitcode = err.exit_code();
    }
    if let Some(p) = probe {
        record_connection(info, &p.events());
    }
    write_out(cfg, info);
    result
}

/// `-w`: the rendered format on stdout, a warning per unknown variable on stderr.
fn write_out(config: &FetchConfig, info: &TransferInfo) {
    let Some(format) = &config.write_out else {
        return;
    };
    let mut unknown = Vec::new();
    let text = writeout::render(format, info, &mut unknown);
    for name in unknown {
        eprintln!("postie: warning: -w: unknown variable %{{{name}}} (prints nothing)");
    }
    let mut out = io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// The `-w` connection variables from what the probe saw, relative to the transfer start.
fn record_connection(info: &mut TransferInfo, events: &probe::Events) {
    let Some(start) = info.started else { return };
    let secs =
        |t: Option<Instant>| t.map_or(0.0, |t| t.saturating_duration_since(start).as_secs_f64());
    info.time_namelookup = secs(events.resolved);
    info.time_connect = secs(events.connected);
    info.time_appconnect = secs(events.tls_done);
    info.time_pretransfer = info
        .time_pretransfer
        .max(info.time_connect)
        .max(info.time_appconnect);
    // Only a transfer that got a response may name a kept-alive connection's peer.
    let last = url::Url::parse(&info.url_effective).ok();
    let peer = match last {
        Some(u) if info.http_code != 0 => events.peer_for(&u),
        _ => events.remote,
    };
    if let Some(addr) = peer {
        info.remote_ip = addr.ip().to_string();
        info.remote_port = Some(addr.port());
        info.local_ip = probe::local_ip_for(addr)
            .map(|ip| ip.to_string())
            .unwrap_or_default();
    }
}

pub(super) fn build_agent(config: &FetchConfig, probe: &Probe) -> Result<Agent, FetchError> {
    let tls = crate::tls::http::OpensslConnector::for_options(&config.tls)?;
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
        // ureq reads the socket into this buffer and copies out of it: 512 KiB (ureq's
        // default is 128 KiB) makes a quarter of the reads and copies for a large body
        // (bench/fetch/RESULTS.md, 2026-12-03).
        .input_buffer_size(INPUT_BUFFER)
        .max_idle_connections(super::many::pool_size(config).0)
        .max_idle_connections_per_host(super::many::pool_size(config).1)
        .build();
    Ok(probe::agent(agent_config, probe, tls))
}

/// The scheme, host and port that decide whether credentials may follow a redirect.
fn origin(url: &url::Url) -> (String, String, Option<u16>) {
    (
        url.scheme().to_owned(),
        url.host_str().unwrap_or("").to_ascii_lowercase(),
        url.port_or_known_default(),
    )
}

pub(super) fn parse_url(raw: &str) -> Result<url::Url, FetchError> {
    let bad = |why: String| FetchError::BadUrl {
        url: mask_url(raw),
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
    /// With `-i`/`-I`/`-D`: the header blocks of the redirects followed so far (curl -L -i
    /// prints every hop's).
    heads: String,
    /// Bytes of the requests sent so far (`%{size_request}`).
    sent: std::cell::Cell<u64>,
    /// `--update`'s If-None-Match / If-Modified-Since, and the stored `If-Range` of a part
    /// being resumed.
    conditional: Vec<(String, String)>,
    if_range: Option<String>,
}

fn fetch_one(
    agent: &Agent,
    cfg: &FetchConfig,
    cookies: &mut CookieSession,
    job: &Job,
    info: &mut TransferInfo,
) -> Result<(), FetchError> {
    let start = Instant::now();
    info.started = Some(start);
    let deadline = cfg.max_time.map(|d| start + d);
    let first = parse_url(&job.url)?;
    info.url_effective = mask_url(first.as_str());
    let planned = files::planned_path(cfg, job, &first)?;
    if files::skip_existing(cfg, job, planned.as_deref())? {
        return Ok(());
    }
    let first_origin = origin(&first);
    let resume = resume_plan(cfg, job, planned.as_deref())?;
    let mut hop = Hop {
        method: initial_method(cfg),
        send_body: !cfg.body.is_none(),
        url: first,
        redirects: 0,
        heads: String::new(),
        sent: std::cell::Cell::new(0),
        conditional: resume.conditional.clone(),
        if_range: resume.if_range.clone(),
    };
    let result = loop {
        let trusted = origin(&hop.url) == first_origin;
        info.time_pretransfer = start.elapsed().as_secs_f64();
        let resp = call_with_retry(agent, cfg, cookies, &hop, trusted, resume.offset, deadline);
        let resp = match resp {
            Ok(r) => r,
            Err(e) => break Err(e),
        };
        let location = record_hop(info, &hop, &resp, start);
        let status = resp.status().as_u16();
        match location {
            Some(loc) if cfg.follow && is_redirect(status) => {
                if let Err(e) = follow(cfg, job, &mut hop, resp, &loc) {
                    break Err(e);
                }
            }
            _ => {
                let redo = Redo(agent, cookies, trusted, deadline);
                let out = Partial::planned(planned);
                break deliver_retrying(redo, (cfg, job, &hop), resp, (&resume, out), info);
            }
        }
    };
    info.time_total = start.elapsed().as_secs_f64();
    info.size_request = hop.sent.get();
    result
}

/// Notes one hop's response for `-w`; returns its Location.
fn record_hop(
    info: &mut TransferInfo,
    hop: &Hop,
    resp: &http::Response<Body>,
    start: Instant,
) -> Option<String> {
    info.url_effective = mask_url(hop.url.as_str());
    info.num_redirects = hop.redirects;
    record_response(info, resp);
    info.size_header += header_block_len(resp) as u64;
    info.time_starttransfer = start.elapsed().as_secs_f64();
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get(http::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    info.redirect_url = location
        .as_deref()
        .filter(|_| is_redirect(status))
        .and_then(|l| hop.url.join(l).ok())
        .map(|u| mask_url(u.as_str()));
    location
}

/// Moves `hop` to the redirect target `loc` (within `--max-redirs`).
fn follow(
    cfg: &FetchConfig,
    job: &Job,
    hop: &mut Hop,
    resp: http::Response<Body>,
    loc: &str,
) -> Result<(), FetchError> {
    let status = resp.status().as_u16();
    if hop.redirects >= cfg.max_redirs {
        return Err(FetchError::TooManyRedirects {
            url: mask_url(&job.url),
            max: cfg.max_redirs,
        });
    }
    if cfg.include || cfg.head || cfg.files.dump_header.is_some() {
        hop.heads.push_str(&header_block(&resp));
    }
    discard(resp);
    let next = hop.url.join(loc).map_err(|e| FetchError::BadUrl {
        url: mask_url(loc),
        why: format!("redirect to a malformed URL: {e}"),
    })?;
    let next = parse_url(next.as_str())?;
    if cfg.verbose {
        eprintln!("* redirect {status} to {}", mask_url(next.as_str()));
    }
    rewrite_method(hop, status);
    hop.url = next;
    hop.redirects += 1;
    Ok(())
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
        // The host is paused whether or not this transfer retries: the other URLs queued
        // for it must wait too (with --retry 0 as on the last attempt).
        let asked = result.as_ref().ok().and_then(|resp| {
            let asked = retry_after(resp)?.min(cfg.retry_max_wait);
            super::many::pause_host(cfg, &hop.url, resp.status().as_u16(), asked);
            Some(asked)
        });
        let wait = match &result {
            Ok(resp) if retries_left && retryable_status(resp.status().as_u16()) => {
                Some(asked.unwrap_or_else(|| backoff(attempt, cfg).min(cfg.retry_max_wait)))
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
                Err(e) => mask_url(&e.to_string()),
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
        super::many::sleep_before_retry(cfg, &hop.url, wait);
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
    defaults.extend(range_headers(hop, range_from));
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

/// Range (with `If-Range` when the part's validator is known) and `--update`'s conditions.
fn range_headers(hop: &Hop, range_from: u64) -> Vec<(String, String)> {
    let mut headers = hop.conditional.clone();
    if range_from > 0 {
        headers.push(("Range".into(), format!("bytes={range_from}-")));
        if let Some(v) = &hop.if_range {
            headers.push(("If-Range".into(), v.clone()));
        }
    }
    headers
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
        Auth::Bearer(token) if trusted => Ok(Some(format!("Bearer {}", token.expose()))),
        Auth::Bearer(_) => Ok(None),
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

/// The bytes of a request as HTTP/1.1 puts them on the wire: request line, Host, the
/// headers, the blank line and the body (its Content-Length).
fn request_size(url: &url::Url, method: &str, headers: &[(String, String)]) -> u64 {
    let target = url.path().len() + url.query().map_or(0, |q| q.len() + 1);
    let host =
        url.host_str().unwrap_or("").len() + url.port().map_or(0, |p| p.to_string().len() + 1);
    let mut n = method.len() + 1 + target + " HTTP/1.1\r\n".len() + "Host: \r\n".len() + host + 2;
    let mut body = 0;
    for (name, value) in headers {
        n += name.len() + 2 + value.len() + 2;
        if name.eq_ignore_ascii_case("content-length") {
            body = value.parse().unwrap_or(0);
        }
    }
    n as u64 + body
}

/// The proxy of this URL, with `-U` credentials.
fn proxy_for(cfg: &FetchConfig, url: &url::Url) -> Result<Option<ureq::Proxy>, FetchError> {
    let Some(p) = cfg.proxy.for_url(url) else {
        return Ok(None);
    };
    let with_user = super::proxy::with_user(p, cfg.files.proxy_user.as_ref());
    ureq::Proxy::new(&with_user)
        .map(Some)
        .map_err(|e| FetchError::BadUrl {
            url: mask_url(p),
            why: format!("proxy: {e}"),
        })
}

/// What is left of `--max-time` (an error when nothing is).
fn time_left(deadline: Option<Instant>, url: &str) -> Result<Option<Duration>, FetchError> {
    let Some(d) = deadline else {
        return Ok(None);
    };
    let left = d.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(FetchError::Timeout {
            url: url.to_owned(),
            why: "--max-time".into(),
        });
    }
    Ok(Some(left))
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
    let request = build_request(cfg, cookies, hop, trusted, range_from)?;
    let proxy = proxy_for(cfg, &hop.url)?;
    let remaining = time_left(deadline, &url_text)?;
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

/// The hop's request (method, headers, body), shown with `-v` and counted into the bytes
/// sent, but not yet sent.
fn build_request(
    cfg: &FetchConfig,
    cookies: &mut CookieSession,
    hop: &Hop,
    trusted: bool,
    range_from: u64,
) -> Result<http::Request<SendBody<'static>>, FetchError> {
    let url_text = hop.url.to_string();
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
        url: url_text,
        why: e.to_string(),
    })?;
    if cfg.verbose {
        print_request(&hop.url, &hop.method, &headers);
    }
    hop.sent
        .set(hop.sent.get() + request_size(&hop.url, &hop.method, &headers));
    Ok(request)
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
    (resume, mut partial): (&ResumePlan, Partial),
    info: &mut TransferInfo,
) -> Result<(), FetchError> {
    partial.validator = Partial::validator_of(
        header_value(&resp, "etag"),
        header_value(&resp, "last-modified"),
    )
    // A 206 without validators continues the part whose validator the store has.
    .or_else(|| {
        resume
            .if_range
            .clone()
            .filter(|_| resp.status().as_u16() == 206)
    });
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
        // The body under way is the one to continue: no 304 for the rest of it.
        for name in ["If-None-Match", "If-Modified-Since"] {
            again.headers.push((name.into(), None));
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
    let url = mask_url(hop.url.as_str());
    files::dump_headers(cfg, &[&hop.heads, &header_block(&resp)])?;
    if cfg.fail && status >= 400 {
        return Err(FetchError::HttpStatus { url, status });
    }
    if status == 304 && !hop.conditional.is_empty() && partial.sink.is_none() {
        return resume::not_modified(cfg, resume, &resp, info);
    }
    let fresh = resume::Fresh::of(&resp);
    let mtime = if cfg.files.remote_time {
        files::last_modified(&resp)
    } else {
        None
    };
    let complete = match partial.sink.is_some() {
        true => continue_partial(cfg, hop, &resp, partial, info)?,
        false => start_output(cfg, job, hop, &resp, resume, info, partial)?,
    };
    if !complete && hop.method != "HEAD" {
        copy_response((cfg, resume, &url), resp, fresh.total, partial, info)?;
    }
    if let Some(sink) = partial.sink.take() {
        let regular = sink.regular_file();
        sink.finish()?;
        if let (Some(time), Some(path)) = (mtime, &regular) {
            files::set_mtime(path, time)?;
        }
        resume::record_complete(cfg, resume, (fresh, status), regular.as_deref());
    }
    if cfg.fail_with_body && status >= 400 {
        return Err(FetchError::HttpStatus { url, status });
    }
    Ok(())
}

/// Streams the body into the output opened for it, with a progress bar.
fn copy_response(
    (cfg, resume, url): (&FetchConfig, &ResumePlan, &str),
    resp: http::Response<Body>,
    total: Option<u64>,
    partial: &mut Partial,
    info: &mut TransferInfo,
) -> Result<(), FetchError> {
    let Some(sink) = partial.sink.as_mut() else {
        return Ok(());
    };
    let len = header_value(&resp, "content-length").and_then(|v| v.parse().ok());
    let bar = super::many::bar(cfg, sink.is_file(), len, url);
    let (_, body) = resp.into_parts();
    let mut reader = body.into_reader();
    let record = resume::part_record(resume, partial.validator.as_deref(), total);
    let copied = resume::copy_recording(
        (cfg, resume, record),
        url,
        &mut reader,
        sink,
        &mut partial.written,
        &bar,
    );
    info.size_download = partial.written;
    if let Err(e) = copied {
        bar.abandon();
        return Err(e);
    }
    bar.finish_and_clear();
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
            // A whole `FILE.part` still becomes FILE.
            if let Some(part) = resume
                .part
                .as_ref()
                .filter(|p| resume.path.as_ref() == Some(&p.part))
            {
                info.filename_effective = Some(part.dest.display().to_string());
                let file = part.open(true)?;
                partial.sink = Some(Sink::Part {
                    file,
                    part: part.clone(),
                });
            }
            return Ok(true);
        }
        Resume::Append => true,
        Resume::Replace => false,
    };
    info.resumed = append;
    partial.base = if append { resume.offset } else { 0 };
    let planned = partial.planned.take();
    let Some(mut sink) = open_sink(cfg, job, resp, resume, append, planned)? else {
        return Ok(true);
    };
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
    info: &mut TransferInfo,
) -> Result<bool, FetchError> {
    let url = mask_url(hop.url.as_str());
    let plan = ResumePlan {
        path: None,
        offset: partial.base + partial.written,
        ..ResumePlan::default()
    };
    let outcome = resume_outcome(resp, &plan, &url)?;
    let Some(sink) = partial.sink.as_mut() else {
        return Ok(true);
    };
    match outcome {
        Resume::Append => {
            info.resumed = true;
            Ok(false)
        }
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

/// The sink of the final response: the resumed file, the planned file (`-O` refuses to
/// replace an existing file unless `--clobber`, as `-J`), `-J`'s name, or stdout. None:
/// `-nc` and `-J` named a file that exists (skipped, as wget).
fn open_sink(
    cfg: &FetchConfig,
    job: &Job,
    resp: &http::Response<Body>,
    resume: &ResumePlan,
    append: bool,
    planned: Option<PathBuf>,
) -> Result<Option<Sink>, FetchError> {
    if let Some(part) = &resume.part
        && (!append || resume.path.as_ref() == Some(&part.part))
    {
        files::create_parent(cfg, &part.dest)?;
        let file = part.open(append)?;
        let part = part.clone();
        return Ok(Some(Sink::Part { file, part }));
    }
    if append && let Some(path) = &resume.path {
        return Sink::append(path).map(Some);
    }
    let remote = matches!(job.output, OutputTarget::RemoteName { .. });
    let no_clobber = remote && !cfg.clobber && !cfg.continues();
    // A planned name was checked before connecting (a file that appears since is still
    // never replaced by -O: `no_clobber` below); a name from the response is checked now.
    let checked = planned.is_some();
    let path = match (&job.output, planned) {
        (_, Some(p)) => p,
        (OutputTarget::RemoteName { dir }, None) => {
            match header_value(resp, "content-disposition")
                .and_then(output::content_disposition_name)
            {
                Some(name) => dir
                    .as_ref()
                    .map_or_else(|| PathBuf::from(&name), |d| d.join(&name)),
                None => files::remote_path(dir.as_ref(), &parse_url(&job.url)?, &job.url)?,
            }
        }
        _ => return Ok(Some(Sink::stdout())),
    };
    if !checked && files::skip_existing(cfg, job, Some(&path))? {
        return Ok(None);
    }
    files::create_parent(cfg, &path)?;
    Sink::file(&path, no_clobber, !cfg.files.unsynced).map(Some)
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
