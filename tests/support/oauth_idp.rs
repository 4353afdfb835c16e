//! A fake OAuth2 identity provider for the OAuth2 tests, in process, on top of
//! `http_server.rs` (plain HTTP, or HTTPS with the test CA from `certs.rs`).
//!
//! Include with `certs.rs` and `http_server.rs` beside it:
//! `#[path = "support/oauth_idp.rs"] mod oauth_idp;`.
//!
//! ```ignore
//! let certs = Certs::make();
//! let idp = FakeIdp::start_tls(IdpConfig::default(), &certs);
//! // give postie idp.device_url(), idp.token_url(), CLIENT_ID and certs.ca, run it, then:
//! assert_eq!(idp.requests_to("/token").len(), 1);
//! idp.assert_no_secret_in("stderr", &out.stderr);
//! ```
//!
//! Endpoints (form-encoded POST bodies; JSON answers with `Content-Type: application/json`
//! and `Cache-Control: no-store`; errors as RFC 6749 §5.2 `{"error", "error_description"}`,
//! 401 for `invalid_client`, 400 otherwise):
//! - `POST /device` (RFC 8628 §3.1-3.2): device_code, user_code, verification_uri(_complete),
//!   expires_in, interval.
//! - `POST /token`: grant types device_code (answers follow [`IdpConfig::device_script`], each
//!   poll is timed, see [`check_poll_spacing`]), authorization_code (code single use,
//!   redirect_uri equal to the one given at /authorize, client_id, PKCE S256) and
//!   refresh_token (rotation, reuse detection that can revoke the whole family).
//! - `GET /authorize` (RFC 7636 + RFC 8252 loopback redirect): 302 to
//!   `redirect_uri?code=..&state=..`, or `error=access_denied` after [`FakeIdp::deny_in_browser`].
//! - `GET /verify?user_code=..` (the device flow's verification page): approves that grant.
//! - `POST /introspect` (RFC 7662, what Dovecot's oauth2 passdb and `smtp_oauth.py` call):
//!   `{"active":true,"username",..}` for a live access token, `{"active":false}` otherwise
//!   (expired, revoked, unknown, or a refresh token).
//! - `POST /revoke` (RFC 7009): revokes the family of a refresh or access token.
//!
//! When a client secret is configured, every client endpoint checks `client_secret` in the
//! form (client_secret_post). Tokens look like `fake-at-N-HEX` (access), `fake-rt-N-HEX`
//! (refresh): easy to search for in logs and files ([`FakeIdp::assert_no_secret_in`]).
#![allow(dead_code)]

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::certs::Certs;
use super::http_server::{HttpServer, Request, Response};

/// The public client postie is registered as.
pub const CLIENT_ID: &str = "postie-test-client";
/// The user every token is issued to by default.
pub const USER: &str = "alice";
/// The default scope (what the mail peers require).
pub const SCOPE: &str = "mail";
/// The credentials the mail peers present at /introspect (a resource server's).
pub const RS_CLIENT_ID: &str = "mail-server";
pub const RS_CLIENT_SECRET: &str = "rs-secret-7";
pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// What the next poll of a device grant is answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStep {
    /// `authorization_pending`
    Pending,
    /// `slow_down` (the client must add 5 s to its interval, RFC 8628 §3.5)
    SlowDown,
    /// tokens; the device_code is then used up
    Approve,
    /// `access_denied`
    Deny,
    /// `expired_token`
    Expire,
}

/// The knobs; change them at run time with [`FakeIdp::configure`].
#[derive(Debug, Clone)]
pub struct IdpConfig {
    pub client_id: String,
    /// When set, /device, /token and /revoke require it as `client_secret` (form field).
    pub client_secret: Option<String>,
    /// Who new tokens belong to (introspection's `username`).
    pub username: String,
    /// The scope granted when the client asks for none.
    pub default_scope: String,
    /// Access-token lifetime (wall clock); `expires_in` is its whole seconds.
    pub access_lifetime: Duration,
    /// Each refresh returns a new refresh token and retires the old one (Microsoft). Off:
    /// the answer has no `refresh_token` and the old one stays valid (Google).
    pub rotate_refresh: bool,
    /// Using a retired refresh token revokes its whole family (tokens issued from one grant).
    pub reuse_revokes_family: bool,
    /// The device grant's `interval` (seconds) and `expires_in` (seconds).
    pub device_interval: u64,
    pub device_expires_in: u64,
    /// The answers to the polls of every new device grant, in order; when used up, polls
    /// get `authorization_pending` until [`FakeIdp::approve_device`] (or a GET of
    /// verification_uri_complete) or [`FakeIdp::deny_device`].
    pub device_script: Vec<DeviceStep>,
    /// When set, /introspect requires this `client_id`/`client_secret` pair.
    pub resource_server: Option<(String, String)>,
    /// Extra characters appended to every access token (to make long ones).
    pub token_extra_len: usize,
}

