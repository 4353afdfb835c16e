//! `postie oauth` and OAuth2 accounts in `send` and `pop3`, end to end: the real binary
//! against the in-process fake identity provider (tests/support/oauth_idp.rs, over HTTPS with
//! a test CA) and small in-process mail servers that check tokens with it; with
//! `POSTIE_INTEROP=1`, Dovecot (POP3) and aiosmtpd (SMTP) checking the tokens by
//! introspection.

#[path = "support/certs.rs"]
mod certs;
#[path = "support/common.rs"]
mod common;
#[path = "support/http_server.rs"]
mod http_server;
#[path = "support/oauth_idp.rs"]
mod oauth_idp;
#[path = "support/oauth_mail.rs"]
mod oauth_mail;
#[path = "support/oauth_peers.rs"]
mod oauth_peers;
#[path = "support/pop3_dovecot.rs"]
mod pop3_dovecot;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use certs::Certs;
use common::{require_peer, run, text};
use oauth_idp::{DeviceStep, FakeIdp, IdpConfig, check_poll_spacing};
use oauth_mail::{OAuthMail, Proto};
use oauth_peers::{OAuthSmtp, SmtpTls};

/// A home folder with an accounts file for account `mail`, and the fake provider.
struct Env {
    home: tempfile::TempDir,
    certs: Certs,
    idp: Arc<FakeIdp>,
}

impl Env {
    fn new(cfg: IdpConfig) -> Env {
        let certs = Certs::make();
        let idp = Arc::new(FakeIdp::start_tls(cfg, &certs));
        let env = Env {
            home: tempfile::tempdir().expect("home"),
            certs,
            idp,
        };
        env.account("");
        env
    }

    /// Writes the accounts file: account `mail` with the fake's endpoints, plus `extra`.
    fn account(&self, extra: &str) {
        let dir = self.home.path().join("config/postie");
        std::fs::create_dir_all(&dir).expect("config dir");
        let text = format!(
            "[account.mail]\nuser = \"alice\"\nauth = \"oauth2\"\noauth_provider = \"custom\"\n\
             oauth_client_id = \"{}\"\noauth_token_url = \"{}\"\noauth_device_url = \"{}\"\n\
             oauth_auth_url = \"{}\"\noauth_revoke_url = \"{}\"\noauth_scopes = [\"mail\"]\n\
             cacert = \"{}\"\nfrom = \"alice@example.test\"\n{extra}\n",
            oauth_idp::CLIENT_ID,
            self.idp.token_url(),
            self.idp.device_url(),
            self.idp.authorize_url(),
            self.idp.revoke_url(),
            self.certs.ca.display(),
        );
        std::fs::write(dir.join("config.toml"), text).expect("config");
    }

    fn postie(&self) -> Command {
        let mut cmd = common::postie();
        cmd.env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join("config"))
            .env("XDG_DATA_HOME", self.home.path().join("data"))
            .env("BROWSER", "true");
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        run(self.postie().args(args))
    }

    fn store_path(&self) -> PathBuf {
        self.home.path().join("data/postie/oauth-tokens.json")
    }

    /// The stored record of account `mail`.
    fn stored(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.store_path()).expect("token store");
        let all: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        all["accounts"]["mail"].clone()
    }

    /// A POP3 or SMTP server that accepts the tokens the provider considers live.
    fn mail_server(&self, proto: Proto) -> OAuthMail {
        let idp = Arc::clone(&self.idp);
        OAuthMail::start(proto, move |t| idp.is_active(t))
    }

    /// Makes the stored access token expire now, as if an hour had passed.
    fn expire_stored_token(&self) {
        let mut all: serde_json::Value =
            serde_json::from_slice(&std::fs::read(self.store_path()).expect("read")).expect("JSON");
        all["accounts"]["mail"]["expires_at"] = serde_json::json!(0);
        std::fs::write(self.store_path(), all.to_string()).expect("write");
    }

    /// Runs `n` postie processes with `args` at the same time.
    fn run_at_once(&self, n: usize, args: &[&str]) -> Vec<Output> {
        let children: Vec<_> = (0..n)
            .map(|_| {
                self.postie()
                    .args(args)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn")
            })
            .collect();
        children
            .into_iter()
            .map(|c| c.wait_with_output().expect("wait"))
            .collect()
    }

    /// Asserts that the stored refresh token is the newest the provider issued.
    fn assert_newest_refresh_token_stored(&self) {
        assert_eq!(
            self.stored()["refresh_token"].as_str(),
            self.idp.current_refresh_token().as_deref()
        );
    }

    /// The refresh requests the provider received.
    fn refreshes(&self) -> Vec<oauth_idp::IdpRequest> {
        self.idp
            .requests_to("/token")
            .into_iter()
            .filter(|r| r.field("grant_type") == Some("refresh_token"))
            .collect()
    }

    /// Signs in by the device flow (the fake approves at the first poll).
    fn login(&self) {
        let out = self.run(&["oauth", "login", "--account", "mail"]);
        assert_ok(&out, "oauth login");
    }

    /// Every stored, printed and logged byte postie may have written under the home folder,
    /// except the token store itself.
    fn files_outside_the_store(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut found = Vec::new();
        walk(self.home.path(), &mut found);
        found.retain(|(p, _)| p != &self.store_path());
        found
    }
}

