//! Self-checks of the OAuth2 test support, without postie: the fake identity provider's
//! flows driven by a tiny HTTP client (always), and raw POP3/SMTP sessions against Dovecot
//! and aiosmtpd checking tokens by introspection at it (with POSTIE_INTEROP=1).

#[path = "support/certs.rs"]
mod certs;
#[path = "support/common.rs"]
mod common;
#[path = "support/http_server.rs"]
mod http_server;
#[path = "support/oauth_idp.rs"]
mod oauth_idp;
#[path = "support/oauth_peers.rs"]
mod oauth_peers;
#[path = "support/pop3_dovecot.rs"]
mod pop3_dovecot;

use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;

use certs::Certs;
use http_server::{HttpServer, Response};
use oauth_idp::{
    CLIENT_ID, DEVICE_GRANT, DeviceStep, FakeIdp, HttpReply, IdpConfig, RS_CLIENT_ID,
    RS_CLIENT_SECRET, USER, check_poll_spacing, http_post_form, pkce_challenge,
};
use oauth_peers::{Lines, OAuthSmtp, SmtpTls, b64, oauthbearer, xoauth2};

const VERIFIER: &str = "verifier-0123456789-0123456789-0123456789-abcdef";

fn post(idp: &FakeIdp, path: &str, fields: &[(&str, &str)]) -> HttpReply {
    http_post_form(&idp.url(path), fields, idp.ca())
}

fn error_of(r: &HttpReply) -> String {
    r.json()["error"].as_str().unwrap_or_default().to_owned()
}

fn device_start(idp: &FakeIdp) -> Value {
    let r = post(
        idp,
        "/device",
        &[("client_id", CLIENT_ID), ("scope", "mail")],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    r.json()
}

fn device_poll(idp: &FakeIdp, device_code: &str) -> HttpReply {
    post(
        idp,
        "/token",
        &[
            ("grant_type", DEVICE_GRANT),
            ("device_code", device_code),
            ("client_id", CLIENT_ID),
        ],
    )
}

fn refresh(idp: &FakeIdp, token: &str) -> HttpReply {
    post(
        idp,
        "/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", CLIENT_ID),
        ],
    )
}

