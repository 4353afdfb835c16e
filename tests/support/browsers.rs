//! Browser profiles for the `--from-browser` tests: cookie stores built in the test (Firefox
//! `cookies.sqlite` schema 17 and Chromium `Cookies` meta version 24, as Firefox ESR 153 and
//! Chromium 156 write them, values encrypted as Chromium does without a keyring), and, for
//! the interop tests, real browsers driven headless into fresh profiles.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use openssl::hash::{MessageDigest, hash};
use openssl::pkcs5::pbkdf2_hmac;
use openssl::symm::{Cipher, encrypt};
use rusqlite::Connection;

pub const FIREFOX_17: &str = "CREATE TABLE moz_cookies (id INTEGER PRIMARY KEY, originAttributes TEXT NOT NULL DEFAULT '', name TEXT, value TEXT, host TEXT, path TEXT, expiry INTEGER, lastAccessed INTEGER, creationTime INTEGER, isSecure INTEGER, isHttpOnly INTEGER, inBrowserElement INTEGER DEFAULT 0, sameSite INTEGER DEFAULT 0, schemeMap INTEGER DEFAULT 0, isPartitionedAttributeSet INTEGER DEFAULT 0, updateTime INTEGER, CONSTRAINT moz_uniqueid UNIQUE (name, host, path, originAttributes))";
pub const CHROMIUM_24: &str = "CREATE TABLE meta(key LONGVARCHAR NOT NULL UNIQUE PRIMARY KEY, value LONGVARCHAR); INSERT INTO meta VALUES('mmap_status','-1'); INSERT INTO meta VALUES('version','24'); INSERT INTO meta VALUES('last_compatible_version','24'); CREATE TABLE cookies(creation_utc INTEGER NOT NULL,host_key TEXT NOT NULL,top_frame_site_key TEXT NOT NULL,name TEXT NOT NULL,value TEXT NOT NULL,encrypted_value BLOB NOT NULL,path TEXT NOT NULL,expires_utc INTEGER NOT NULL,is_secure INTEGER NOT NULL,is_httponly INTEGER NOT NULL,last_access_utc INTEGER NOT NULL,has_expires INTEGER NOT NULL,is_persistent INTEGER NOT NULL,priority INTEGER NOT NULL,samesite INTEGER NOT NULL,source_scheme INTEGER NOT NULL,source_port INTEGER NOT NULL,last_update_utc INTEGER NOT NULL,source_type INTEGER NOT NULL,has_cross_site_ancestor INTEGER NOT NULL)";

/// One cookie to put into a built store. `expires`: Unix seconds, `None` for a session
/// cookie (Chromium keeps those on disk with expiry 0).
#[derive(Debug, Clone)]
pub struct Cookie {
    pub host: &'static str,
    pub name: &'static str,
    pub value: &'static str,
    pub path: &'static str,
    pub expires: Option<i64>,
    pub secure: bool,
    pub http_only: bool,
}

pub const fn cookie(host: &'static str, name: &'static str, value: &'static str) -> Cookie {
    Cookie {
        host,
        name,
        value,
        path: "/",
        expires: None,
        secure: false,
        http_only: false,
    }
}

/// A Firefox profile folder: persistent `cookies` in `cookies.sqlite` (expiry in
/// milliseconds), session ones in the session store (`sessionstore.jsonlz4`, as after a
/// clean quit).
pub fn firefox_profile(dir: &Path, cookies: &[Cookie]) {
    let session: Vec<serde_json::Value> = cookies
        .iter()
        .filter(|c| c.expires.is_none())
        .map(|c| {
            serde_json::json!({"host": c.host, "name": c.name, "value": c.value, "path": c.path,
                "secure": c.secure, "httponly": c.http_only, "sameSite": 0, "schemeMap": 1,
                "originAttributes": {"userContextId": 0, "privateBrowsingId": 0, "partitionKey": ""}})
        })
        .collect();
    let json =
        serde_json::json!({"version": ["sessionrestore", 1], "windows": [], "cookies": session});
    let json = serde_json::to_vec(&json).expect("json");
    let mut lz4 = b"mozLz40\0".to_vec();
    lz4.extend_from_slice(&u32::try_from(json.len()).expect("small").to_le_bytes());
    lz4.extend(lz4_flex::block::compress(&json));
    std::fs::write(dir.join("sessionstore.jsonlz4"), lz4).expect("sessionstore.jsonlz4");
    let cookies: Vec<&Cookie> = cookies.iter().filter(|c| c.expires.is_some()).collect();
    let conn = Connection::open(dir.join("cookies.sqlite")).expect("create cookies.sqlite");
    conn.execute_batch(FIREFOX_17).expect("schema");
    conn.pragma_update(None, "user_version", 17)
        .expect("user_version");
    for c in &cookies {
        conn.execute(
            "INSERT INTO moz_cookies (host, name, value, path, expiry, isSecure, isHttpOnly) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            rusqlite::params![c.host, c.name, c.value, c.path, c.expires.unwrap_or(0) * 1000, c.secure, c.http_only],
        )
        .expect("insert");
    }
}

/// Chromium's `v10` encryption on Linux: PBKDF2-HMAC-SHA1("peanuts", "saltysalt", 1, 16),
/// AES-128-CBC, IV of 16 spaces, plaintext SHA-256(host_key) + value (meta version 24).
pub fn chromium_v10(host_key: &str, value: &str, password: &[u8]) -> Vec<u8> {
    let mut key = [0u8; 16];
    pbkdf2_hmac(password, b"saltysalt", 1, MessageDigest::sha1(), &mut key).expect("pbkdf2");
    let mut plain = hash(MessageDigest::sha256(), host_key.as_bytes())
        .expect("sha256")
        .to_vec();
    plain.extend_from_slice(value.as_bytes());
    let mut out = if password == b"peanuts" {
        b"v10".to_vec()
    } else {
        b"v11".to_vec()
    };
    out.extend(encrypt(Cipher::aes_128_cbc(), &key, Some(&[b' '; 16]), &plain).expect("aes"));
    out
}

