//! Readers against databases built here with each schema version's table definitions
//! (Firefox `moz_cookies` 12, 16 and 17 as Firefox ESR 153 writes it; Chromium `cookies` of
//! `meta` version 18 and 24 as Chromium 156 writes it), values encrypted here the way
//! Chromium does.

use std::path::Path;

use rusqlite::Connection;

use super::chromium::{self, EPOCH_1601};
use super::crypto::{self, V10_PASSWORD};
use super::{Browser, BrowserError, BrowserRequest, firefox, profiles};
use crate::cookies::Record;
use crate::exit::code;

const FF_12: &str = "CREATE TABLE moz_cookies (id INTEGER PRIMARY KEY, originAttributes TEXT NOT NULL DEFAULT '', name TEXT, value TEXT, host TEXT, path TEXT, expiry INTEGER, lastAccessed INTEGER, creationTime INTEGER, isSecure INTEGER, isHttpOnly INTEGER, inBrowserElement INTEGER DEFAULT 0, sameSite INTEGER DEFAULT 0, rawSameSite INTEGER DEFAULT 0, schemeMap INTEGER DEFAULT 0, CONSTRAINT moz_uniqueid UNIQUE (name, host, path, originAttributes))";
const FF_16: &str = "CREATE TABLE moz_cookies (id INTEGER PRIMARY KEY, originAttributes TEXT NOT NULL DEFAULT '', name TEXT, value TEXT, host TEXT, path TEXT, expiry INTEGER, lastAccessed INTEGER, creationTime INTEGER, isSecure INTEGER, isHttpOnly INTEGER, inBrowserElement INTEGER DEFAULT 0, sameSite INTEGER DEFAULT 0, schemeMap INTEGER DEFAULT 0, isPartitionedAttributeSet INTEGER DEFAULT 0, CONSTRAINT moz_uniqueid UNIQUE (name, host, path, originAttributes))";
const FF_17: &str = "CREATE TABLE moz_cookies (id INTEGER PRIMARY KEY, originAttributes TEXT NOT NULL DEFAULT '', name TEXT, value TEXT, host TEXT, path TEXT, expiry INTEGER, lastAccessed INTEGER, creationTime INTEGER, isSecure INTEGER, isHttpOnly INTEGER, inBrowserElement INTEGER DEFAULT 0, sameSite INTEGER DEFAULT 0, schemeMap INTEGER DEFAULT 0, isPartitionedAttributeSet INTEGER DEFAULT 0, updateTime INTEGER, CONSTRAINT moz_uniqueid UNIQUE (name, host, path, originAttributes))";
/// Firefox 4 to 32: no originAttributes yet.
const FF_OLD: &str = "CREATE TABLE moz_cookies (id INTEGER PRIMARY KEY, baseDomain TEXT, name TEXT, value TEXT, host TEXT, path TEXT, expiry INTEGER, lastAccessed INTEGER, creationTime INTEGER, isSecure INTEGER, isHttpOnly INTEGER, CONSTRAINT moz_uniqueid UNIQUE (name, host, path))";

const CR_18: &str = "CREATE TABLE cookies(creation_utc INTEGER NOT NULL,host_key TEXT NOT NULL,top_frame_site_key TEXT NOT NULL,name TEXT NOT NULL,value TEXT NOT NULL,encrypted_value BLOB NOT NULL,path TEXT NOT NULL,expires_utc INTEGER NOT NULL,is_secure INTEGER NOT NULL,is_httponly INTEGER NOT NULL,last_access_utc INTEGER NOT NULL,has_expires INTEGER NOT NULL,is_persistent INTEGER NOT NULL,priority INTEGER NOT NULL,samesite INTEGER NOT NULL,source_scheme INTEGER NOT NULL,source_port INTEGER NOT NULL,is_same_party INTEGER NOT NULL,last_update_utc INTEGER NOT NULL)";
const CR_24: &str = "CREATE TABLE cookies(creation_utc INTEGER NOT NULL,host_key TEXT NOT NULL,top_frame_site_key TEXT NOT NULL,name TEXT NOT NULL,value TEXT NOT NULL,encrypted_value BLOB NOT NULL,path TEXT NOT NULL,expires_utc INTEGER NOT NULL,is_secure INTEGER NOT NULL,is_httponly INTEGER NOT NULL,last_access_utc INTEGER NOT NULL,has_expires INTEGER NOT NULL,is_persistent INTEGER NOT NULL,priority INTEGER NOT NULL,samesite INTEGER NOT NULL,source_scheme INTEGER NOT NULL,source_port INTEGER NOT NULL,last_update_utc INTEGER NOT NULL,source_type INTEGER NOT NULL,has_cross_site_ancestor INTEGER NOT NULL)";
const CR_META: &str =
    "CREATE TABLE meta(key LONGVARCHAR NOT NULL UNIQUE PRIMARY KEY, value LONGVARCHAR)";