impl Default for IdpConfig {
    fn default() -> IdpConfig {
        IdpConfig {
            client_id: CLIENT_ID.to_owned(),
            client_secret: None,
            username: USER.to_owned(),
            default_scope: SCOPE.to_owned(),
            access_lifetime: Duration::from_secs(3600),
            rotate_refresh: true,
            reuse_revokes_family: true,
            device_interval: 1,
            device_expires_in: 600,
            device_script: vec![DeviceStep::Approve],
            resource_server: Some((RS_CLIENT_ID.to_owned(), RS_CLIENT_SECRET.to_owned())),
            token_extra_len: 0,
        }
    }
}

/// One request as the fake saw it, with its answer.
#[derive(Debug, Clone)]
pub struct IdpRequest {
    pub method: String,
    /// The path: `/token`, `/device`, ...
    pub endpoint: String,
    /// Decoded form fields of the body (POST), in order.
    pub form: Vec<(String, String)>,
    /// Decoded query parameters (GET).
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub at: Instant,
    pub status: u16,
    /// The JSON answered, or the Location of a redirect, or the page text.
    pub answer: String,
}

impl IdpRequest {
    /// The first form field (or else query parameter) `name`.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .chain(self.query.iter())
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One poll of the token endpoint with a device_code.
#[derive(Debug, Clone)]
pub struct DevicePoll {
    pub device_code: String,
    pub at: Instant,
    /// `authorization_pending`, `slow_down`, `tokens`, or the error code answered.
    pub answer: String,
}

/// A device authorization as /device made it.
#[derive(Debug, Clone)]
pub struct DeviceGrant {
    pub device_code: String,
    pub user_code: String,
    pub issued_at: Instant,
    pub scope: String,
    script: VecDeque<DeviceStep>,
    decision: Option<bool>,
    done: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    Refresh,
}

/// A token the fake handed out.
#[derive(Debug, Clone)]
pub struct Issued {
    pub kind: TokenKind,
    pub token: String,
    /// Tokens from one grant (and its refreshes) share a family.
    pub family: u64,
    /// The grant_type (or "mint") that produced it.
    pub grant: String,
}

/// An access and refresh token pair from [`FakeIdp::mint`].
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
}

#[derive(Debug, Clone)]
struct Owner {
    family: u64,
    client_id: String,
    scope: String,
    username: String,
}

#[derive(Debug, Clone)]
struct AccessToken {
    owner: Owner,
    expires_at: SystemTime,
}

#[derive(Debug, Clone)]
struct RefreshToken {
    owner: Owner,
    /// False once rotated away.
    current: bool,
}

#[derive(Debug, Clone)]
struct AuthCode {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    scope: String,
    used: bool,
    family: Option<u64>,
}

#[derive(Debug, Default)]
struct State {
    cfg: IdpConfig,
    base_url: String,
    devices: HashMap<String, DeviceGrant>,
    codes: HashMap<String, AuthCode>,
    access: HashMap<String, AccessToken>,
    refresh: HashMap<String, RefreshToken>,
    revoked_families: HashSet<u64>,
    counter: u64,
    log: Vec<IdpRequest>,
    polls: Vec<DevicePoll>,
    issued: Vec<Issued>,
    reuse_detected: usize,
    deny_next_authorize: bool,
}

/// What a handler answers, before it becomes an HTTP response.
enum Reply {
    Json(u16, Value),
    Redirect(String),
    Page(u16, String),
}

fn oauth_error(error: &str, description: &str) -> Reply {
    let status = if error == "invalid_client" { 401 } else { 400 };
    Reply::Json(
        status,
        json!({"error": error, "error_description": description}),
    )
}

impl Reply {
    fn status(&self) -> u16 {
        match self {
            Reply::Json(s, _) | Reply::Page(s, _) => *s,
            Reply::Redirect(_) => 302,
        }
    }

    fn text(&self) -> String {
        match self {
            Reply::Json(_, v) => v.to_string(),
            Reply::Redirect(l) => l.clone(),
            Reply::Page(_, t) => t.clone(),
        }
    }

    fn into_response(self) -> Response {
        match self {
            Reply::Json(status, v) => {
                let mut r = Response::status(status)
                    .header("Content-Type", "application/json")
                    .header("Cache-Control", "no-store")
                    .body(v.to_string());
                if status == 401 {
                    r = r.header("WWW-Authenticate", "Basic realm=\"fake-idp\"");
                }
                r
            }
            Reply::Redirect(location) => Response::redirect(302, &location),
            Reply::Page(status, text) => Response::status(status)
                .header("Content-Type", "text/plain; charset=utf-8")
                .body(text),
        }
    }
}