fn introspect(idp: &FakeIdp, token: &str) -> Value {
    let r = post(
        idp,
        "/introspect",
        &[
            ("token", token),
            ("client_id", RS_CLIENT_ID),
            ("client_secret", RS_CLIENT_SECRET),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

#[test]
fn device_flow_pending_then_approved_with_spaced_polls() {
    let idp = FakeIdp::start(IdpConfig {
        device_script: vec![
            DeviceStep::Pending,
            DeviceStep::Pending,
            DeviceStep::Approve,
        ],
        ..IdpConfig::default()
    });
    let d = device_start(&idp);
    assert_eq!(d["interval"], 1);
    assert!(d["user_code"].as_str().is_some_and(|c| !c.is_empty()));
    assert!(
        d["verification_uri"]
            .as_str()
            .is_some_and(|u| u.ends_with("/verify"))
    );
    let code = d["device_code"].as_str().expect("device_code").to_owned();
    for _ in 0..2 {
        let r = device_poll(&idp, &code);
        assert_eq!(
            (r.status, error_of(&r)),
            (400, "authorization_pending".into())
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    let r = device_poll(&idp, &code);
    assert_eq!(r.status, 200, "{}", r.text());
    let tokens = r.json();
    assert_eq!(tokens["token_type"], "Bearer");
    let access = tokens["access_token"].as_str().expect("access_token");
    assert!(idp.is_active(access));
    assert_eq!(
        tokens["refresh_token"].as_str(),
        idp.current_refresh_token().as_deref()
    );
    assert!(check_poll_spacing(&idp.device_polls(), Duration::from_secs(1)).is_ok());
    // The device_code is used up.
    assert_eq!(error_of(&device_poll(&idp, &code)), "invalid_grant");
}

#[test]
fn poll_spacing_check_catches_fast_polls_and_ignored_slow_down() {
    let idp = FakeIdp::start(IdpConfig {
        device_script: vec![DeviceStep::Pending, DeviceStep::Pending],
        ..IdpConfig::default()
    });
    let code = device_start(&idp)["device_code"]
        .as_str()
        .expect("dc")
        .to_owned();
    device_poll(&idp, &code);
    device_poll(&idp, &code);
    assert!(check_poll_spacing(&idp.device_polls(), Duration::from_secs(1)).is_err());

    let idp = FakeIdp::start(IdpConfig {
        device_script: vec![DeviceStep::SlowDown, DeviceStep::Pending],
        ..IdpConfig::default()
    });
    let code = device_start(&idp)["device_code"]
        .as_str()
        .expect("dc")
        .to_owned();
    assert_eq!(error_of(&device_poll(&idp, &code)), "slow_down");
    std::thread::sleep(Duration::from_millis(1100));
    device_poll(&idp, &code);
    // 1 s would do without the slow_down; 6 s are due after it.
    let err = check_poll_spacing(&idp.device_polls(), Duration::from_secs(1));
    assert!(err.is_err_and(|e| e.contains("slow_down")));
}

#[test]
fn device_flow_denied_expired_and_approved_by_the_user() {
    let idp = FakeIdp::start(IdpConfig {
        device_script: vec![DeviceStep::Deny],
        ..IdpConfig::default()
    });
    let code = device_start(&idp)["device_code"]
        .as_str()
        .expect("dc")
        .to_owned();
    assert_eq!(error_of(&device_poll(&idp, &code)), "access_denied");
    idp.configure(|c| c.device_script = vec![DeviceStep::Expire]);
    let code = device_start(&idp)["device_code"]
        .as_str()
        .expect("dc")
        .to_owned();
    assert_eq!(error_of(&device_poll(&idp, &code)), "expired_token");

    // No script: pending until the user visits verification_uri_complete.
    idp.configure(|c| c.device_script = vec![]);
    let d = device_start(&idp);
    let code = d["device_code"].as_str().expect("dc").to_owned();
    assert_eq!(error_of(&device_poll(&idp, &code)), "authorization_pending");
    let visit = idp.act_as_browser(d["verification_uri_complete"].as_str().expect("uri"));
    assert_eq!(visit.authorize.status, 200);
    assert_eq!(device_poll(&idp, &code).status, 200);
    assert_eq!(idp.device_polls().len(), 4);
}

/// A stand-in for postie's loopback redirect listener.
fn loopback() -> HttpServer {
    HttpServer::start(|_| Response::ok("login done").header("Content-Type", "text/plain"))
}

fn authorize_url(idp: &FakeIdp, redirect: &str, challenge: &str) -> String {
    let mut u = url::Url::parse(&idp.authorize_url()).expect("url");
    u.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", redirect)
        .append_pair("scope", "mail")
        .append_pair("state", "st-42")
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    u.to_string()
}

/// Plays the browser and returns the `code` the loopback listener received.
fn browser_code(idp: &FakeIdp, lb: &HttpServer, redirect: &str) -> String {
    let visit = idp.act_as_browser(&authorize_url(idp, redirect, &pkce_challenge(VERIFIER)));
    assert_eq!(visit.authorize.status, 302);
    assert_eq!(visit.loopback.expect("followed").text(), "login done");
    let req = lb.requests().pop().expect("the loopback got the redirect");
    let q: Vec<(String, String)> =
        url::form_urlencoded::parse(req.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    assert!(q.contains(&("state".into(), "st-42".into())), "{q:?}");
    q.into_iter().find(|(k, _)| k == "code").expect("code").1
}

fn exchange(idp: &FakeIdp, code: &str, redirect: &str, verifier: &str) -> HttpReply {
    post(
        idp,
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect),
            ("client_id", CLIENT_ID),
            ("code_verifier", verifier),
        ],
    )
}

#[test]
fn authorization_code_with_pkce_over_https() {
    let certs = Certs::make();
    let idp = FakeIdp::start_tls(IdpConfig::default(), &certs);
    let lb = loopback();
    let redirect = lb.url("/callback");
    let code = browser_code(&idp, &lb, &redirect);
    let wrong = exchange(&idp, &code, &redirect, &VERIFIER.replace('0', "1"));
    assert_eq!(
        (wrong.status, error_of(&wrong)),
        (400, "invalid_grant".into())
    );
    // The code is single-use, even after a failed exchange.
    assert_eq!(
        error_of(&exchange(&idp, &code, &redirect, VERIFIER)),
        "invalid_grant"
    );

    let code = browser_code(&idp, &lb, &redirect);
    let other = lb.url("/other");
    assert_eq!(
        error_of(&exchange(&idp, &code, &other, VERIFIER)),
        "invalid_grant"
    );
    let code = browser_code(&idp, &lb, &redirect);
    let ok = exchange(&idp, &code, &redirect, VERIFIER);
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert!(idp.is_active(ok.json()["access_token"].as_str().expect("at")));
    assert_eq!(
        error_of(&exchange(&idp, &code, &redirect, VERIFIER)),
        "invalid_grant"
    );
}

#[test]
fn authorize_refuses_bad_requests_and_the_user_can_deny() {
    let idp = FakeIdp::start(IdpConfig::default());
    let lb = loopback();
    let challenge = pkce_challenge(VERIFIER);
    // Not a loopback redirect: an error page, no redirect.
    let visit = idp.act_as_browser(&authorize_url(&idp, "http://localhost:9/cb", &challenge));
    assert_eq!(
        (visit.authorize.status, visit.loopback.is_none()),
        (400, true)
    );
    let plain = authorize_url(&idp, &lb.url("/cb"), &challenge).replace("S256", "plain");
    let visit = idp.act_as_browser(&plain);
    assert!(
        visit
            .location
            .expect("redirect")
            .contains("error=invalid_request")
    );
    let visit = idp.deny_in_browser(&authorize_url(&idp, &lb.url("/cb"), &challenge));
    let location = visit.location.expect("redirect");
    assert!(location.contains("error=access_denied") && location.contains("state=st-42"));
    assert_eq!(lb.requests().len(), 2);
}

#[test]
fn refresh_rotation_and_reuse_detection() {
    let idp = FakeIdp::start(IdpConfig::default());
    let first = idp.mint();
    let r = refresh(&idp, &first.refresh_token);
    assert_eq!(r.status, 200, "{}", r.text());
    let second = r.json()["refresh_token"]
        .as_str()
        .expect("rotated")
        .to_owned();
    assert_ne!(second, first.refresh_token);
    assert_eq!(idp.current_refresh_token(), Some(second.clone()));
    // Reuse of the retired one: refused, and the whole family goes.
    assert_eq!(
        error_of(&refresh(&idp, &first.refresh_token)),
        "invalid_grant"
    );
    assert_eq!(idp.reuse_detected(), 1);
    assert_eq!(error_of(&refresh(&idp, &second)), "invalid_grant");
    assert!(!idp.is_active(&first.access_token));
    assert_eq!(idp.current_refresh_token(), None);

    // Detection without revocation: the current one keeps working.
    idp.configure(|c| c.reuse_revokes_family = false);
    let t = idp.mint();
    let next = refresh(&idp, &t.refresh_token).json()["refresh_token"].clone();
    assert_eq!(error_of(&refresh(&idp, &t.refresh_token)), "invalid_grant");
    assert_eq!(idp.reuse_detected(), 2);
    assert_eq!(refresh(&idp, next.as_str().expect("rt")).status, 200);
    assert_eq!(error_of(&refresh(&idp, "fake-rt-unknown")), "invalid_grant");
}

#[test]
fn refresh_without_rotation_and_client_secret() {
    let idp = FakeIdp::start(IdpConfig {
        rotate_refresh: false,
        client_secret: Some("s3cret".into()),
        ..IdpConfig::default()
    });
    let t = idp.mint();
    let r = refresh(&idp, &t.refresh_token);
    assert_eq!((r.status, error_of(&r)), (401, "invalid_client".into()));
    let with_secret = |token: &str| {
        post(
            &idp,
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", token),
                ("client_id", CLIENT_ID),
                ("client_secret", "s3cret"),
            ],
        )
    };
    for _ in 0..2 {
        let r = with_secret(&t.refresh_token);
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.json().get("refresh_token").is_none(), "{}", r.text());
    }
    assert_eq!(idp.reuse_detected(), 0);
    assert_eq!(idp.current_refresh_token(), Some(t.refresh_token));
}

#[test]
fn introspection_after_expiry_and_revocation() {
    let idp = FakeIdp::start(IdpConfig::default());
    let t = idp.mint();
    let info = introspect(&idp, &t.access_token);
    assert_eq!(
        (
            &info["active"],
            &info["username"],
            &info["scope"],
            &info["token_type"]
        ),
        (
            &Value::Bool(true),
            &Value::from(USER),
            &Value::from("mail"),
            &Value::from("Bearer")
        )
    );
    assert_eq!(introspect(&idp, &t.refresh_token)["active"], false);
    idp.expire_access_tokens();
    assert_eq!(
        introspect(&idp, &t.access_token),
        serde_json::json!({"active": false})
    );
    // A refresh gives a live one again; /revoke of the refresh token ends the family.
    let r = refresh(&idp, &t.refresh_token).json();
    let access = r["access_token"].as_str().expect("at");
    assert_eq!(introspect(&idp, access)["active"], true);
    let rt = r["refresh_token"].as_str().expect("rt");
    let revoked = post(&idp, "/revoke", &[("token", rt), ("client_id", CLIENT_ID)]);
    assert_eq!(revoked.status, 200);
    assert_eq!(introspect(&idp, access)["active"], false);
    // Wall-clock lifetime, and the resource server's credentials are checked.
    idp.configure(|c| c.access_lifetime = Duration::from_millis(300));
    let short = idp.mint().access_token;
    assert_eq!(introspect(&idp, &short)["active"], true);
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(introspect(&idp, &short)["active"], false);
    let bad = post(
        &idp,
        "/introspect",
        &[("token", &short), ("client_id", "x")],
    );
    assert_eq!(bad.status, 401);
}

#[test]
fn secrets_are_found_where_they_appear() {
    let idp = FakeIdp::start(IdpConfig::default());
    let t = idp.mint();
    idp.assert_no_secret_in("a clean text", b"nothing to see");
    let leaked = format!("debug: token={}", t.refresh_token);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        idp.assert_no_secret_in("a log", leaked)
    }));
    assert!(caught.is_err());
    assert_eq!(idp.requests_to("/token").len(), 0);
}