/// 2036-11-19T04:12:33Z.
const FUTURE: i64 = 2_110_680_753;

fn rec(domain: &str, sub: bool, path: &str, name: &str, value: &str) -> Record {
    Record {
        include_subdomains: sub,
        path: path.into(),
        ..Record::new(domain, name, value)
    }
}

/// A cookie row of Firefox: (host, name, value, path, expiry, isSecure, isHttpOnly,
/// originAttributes).
type FfRow<'a> = (&'a str, &'a str, &'a str, &'a str, i64, bool, bool, &'a str);

fn firefox_db(dir: &Path, version: i64, schema: &str, rows: &[FfRow]) {
    let conn = Connection::open(dir.join("cookies.sqlite")).expect("create");
    conn.execute_batch(schema).expect("schema");
    conn.pragma_update(None, "user_version", version)
        .expect("version");
    let has_origin = schema.contains("originAttributes");
    for (host, name, value, path, expiry, secure, http_only, origin) in rows {
        if has_origin {
            conn.execute(
                "INSERT INTO moz_cookies (host, name, value, path, expiry, isSecure, isHttpOnly, originAttributes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                rusqlite::params![host, name, value, path, expiry, secure, http_only, origin],
            )
        } else {
            conn.execute(
                "INSERT INTO moz_cookies (host, name, value, path, expiry, isSecure, isHttpOnly) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                rusqlite::params![host, name, value, path, expiry, secure, http_only],
            )
        }
        .expect("insert");
    }
}

fn tidy_now(records: Vec<Record>) -> Vec<Record> {
    super::tidy(records, crate::cookies::jar::now())
}

#[test]
fn firefox_schemas_seconds_then_milliseconds() {
    for (version, schema, scale) in [
        (12, FF_12, 1),
        (16, FF_16, 1000),
        (17, FF_17, 1000),
        (7, FF_OLD, 1),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        firefox_db(
            dir.path(),
            version,
            schema,
            &[
                (
                    ".example.com",
                    "dom",
                    "a=b c",
                    "/",
                    FUTURE * scale + scale - 1,
                    true,
                    false,
                    "",
                ),
                (
                    "www.example.com",
                    "host",
                    "v",
                    "/app",
                    FUTURE * scale,
                    false,
                    true,
                    "",
                ),
                (
                    "old.example",
                    "gone",
                    "x",
                    "/",
                    1_000 * scale,
                    false,
                    false,
                    "",
                ),
            ],
        );
        let got = tidy_now(firefox::read(dir.path(), None).expect("reads"));
        let mut dom = rec("example.com", true, "/", "dom", "a=b c");
        dom.secure = true;
        dom.expires = Some(FUTURE);
        let mut host = rec("www.example.com", false, "/app", "host", "v");
        host.http_only = true;
        host.expires = Some(FUTURE);
        assert_eq!(got, vec![dom, host], "schema {version}");
    }
}