/// The running fake; stops when dropped.
pub struct FakeIdp {
    server: HttpServer,
    state: Arc<Mutex<State>>,
    ca: Option<PathBuf>,
}

impl std::fmt::Debug for FakeIdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FakeIdp({})", self.base_url())
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

impl FakeIdp {
    /// Starts on plain HTTP (`http://127.0.0.1:PORT`).
    pub fn start(cfg: IdpConfig) -> FakeIdp {
        let state = Arc::new(Mutex::new(State {
            cfg,
            ..State::default()
        }));
        let handler_state = Arc::clone(&state);
        let server = HttpServer::start(move |req| handle(&handler_state, req));
        FakeIdp::finish(server, state, None)
    }

    /// Starts on HTTPS (`https://localhost:PORT`) with `certs`' CA-signed server certificate;
    /// clients need `certs.ca`.
    pub fn start_tls(cfg: IdpConfig, certs: &Certs) -> FakeIdp {
        let state = Arc::new(Mutex::new(State {
            cfg,
            ..State::default()
        }));
        let handler_state = Arc::clone(&state);
        let cert = std::fs::read(&certs.cert).expect("read server.pem");
        let key = std::fs::read(&certs.key).expect("read server.key");
        let identity = native_tls::Identity::from_pkcs8(&cert, &key).expect("identity");
        let server = HttpServer::start_tls(identity, move |req| handle(&handler_state, req));
        FakeIdp::finish(server, state, Some(certs.ca.clone()))
    }

    fn finish(server: HttpServer, state: Arc<Mutex<State>>, ca: Option<PathBuf>) -> FakeIdp {
        lock(&state).base_url = server.url("");
        FakeIdp { server, state, ca }
    }

    /// `http://127.0.0.1:PORT` or `https://localhost:PORT`.
    pub fn base_url(&self) -> String {
        self.server.url("")
    }

    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// The URL with `127.0.0.1` as the host also for HTTPS (the certificate has that IP too):
    /// for peers that might resolve `localhost` to ::1 first (Dovecot).
    pub fn url_ip(&self, path: &str) -> String {
        let scheme = if self.ca.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}{path}", self.server.port())
    }

    pub fn device_url(&self) -> String {
        self.url("/device")
    }

    pub fn token_url(&self) -> String {
        self.url("/token")
    }

    pub fn authorize_url(&self) -> String {
        self.url("/authorize")
    }

    pub fn introspect_url(&self) -> String {
        self.url("/introspect")
    }

    pub fn revoke_url(&self) -> String {
        self.url("/revoke")
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// The CA file clients need (HTTPS only).
    pub fn ca(&self) -> Option<&Path> {
        self.ca.as_deref()
    }

    /// Changes knobs; applies to the requests that follow.
    pub fn configure(&self, change: impl FnOnce(&mut IdpConfig)) {
        change(&mut lock(&self.state).cfg);
    }

    pub fn config(&self) -> IdpConfig {
        lock(&self.state).cfg.clone()
    }
}

// Test-facing controls and records.
impl FakeIdp {
    /// Revokes every family: all refresh and access tokens issued so far stop working.
    pub fn revoke_all(&self) {
        let mut st = lock(&self.state);
        let families: Vec<u64> = st.issued.iter().map(|i| i.family).collect();
        st.revoked_families.extend(families);
    }

    /// Makes every access token issued so far expired (refresh tokens stay valid).
    pub fn expire_access_tokens(&self) {
        let past = SystemTime::now() - Duration::from_secs(1);
        for t in lock(&self.state).access.values_mut() {
            t.expires_at = past;
        }
    }

    /// The user approves the device grant with this user_code (next poll gets tokens once
    /// its script is used up).
    pub fn approve_device(&self, user_code: &str) -> bool {
        decide_device(&mut lock(&self.state), user_code, true)
    }

    /// The user denies it (`access_denied`).
    pub fn deny_device(&self, user_code: &str) -> bool {
        decide_device(&mut lock(&self.state), user_code, false)
    }

