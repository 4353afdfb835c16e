//! `--from-browser` / `--cookies-from-browser`: cookie stores built here (Firefox schema 17,
//! Chromium meta version 24) read by `postie cookies list|import` and `postie fetch`, the
//! error exits, and (with `POSTIE_INTEROP=1`) real Chromium and Firefox profiles: postie
//! must send the cookies the browser sent, and its jar must load in curl and Python.

#[path = "support/browsers.rs"]
mod browsers;
#[path = "support/certs.rs"]
mod certs;
#[path = "support/common.rs"]
mod common;
#[path = "support/http_server.rs"]
mod http_server;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use browsers::{BATTERY, Cookie, ECHO_PATH, cookie, cookie_set};
use common::{postie, require_peer, run, text, which};
use http_server::{HttpServer, Response};

/// 2036-11-19T04:12:33Z.
const FUTURE: i64 = 2_110_680_753;

fn sample() -> Vec<Cookie> {
    vec![
        Cookie {
            expires: Some(FUTURE),
            secure: true,
            ..cookie(".example.com", "dom", "a=b c")
        },
        Cookie {
            path: "/app",
            http_only: true,
            ..cookie("www.example.com", "sid", "s3cr3t")
        },
        Cookie {
            expires: Some(1_000),
            ..cookie("old.example", "gone", "x")
        },
        cookie("other.example", "o", "1"),
    ]
}

fn ok(cmd: &mut Command) -> (String, String) {
    let out = run(cmd);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{cmd:?}: {stderr}");
    (stdout, stderr)
}

#[test]
fn list_from_chromium_masks_values_and_filters_by_domain() {
    let dir = tempfile::tempdir().expect("tempdir");
    browsers::chromium_profile(dir.path(), &sample(), b"peanuts");
    let spec = format!("chromium:{}", dir.path().display());
    let (table, _) = ok(postie().args(["cookies", "list", "--from-browser", &spec]));
    assert_eq!(
        table,
        "DOMAIN           PATH  NAME  VALUE  EXPIRES (UTC)        FLAGS\n\
         .example.com     /     dom   ***    2036-11-19 04:12:33  subdomains,secure\n\
         other.example    /     o     ***    session              -\n\
         www.example.com  /app  sid   ***    session              httponly\n"
    );
    let (json, _) = ok(postie().args([
        "cookies",
        "list",
        "--json",
        "--show-values",
        "--domain",
        "www.example.com",
        "--from-browser",
        &spec,
    ]));
    let values: Vec<String> = json
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json")["value"]
                .as_str()
                .expect("value")
                .to_owned()
        })
        .collect();
    assert_eq!(values, ["a=b c", "s3cr3t"]);
}

#[test]
fn import_from_firefox_writes_a_private_jar_or_stdout() {
    let dir = tempfile::tempdir().expect("tempdir");
    browsers::firefox_profile(dir.path(), &sample());
    let spec = format!("firefox:{}", dir.path().display());
    let jar = dir.path().join("jar.txt");
    let (_, err) = ok(postie()
        .args(["cookies", "import", "--from-browser", &spec, "-o"])
        .arg(&jar));
    assert!(err.contains("imported 3 cookies into"), "{err}");
    let expected = "#HttpOnly_www.example.com\tFALSE\t/app\tFALSE\t0\tsid\ts3cr3t";
    let written = fs::read_to_string(&jar).expect("jar");
    assert!(
        written.contains(".example.com\tTRUE\t/\tTRUE\t2110680753\tdom\ta=b c\n"),
        "{written}"
    );
    assert!(written.contains(expected), "{written}");
    assert!(
        !written.contains("old.example"),
        "expired cookie written: {written}"
    );
    assert_eq!(
        fs::metadata(&jar).expect("stat").permissions().mode() & 0o777,
        0o600
    );
    let (stdout, _) = ok(postie().args(["cookies", "import", "--from-browser", &spec]));
    assert_eq!(stdout, written);
}