#[test]
fn firefox_containers_and_partitions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let own = "^partitionKey=%28https%2Ca.example%29";
    let row = |host, name, origin| (host, name, "v", "/", FUTURE * 1000, false, false, origin);
    let rows = [
        row("a.example", "plain", ""),
        row("a.example", "work", "^userContextId=2"),
        row("a.example", "own", own),
        row("t.example", "third", own),
        row("a.example", "private", "^privateBrowsingId=1"),
    ];
    firefox_db(dir.path(), 17, FF_17, &rows);
    std::fs::write(
        dir.path().join("containers.json"),
        r#"{"version":5,"identities":[{"userContextId":2,"public":true,"l10nID":"user-context-work","name":""},{"userContextId":7,"public":true,"name":"Bank"}]}"#,
    )
    .expect("write");
    let names = |c: Option<&str>| -> Vec<String> {
        tidy_now(firefox::read(dir.path(), c).expect("reads"))
            .into_iter()
            .map(|r| r.name)
            .collect()
    };
    assert_eq!(names(None), ["own", "plain"]);
    assert_eq!(names(Some("Work")), ["work"]);
    assert_eq!(names(Some("2")), ["work"]);
    assert!(names(Some("bank")).is_empty());
}

#[test]
fn firefox_unknown_container_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    firefox_db(dir.path(), 17, FF_17, &[]);
    std::fs::write(dir.path().join("containers.json"), r#"{"identities":[]}"#).expect("write");
    let e = firefox::read(dir.path(), Some("Shopping")).expect_err("no such container");
    assert_eq!(e.exit_code(), code::CONFIG);
    assert!(
        e.to_string()
            .contains("containers.json: no container named \"Shopping\""),
        "{e}"
    );
}

fn moz_lz4(json: &str) -> Vec<u8> {
    let mut out = b"mozLz40\0".to_vec();
    out.extend_from_slice(&u32::try_from(json.len()).expect("small").to_le_bytes());
    out.extend(lz4_flex::block::compress(json.as_bytes()));
    out
}

#[test]
fn firefox_session_cookies_come_from_the_session_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    firefox_db(
        dir.path(),
        17,
        FF_17,
        &[(
            "a.example",
            "persist",
            "1",
            "/",
            FUTURE * 1000,
            false,
            false,
            "",
        )],
    );
    let json = r#"{"windows":[],"cookies":[
        {"host":".a.example","value":"s=1 2","name":"sess","path":"/p","secure":true,"httponly":true,"originAttributes":{"userContextId":0,"privateBrowsingId":0,"partitionKey":"","firstPartyDomain":""},"sameSite":1,"schemeMap":2},
        {"host":"a.example","value":"c","name":"other","path":"/","originAttributes":{"userContextId":3}}]}"#;
    std::fs::create_dir(dir.path().join("sessionstore-backups")).expect("mkdir");
    std::fs::write(
        dir.path().join("sessionstore-backups/recovery.jsonlz4"),
        moz_lz4(json),
    )
    .expect("write");
    let got = tidy_now(firefox::read(dir.path(), None).expect("reads"));
    let mut sess = rec("a.example", true, "/p", "sess", "s=1 2");
    sess.secure = true;
    sess.http_only = true;
    let mut persist = rec("a.example", false, "/", "persist", "1");
    persist.expires = Some(FUTURE);
    assert_eq!(got, vec![persist, sess]);
}