    /// Issues a token pair without any flow (a new family), e.g. to seed a token store or to
    /// talk to the mail peers directly.
    pub fn mint(&self) -> Tokens {
        let mut st = lock(&self.state);
        let owner = new_owner(&mut st, None);
        let answer = issue(&mut st, &owner, true, "mint");
        Tokens {
            access_token: answer["access_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            refresh_token: answer["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        }
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<IdpRequest> {
        lock(&self.state).log.clone()
    }

    /// The requests to one endpoint (`/token`, `/device`, ...).
    pub fn requests_to(&self, endpoint: &str) -> Vec<IdpRequest> {
        let st = lock(&self.state);
        st.log
            .iter()
            .filter(|r| r.endpoint == endpoint)
            .cloned()
            .collect()
    }

    /// Every poll with a device_code, in order.
    pub fn device_polls(&self) -> Vec<DevicePoll> {
        lock(&self.state).polls.clone()
    }

    /// The device grants made so far (oldest first).
    pub fn device_grants(&self) -> Vec<DeviceGrant> {
        let mut v: Vec<DeviceGrant> = lock(&self.state).devices.values().cloned().collect();
        v.sort_by_key(|d| d.issued_at);
        v
    }

    /// Every token handed out, in order.
    pub fn issued(&self) -> Vec<Issued> {
        lock(&self.state).issued.clone()
    }

    /// The newest refresh token that still works, if any.
    pub fn current_refresh_token(&self) -> Option<String> {
        let st = lock(&self.state);
        st.issued
            .iter()
            .rev()
            .filter(|i| i.kind == TokenKind::Refresh)
            .find(|i| refresh_usable(&st, &i.token))
            .map(|i| i.token.clone())
    }

    /// The newest access token issued, if any.
    pub fn last_access_token(&self) -> Option<String> {
        let st = lock(&self.state);
        st.issued
            .iter()
            .rev()
            .find(|i| i.kind == TokenKind::Access)
            .map(|i| i.token.clone())
    }

    /// How many times a retired refresh token was presented.
    pub fn reuse_detected(&self) -> usize {
        lock(&self.state).reuse_detected
    }

    /// Whether introspection would call this access token active now.
    pub fn is_active(&self, token: &str) -> bool {
        access_live(&lock(&self.state), token).is_some()
    }

    /// Every secret the fake knows: issued tokens, authorization and device codes, the
    /// configured client secret.
    pub fn secrets(&self) -> Vec<String> {
        let st = lock(&self.state);
        let mut v: Vec<String> = st.issued.iter().map(|i| i.token.clone()).collect();
        v.extend(st.codes.keys().cloned());
        v.extend(st.devices.keys().cloned());
        v.extend(st.cfg.client_secret.clone());
        v
    }

    /// Panics when any of [`secrets`](Self::secrets) appears in `haystack` (`what` names it
    /// in the message, e.g. "stderr" or a file name).
    pub fn assert_no_secret_in(&self, what: &str, haystack: impl AsRef<[u8]>) {
        assert_absent(what, haystack.as_ref(), &self.secrets());
    }
}

/// Panics when one of `secrets` appears in `haystack`.
pub fn assert_absent(what: &str, haystack: &[u8], secrets: &[String]) {
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        let found = haystack.windows(s.len()).any(|w| w == s.as_bytes());
        assert!(!found, "the secret {s:?} appears in {what}");
    }
}

/// Checks that consecutive polls of each device_code were at least `interval` apart, plus
/// 5 s more after each `slow_down` answer (RFC 8628 §3.5). Err names the first offence.
pub fn check_poll_spacing(polls: &[DevicePoll], interval: Duration) -> Result<(), String> {
    let mut by_code: HashMap<&str, Vec<&DevicePoll>> = HashMap::new();
    for p in polls {
        by_code.entry(&p.device_code).or_default().push(p);
    }
    for list in by_code.values() {
        let mut wanted = interval;
        for pair in list.windows(2) {
            if pair[0].answer == "slow_down" {
                wanted += Duration::from_secs(5);
            }
            let gap = pair[1].at.duration_since(pair[0].at);
            if gap + Duration::from_millis(20) < wanted {
                return Err(format!(
                    "poll after {:?} came {gap:?} later, wanted {wanted:?}",
                    pair[0].answer
                ));
            }
        }
    }
    Ok(())
}

/// `BASE64URL-NOPAD(SHA256(verifier))`, the S256 code_challenge (RFC 7636 §4.2).
pub fn pkce_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn decide_device(st: &mut State, user_code: &str, approve: bool) -> bool {
    match st.devices.values_mut().find(|d| d.user_code == user_code) {
        Some(d) => {
            d.decision = Some(approve);
            true
        }
        None => false,
    }
}

// ---------------------------------------------------------------------------------------
// The endpoints.

fn handle(state: &Mutex<State>, req: &Request) -> Response {
    let form = pairs(&req.body);
    let query = pairs(req.query().unwrap_or("").as_bytes());
    let mut st = lock(state);
    let get = |name: &str| field(&form, name);
    let reply = match (req.method.as_str(), req.path()) {
        ("POST", "/device") => device_authorization(&mut st, &get),
        ("POST", "/token") => token(&mut st, &get),
        ("GET", "/authorize") => authorize(&mut st, &|n| field(&query, n)),
        ("GET", "/verify") => verify(&mut st, &|n| field(&query, n)),
        ("POST", "/introspect") => introspect(&st, &get),
        ("POST", "/revoke") => revoke(&mut st, &get),
        _ => Reply::Page(404, "no such endpoint".to_owned()),
    };
    st.log.push(IdpRequest {
        method: req.method.clone(),
        endpoint: req.path().to_owned(),
        form,
        query,
        headers: req.headers.clone(),
        at: Instant::now(),
        status: reply.status(),
        answer: reply.text(),
    });
    reply.into_response()
}

fn pairs(bytes: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(bytes).into_owned().collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

type Fields<'a> = dyn Fn(&str) -> Option<&'a str> + 'a;

/// Checks client_id (and client_secret when configured).
fn check_client(st: &State, get: &Fields) -> Result<(), Reply> {
    if get("client_id") != Some(st.cfg.client_id.as_str()) {
        return Err(oauth_error("invalid_client", "unknown client_id"));
    }
    if let Some(secret) = &st.cfg.client_secret
        && get("client_secret") != Some(secret.as_str())
    {
        return Err(oauth_error(
            "invalid_client",
            "client authentication failed",
        ));
    }
    Ok(())
}

fn device_authorization(st: &mut State, get: &Fields) -> Reply {
    if let Err(e) = check_client(st, get) {
        return e;
    }
    let device_code = new_token(st, "dc", 0);
    let n = st.counter;
    let user_code = format!("FAKE-{:04}", n % 10_000);
    let scope = get("scope")
        .unwrap_or(st.cfg.default_scope.as_str())
        .to_owned();
    let grant = DeviceGrant {
        device_code: device_code.clone(),
        user_code: user_code.clone(),
        issued_at: Instant::now(),
        scope,
        script: st.cfg.device_script.iter().copied().collect(),
        decision: None,
        done: false,
    };
    st.devices.insert(device_code.clone(), grant);
    let verify = format!("{}/verify", st.base_url);
    Reply::Json(
        200,
        json!({
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": verify,
            "verification_uri_complete": format!("{verify}?user_code={user_code}"),
            "expires_in": st.cfg.device_expires_in,
            "interval": st.cfg.device_interval,
        }),
    )
}

fn verify(st: &mut State, get: &Fields) -> Reply {
    let code = get("user_code").unwrap_or_default();
    if decide_device(st, code, true) {
        Reply::Page(
            200,
            "Device approved. You may close this window.".to_owned(),
        )
    } else {
        Reply::Page(404, "Unknown user code.".to_owned())
    }
}

fn token(st: &mut State, get: &Fields) -> Reply {
    if let Err(e) = check_client(st, get) {
        return e;
    }
    match get("grant_type") {
        Some(DEVICE_GRANT) => device_grant(st, get),
        Some("authorization_code") => code_grant(st, get),
        Some("refresh_token") => refresh_grant(st, get),
        Some(_) => oauth_error("unsupported_grant_type", "grant_type not supported"),
        None => oauth_error("invalid_request", "grant_type missing"),
    }
}

fn device_grant(st: &mut State, get: &Fields) -> Reply {
    let code = get("device_code").unwrap_or_default().to_owned();
    let expires_in = Duration::from_secs(st.cfg.device_expires_in);
    let Some(dev) = st.devices.get_mut(&code) else {
        return oauth_error("invalid_grant", "unknown device_code");
    };
    let step = if dev.done {
        None
    } else if dev.issued_at.elapsed() > expires_in {
        Some(DeviceStep::Expire)
    } else {
        Some(dev.script.pop_front().unwrap_or(match dev.decision {
            Some(true) => DeviceStep::Approve,
            Some(false) => DeviceStep::Deny,
            None => DeviceStep::Pending,
        }))
    };
    if matches!(
        step,
        Some(DeviceStep::Approve | DeviceStep::Deny | DeviceStep::Expire)
    ) {
        dev.done = true;
    }
    let scope = dev.scope.clone();
    let reply = match step {
        None => oauth_error("invalid_grant", "device_code already used"),
        Some(DeviceStep::Pending) => oauth_error("authorization_pending", "waiting for the user"),
        Some(DeviceStep::SlowDown) => oauth_error("slow_down", "polling too fast"),
        Some(DeviceStep::Deny) => oauth_error("access_denied", "the user said no"),
        Some(DeviceStep::Expire) => oauth_error("expired_token", "the device_code expired"),
        Some(DeviceStep::Approve) => {
            let owner = new_owner(st, Some(scope));
            Reply::Json(200, issue(st, &owner, true, DEVICE_GRANT))
        }
    };
    let answer = match &reply {
        Reply::Json(200, _) => "tokens".to_owned(),
        Reply::Json(_, v) => v["error"].as_str().unwrap_or_default().to_owned(),
        _ => String::new(),
    };
    st.polls.push(DevicePoll {
        device_code: code,
        at: Instant::now(),
        answer,
    });
    reply
}

fn authorize(st: &mut State, get: &Fields) -> Reply {
    if get("client_id") != Some(st.cfg.client_id.as_str()) {
        return Reply::Page(400, "unknown client_id".to_owned());
    }
    let redirect = get("redirect_uri").unwrap_or_default();
    let Some(mut target) = loopback_redirect(redirect) else {
        return Reply::Page(
            400,
            format!("redirect_uri not a loopback one: {redirect:?}"),
        );
    };
    let error = if get("response_type") != Some("code") {
        Some("unsupported_response_type")
    } else if get("code_challenge_method") != Some("S256")
        || get("code_challenge").is_none_or(|c| c.len() != 43)
        || get("state").is_none_or(str::is_empty)
    {
        Some("invalid_request")
    } else if std::mem::take(&mut st.deny_next_authorize) {
        Some("access_denied")
    } else {
        None
    };
    let mut q = target.query_pairs_mut();
    match error {
        Some(e) => {
            q.append_pair("error", e);
        }
        None => {
            let code = new_token(st, "code", 0);
            st.codes.insert(
                code.clone(),
                AuthCode {
                    client_id: st.cfg.client_id.clone(),
                    redirect_uri: redirect.to_owned(),
                    challenge: get("code_challenge").unwrap_or_default().to_owned(),
                    scope: get("scope")
                        .unwrap_or(st.cfg.default_scope.as_str())
                        .to_owned(),
                    used: false,
                    family: None,
                },
            );
            q.append_pair("code", &code);
        }
    }
    if let Some(s) = get("state") {
        q.append_pair("state", s);
    }
    drop(q);
    Reply::Redirect(target.to_string())
}

/// `http://127.0.0.1:PORT/...` with an explicit port (RFC 8252 §7.3), else None.
fn loopback_redirect(uri: &str) -> Option<url::Url> {
    let u = url::Url::parse(uri).ok()?;
    let ok = u.scheme() == "http"
        && u.host_str() == Some("127.0.0.1")
        && u.port().is_some()
        && u.fragment().is_none();
    ok.then_some(u)
}

fn code_grant(st: &mut State, get: &Fields) -> Reply {
    let code = get("code").unwrap_or_default();
    let Some(rec) = st.codes.get_mut(code) else {
        return oauth_error("invalid_grant", "unknown authorization code");
    };
    if rec.used {
        // RFC 6749 §4.1.2: a code used twice revokes what it gave.
        let family = rec.family;
        st.revoked_families.extend(family);
        return oauth_error("invalid_grant", "authorization code already used");
    }
    rec.used = true;
    let rec = rec.clone();
    if get("client_id") != Some(rec.client_id.as_str()) {
        return oauth_error("invalid_grant", "code issued to another client");
    }
    if get("redirect_uri") != Some(rec.redirect_uri.as_str()) {
        return oauth_error("invalid_grant", "redirect_uri differs from /authorize");
    }
    let Some(verifier) = get("code_verifier") else {
        return oauth_error("invalid_grant", "code_verifier missing");
    };
    if !(43..=128).contains(&verifier.len()) || pkce_challenge(verifier) != rec.challenge {
        return oauth_error("invalid_grant", "PKCE verification failed");
    }
    let owner = new_owner(st, Some(rec.scope.clone()));
    if let Some(r) = st.codes.get_mut(code) {
        r.family = Some(owner.family);
    }
    Reply::Json(200, issue(st, &owner, true, "authorization_code"))
}

fn refresh_grant(st: &mut State, get: &Fields) -> Reply {
    let presented = get("refresh_token").unwrap_or_default().to_owned();
    let Some(rec) = st.refresh.get(&presented).cloned() else {
        return oauth_error("invalid_grant", "unknown refresh token");
    };
    if rec.owner.client_id != get("client_id").unwrap_or_default() {
        return oauth_error("invalid_grant", "refresh token of another client");
    }
    if st.revoked_families.contains(&rec.owner.family) {
        return oauth_error("invalid_grant", "refresh token revoked");
    }
    if !rec.current {
        st.reuse_detected += 1;
        if st.cfg.reuse_revokes_family {
            st.revoked_families.insert(rec.owner.family);
        }
        return oauth_error(
            "invalid_grant",
            "refresh token already used (reuse detected)",
        );
    }
    let rotate = st.cfg.rotate_refresh;
    if rotate && let Some(old) = st.refresh.get_mut(&presented) {
        old.current = false;
    }
    let mut owner = rec.owner;
    owner.username = st.cfg.username.clone();
    Reply::Json(200, issue(st, &owner, rotate, "refresh_token"))
}

fn introspect(st: &State, get: &Fields) -> Reply {
    if let Some((id, secret)) = &st.cfg.resource_server
        && (get("client_id") != Some(id.as_str()) || get("client_secret") != Some(secret.as_str()))
    {
        return oauth_error("invalid_client", "resource server authentication failed");
    }
    let token = get("token").unwrap_or_default();
    let Some(t) = access_live(st, token) else {
        return Reply::Json(200, json!({"active": false}));
    };
    Reply::Json(
        200,
        json!({
            "active": true,
            "username": t.owner.username,
            "sub": t.owner.username,
            "scope": t.owner.scope,
            "client_id": t.owner.client_id,
            "token_type": "Bearer",
            "exp": unix(t.expires_at),
        }),
    )
}

fn revoke(st: &mut State, get: &Fields) -> Reply {
    if let Err(e) = check_client(st, get) {
        return e;
    }
    let token = get("token").unwrap_or_default();
    let family = st
        .access
        .get(token)
        .map(|t| t.owner.family)
        .or_else(|| st.refresh.get(token).map(|t| t.owner.family));
    st.revoked_families.extend(family);
    // RFC 7009 §2.2: 200 also for tokens the server does not know.
    Reply::Page(200, String::new())
}

// ---------------------------------------------------------------------------------------
// Tokens.

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `fake-PREFIX-N-HEX` (+ `extra` characters), unique and unguessable enough for tests.
fn new_token(st: &mut State, prefix: &str, extra: usize) -> String {
    st.counter += 1;
    let seed = format!(
        "{prefix}{}{:?}{}",
        st.counter,
        SystemTime::now(),
        std::process::id()
    );
    let hex: String = Sha256::digest(seed.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let pad: String = hex.chars().cycle().take(extra).collect();
    format!("fake-{prefix}-{}-{}{pad}", st.counter, &hex[..32])
}

fn new_owner(st: &mut State, scope: Option<String>) -> Owner {
    st.counter += 1;
    Owner {
        family: st.counter,
        client_id: st.cfg.client_id.clone(),
        scope: scope.unwrap_or_else(|| st.cfg.default_scope.clone()),
        username: st.cfg.username.clone(),
    }
}

/// Issues an access token (and a refresh token when `with_refresh`); the token answer.
fn issue(st: &mut State, owner: &Owner, with_refresh: bool, grant: &str) -> Value {
    let extra = st.cfg.token_extra_len;
    let access = new_token(st, "at", extra);
    let lifetime = st.cfg.access_lifetime;
    st.access.insert(
        access.clone(),
        AccessToken {
            owner: owner.clone(),
            expires_at: SystemTime::now() + lifetime,
        },
    );
    let mut answer = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": lifetime.as_secs(),
        "scope": owner.scope,
    });
    record(st, TokenKind::Access, &access, owner.family, grant);
    if with_refresh {
        let refresh = new_token(st, "rt", 0);
        let rec = RefreshToken {
            owner: owner.clone(),
            current: true,
        };
        st.refresh.insert(refresh.clone(), rec);
        record(st, TokenKind::Refresh, &refresh, owner.family, grant);
        answer["refresh_token"] = Value::String(refresh);
    }
    answer
}

fn record(st: &mut State, kind: TokenKind, token: &str, family: u64, grant: &str) {
    st.issued.push(Issued {
        kind,
        token: token.to_owned(),
        family,
        grant: grant.to_owned(),
    });
}

fn access_live<'a>(st: &'a State, token: &str) -> Option<&'a AccessToken> {
    let t = st.access.get(token)?;
    let live = t.expires_at > SystemTime::now() && !st.revoked_families.contains(&t.owner.family);
    live.then_some(t)
}