/// A Chromium profile folder (`Default` under `user_data`, with a `Local State`) whose
/// `Cookies` hold `cookies`, encrypted with the key of `password` (`peanuts`: v10).
pub fn chromium_profile(user_data: &Path, cookies: &[Cookie], password: &[u8]) -> PathBuf {
    let profile = user_data.join("Default");
    std::fs::create_dir_all(&profile).expect("mkdir");
    std::fs::write(
        user_data.join("Local State"),
        r#"{"profile":{"last_active_profiles":["Default"]}}"#,
    )
    .expect("Local State");
    let conn = Connection::open(profile.join("Cookies")).expect("create Cookies");
    conn.execute_batch(CHROMIUM_24).expect("schema");
    for c in cookies {
        let expires = c.expires.map_or(0, |e| (e + 11_644_473_600) * 1_000_000);
        conn.execute(
            "INSERT INTO cookies VALUES (0, ?1, '', ?2, '', ?3, ?4, ?5, ?6, ?7, 0, ?8, ?8, 1, -1, 1, 80, 0, 0, 0)",
            rusqlite::params![c.host, c.name, chromium_v10(c.host, c.value, password), c.path, expires, c.secure, c.http_only, c.expires.is_some()],
        )
        .expect("insert");
    }
    profile
}

/// The cookies of a `Cookie` header as a set of `name=value` (browsers and postie order
/// cookies of the same path length differently: by creation time, by name).
pub fn cookie_set(header: Option<&str>) -> BTreeSet<String> {
    header
        .unwrap_or_default()
        .split("; ")
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The `Set-Cookie` battery the interop page sets (on a redirect to the echo page): session,
/// persistent, domain, path (one sent to the echo page, one not), HttpOnly, SameSite,
/// Secure (localhost is a secure origin), a value with `=` and spaces, two already expired.
pub const BATTERY: &[&str] = &[
    "sess=s1; Path=/",
    "persist=p1; Max-Age=86400; Path=/",
    "dom=d1; Domain=localhost; Path=/; Max-Age=86400",
    "sessdom=sd; Domain=localhost; Path=/",
    "pathc=x; Path=/echo/sub",
    "other=o; Path=/elsewhere",
    "ho=h; HttpOnly; Path=/",
    "ss=strict; SameSite=Strict; Path=/",
    "sl=lax; SameSite=Lax; Path=/; Max-Age=3600",
    "sec=s; Secure; Path=/",
    "eqsp=a=b c d; Path=/",
    "gone=x; Max-Age=0; Path=/",
    "gone2=y; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/",
];

/// The page the browsers end on, which echoes their Cookie header.
pub const ECHO_PATH: &str = "/echo/sub/page";

/// Chromium: opens `url` in a fresh profile `user_data` (with the extra `flags`), waits for
/// the echo page, closes the browser over the DevTools pipe (which writes the cookie store
/// at once).
pub fn drive_chromium(chromium: &Path, user_data: &Path, url: &str, flags: &[&str]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/chromium_pipe.py");
    let status = Command::new("python3")
        .arg(script)
        .arg(chromium)
        .arg(user_data)
        .arg(url)
        .arg("/echo/")
        .args(flags)
        .status()
        .expect("python3 runs the Chromium driver");
    assert!(status.success(), "Chromium did not close cleanly: {status}");
}

/// Firefox, still running, on a fresh profile: killed when dropped.
#[derive(Debug)]
pub struct RunningFirefox {
    child: Child,
    marionette: u16,
}

impl RunningFirefox {
    /// Quits Firefox cleanly (Marionette's `Marionette:Quit`), which writes the session
    /// store to `sessionstore.jsonlz4`.
    pub fn quit(mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/firefox_quit.py");
        let out = Command::new("python3")
            .arg(script)
            .arg(self.marionette.to_string())
            .output()
            .expect("python3 runs the Firefox quitter");
        assert!(out.status.success(), "Marionette quit: {out:?}");
        let status = self.child.wait().expect("wait for Firefox");
        assert!(status.success(), "Firefox did not quit cleanly: {status}");
    }
}

impl Drop for RunningFirefox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Firefox: opens `url` headless in a fresh profile (session store written every 500 ms,
/// Marionette on a free port for a clean quit), and returns once `seen()` is true and the
/// session store holds the session cookies. It keeps running, as a user's Firefox does.
pub fn drive_firefox(
    firefox: &Path,
    profile: &Path,
    url: &str,
    seen: impl Fn() -> bool,
) -> RunningFirefox {
    let marionette = super::common::free_port();
    let prefs = format!(
        "user_pref(\"browser.sessionstore.interval\", 500);\nuser_pref(\"marionette.port\", {marionette});\n"
    );
    std::fs::write(profile.join("user.js"), prefs).expect("user.js");
    let child = Command::new(firefox)
        .args(["--headless", "--marionette", "--no-remote", "--profile"])
        .arg(profile)
        .arg(url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("firefox starts");
    let running = RunningFirefox { child, marionette };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !seen() {
        assert!(
            Instant::now() < deadline,
            "Firefox never reached the echo page"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The session store is written on its interval after the change; give it a few.
    let store = profile.join("sessionstore-backups/recovery.jsonlz4");
    while !store.is_file() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(2));
    running
}
