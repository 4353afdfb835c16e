//! The Chromium family on Linux: the `Cookies` database of a profile folder
//! (`Network/Cookies` in newer versions, `Cookies` in older ones and with `--user-data-dir`
//! as root), `expires_utc` in microseconds since 1601, values encrypted ([`super::crypto`]).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::crypto::{self, Key, Scheme};
use super::sqlite::{self, Copy};
use super::{Browser, BrowserError, MAX_EXPIRES, host_record, own_partition};
use crate::cookies::Record;

/// Seconds from 1601-01-01 (Windows' and Chromium's epoch) to 1970-01-01.
pub const EPOCH_1601: i64 = 11_644_473_600;

/// From this `meta` version on, values start with SHA-256(host_key).
const HASHED_FROM: i64 = 24;

/// A Unix time in seconds from Chromium's `expires_utc`; `None` for a session cookie.
pub fn unix_expiry(expires_utc: i64, persistent: bool) -> Option<i64> {
    if !persistent || expires_utc == 0 {
        return None;
    }
    Some((expires_utc.div_euclid(1_000_000) - EPOCH_1601).clamp(0, MAX_EXPIRES))
}

/// The cookie database of a profile folder: the newer of `Network/Cookies` and `Cookies`.
pub fn database_path(profile: &Path) -> PathBuf {
    let candidates = [
        profile.join("Network").join("Cookies"),
        profile.join("Cookies"),
    ];
    candidates
        .iter()
        .filter_map(|p| Some((std::fs::metadata(p).ok()?.modified().ok()?, p)))
        .max_by_key(|(t, _)| *t)
        .map_or_else(|| candidates[0].clone(), |(_, p)| p.clone())
}

/// One row as read, before decryption.
#[derive(Debug)]
struct Row {
    host: String,
    name: String,
    value: String,
    encrypted: Vec<u8>,
    path: String,
    expires_utc: i64,
    persistent: bool,
    secure: bool,
    http_only: bool,
    top_frame_site: String,
}

/// Reads the cookies of the Chromium-family profile folder `profile`, encrypted as on this
/// system.
pub fn read(
    profile: &Path,
    browser: Browser,
    password_command: Option<&str>,
) -> Result<Vec<Record>, BrowserError> {
    read_from(profile, browser, password_command, Platform::current())
}

/// [`read`] for values encrypted on `platform`.
pub fn read_from(
    profile: &Path,
    browser: Browser,
    password_command: Option<&str>,
    platform: Platform,
) -> Result<Vec<Record>, BrowserError> {
    let path = database_path(profile);
    let db = Copy::open(&path)?;
    let version: i64 = db
        .conn
        .query_row("SELECT value FROM meta WHERE key = 'version'", [], |r| {
            r.get::<_, String>(0)
        })
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| BrowserError::Schema {
            path: path.clone(),
            why: "no version in table `meta`".into(),
        })?;
    let rows = read_rows(&db)?;
    let mut keys = Keys::new(browser, password_command, platform);
    decrypt_rows(&path, rows, version >= HASHED_FROM, &mut keys)
}

fn read_rows(db: &Copy) -> Result<Vec<Row>, BrowserError> {
    let needed = [
        "host_key",
        "name",
        "value",
        "path",
        "expires_utc",
        "is_secure",
        "is_httponly",
    ];
    let have = db.require("cookies", &needed)?;
    let col = |name: &str, default: &'static str| -> String {
        if have.iter().any(|c| c == name) {
            name.to_owned()
        } else {
            default.to_owned()
        }
    };
    let sql = format!(
        "SELECT host_key, name, value, {}, path, expires_utc, {}, is_secure, is_httponly, {} FROM cookies",
        col("encrypted_value", "x''"),
        col("is_persistent", "1"),
        col("top_frame_site_key", "''"),
    );
    let path = &db.path;
    let mut stmt = db.conn.prepare(&sql).map_err(|e| sqlite::error(path, &e))?;
    stmt.query_map([], |r| {
        Ok(Row {
            host: r.get(0)?,
            name: r.get(1)?,
            value: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
            encrypted: r.get::<_, Option<Vec<u8>>>(3)?.unwrap_or_default(),
            path: r.get(4)?,
            expires_utc: r.get(5)?,
            persistent: r.get::<_, i64>(6)? != 0,
            secure: r.get::<_, i64>(7)? != 0,
            http_only: r.get::<_, i64>(8)? != 0,
            top_frame_site: r.get::<_, Option<String>>(9)?.unwrap_or_default(),
        })
    })
    .and_then(|rows| rows.collect::<Result<Vec<Row>, _>>())
    .map_err(|e| sqlite::error(path, &e))
}