// ---------------------------------------------------------------------------------------
// The real peers (POSTIE_INTEROP=1).

fn peers_gate(test: &str, dovecot: bool) -> bool {
    let (has_dovecot, has_aiosmtpd) = oauth_peers::available();
    if dovecot {
        common::require_peer(test, "dovecot", has_dovecot)
    } else {
        common::require_peer(test, "aiosmtpd", has_aiosmtpd)
    }
}

/// A POP3 AUTH that the server refuses: the error continuation, our `answer`, then -ERR.
/// Returns the JSON from the continuation.
fn pop3_refused(c: &mut Lines, command: &str, answer: &str) -> Value {
    let cont = c.ask(command);
    let b = cont
        .strip_prefix("+ ")
        .unwrap_or_else(|| panic!("continuation: {cont:?}"));
    let json = base64::engine::general_purpose::STANDARD
        .decode(b)
        .expect("base64");
    let err = c.ask(answer);
    assert!(err.starts_with("-ERR"), "{err:?}");
    serde_json::from_slice(&json).expect("JSON")
}

#[test]
fn dovecot_pop3_takes_introspected_tokens() {
    if !peers_gate("dovecot_pop3_takes_introspected_tokens", true) {
        return;
    }
    let certs = Certs::make();
    let idp = FakeIdp::start_tls(IdpConfig::default(), &certs);
    let dovecot = oauth_peers::dovecot(&idp, &certs);
    let t = idp.mint();
    let mut c = Lines::plain(dovecot.pop3_port);
    assert!(c.line().starts_with("+OK"));
    let ok = c.ask(&format!("AUTH XOAUTH2 {}", xoauth2(USER, &t.access_token)));
    assert!(ok.starts_with("+OK"), "{ok:?}\n{}", dovecot.log());
    assert!(c.ask("STAT").starts_with("+OK 0 "));
    c.ask("QUIT");
    let mut c = Lines::tls(dovecot.pop3s_port, &certs.ca);
    c.line();
    let bearer = oauthbearer(USER, &t.access_token, "localhost", dovecot.pop3s_port);
    let ok = c.ask(&format!("AUTH OAUTHBEARER {bearer}"));
    assert!(ok.starts_with("+OK"), "{ok:?}\n{}", dovecot.log());
    c.ask("QUIT");
    // Passwords still work there, and long tokens (3 kB, as Microsoft's are) too.
    let mut c = Lines::plain(dovecot.pop3_port);
    c.line();
    let plain = b64(format!("\0{USER}\0{}", pop3_dovecot::PASS).as_bytes());
    assert!(c.ask(&format!("AUTH PLAIN {plain}")).starts_with("+OK"));
    idp.configure(|c| c.token_extra_len = 3000);
    let long = idp.mint().access_token;
    let mut c = Lines::plain(dovecot.pop3_port);
    c.line();
    let ok = c.ask(&format!("AUTH XOAUTH2 {}", xoauth2(USER, &long)));
    assert!(ok.starts_with("+OK"), "{ok:?}\n{}", dovecot.log());
    let seen = idp.requests_to("/introspect");
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[0].field("token"), Some(t.access_token.as_str()));
    assert_eq!(seen[0].field("client_id"), Some(RS_CLIENT_ID));
}