fn walk(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).expect("ls").flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((path, bytes));
        }
    }
}

fn assert_ok(out: &Output, what: &str) {
    let (stdout, stderr) = text(out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what}: stdout {stdout}\nstderr {stderr}"
    );
}

fn assert_exit(out: &Output, code: i32, needle: &str) {
    let (_, stderr) = text(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {stderr}");
    assert!(stderr.contains(needle), "{needle:?} not in: {stderr}");
}

/// A short-lived access token: within the one-minute margin, so each run refreshes.
fn short_lived() -> IdpConfig {
    IdpConfig {
        access_lifetime: Duration::from_secs(30),
        ..IdpConfig::default()
    }
}

#[test]
fn device_login_stores_the_tokens_privately_and_token_prints_one() {
    let env = Env::new(IdpConfig {
        device_script: vec![DeviceStep::Pending, DeviceStep::Approve],
        ..IdpConfig::default()
    });
    let out = env.run(&["oauth", "login", "--account", "mail"]);
    assert_ok(&out, "login");
    let (_, stderr) = text(&out);
    let grant = env.idp.device_grants().pop().expect("one device grant");
    assert!(stderr.contains(&grant.user_code), "{stderr}");
    assert!(stderr.contains("/verify"), "{stderr}");
    let device = env
        .idp
        .requests_to("/device")
        .pop()
        .expect("device request");
    assert_eq!(device.field("scope"), Some("mail"));
    assert_eq!(device.field("client_id"), Some(oauth_idp::CLIENT_ID));
    check_poll_spacing(&env.idp.device_polls(), Duration::from_secs(1)).expect("interval");
    assert_eq!(env.idp.device_polls().len(), 2);

    let mode = std::fs::metadata(env.store_path())
        .expect("store")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let stored = env.stored();
    assert_eq!(
        stored["refresh_token"].as_str(),
        env.idp.current_refresh_token().as_deref()
    );

    let out = env.run(&["oauth", "token", "--account", "mail"]);
    assert_ok(&out, "token");
    let (stdout, _) = text(&out);
    assert_eq!(stdout.trim(), env.idp.last_access_token().expect("issued"));
    // Valid for an hour: no refresh was needed.
    assert_eq!(env.idp.requests_to("/token").len(), 2);

    let out = env.run(&["oauth", "status", "--json"]);
    assert_ok(&out, "status");
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON line");
    assert_eq!(status["account"], "mail");
    assert_eq!(status["has_refresh_token"], true);
    assert_eq!(status["access_token_valid"], true);
    assert_eq!(status["scopes"][0], "mail");
    env.idp.assert_no_secret_in("status", &out.stdout);
    env.idp
        .assert_no_secret_in("login stderr", stderr.as_bytes());
}

#[test]
fn device_login_slows_down_when_told() {
    let env = Env::new(IdpConfig {
        device_script: vec![DeviceStep::SlowDown, DeviceStep::Approve],
        ..IdpConfig::default()
    });
    env.login();
    let polls = env.idp.device_polls();
    assert_eq!(polls.len(), 2);
    check_poll_spacing(&polls, Duration::from_secs(1)).expect("1 s, then 6 s after slow_down");
}

#[test]
fn device_login_denied_or_expired_says_so() {
    let env = Env::new(IdpConfig {
        device_script: vec![DeviceStep::Deny],
        ..IdpConfig::default()
    });
    let out = env.run(&["oauth", "login", "--account", "mail"]);
    assert_exit(&out, 77, "the sign-in was refused (access_denied");
    assert!(!env.store_path().exists());
    env.idp
        .configure(|c| c.device_script = vec![DeviceStep::Pending, DeviceStep::Expire]);
    let out = env.run(&["oauth", "login", "--account", "mail"]);
    assert_exit(&out, 28, "the code expired");
    let out = env.run(&["oauth", "token", "--account", "mail"]);
    assert_exit(&out, 77, "run `postie oauth login --account mail`");
}

/// Starts `postie oauth login --browser` and returns it with the URL it printed.
fn start_browser_login(
    env: &Env,
) -> (
    std::process::Child,
    String,
    BufReader<std::process::ChildStderr>,
) {
    let mut child = env
        .postie()
        .args(["oauth", "login", "--account", "mail", "--browser"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("postie starts");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut url = String::new();
    for _ in 0..10 {
        let mut line = String::new();
        if stderr.read_line(&mut line).expect("read") == 0 {
            break;
        }
        if line.starts_with("https://") {
            url = line.trim().to_owned();
            break;
        }
    }
    assert!(url.contains("/authorize?"), "no URL printed: {url}");
    (child, url, stderr)
}

#[test]
fn browser_login_checks_the_state_and_sends_the_pkce_verifier() {
    let env = Env::new(IdpConfig::default());
    let (mut child, url, _stderr) = start_browser_login(&env);
    let query: Vec<(String, String)> = url::Url::parse(&url)
        .expect("url")
        .query_pairs()
        .into_owned()
        .collect();
    let field = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let redirect = field("redirect_uri").expect("redirect_uri");
    assert!(redirect.starts_with("http://127.0.0.1:"), "{redirect}");
    assert_eq!(field("code_challenge_method").as_deref(), Some("S256"));
    // A request with another state (a page that found the port) is refused; the login waits.
    let forged = oauth_idp::http_get(&format!("{redirect}?code=evil&state=forged"), None);
    assert_eq!(forged.status, 400);
    let visit = env.idp.act_as_browser(&url);
    assert_eq!(visit.loopback.expect("redirected").status, 200);
    let status = child.wait().expect("wait");
    assert!(status.success(), "login failed");
    let exchange = env.idp.requests_to("/token").pop().expect("code exchange");
    assert_eq!(exchange.field("grant_type"), Some("authorization_code"));
    assert_eq!(
        exchange.status, 200,
        "the fake checked the PKCE verifier: {}",
        exchange.answer
    );
    assert_eq!(exchange.field("redirect_uri"), Some(redirect.as_str()));
    env.assert_newest_refresh_token_stored();
}

#[test]
fn browser_login_refused_by_the_user_exits_77() {
    let env = Env::new(IdpConfig::default());
    let (mut child, url, mut stderr) = start_browser_login(&env);
    env.idp.deny_in_browser(&url);
    let status = child.wait().expect("wait");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).expect("stderr");
    assert_eq!(status.code(), Some(77), "{rest}");
    assert!(rest.contains("access_denied"), "{rest}");
}

#[test]
fn each_refresh_uses_the_newest_refresh_token() {
    let env = Env::new(short_lived());
    env.login();
    let mut seen = Vec::new();
    for _ in 0..2 {
        let out = env.run(&["oauth", "token", "--account", "mail"]);
        assert_ok(&out, "token");
        seen.push(String::from_utf8_lossy(&out.stdout).trim().to_owned());
    }
    assert_ne!(seen[0], seen[1], "a new access token each time");
    assert_eq!(seen[1], env.idp.last_access_token().expect("issued"));
    let refreshes: Vec<_> = env.refreshes();
    assert_eq!(refreshes.len(), 2);
    assert!(refreshes.iter().all(|r| r.status == 200));
    assert_eq!(env.idp.reuse_detected(), 0);
    env.assert_newest_refresh_token_stored();
}

#[test]
fn a_provider_that_does_not_rotate_keeps_the_refresh_token() {
    let env = Env::new(IdpConfig {
        rotate_refresh: false,
        ..short_lived()
    });
    env.login();
    let before = env.stored()["refresh_token"].clone();
    let out = env.run(&["oauth", "token", "--account", "mail"]);
    assert_ok(&out, "token");
    assert_eq!(env.stored()["refresh_token"], before);
    assert!(env.stored()["refreshed_at"].is_u64());
}

#[test]
fn a_refused_refresh_token_exits_77_and_says_to_log_in_again() {
    let env = Env::new(short_lived());
    env.login();
    env.idp.revoke_all();
    let out = env.run(&["oauth", "token", "--account", "mail"]);
    assert_exit(&out, 77, "invalid_grant");
    assert_exit(&out, 77, "run `postie oauth login --account mail` again");
    assert!(out.stdout.is_empty());
}

/// Four runs at once find the token expiring: they take turns, and only the first refreshes;
/// the others use its new token (a provider that detects reuse of a rotated refresh token
/// would otherwise revoke the whole login).
#[test]
fn concurrent_runs_across_a_rotation_all_succeed() {
    let env = Env::new(IdpConfig::default());
    env.login();
    env.expire_stored_token();
    let outputs = env.run_at_once(4, &["oauth", "token", "--account", "mail"]);
    let newest = env.idp.last_access_token().expect("issued");
    for out in &outputs {
        assert_ok(out, "concurrent token");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), newest);
    }
    let refreshes = env.refreshes().len();
    assert_eq!(refreshes, 1, "one refresh for four runs");
    assert_eq!(env.idp.reuse_detected(), 0);
    env.assert_newest_refresh_token_stored();
}

