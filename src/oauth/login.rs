//! `postie oauth login` and `logout`: the device authorization grant (RFC 8628), the
//! browser login (authorization code with PKCE over a loopback redirect on 127.0.0.1 with a
//! random port, RFC 8252, the `state` checked), and revocation (RFC 7009). Instructions go
//! to `out` (stderr): the verification URL and code, or the URL to open.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::pkce::{self, Pkce, Redirect};
use super::store::TokenRecord;
use super::token::{Idp, now, reply_error};
use super::wire::{self, ReplyError, TokenReply};
use super::{OAuthError, Settings};
use crate::fetch::FormValue;

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// The request head the loopback listener reads at most.
const MAX_HEAD: usize = 16 * 1024;

/// How to sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// The device authorization grant: a code to enter on any device.
    Device,
    /// The authorization code with PKCE in a browser on this machine.
    Browser,
}

/// Login options.
#[derive(Debug, Clone)]
pub struct LoginOptions {
    pub flow: Flow,
    /// Open the browser (`$BROWSER`, else `xdg-open` or `open`); the URL is printed anyway.
    pub open_browser: bool,
    /// How long to wait for the browser's redirect.
    pub browser_wait: Duration,
}

/// Signs in, stores the tokens, and returns the stored record.
pub fn login(
    s: &Settings,
    options: &LoginOptions,
    out: &mut dyn Write,
) -> Result<TokenRecord, OAuthError> {
    let token = match options.flow {
        Flow::Device => device_flow(s, out)?,
        Flow::Browser => browser_flow(s, options, out)?,
    };
    let mut record = TokenRecord {
        provider: s.provider.kind.name().to_owned(),
        client_id: s.provider.client_id.clone(),
        scopes: s.provider.scopes.clone(),
        obtained_at: now(),
        ..TokenRecord::default()
    };
    record.apply(&token);
    if record.refresh_token.is_none() {
        let _ = writeln!(
            out,
            "postie: account {}: warning: the provider gave no refresh token; \
             the login lasts only as long as the access token",
            s.account
        );
    }
    let lock = s.store.lock()?;
    s.store.save(&lock, Some(&record))?;
    Ok(record)
}

/// Deletes the stored tokens, revoking the refresh token first where the provider has a
/// revocation endpoint. Returns whether tokens were stored, and whether they were revoked.
pub fn logout(s: &Settings, out: &mut dyn Write) -> Result<(bool, bool), OAuthError> {
    let lock = s.store.lock()?;
    let Some(record) = s.store.load(&lock)? else {
        return Ok((false, false));
    };
    let mut revoked = false;
    let token = record
        .refresh_token
        .as_ref()
        .or(record.access_token.as_ref());
    if let (Some(url), Some(token)) = (&s.provider.endpoints.revoke, token) {
        let fields = [
            ("token", FormValue::Secret(token)),
            ("client_id", FormValue::Text(&s.provider.client_id)),
        ];
        match Idp::new(s).and_then(|idp| idp.post(url, &fields)) {
            Ok(reply) if (200..300).contains(&reply.status) => revoked = true,
            Ok(reply) => {
                let _ = writeln!(
                    out,
                    "postie: account {}: warning: revocation answered HTTP {}; the tokens are \
                     deleted here all the same",
                    s.account, reply.status
                );
            }
            Err(e) => {
                let _ = writeln!(
                    out,
                    "postie: warning: {e}; the tokens are deleted here all the same"
                );
            }
        }
    }
    s.store.save(&lock, None)?;
    Ok((true, revoked))
}