#[test]
fn dovecot_pop3_refuses_revoked_tokens_with_the_sasl_error() {
    if !peers_gate(
        "dovecot_pop3_refuses_revoked_tokens_with_the_sasl_error",
        true,
    ) {
        return;
    }
    let certs = Certs::make();
    let idp = FakeIdp::start_tls(IdpConfig::default(), &certs);
    let dovecot = oauth_peers::dovecot(&idp, &certs);
    let t = idp.mint();
    idp.revoke_all();
    let mut c = Lines::plain(dovecot.pop3_port);
    c.line();
    let cmd = format!("AUTH XOAUTH2 {}", xoauth2(USER, &t.access_token));
    let json = pop3_refused(&mut c, &cmd, "");
    assert_eq!(json["status"], "401", "{json}");
    let bearer = oauthbearer(USER, &t.access_token, "localhost", dovecot.pop3_port);
    let json = pop3_refused(&mut c, &format!("AUTH OAUTHBEARER {bearer}"), "AQ==");
    assert_eq!(json["status"], "invalid_token", "{json}");
    // A live token of alice's does not log in bob; the penalty is off, so alice gets in.
    let live = idp.mint().access_token;
    pop3_refused(
        &mut c,
        &format!("AUTH XOAUTH2 {}", xoauth2("bob", &live)),
        "",
    );
    let started = std::time::Instant::now();
    let ok = c.ask(&format!("AUTH XOAUTH2 {}", xoauth2(USER, &live)));
    assert!(ok.starts_with("+OK"), "{ok:?}\n{}", dovecot.log());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "auth penalty still on"
    );
}