#[test]
fn logout_revokes_and_deletes_the_tokens() {
    let env = Env::new(IdpConfig::default());
    env.login();
    let refresh = env.idp.current_refresh_token().expect("issued");
    let out = env.run(&["oauth", "logout", "--account", "mail"]);
    assert_exit(&out, 0, "tokens revoked and deleted");
    let revoke = env.idp.requests_to("/revoke").pop().expect("revocation");
    assert_eq!(revoke.field("token"), Some(refresh.as_str()));
    assert!(
        !env.idp
            .is_active(&env.idp.last_access_token().expect("issued"))
    );
    assert!(env.stored().is_null());
    let out = env.run(&["oauth", "token", "--account", "mail"]);
    assert_exit(&out, 77, "no OAuth2 tokens stored");
}

#[test]
fn token_commands_keep_the_record_outside_postie() {
    let env = Env::new(short_lived());
    let kept = env.home.path().join("kept.json");
    env.account(&format!(
        "oauth_token_command = \"cat {0} 2>/dev/null || true\"\n\
         oauth_token_store_command = \"cat > {0}\"\n",
        kept.display()
    ));
    env.login();
    assert!(!env.store_path().exists(), "nothing in postie's own store");
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&kept).expect("kept")).expect("JSON");
    assert_eq!(
        record["refresh_token"].as_str(),
        env.idp.current_refresh_token().as_deref()
    );
    let out = env.run(&["oauth", "token", "--account", "mail"]);
    assert_ok(&out, "token");
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&kept).expect("kept")).expect("JSON");
    assert_eq!(
        record["refresh_token"].as_str(),
        env.idp.current_refresh_token().as_deref(),
        "the rotated refresh token went to the store command"
    );
}