fn decrypt_rows(
    path: &Path,
    rows: Vec<Row>,
    hashed: bool,
    keys: &mut Keys,
) -> Result<Vec<Record>, BrowserError> {
    let app_bound = rows
        .iter()
        .filter(|r| crypto::split(&r.encrypted).0 == Scheme::AppBound)
        .count();
    if app_bound > 0 {
        return Err(BrowserError::AppBound {
            path: path.to_owned(),
            count: app_bound,
        });
    }
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        if !row.top_frame_site.is_empty()
            && !own_partition(&row.host, &site_of(&row.top_frame_site))
        {
            continue;
        }
        let value = if row.encrypted.is_empty() {
            row.value.clone()
        } else {
            match keys.decrypt(path, &row.encrypted, &row.host, hashed)? {
                Some(v) => v,
                None => {
                    eprintln!(
                        "postie: warning: {}: cookie {:?} of {} could not be decrypted; skipped",
                        path.display(),
                        row.name,
                        row.host
                    );
                    continue;
                }
            }
        };
        let mut r = host_record(
            &row.host,
            &row.name,
            &value,
            &row.path,
            (row.secure, row.http_only),
        );
        r.expires = unix_expiry(row.expires_utc, row.persistent);
        out.push(r);
    }
    Ok(out)
}

/// The host of a `top_frame_site_key` (`https://example.com`).
fn site_of(key: &str) -> String {
    let rest = key.split_once("://").map_or(key, |(_, r)| r);
    rest.split([':', '/']).next().unwrap_or_default().to_owned()
}

/// Where the profile's values were encrypted: the key and its source differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// `v10`: the fixed password; `v11`: the Secret Service or KWallet password; 1 round.
    Linux,
    /// `v10`: the Keychain password ("Chrome Safe Storage"), 1003 rounds.
    MacOs,
}

impl Platform {
    pub fn current() -> Platform {
        if cfg!(target_os = "macos") {
            Platform::MacOs
        } else {
            Platform::Linux
        }
    }
}

/// A cached key lookup: the keys, or why there are none.
type Lookup = Option<Result<Vec<Key>, String>>;

/// The keys, fetched from the keyring only when a value needs one.
#[derive(Debug)]
pub struct Keys<'a> {
    browser: Browser,
    command: Option<&'a str>,
    platform: Platform,
    v10: Lookup,
    v11: Lookup,
}