fn device_flow(s: &Settings, out: &mut dyn Write) -> Result<TokenReply, OAuthError> {
    let url =
        s.provider.endpoints.device.clone().ok_or_else(|| {
            OAuthError::Unsupported {
        account: s.account.clone(),
        why: "the provider has no device authorization endpoint (oauth_device_url): use --browser"
            .into(),
    }
        })?;
    let scope = s.provider.scope_param();
    let mut fields = vec![("client_id", FormValue::Text(&s.provider.client_id))];
    if !scope.is_empty() {
        fields.push(("scope", FormValue::Text(&scope)));
    }
    let idp = Idp::new(s)?;
    let reply = idp.post(&url, &fields)?;
    let device = wire::device_reply(reply.status, &reply.body)
        .map_err(|e| reply_error(s, "device authorization", &url, reply.status, e))?;
    let _ = writeln!(
        out,
        "To sign in to account {}, open {} and enter the code {}",
        s.account, device.verification_uri, device.user_code
    );
    if let Some(complete) = &device.verification_uri_complete {
        let _ = writeln!(out, "(or open {complete})");
    }
    let _ = writeln!(
        out,
        "Waiting for the sign-in (the code expires in {} s)...",
        device.expires_in
    );
    poll(&idp, s, &device)
}

/// Polls the token endpoint every `interval` (5 s unless said), 5 s more after each
/// `slow_down`, until the code expires (RFC 8628 §3.4-3.5).
fn poll(idp: &Idp, s: &Settings, device: &wire::DeviceReply) -> Result<TokenReply, OAuthError> {
    let deadline = Instant::now() + Duration::from_secs(device.expires_in);
    let mut interval = device.interval.unwrap_or(5).max(1);
    let token_url = &s.provider.endpoints.token;
    loop {
        std::thread::sleep(Duration::from_secs(interval));
        let reply = idp.token_grant(&[
            ("grant_type", FormValue::Text(DEVICE_GRANT)),
            ("device_code", FormValue::Secret(&device.device_code)),
        ])?;
        match wire::token_reply(reply.status, &reply.body) {
            Ok(token) => return Ok(token),
            Err(ReplyError::Provider(e)) => match e.error.as_str() {
                "authorization_pending" => {}
                "slow_down" => interval += 5,
                "access_denied" => {
                    return Err(OAuthError::Denied {
                        account: s.account.clone(),
                        why: e.to_string(),
                    });
                }
                "expired_token" => return Err(expired(s, "the code expired before the sign-in")),
                _ => {
                    return Err(reply_error(
                        s,
                        "device sign-in",
                        token_url,
                        reply.status,
                        ReplyError::Provider(e),
                    ));
                }
            },
            Err(e) => return Err(reply_error(s, "device sign-in", token_url, reply.status, e)),
        }
        if Instant::now() + Duration::from_secs(interval) > deadline {
            return Err(expired(s, "the code expired before the sign-in"));
        }
    }
}

fn expired(s: &Settings, why: &str) -> OAuthError {
    OAuthError::Expired {
        account: s.account.clone(),
        why: why.to_owned(),
    }
}

fn browser_flow(
    s: &Settings,
    options: &LoginOptions,
    out: &mut dyn Write,
) -> Result<TokenReply, OAuthError> {
    let loopback = |source| OAuthError::Loopback {
        account: s.account.clone(),
        source,
    };
    let authorize =
        s.provider
            .endpoints
            .authorize
            .clone()
            .ok_or_else(|| {
                OAuthError::Unsupported {
            account: s.account.clone(),
            why: "the provider has no authorization endpoint (oauth_auth_url): use the device flow"
                .into(),
        }
            })?;
    let random = |e: openssl::error::ErrorStack| OAuthError::Random {
        account: s.account.clone(),
        why: e.to_string(),
    };
    let pkce = Pkce::new().map_err(random)?;
    let state = pkce::random_text(16).map_err(random)?;
    let listener = TcpListener::bind("127.0.0.1:0").map_err(loopback)?;
    let port = listener.local_addr().map_err(loopback)?.port();
    let redirect_uri = format!("http://127.0.0.1:{port}/");
    let url = pkce::authorize_url(
        &s.provider,
        &authorize,
        &redirect_uri,
        &state,
        &pkce.challenge,
    )
    .map_err(|e| OAuthError::Unsupported {
        account: s.account.clone(),
        why: format!("oauth_auth_url: {e}"),
    })?;
    let _ = writeln!(
        out,
        "To sign in to account {}, open this URL in a browser:\n{url}",
        s.account
    );
    if options.open_browser {
        open_browser(&url);
    }
    let deadline = Instant::now() + options.browser_wait;
    let code = wait_for_code(s, &listener, &state, deadline)?;
    exchange_code(s, &code, &redirect_uri, &pkce)
}