#[test]
fn account_mistakes_are_named() {
    let env = Env::new(IdpConfig::default());
    let dir = env.home.path().join("config/postie");
    std::fs::write(
        dir.join("config.toml"),
        "[account.mail]\nauth = \"oauth2\"\noauth_provider = \"custom\"\noauth_client_id = \"x\"\n",
    )
    .expect("config");
    let out = env.run(&["oauth", "login", "--account", "mail"]);
    assert_exit(&out, 78, "oauth_token_url is required");
    std::fs::write(
        dir.join("config.toml"),
        "[account.mail]\nauth = \"oauth2\"\noauth_provider = \"yahoo\"\n",
    )
    .expect("config");
    let out = env.run(&["oauth", "token", "--account", "mail"]);
    assert_exit(&out, 78, "oauth_provider = \"yahoo\"");
}

/// pop3 and send with the stored token: OAUTHBEARER by default, XOAUTH2 when asked; a token
/// the server refuses (the provider expired it early) is refreshed once and the login
/// retried; the SASL error round trip is answered as each mechanism requires.
#[test]
fn pop3_and_send_use_the_token_and_renew_a_refused_one() {
    let env = Env::new(IdpConfig::default());
    env.login();
    for proto in [Proto::Pop3, Proto::Smtp] {
        let server = env.mail_server(proto);
        for (auth, mechanism, answer) in
            [("auto", "OAUTHBEARER", "AQ=="), ("xoauth2", "XOAUTH2", "")]
        {
            env.idp.expire_access_tokens();
            let out = mail_command(&env, proto, &server, &["--auth", auth]);
            assert_ok(&out, "mail command");
            let attempts = server.attempts();
            let [.., refused, ok] = attempts.as_slice() else {
                panic!("two attempts: {attempts:?}")
            };
            assert_eq!((refused.mechanism.as_str(), refused.ok), (mechanism, false));
            assert_eq!(
                refused.answer.as_deref(),
                Some(answer),
                "{proto:?} {mechanism}"
            );
            assert_eq!((ok.mechanism.as_str(), ok.ok), (mechanism, true));
            assert_eq!(ok.user, "alice");
            assert_eq!(ok.token, env.idp.last_access_token().expect("issued"));
            assert_ne!(refused.token, ok.token);
        }
        if proto == Proto::Smtp {
            let messages = server.messages();
            assert_eq!(messages.len(), 2);
            assert!(String::from_utf8_lossy(&messages[0]).contains("Subject: oauth test"));
        }
    }
    assert_eq!(env.idp.reuse_detected(), 0);
}