#[test]
fn firefox_errors_name_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = firefox::read(dir.path(), None).expect_err("no database");
    assert!(matches!(e, BrowserError::MissingDatabase { .. }), "{e:?}");
    assert_eq!(e.exit_code(), code::READ);
    assert!(
        e.to_string().starts_with(&format!(
            "{}: no cookie database",
            dir.path().join("cookies.sqlite").display()
        )),
        "{e}"
    );

    std::fs::write(
        dir.path().join("cookies.sqlite"),
        b"this is not sqlite, just some text long enough",
    )
    .expect("write");
    let e = firefox::read(dir.path(), None).expect_err("not a database");
    assert!(matches!(e, BrowserError::Database { .. }), "{e:?}");

    std::fs::remove_file(dir.path().join("cookies.sqlite")).expect("rm");
    firefox_db(
        dir.path(),
        99,
        "CREATE TABLE moz_cookies (id INTEGER PRIMARY KEY, name TEXT, value TEXT)",
        &[],
    );
    let e = firefox::read(dir.path(), None).expect_err("unknown schema");
    assert!(matches!(e, BrowserError::Schema { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("has no column host, path, expiry, isSecure, isHttpOnly"),
        "{e}"
    );

    std::fs::create_dir(dir.path().join("sessionstore-backups")).expect("mkdir");
    std::fs::write(
        dir.path().join("sessionstore-backups/recovery.jsonlz4"),
        b"mozLz40\0\xff",
    )
    .expect("write");
    let e = firefox::read(dir.path(), None).expect_err("bad session store");
    assert!(matches!(e, BrowserError::SessionStore { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("recovery.jsonlz4: cannot read the session store"),
        "{e}"
    );
}

#[test]
fn moz_lz4_rejects_bad_input_without_panicking() {
    assert_eq!(firefox::moz_lz4(&moz_lz4("{}")).expect("decodes"), b"{}");
    for bad in [
        &b""[..],
        b"mozLz40\0",
        b"mozLz40\0\x10\0\0\0\xff\xff",
        b"mozLz41\0\0\0\0\0",
        b"mozLz40\0\xff\xff\xff\xff",
    ] {
        assert!(firefox::moz_lz4(bad).is_err(), "{bad:?}");
    }
}

/// A cookie row of Chromium: (host_key, name, path, expires_utc, persistent, secure,
/// httponly, top_frame_site_key, encrypted_value).
type CrRow<'a> = (
    &'a str,
    &'a str,
    &'a str,
    i64,
    bool,
    bool,
    bool,
    &'a str,
    Vec<u8>,
);

fn chromium_db(file: &Path, version: i64, schema: &str, rows: Vec<CrRow>) {
    let conn = Connection::open(file).expect("create");
    conn.execute_batch(&format!("{CR_META}; {schema};"))
        .expect("schema");
    conn.execute(
        "INSERT INTO meta VALUES ('version', ?1)",
        [version.to_string()],
    )
    .expect("meta");
    for (host, name, path, expires, persistent, secure, http_only, top, enc) in rows {
        let extra = if schema.contains("is_same_party") {
            ", is_same_party"
        } else {
            ", source_type, has_cross_site_ancestor"
        };
        conn.execute(
            &format!("INSERT INTO cookies (creation_utc, host_key, top_frame_site_key, name, value, encrypted_value, path, expires_utc, is_secure, is_httponly, last_access_utc, has_expires, is_persistent, priority, samesite, source_scheme, source_port, last_update_utc{extra}) VALUES (0, ?1, ?2, ?3, '', ?4, ?5, ?6, ?7, ?8, 0, ?9, ?9, 1, -1, 2, 443, 0, 0{})", if extra.contains("source_type") { ", 0" } else { "" }),
            rusqlite::params![host, top, name, enc, path, expires, secure, http_only, persistent],
        )
        .expect("insert");
    }
}

fn utc_1601(unix: i64) -> i64 {
    (unix + EPOCH_1601) * 1_000_000 + 999_999
}

/// Domain, session, expired, own-partition and third-party-partition cookies, v10.
fn battery(hashed: bool) -> Vec<CrRow<'static>> {
    let key = crypto::derive_key(V10_PASSWORD);
    let site = "https://example.com";
    // (host, name, value, expires_utc, secure, httponly, top_frame_site_key)
    let rows = [
        (
            ".example.com",
            "dom",
            "a=b c",
            utc_1601(FUTURE),
            true,
            false,
            "",
        ),
        ("www.example.com", "sess", "s", 0, false, true, ""),
        ("old.example", "gone", "x", utc_1601(1000), false, false, ""),
        ("www.example.com", "part", "p", 0, true, false, site),
        ("tracker.example", "third", "t", 0, true, false, site),
    ];
    rows.into_iter()
        .map(|(host, name, value, expires, secure, http_only, top)| {
            let enc = crypto::encrypt_for_test(b"v10", &key, host, value.as_bytes(), hashed);
            let path = if name == "sess" { "/app" } else { "/" };
            (
                host,
                name,
                path,
                expires,
                expires != 0,
                secure,
                http_only,
                top,
                enc,
            )
        })
        .collect()
}

#[test]
fn chromium_v10_values_with_and_without_host_hash() {
    for (version, schema, hashed) in [(18, CR_18, false), (24, CR_24, true)] {
        let dir = tempfile::tempdir().expect("tempdir");
        chromium_db(
            &dir.path().join("Cookies"),
            version,
            schema,
            battery(hashed),
        );
        let got = tidy_now(chromium::read(dir.path(), Browser::Chromium, None).expect("reads"));
        let mut dom = rec("example.com", true, "/", "dom", "a=b c");
        dom.secure = true;
        dom.expires = Some(FUTURE);
        let mut part = rec("www.example.com", false, "/", "part", "p");
        part.secure = true;
        let mut sess = rec("www.example.com", false, "/app", "sess", "s");
        sess.http_only = true;
        assert_eq!(got, vec![dom, part, sess], "meta version {version}");
    }
}

#[test]
fn chromium_network_folder_is_read_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("Network")).expect("mkdir");
    let key = crypto::derive_key(V10_PASSWORD);
    let enc = crypto::encrypt_for_test(b"v10", &key, "h.example", b"v", true);
    chromium_db(
        &dir.path().join("Network/Cookies"),
        24,
        CR_24,
        vec![("h.example", "n", "/", 0, false, false, false, "", enc)],
    );
    let got = chromium::read(dir.path(), Browser::Chrome, None).expect("reads");
    assert_eq!(got, vec![rec("h.example", false, "/", "n", "v")]);
}