impl<'a> Keys<'a> {
    pub fn new(browser: Browser, command: Option<&'a str>, platform: Platform) -> Keys<'a> {
        Keys {
            browser,
            command,
            platform,
            v10: None,
            v11: None,
        }
    }

    /// The value of one encrypted cookie; `None` when no key fits it.
    fn decrypt(
        &mut self,
        path: &Path,
        encrypted: &[u8],
        host: &str,
        hashed: bool,
    ) -> Result<Option<String>, BrowserError> {
        let (scheme, ciphertext) = crypto::split(encrypted);
        let keys = self.keys(scheme).map_err(|why| BrowserError::NoKey {
            path: path.to_owned(),
            why,
        })?;
        Ok(keys.iter().find_map(|k| {
            let plain = crypto::decrypt_cbc(k, ciphertext)?;
            let value = crypto::strip_host_hash(&plain, host, hashed)?;
            Some(String::from_utf8_lossy(value).into_owned())
        }))
    }

    fn keys(&mut self, scheme: Scheme) -> Result<Vec<Key>, String> {
        let (browser, command) = (self.browser, self.command);
        let cached = match (self.platform, scheme) {
            (Platform::Linux, Scheme::V10) => {
                return Ok(vec![crypto::derive_key(crypto::V10_PASSWORD)]);
            }
            (Platform::Linux, Scheme::V11) => self.v11.get_or_insert_with(|| {
                // Chromium falls back to an empty password when the keyring gave none.
                keyring_password(browser, command)
                    .map(|p| vec![crypto::derive_key(&p), crypto::derive_key(b"")])
            }),
            (Platform::MacOs, Scheme::V10) => self.v10.get_or_insert_with(|| {
                keychain_password(browser, command)
                    .map(|p| vec![crypto::derive_key_rounds(&p, crypto::MACOS_ROUNDS)])
            }),
            _ => {
                return Err("a value is encrypted with a scheme postie does not read (Windows DPAPI or another system's)".into());
            }
        };
        cached.clone()
    }
}

/// The macOS `v10` password: from `command` when given, else the Keychain
/// (`security find-generic-password -w -s "Chrome Safe Storage" -a Chrome`).
pub fn keychain_password(browser: Browser, command: Option<&str>) -> Result<Vec<u8>, String> {
    if let Some(cmd) = command {
        return run_for_password("sh", &["-c", cmd])
            .map_err(|why| format!("--keyring-password-command: {why}"));
    }
    let account = match browser {
        Browser::Chrome => "Chrome",
        Browser::Brave => "Brave",
        Browser::Edge => "Microsoft Edge",
        Browser::Vivaldi => "Vivaldi",
        Browser::Opera => "Opera",
        Browser::Chromium | Browser::Firefox => "Chromium",
    };
    let service = format!("{account} Safe Storage");
    run_for_password(
        "security",
        &["find-generic-password", "-w", "-s", &service, "-a", account],
    )
    .map_err(|why| format!("the Keychain did not give {service:?}: security: {why}"))
}

/// (Secret Service `application`, KWallet entry, KWallet folder) of each browser.
fn keyring_names(browser: Browser) -> (&'static str, &'static str, &'static str) {
    match browser {
        Browser::Chrome => ("chrome", "Chrome Safe Storage", "Chrome Keys"),
        Browser::Brave => ("brave", "Brave Safe Storage", "Brave Keys"),
        Browser::Edge => (
            "microsoft-edge",
            "Microsoft Edge Safe Storage",
            "Microsoft Edge Keys",
        ),
        Browser::Vivaldi => ("vivaldi", "Vivaldi Safe Storage", "Vivaldi Keys"),
        Browser::Opera => ("opera", "Opera Safe Storage", "Opera Keys"),
        Browser::Chromium | Browser::Firefox => {
            ("chromium", "Chromium Safe Storage", "Chromium Keys")
        }
    }
}

/// The `v11` password: from `command` when given, else `secret-tool`, else `kwallet-query`.
pub fn keyring_password(browser: Browser, command: Option<&str>) -> Result<Vec<u8>, String> {
    if let Some(cmd) = command {
        return run_for_password("sh", &["-c", cmd])
            .map_err(|why| format!("--keyring-password-command: {why}"));
    }
    let (app, entry, folder) = keyring_names(browser);
    let mut tried = Vec::new();
    match run_for_password("secret-tool", &["lookup", "application", app]) {
        Ok(p) => return Ok(p),
        Err(why) => tried.push(format!("secret-tool: {why}")),
    }
    match run_for_password(
        "kwallet-query",
        &["--read-password", entry, "--folder", folder, "kdewallet"],
    ) {
        Ok(p) => return Ok(p),
        Err(why) => tried.push(format!("kwallet-query: {why}")),
    }
    Err(format!(
        "values are v11 (keyring) encrypted and no keyring gave the password ({})",
        tried.join("; ")
    ))
}

/// Runs a program that prints a password on stdout; the trailing newline is not part of it.
fn run_for_password(program: &str, args: &[&str]) -> Result<Vec<u8>, String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                "not installed".to_owned()
            } else {
                e.to_string()
            }
        })?;
    if !out.status.success() {
        return Err(format!("failed ({})", out.status));
    }
    let mut p = out.stdout;
    while p.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        p.pop();
    }
    if p.is_empty() {
        return Err("printed no password".into());
    }
    Ok(p)
}