fn refresh_usable(st: &State, token: &str) -> bool {
    st.refresh
        .get(token)
        .is_some_and(|t| t.current && !st.revoked_families.contains(&t.owner.family))
}

// ---------------------------------------------------------------------------------------
// A tiny HTTP client (std::net, native-tls for https) for tests and the browser stand-in.

/// An HTTP answer as the tiny client read it.
#[derive(Debug, Clone)]
pub struct HttpReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the body when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// GET `url` (no redirects followed). `ca` is needed for https.
pub fn http_get(url: &str, ca: Option<&Path>) -> HttpReply {
    http_request("GET", url, None, ca)
}

/// POST `fields` form-encoded to `url`.
pub fn http_post_form(url: &str, fields: &[(&str, &str)], ca: Option<&Path>) -> HttpReply {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    http_request("POST", url, Some(body.as_bytes()), ca)
}

fn http_request(method: &str, url: &str, body: Option<&[u8]>, ca: Option<&Path>) -> HttpReply {
    let u = url::Url::parse(url).unwrap_or_else(|e| panic!("bad URL {url:?}: {e}"));
    let host = u.host_str().expect("URL host").to_owned();
    let port = u.port_or_known_default().expect("URL port");
    let target = match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_owned(),
    };
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\
         Accept: application/json\r\n"
    );
    if let Some(b) = body {
        head.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
        head.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body.unwrap_or_default());
    let connect_host = if host == "localhost" {
        "127.0.0.1"
    } else {
        &host
    };
    let tcp = TcpStream::connect((connect_host, port))
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
    tcp.set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    if u.scheme() == "https" {
        let mut builder = native_tls::TlsConnector::builder();
        if let Some(ca) = ca {
            let pem = std::fs::read(ca).expect("read CA");
            builder.add_root_certificate(native_tls::Certificate::from_pem(&pem).expect("CA PEM"));
        }
        let tls = builder
            .build()
            .expect("TLS connector")
            .connect(&host, tcp)
            .unwrap_or_else(|e| panic!("TLS to {url}: {e}"));
        exchange(tls, &bytes, method)
    } else {
        exchange(tcp, &bytes, method)
    }
}