#[test]
fn chromium_v11_key_from_the_password_command_or_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = crypto::derive_key(b"keyring secret");
    let enc = crypto::encrypt_for_test(b"v11", &key, "h.example", b"v", true);
    chromium_db(
        &dir.path().join("Cookies"),
        24,
        CR_24,
        vec![("h.example", "n", "/", 0, false, false, false, "", enc)],
    );
    let got = chromium::read(dir.path(), Browser::Chromium, Some("echo 'keyring secret'"))
        .expect("reads");
    assert_eq!(got, vec![rec("h.example", false, "/", "n", "v")]);
    let e = chromium::read(dir.path(), Browser::Chromium, Some("exit 3")).expect_err("no key");
    assert!(matches!(e, BrowserError::NoKey { .. }), "{e:?}");
    assert_eq!(e.exit_code(), code::CONFIG);
    let msg = e.to_string();
    assert!(
        msg.contains("Cookies: cannot get the key") && msg.contains("--keyring-password-command"),
        "{msg}"
    );
}

#[test]
fn chromium_app_bound_and_unknown_schema_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    chromium_db(
        &dir.path().join("Cookies"),
        24,
        CR_24,
        vec![(
            "h.example",
            "n",
            "/",
            0,
            false,
            false,
            false,
            "",
            b"v20 opaque".to_vec(),
        )],
    );
    let e = chromium::read(dir.path(), Browser::Chrome, None).expect_err("app-bound");
    assert!(
        matches!(e, BrowserError::AppBound { count: 1, .. }),
        "{e:?}"
    );
    assert_eq!(e.exit_code(), code::CONFIG);

    let dir = tempfile::tempdir().expect("tempdir");
    Connection::open(dir.path().join("Cookies"))
        .expect("create")
        .execute_batch("CREATE TABLE cookies(host_key TEXT)")
        .expect("schema");
    let e = chromium::read(dir.path(), Browser::Chromium, None).expect_err("no meta");
    assert!(matches!(e, BrowserError::Schema { .. }), "{e:?}");
    assert_eq!(e.exit_code(), code::READ);
}

#[test]
fn chromium_expiry_is_converted_from_1601_microseconds() {
    assert_eq!(
        chromium::unix_expiry(13_440_772_406_325_599, true),
        Some(1_796_298_806)
    );
    assert_eq!(chromium::unix_expiry(0, true), None);
    assert_eq!(chromium::unix_expiry(utc_1601(FUTURE), false), None);
    assert_eq!(
        chromium::unix_expiry(i64::MAX, true),
        Some(super::MAX_EXPIRES)
    );
}