fn smtp_auth_ok(server: &OAuthSmtp, mechanism: &str, response: &str) -> Lines {
    let (mut c, ehlo) = server.session();
    assert!(ehlo.contains("AUTH OAUTHBEARER XOAUTH2"), "{ehlo}");
    c.send(&format!("AUTH {mechanism} {response}"));
    let r = c.reply();
    assert!(r.starts_with("235"), "{r:?}\n{}", server.log());
    c
}

fn smtp_send(c: &mut Lines, body: &str) {
    for (cmd, code) in [
        ("MAIL FROM:<alice@example.test>", "250"),
        ("RCPT TO:<bob@example.test>", "250"),
        ("DATA", "354"),
    ] {
        c.send(cmd);
        let r = c.reply();
        assert!(r.starts_with(code), "{cmd}: {r:?}");
    }
    c.send(&format!("{body}\r\n."));
    assert!(c.reply().starts_with("250"));
}

#[test]
fn aiosmtpd_takes_introspected_tokens_and_records_messages() {
    if !peers_gate(
        "aiosmtpd_takes_introspected_tokens_and_records_messages",
        false,
    ) {
        return;
    }
    let certs = Certs::make();
    let idp = FakeIdp::start_tls(IdpConfig::default(), &certs);
    let server = OAuthSmtp::start(&idp, &certs, SmtpTls::StartTls);
    let t = idp.mint();
    // AUTH before STARTTLS is refused; MAIL before AUTH too.
    let mut plain = Lines::plain(server.port);
    plain.reply();
    plain.send("EHLO c");
    assert!(!plain.reply().contains("AUTH"));
    plain.send(&format!("AUTH XOAUTH2 {}", xoauth2(USER, &t.access_token)));
    assert!(plain.reply().starts_with("538"));
    let mut c = smtp_auth_ok(&server, "XOAUTH2", &xoauth2(USER, &t.access_token));
    smtp_send(&mut c, "Subject: hi\r\n\r\nbody 1");
    let bearer = oauthbearer(USER, &t.access_token, "localhost", server.port);
    let mut c = smtp_auth_ok(&server, "OAUTHBEARER", &bearer);
    smtp_send(&mut c, "Subject: two\r\n\r\nbody 2");
    idp.configure(|c| c.token_extra_len = 3000);
    let long = idp.mint().access_token;
    let mut c = smtp_auth_ok(&server, "XOAUTH2", &xoauth2(USER, &long));
    c.send("QUIT");
    let got = server.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].bytes(), b"Subject: hi\r\n\r\nbody 1\r\n");
    assert_eq!((got[1].user.as_deref(), got[1].tls), (Some(USER), true));
    assert_eq!(got[1].mechanism.as_deref(), Some("OAUTHBEARER"));
    let attempts = server.auth_attempts();
    assert_eq!(attempts.len(), 3);
    assert!(
        attempts[..2]
            .iter()
            .all(|a| a.ok && a.token == t.access_token)
    );
}