/// Runs `pop3 stat` or `send` against `server` for account `mail`.
fn mail_command(env: &Env, proto: Proto, server: &OAuthMail, extra: &[&str]) -> Output {
    let mut cmd = env.postie();
    match proto {
        Proto::Pop3 => cmd.args(["pop3", "stat", "--server", &server.url("pop3")]),
        Proto::Smtp => cmd.args([
            "send",
            "--server",
            &server.url("smtp"),
            "--to",
            "bob@example.test",
            "--subject",
            "oauth test",
            "--body",
            "hello",
        ]),
    };
    cmd.args([
        "--account",
        "mail",
        "--tls",
        "none",
        "--allow-insecure-auth",
    ]);
    cmd.args(extra);
    run(&mut cmd)
}

#[test]
fn a_revoked_login_fails_mail_commands_with_77() {
    let env = Env::new(IdpConfig::default());
    env.login();
    env.idp.revoke_all();
    for proto in [Proto::Pop3, Proto::Smtp] {
        let server = env.mail_server(proto);
        let out = mail_command(&env, proto, &server, &[]);
        assert_exit(&out, 77, "run `postie oauth login --account mail` again");
        assert_eq!(
            server.attempts().len(),
            1,
            "one refused login, then the refresh failed"
        );
    }
}

#[test]
fn a_token_is_never_sent_in_the_clear_unless_allowed() {
    let env = Env::new(IdpConfig::default());
    env.login();
    let server = env.mail_server(Proto::Pop3);
    let out = env.run(&[
        "pop3",
        "stat",
        "--account",
        "mail",
        "--server",
        &server.url("pop3"),
        "--tls",
        "none",
    ]);
    assert_eq!(out.status.code(), Some(78), "{}", text(&out).1);
    assert!(server.attempts().is_empty());
}