/// Trades the authorization code for tokens, proving with the PKCE verifier that this
/// process started the login.
fn exchange_code(
    s: &Settings,
    code: &str,
    redirect_uri: &str,
    pkce: &Pkce,
) -> Result<TokenReply, OAuthError> {
    let token_url = &s.provider.endpoints.token;
    let reply = Idp::new(s)?.token_grant(&[
        ("grant_type", FormValue::Text("authorization_code")),
        ("code", FormValue::Text(code)),
        ("redirect_uri", FormValue::Text(redirect_uri)),
        ("code_verifier", FormValue::Secret(&pkce.verifier)),
    ])?;
    wire::token_reply(reply.status, &reply.body)
        .map_err(|e| reply_error(s, "authorization code exchange", token_url, reply.status, e))
}

/// `$BROWSER URL` (the URL as an argument, never pasted into the shell line), else
/// `xdg-open` or `open`. Failing to open one is not an error: the URL was printed.
fn open_browser(url: &str) {
    let browser = std::env::var("BROWSER")
        .ok()
        .filter(|b| !b.trim().is_empty());
    let mut cmd = match browser {
        Some(b) => {
            let line = if b.contains("%s") {
                b.replace("%s", "\"$1\"")
            } else {
                format!("{b} \"$1\"")
            };
            let mut c = Command::new("sh");
            c.arg("-c").arg(line).arg("sh").arg(url);
            c
        }
        None if cfg!(target_os = "macos") => {
            let mut c = Command::new("open");
            c.arg(url);
            c
        }
        None => {
            let mut c = Command::new("xdg-open");
            c.arg(url);
            c
        }
    };
    let _ = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

/// Waits for the browser's request to the loopback listener with our `state`; requests
/// for other paths, or with another state, are answered and ignored.
fn wait_for_code(
    s: &Settings,
    listener: &TcpListener,
    state: &str,
    deadline: Instant,
) -> Result<String, OAuthError> {
    let loopback = |source| OAuthError::Loopback {
        account: s.account.clone(),
        source,
    };
    listener.set_nonblocking(true).map_err(loopback)?;
    while Instant::now() < deadline {
        let mut stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            Err(e) => return Err(loopback(e)),
        };
        let head = read_head(&mut stream).unwrap_or_default();
        if let Some(done) = visit(s, &mut stream, &head, state) {
            return done;
        }
    }
    Err(expired(s, "no sign-in arrived from the browser in time"))
}

/// Answers one request to the loopback listener; `Some` when it ends the login.
fn visit(
    s: &Settings,
    stream: &mut TcpStream,
    head: &[u8],
    state: &str,
) -> Option<Result<String, OAuthError>> {
    match pkce::parse_redirect(head, "/") {
        Redirect::Code { code, state: got } if got == state => {
            answer(
                stream,
                200,
                "Signed in. You can close this window and return to postie.",
            );
            Some(Ok(code))
        }
        Redirect::Refused {
            error,
            description,
            state: got,
        } if got == state => {
            answer(
                stream,
                200,
                "The sign-in was refused. You can close this window.",
            );
            let why = match description {
                Some(d) => format!("{error}: {d}"),
                None => error,
            };
            Some(Err(OAuthError::Denied {
                account: s.account.clone(),
                why,
            }))
        }
        Redirect::Code { .. } | Redirect::Refused { .. } => {
            answer(
                stream,
                400,
                "This sign-in does not belong to the waiting postie.",
            );
            None
        }
        Redirect::Other => {
            answer(stream, 404, "Not found.");
            None
        }
    }
}

fn read_head(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while head.len() < MAX_HEAD && !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    Ok(head)
}

fn answer(stream: &mut TcpStream, status: u16, text: &str) {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        _ => "Not Found",
    };
    let body = format!("<!doctype html><title>postie</title><p>{text}</p>\n");
    let _ = write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.flush();
}