/// The SMTP error round trip: 334 base64(JSON), our `answer`, then 535. Returns the JSON.
fn smtp_refused(server: &OAuthSmtp, mechanism: &str, response: &str, answer: &str) -> Value {
    let (mut c, _) = server.session();
    c.send(&format!("AUTH {mechanism} {response}"));
    let r = c.reply();
    let b = r
        .strip_prefix("334 ")
        .unwrap_or_else(|| panic!("{r:?}\n{}", server.log()));
    let json = base64::engine::general_purpose::STANDARD
        .decode(b)
        .expect("base64");
    c.send(answer);
    let r = c.reply();
    assert!(r.starts_with("535 5.7.8"), "{r:?}");
    c.send("MAIL FROM:<a@example.test>");
    assert!(c.reply().starts_with("530"), "MAIL needs a login");
    serde_json::from_slice(&json).expect("JSON")
}

#[test]
fn aiosmtpd_refuses_bad_tokens_with_the_sasl_error() {
    if !peers_gate("aiosmtpd_refuses_bad_tokens_with_the_sasl_error", false) {
        return;
    }
    let certs = Certs::make();
    let idp = FakeIdp::start_tls(IdpConfig::default(), &certs);
    let server = OAuthSmtp::start(&idp, &certs, SmtpTls::Implicit);
    let t = idp.mint();
    idp.expire_access_tokens();
    let json = smtp_refused(&server, "XOAUTH2", &xoauth2(USER, &t.access_token), "");
    assert_eq!(json["status"], "401");
    assert_eq!(json["schemes"], "bearer");
    let bearer = oauthbearer(USER, &t.access_token, "localhost", server.port);
    let json = smtp_refused(&server, "OAUTHBEARER", &bearer, "AQ==");
    assert_eq!(json, serde_json::json!({"status": "invalid_token"}));
    // A live token for another user, and a refresh token as a bearer: refused as well.
    let live = idp.mint();
    smtp_refused(&server, "XOAUTH2", &xoauth2("bob", &live.access_token), "");
    smtp_refused(&server, "XOAUTH2", &xoauth2(USER, &live.refresh_token), "");
    let answers: Vec<Option<String>> = server
        .auth_attempts()
        .into_iter()
        .map(|a| a.client_answer)
        .collect();
    let expected = [Some(""), Some("AQ=="), Some(""), Some("")].map(|a| a.map(String::from));
    assert_eq!(answers, expected);
    assert!(server.received().is_empty());
}