fn exchange<S: Read + Write>(mut s: S, request: &[u8], method: &str) -> HttpReply {
    s.write_all(request).expect("send request");
    s.flush().expect("flush");
    let mut r = BufReader::new(s);
    let status_line = read_line(&mut r);
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let mut headers = Vec::new();
    loop {
        let line = read_line(&mut r);
        if line.is_empty() {
            break;
        }
        if let Some((n, v)) = line.split_once(':') {
            headers.push((n.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let mut reply = HttpReply {
        status,
        headers,
        body: Vec::new(),
    };
    if method != "HEAD" {
        reply.body = read_body(&mut r, &reply);
    }
    reply
}

fn read_line<R: BufRead>(r: &mut R) -> String {
    let mut line = String::new();
    r.read_line(&mut line).expect("read a line");
    line.trim_end_matches(['\r', '\n']).to_owned()
}

fn read_body<R: BufRead>(r: &mut R, reply: &HttpReply) -> Vec<u8> {
    let mut body = Vec::new();
    if reply
        .header("Transfer-Encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let size = read_line(r);
            let n = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
                .expect("chunk size");
            if n == 0 {
                break;
            }
            let start = body.len();
            body.resize(start + n, 0);
            r.read_exact(&mut body[start..]).expect("chunk");
            read_line(r);
        }
    } else if let Some(len) = reply.header("Content-Length") {
        body.resize(len.parse().expect("Content-Length"), 0);
        r.read_exact(&mut body).expect("body");
    } else {
        let _ = r.read_to_end(&mut body);
    }
    body
}

// ---------------------------------------------------------------------------------------
// The user's browser.

/// What the stand-in browser saw.
#[derive(Debug, Clone)]
pub struct BrowserVisit {
    /// The identity provider's answer to the authorize URL.
    pub authorize: HttpReply,
    /// The Location it redirected to, if any.
    pub location: Option<String>,
    /// The loopback server's answer to that redirect (None when there was no redirect).
    pub loopback: Option<HttpReply>,
}

impl FakeIdp {
    /// Plays the user's browser: GETs `authorize_url` (as postie printed it), the user
    /// agrees, and it follows the 302 to the loopback redirect with a plain GET; returns
    /// both answers. Also works with a device grant's verification_uri_complete (no
    /// redirect there).
    pub fn act_as_browser(&self, authorize_url: &str) -> BrowserVisit {
        let authorize = http_get(authorize_url.trim(), self.ca());
        let location = (authorize.status / 100 == 3)
            .then(|| authorize.header("Location").map(str::to_owned))
            .flatten();
        let loopback = location.as_deref().map(|l| http_get(l, None));
        BrowserVisit {
            authorize,
            location,
            loopback,
        }
    }

    /// As [`act_as_browser`](Self::act_as_browser), but the user refuses: the redirect
    /// carries `error=access_denied&state=..`.
    pub fn deny_in_browser(&self, authorize_url: &str) -> BrowserVisit {
        lock(&self.state).deny_next_authorize = true;
        let visit = self.act_as_browser(authorize_url);
        lock(&self.state).deny_next_authorize = false;
        visit
    }
}