#[test]
fn tokens_never_appear_in_output_logs_or_other_files() {
    let env = Env::new(short_lived());
    env.login();
    let mut outputs = Vec::new();
    for proto in [Proto::Pop3, Proto::Smtp] {
        let server = env.mail_server(proto);
        env.idp.expire_access_tokens();
        let out = mail_command(&env, proto, &server, &["-v"]);
        assert_ok(&out, "verbose mail command");
        assert!(
            server
                .lines()
                .iter()
                .any(|l| l.starts_with("AUTH OAUTHBEARER "))
        );
        outputs.push(out);
    }
    outputs.push(env.run(&["oauth", "status"]));
    outputs.push(env.run(&["oauth", "token", "--account", "mail", "-v"]));
    for out in &outputs[..3] {
        env.idp.assert_no_secret_in("stdout", &out.stdout);
        env.idp.assert_no_secret_in("stderr", &out.stderr);
    }
    env.idp
        .assert_no_secret_in("token -v stderr", &outputs[3].stderr);
    let (_, verbose) = text(&outputs[0]);
    assert!(
        verbose.contains("masked") || verbose.contains("redacted"),
        "{verbose}"
    );
    for (path, bytes) in env.files_outside_the_store() {
        env.idp
            .assert_no_secret_in(&path.display().to_string(), &bytes);
    }
}

// ---- With real servers (POSTIE_INTEROP=1) ----

fn interop_env(test: &str, which: usize) -> Option<Env> {
    let (dovecot, aiosmtpd) = oauth_peers::available();
    let ok = if which == 0 { dovecot } else { aiosmtpd };
    let peer = if which == 0 { "dovecot" } else { "aiosmtpd" };
    require_peer(test, peer, ok).then(|| Env::new(IdpConfig::default()))
}

#[test]
fn dovecot_accepts_postie_s_tokens_and_postie_renews_them() {
    let Some(env) = interop_env("dovecot_accepts_postie_s_tokens_and_postie_renews_them", 0) else {
        return;
    };
    let dovecot = oauth_peers::dovecot(&env.idp, &env.certs);
    dovecot.deliver(
        "1.msg",
        b"From: a@example.test\r\nSubject: one\r\n\r\nbody\r\n",
    );
    env.account(&format!(
        "pop3_server = \"pop3s://localhost:{}\"\n",
        dovecot.pop3s_port
    ));
    env.login();
    let out_dir = env.home.path().join("Mail");
    let out = env.run(&[
        "pop3",
        "pull",
        "--account",
        "mail",
        "--out",
        out_dir.to_str().expect("utf-8"),
        "-s",
    ]);
    assert_ok(&out, "pull with OAUTHBEARER");
    assert_eq!(
        std::fs::read_dir(out_dir.join("new")).expect("new").count(),
        1
    );
    // The provider expires the token early: Dovecot refuses it, postie refreshes and retries.
    env.idp.expire_access_tokens();
    let out = env.run(&[
        "pop3",
        "stat",
        "--account",
        "mail",
        "--auth",
        "xoauth2",
        "--json",
    ]);
    assert_ok(&out, "stat with XOAUTH2 after a refused token");
    let refreshes = env.refreshes().len();
    assert_eq!(refreshes, 1);
    env.idp.assert_no_secret_in("stdout", &out.stdout);
    env.idp.assert_no_secret_in("stderr", &out.stderr);
    // An hour later, two cron jobs start at once: both log in, one refresh between them.
    env.expire_stored_token();
    for out in env.run_at_once(2, &["pop3", "stat", "--account", "mail"]) {
        assert_ok(&out, "concurrent stat");
    }
    assert_eq!(env.refreshes().len(), 2);
    assert_eq!(env.idp.reuse_detected(), 0);
    env.assert_newest_refresh_token_stored();
    env.idp.revoke_all();
    let out = env.run(&["pop3", "stat", "--account", "mail"]);
    assert_exit(&out, 77, "run `postie oauth login --account mail` again");
}