#[test]
fn fetch_sends_browser_cookies_under_the_b_cookies_and_saves_them() {
    let server = HttpServer::start(|_| Response::ok("ok"));
    let dir = tempfile::tempdir().expect("tempdir");
    let cookies = [
        cookie("127.0.0.1", "from_browser", "b=1 2"),
        cookie("127.0.0.1", "both", "browser"),
        Cookie {
            path: "/elsewhere",
            ..cookie("127.0.0.1", "notsent", "x")
        },
        cookie("example.com", "foreign", "x"),
    ];
    browsers::chromium_profile(dir.path(), &cookies, b"peanuts");
    let b_jar = dir.path().join("b.txt");
    fs::write(&b_jar, "127.0.0.1\tFALSE\t/\tFALSE\t0\tboth\tfrom-b\n").expect("write");
    let saved = dir.path().join("saved.txt");
    let spec = format!("chromium:{}", dir.path().display());
    let tmp = tempfile::tempdir().expect("tempdir");
    ok(postie()
        .env("TMPDIR", tmp.path())
        .args([
            "fetch",
            "-s",
            "-o",
            "/dev/null",
            "--cookies-from-browser",
            &spec,
            "-b",
        ])
        .arg(&b_jar)
        .arg("-c")
        .arg(&saved)
        .arg(server.url("/page")));
    let req = server.single_request();
    assert_eq!(
        cookie_set(req.header("Cookie")),
        cookie_set(Some("both=from-b; from_browser=b=1 2"))
    );
    // The database copy and the cookies handed to the jar code leave nothing behind.
    let left: Vec<_> = fs::read_dir(tmp.path()).expect("ls").collect();
    assert!(left.is_empty(), "left in TMPDIR: {left:?}");
    let jar = fs::read_to_string(&saved).expect("saved jar");
    assert!(
        jar.contains("\tfrom_browser\tb=1 2\n") && jar.contains("\tforeign\tx\n"),
        "{jar}"
    );
}

/// Runs postie, expects failure with `code`, returns stderr.
fn fails(cmd: &mut Command, code: i32) -> String {
    let out = run(cmd);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(code), "{cmd:?}: {stderr}");
    stderr
}

#[test]
fn errors_name_the_file_and_what_to_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = fails(
        postie().args(["cookies", "list", "--from-browser", "netscape"]),
        2,
    );
    assert!(
        err.starts_with("postie: netscape: unknown browser; expected BROWSER[:PROFILE]"),
        "{err}"
    );

    let spec = format!("firefox:{}", dir.path().display());
    let err = fails(
        postie().args(["cookies", "list", "--from-browser", &spec]),
        26,
    );
    let db = dir.path().join("cookies.sqlite");
    assert!(
        err.starts_with(&format!(
            "postie: {}: no cookie database here",
            db.display()
        )),
        "{err}"
    );

    let err = fails(
        postie().args([
            "fetch",
            "--cookies-from-browser",
            "firefox",
            "http://127.0.0.1:9/",
        ]),
        26,
    );
    assert!(
        err.contains("/nonexistent-postie-home/.mozilla/firefox/profiles.ini: no firefox profile"),
        "{err}"
    );
}

#[test]
fn v11_values_need_the_keyring_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    let user_data = dir.path().join("chromium");
    browsers::chromium_profile(
        &user_data,
        &[cookie("a.example", "n", "v")],
        b"keyring password",
    );
    let spec = format!("chromium:{}", user_data.display());
    let err = fails(
        postie().args([
            "cookies",
            "list",
            "--from-browser",
            &spec,
            "--keyring-password-command",
            "exit 1",
        ]),
        78,
    );
    assert!(
        err.contains("Default/Cookies: cannot get the key")
            && err.contains("--keyring-password-command"),
        "{err}"
    );
    let (out, _) = ok(postie().args([
        "cookies",
        "list",
        "--show-values",
        "--from-browser",
        &spec,
        "--keyring-password-command",
        "echo 'keyring password'",
    ]));
    assert!(out.contains("a.example  /     n     v"), "{out}");
}

#[test]
fn a_database_the_browser_holds_locked_is_read_from_a_copy() {
    let dir = tempfile::tempdir().expect("tempdir");
    browsers::firefox_profile(dir.path(), &sample());
    // As a running Firefox does: an exclusive lock on its database, kept.
    let held = rusqlite::Connection::open(dir.path().join("cookies.sqlite")).expect("open");
    held.execute_batch(
        "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE; UPDATE moz_cookies SET value = value;",
    )
    .expect("lock");
    let spec = format!("firefox:{}", dir.path().display());
    let (out, _) = ok(postie().args(["cookies", "list", "--show-values", "--from-browser", &spec]));
    assert!(
        out.contains("dom   a=b c") && out.contains("sid   s3cr3t"),
        "{out}"
    );
    drop(held);
}

#[test]
fn browser_files_are_left_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    browsers::firefox_profile(dir.path(), &sample());
    let before: Vec<_> = fs::read_dir(dir.path())
        .expect("ls")
        .map(|e| e.expect("entry").file_name())
        .collect();
    let db = dir.path().join("cookies.sqlite");
    let bytes = fs::read(&db).expect("read");
    let mtime = fs::metadata(&db).expect("stat").modified().expect("mtime");
    ok(postie()
        .args(["cookies", "list", "--from-browser"])
        .arg(format!("firefox:{}", dir.path().display())));
    let after: Vec<_> = fs::read_dir(dir.path())
        .expect("ls")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(before, after);
    assert_eq!(fs::read(&db).expect("read"), bytes);
    assert_eq!(
        fs::metadata(&db).expect("stat").modified().expect("mtime"),
        mtime
    );
}