#[test]
fn firefox_profile_discovery() {
    let root = tempfile::tempdir().expect("tempdir");
    let ini = "[Profile1]\nName=default\nIsRelative=1\nPath=abcd.default\nDefault=1\n\n[Profile0]\nName=default-esr\nIsRelative=1\nPath=efgh.default-esr\n\n[General]\nStartWithLastProfile=1\nVersion=2\n\n[Install3B6073811A6ABF12]\nDefault=efgh.default-esr\nLocked=1\n";
    std::fs::write(root.path().join("profiles.ini"), ini).expect("write");
    let r = root.path();
    assert_eq!(
        profiles::firefox_in_root(r, None).expect("default"),
        r.join("efgh.default-esr")
    );
    assert_eq!(
        profiles::firefox_in_root(r, Some("default")).expect("by name"),
        r.join("abcd.default")
    );
    assert_eq!(
        profiles::firefox_in_root(r, Some("abcd.default")).expect("by folder"),
        r.join("abcd.default")
    );
    let e = profiles::firefox_in_root(r, Some("nope")).expect_err("unknown");
    assert!(
        e.to_string()
            .contains("no profile named \"nope\" (names: default, default-esr)"),
        "{e}"
    );
    std::fs::write(
        r.join("profiles.ini"),
        ini.replace("[Install3B6073811A6ABF12]\nDefault=efgh.default-esr\n", ""),
    )
    .expect("write");
    assert_eq!(
        profiles::firefox_in_root(r, None).expect("Default=1"),
        r.join("abcd.default")
    );
    let spec = BrowserRequest::parse(&format!("firefox:{}", r.display())).expect("spec");
    assert_eq!(
        profiles::locate(spec.browser, spec.profile.as_deref()).expect("root path"),
        r.join("abcd.default")
    );
}

#[test]
fn chromium_profile_discovery() {
    let root = tempfile::tempdir().expect("tempdir");
    let r = root.path();
    for d in ["Default", "Profile 1"] {
        std::fs::create_dir(r.join(d)).expect("mkdir");
    }
    let state = r#"{"profile":{"last_used":"Profile 1","last_active_profiles":["Default"],"info_cache":{"Default":{"name":"Person 1"},"Profile 1":{"name":"Work"}}}}"#;
    std::fs::write(r.join("Local State"), state).expect("write");
    let b = Browser::Chromium;
    assert_eq!(
        profiles::chromium_in_root(b, r, None).expect("last used"),
        r.join("Profile 1")
    );
    assert_eq!(
        profiles::chromium_in_root(b, r, Some("Person 1")).expect("by name"),
        r.join("Default")
    );
    assert_eq!(
        profiles::chromium_in_root(b, r, Some("Default")).expect("by folder"),
        r.join("Default")
    );
    std::fs::write(
        r.join("Local State"),
        r#"{"profile":{"last_active_profiles":["Default"]}}"#,
    )
    .expect("write");
    assert_eq!(
        profiles::locate(b, Some(&r.display().to_string())).expect("root"),
        r.join("Default")
    );
    let e = profiles::chromium_in_root(b, r, Some("Nobody")).expect_err("unknown");
    assert_eq!(e.exit_code(), code::READ);
}

#[test]
fn chromium_macos_v10_uses_the_keychain_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = crypto::derive_key_rounds(b"keychain pw", crypto::MACOS_ROUNDS);
    let enc = crypto::encrypt_for_test(b"v10", &key, ".h.example", b"mac", true);
    let row = (".h.example", "n", "/", 0, false, false, false, "", enc);
    chromium_db(&dir.path().join("Cookies"), 24, CR_24, vec![row]);
    let mac = chromium::Platform::MacOs;
    let got = chromium::read_from(
        dir.path(),
        Browser::Chrome,
        Some("printf 'keychain pw'"),
        mac,
    )
    .expect("reads");
    assert_eq!(got, vec![rec("h.example", true, "/", "n", "mac")]);
    // The same value read as a Linux profile: no key fits, the cookie is skipped.
    let linux = chromium::read(dir.path(), Browser::Chrome, None).expect("reads");
    assert!(linux.is_empty(), "{linux:?}");
}

#[test]
fn chromium_windows_dpapi_values_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dpapi = b"\x01\x00\x00\x00\xd0\x8c\x9d\xdf\x01\x15\xd1\x11".to_vec();
    let row = ("h.example", "n", "/", 0, false, false, false, "", dpapi);
    chromium_db(&dir.path().join("Cookies"), 24, CR_24, vec![row]);
    let e = chromium::read(dir.path(), Browser::Edge, None).expect_err("refused");
    assert!(matches!(e, BrowserError::NoKey { .. }), "{e:?}");
    assert!(e.to_string().contains("Windows DPAPI"), "{e}");
}