#[test]
fn aiosmtpd_accepts_postie_s_tokens_and_postie_renews_them() {
    let Some(env) = interop_env("aiosmtpd_accepts_postie_s_tokens_and_postie_renews_them", 1)
    else {
        return;
    };
    let smtp = OAuthSmtp::start(&env.idp, &env.certs, SmtpTls::StartTls);
    env.account(&format!("smtp_server = \"{}\"\n", smtp.url("smtp")));
    env.login();
    let send = |auth: Option<&str>| {
        let mut cmd = env.postie();
        cmd.args([
            "send",
            "--account",
            "mail",
            "--to",
            "bob@example.test",
            "--subject",
            "via oauth",
            "--body",
            "hi",
        ]);
        if let Some(a) = auth {
            cmd.args(["--auth", a]);
        }
        run(&mut cmd)
    };
    assert_ok(&send(None), "send with OAUTHBEARER");
    env.idp.expire_access_tokens();
    assert_ok(
        &send(Some("xoauth2")),
        "send with XOAUTH2 after a refused token",
    );
    let received = smtp.received();
    assert_eq!(received.len(), 2, "{}", smtp.log());
    assert!(String::from_utf8_lossy(&received[1].bytes()).contains("Subject: via oauth"));
    let attempts = smtp.auth_attempts();
    assert!(
        attempts
            .iter()
            .any(|a| !a.ok && a.client_answer.as_deref() == Some("")),
        "{attempts:?}"
    );
    env.idp.revoke_all();
    let out = send(None);
    assert_exit(&out, 77, "run `postie oauth login --account mail` again");
}

/// ^A separates the fields of XOAUTH2 and OAUTHBEARER: a user name with one could add a
/// field of its own, so it is refused before anything is sent.
#[test]
fn a_user_name_with_a_sasl_separator_is_refused() {
    let env = Env::new(IdpConfig::default());
    env.login();
    for proto in [Proto::Pop3, Proto::Smtp] {
        let server = env.mail_server(proto);
        let out = mail_command(
            &env,
            proto,
            &server,
            &["--user", "alice\u{1}auth=Bearer forged"],
        );
        assert_exit(&out, 2, "user name contains a control character");
        assert!(server.lines().is_empty(), "{:?}", server.lines());
    }
}

/// msmtp with `passwordeval "postie oauth token --account mail"`: postie as another mail
/// tool's OAuth2 helper, the token refreshed by postie and accepted by a server that checks
/// it (aiosmtpd introspecting at the provider).
#[test]
fn msmtp_uses_postie_as_its_oauth2_helper() {
    let test = "msmtp_uses_postie_as_its_oauth2_helper";
    let (_, aiosmtpd) = oauth_peers::available();
    if !require_peer(test, "aiosmtpd", aiosmtpd)
        || !require_peer(test, "msmtp", common::which("msmtp").is_some())
    {
        return;
    }
    let env = Env::new(short_lived());
    env.login();
    let smtp = OAuthSmtp::start(&env.idp, &env.certs, SmtpTls::StartTls);
    let rc = env.home.path().join("msmtprc");
    let postie = env!("CARGO_BIN_EXE_postie");
    std::fs::write(
        &rc,
        format!(
            "account mail\nhost localhost\nport {}\ntls on\ntls_starttls on\n\
             tls_trust_file {}\nauth oauthbearer\nuser alice\nfrom alice@example.test\n\
             passwordeval \"{postie} oauth token --account mail\"\n",
            smtp.port,
            env.certs.ca.display()
        ),
    )
    .expect("msmtprc");
    std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let mut cmd = env.postie();
    cmd.env_remove("BROWSER");
    let mut msmtp = Command::new("msmtp");
    msmtp.envs(cmd.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))));
    msmtp
        .arg("-C")
        .arg(&rc)
        .args(["-a", "mail", "bob@example.test"]);
    let out = common::run_with_stdin(
        &mut msmtp,
        b"From: alice@example.test\r\nTo: bob@example.test\r\nSubject: via msmtp\r\n\r\nhi\r\n",
    );
    assert_ok(&out, "msmtp");
    let received = smtp.received();
    assert_eq!(received.len(), 1, "{}", smtp.log());
    assert_eq!(received[0].mechanism.as_deref(), Some("OAUTHBEARER"));
    assert!(String::from_utf8_lossy(&received[0].bytes()).contains("Subject: via msmtp"));
    assert_eq!(
        env.refreshes().len(),
        1,
        "postie refreshed the short-lived token"
    );
    env.assert_newest_refresh_token_stored();
}