/// The battery server: `/set` sets the cookies and redirects to the echo page; over TLS
/// (with `identity`) also a Secure, SameSite=None cookie.
fn battery_server(identity: Option<native_tls::Identity>) -> HttpServer {
    let tls = identity.is_some();
    let handler = move |req: &http_server::Request| {
        if req.path() == "/set" {
            let extra = tls.then_some("tls=t; Secure; SameSite=None; Path=/");
            BATTERY
                .iter()
                .copied()
                .chain(extra)
                .fold(Response::redirect(302, ECHO_PATH), |r, c| {
                    r.header("Set-Cookie", c)
                })
        } else {
            Response::ok(req.header("Cookie").unwrap_or_default().to_owned())
        }
    };
    match identity {
        Some(id) => HttpServer::start_tls(id, handler),
        None => HttpServer::start(handler),
    }
}

/// The Cookie header of the first request for the echo page, if any came.
fn echo_header(server: &HttpServer) -> Option<Option<String>> {
    server
        .requests()
        .iter()
        .find(|r| r.path() == ECHO_PATH)
        .map(|r| r.header("Cookie").map(str::to_owned))
}

/// postie (fetch, and import + curl, and import + Python) sends what the browser sent.
fn check_postie_matches(spec: &str, echo: &str, cacert: Option<&Path>, browser_sent: &str) {
    let expected = cookie_set(Some(browser_sent));
    assert!(
        expected.len() >= 8,
        "the browser kept too few cookies: {browser_sent}"
    );
    let ca: Vec<&std::ffi::OsStr> =
        cacert.map_or(Vec::new(), |c| vec!["--cacert".as_ref(), c.as_os_str()]);
    let (body, _) = ok(postie()
        .args(["fetch", "-s", "--cookies-from-browser", spec, echo])
        .args(&ca));
    assert_eq!(cookie_set(Some(&body)), expected, "postie fetch");

    let dir = tempfile::tempdir().expect("tempdir");
    let jar = dir.path().join("jar.txt");
    ok(postie()
        .args(["cookies", "import", "--from-browser", spec, "-o"])
        .arg(&jar));
    let out = Command::new("curl")
        .arg("-s")
        .arg("-b")
        .arg(&jar)
        .args(&ca)
        .arg(echo)
        .output()
        .expect("curl");
    assert_eq!(
        cookie_set(Some(&String::from_utf8_lossy(&out.stdout))),
        expected,
        "curl -b"
    );

    // Python 3.11 reads curl's expiry 0 (a session cookie) as expired: ignore_expires keeps
    // the session cookies (the jar has no expired cookie to let through).
    let script = "import http.cookiejar, sys\nj = http.cookiejar.MozillaCookieJar()\nj.load(sys.argv[1], ignore_discard=True, ignore_expires=True)\nprint('; '.join(c.name + '=' + c.value for c in j if c.name != 'other'))";
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(&jar)
        .output()
        .expect("python3");
    let loaded = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert_eq!(
        cookie_set(Some(&loaded)),
        expected,
        "MozillaCookieJar: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn interop_chromium_profile_sends_what_chromium_sent() {
    let chromium = which("chromium");
    if !require_peer(
        "interop_chromium_profile_sends_what_chromium_sent",
        "chromium",
        chromium.is_some(),
    ) {
        return;
    }
    let server = battery_server(None);
    let dir = tempfile::tempdir().expect("tempdir");
    let user_data = dir.path().join("chromium");
    let url = format!("http://localhost:{}/set", server.port());
    browsers::drive_chromium(&chromium.expect("checked"), &user_data, &url, &[]);
    let sent = echo_header(&server)
        .expect("Chromium fetched the echo page")
        .expect("with cookies");
    let echo = format!("http://localhost:{}{ECHO_PATH}", server.port());
    let spec = format!("chromium:{}", user_data.display());
    check_postie_matches(&spec, &echo, None, &sent);
}

#[test]
fn interop_chromium_https_profile_sends_what_chromium_sent() {
    let chromium = which("chromium");
    if !require_peer(
        "interop_chromium_https_profile_sends_what_chromium_sent",
        "chromium",
        chromium.is_some(),
    ) {
        return;
    }
    let certs = http_server::TestCerts::generate();
    let server = battery_server(Some(certs.leaf_identity()));
    let dir = tempfile::tempdir().expect("tempdir");
    let user_data = dir.path().join("chromium");
    let url = format!("https://localhost:{}/set", server.port());
    // The test CA is not in Chromium's store; postie and curl are given it (--cacert).
    let flags = ["--ignore-certificate-errors"];
    browsers::drive_chromium(&chromium.expect("checked"), &user_data, &url, &flags);
    let sent = echo_header(&server)
        .expect("Chromium fetched the echo page")
        .expect("with cookies");
    assert!(
        sent.contains("tls=t"),
        "the https-only cookie was not sent: {sent}"
    );
    let echo = format!("https://localhost:{}{ECHO_PATH}", server.port());
    let spec = format!("chromium:{}", user_data.display());
    check_postie_matches(&spec, &echo, Some(&certs.ca_pem()), &sent);
}

/// Firefox on the battery page, read while it runs (holding its database: the copy with its
/// -wal, and the session store's recovery file) or after a clean quit (the session cookies
/// then in sessionstore.jsonlz4).
fn firefox_case(test: &str, quit: bool) {
    let firefox = which("firefox-esr").or_else(|| which("firefox"));
    if !require_peer(test, "firefox-esr", firefox.is_some()) {
        return;
    }
    let server = battery_server(None);
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("http://localhost:{}/set", server.port());
    let firefox = firefox.expect("checked");
    let running = browsers::drive_firefox(&firefox, dir.path(), &url, || {
        echo_header(&server).is_some()
    });
    let running = if quit {
        running.quit();
        assert!(dir.path().join("sessionstore.jsonlz4").is_file());
        None
    } else {
        Some(running)
    };
    let sent = echo_header(&server)
        .expect("Firefox fetched the echo page")
        .expect("with cookies");
    let echo = format!("http://localhost:{}{ECHO_PATH}", server.port());
    let spec = format!("firefox:{}", dir.path().display());
    check_postie_matches(&spec, &echo, None, &sent);
    drop(running);
}

#[test]
fn interop_running_firefox_profile_sends_what_firefox_sent() {
    firefox_case(
        "interop_running_firefox_profile_sends_what_firefox_sent",
        false,
    );
}

#[test]
fn interop_stopped_firefox_profile_sends_what_firefox_sent() {
    firefox_case(
        "interop_stopped_firefox_profile_sends_what_firefox_sent",
        true,
    );
}

#[test]
fn profile_path_must_exist() {
    let err = fails(
        postie().args([
            "cookies",
            "import",
            "--from-browser",
            "chromium:/nonexistent/profile",
        ]),
        26,
    );
    assert!(
        err.contains("/nonexistent/profile/Network/Cookies: no cookie database here"),
        "{err}"
    );
}

/// The Cookie header postie sends to the echo page of `server` with `spec`, HOME at `home`.
fn postie_sends(
    home: &Path,
    spec: &str,
    server: &HttpServer,
) -> std::collections::BTreeSet<String> {
    let echo = format!("http://localhost:{}{ECHO_PATH}", server.port());
    let (body, _) =
        ok(postie()
            .env("HOME", home)
            .args(["fetch", "-s", "--cookies-from-browser", spec, &echo]));
    cookie_set(Some(&body))
}

#[test]
fn interop_default_profiles_are_found_under_home() {
    let (chromium, firefox) = (which("chromium"), which("firefox-esr"));
    if !require_peer(
        "interop_default_profiles_are_found_under_home",
        "chromium and firefox-esr",
        chromium.is_some() && firefox.is_some(),
    ) {
        return;
    }
    let home = tempfile::tempdir().expect("tempdir");
    // Chromium's own folder for this HOME, its Local State written by Chromium.
    let server = battery_server(None);
    let url = format!("http://localhost:{}/set", server.port());
    let user_data = home.path().join(".config/chromium");
    browsers::drive_chromium(&chromium.expect("checked"), &user_data, &url, &[]);
    let sent = echo_header(&server).expect("echo page").expect("cookies");
    assert_eq!(
        postie_sends(home.path(), "chromium", &server),
        cookie_set(Some(&sent))
    );

    // Firefox ESR 153 writes a new profiles.ini under ~/.config/mozilla/firefox (XDG).
    let firefox = firefox.expect("checked");
    let profile = home.path().join("workprof");
    let created = Command::new(&firefox)
        .env("HOME", home.path())
        .args(["--headless", "-CreateProfile"])
        .arg(format!("work {}", profile.display()))
        .output()
        .expect("firefox -CreateProfile");
    assert!(created.status.success(), "{created:?}");
    assert!(
        home.path()
            .join(".config/mozilla/firefox/profiles.ini")
            .is_file()
    );
    let server = battery_server(None);
    let url = format!("http://localhost:{}/set", server.port());
    let running =
        browsers::drive_firefox(&firefox, &profile, &url, || echo_header(&server).is_some());
    let sent = cookie_set(Some(
        &echo_header(&server).expect("echo page").expect("cookies"),
    ));
    assert_eq!(postie_sends(home.path(), "firefox", &server), sent);
    assert_eq!(postie_sends(home.path(), "firefox:work", &server), sent);
    drop(running);
}
