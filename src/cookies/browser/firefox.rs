//! Firefox: persistent cookies from `cookies.sqlite` (`moz_cookies`), session cookies from
//! the session store. Firefox keeps no session cookie in `cookies.sqlite`: they are in
//! `sessionstore-backups/recovery.jsonlz4` while it runs and in `sessionstore.jsonlz4` after
//! a clean quit, in mozLz4 (`mozLz40\0`, the size as u32 LE, one raw LZ4 block) JSON.
//!
//! Containers and partitions live in `originAttributes` (`^userContextId=2&partitionKey=
//! %28https%2Cexample.com%29`): cookies of other containers are skipped (the default is
//! "no container"), partitioned ones are kept only under their own site.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::sqlite::{self, Copy};
use super::{BrowserError, MAX_EXPIRES, host_record, own_partition};
use crate::cookies::Record;

/// From this schema version on, `expiry` is in milliseconds (seconds before).
const MS_EXPIRY_FROM: i64 = 16;

/// Reads every cookie of the Firefox profile folder `profile` in the container `container`
/// (a name from `containers.json` or a `userContextId`; `None`: outside containers).
pub fn read(profile: &Path, container: Option<&str>) -> Result<Vec<Record>, BrowserError> {
    let context = match container {
        Some(c) => container_id(profile, c)?,
        None => 0,
    };
    let mut records = read_session_store(profile, context)?;
    records.extend(read_database(&profile.join("cookies.sqlite"), context)?);
    Ok(records)
}

/// The parts of `originAttributes` that decide whether postie sends a cookie.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Origin {
    pub user_context_id: u32,
    pub private_browsing_id: u32,
    /// The top-level site of a partitioned cookie (or first-party isolation's domain).
    pub partition_site: Option<String>,
}

impl Origin {
    /// Parses the suffix form of the database (`^key=value&key=value`, values URL-encoded).
    pub fn parse_suffix(text: &str) -> Origin {
        let mut o = Origin::default();
        for (k, v) in url::form_urlencoded::parse(text.trim_start_matches('^').as_bytes()) {
            o.set(&k, &v);
        }
        o
    }

    fn set(&mut self, key: &str, value: &str) {
        match key {
            "userContextId" => self.user_context_id = value.parse().unwrap_or(u32::MAX),
            "privateBrowsingId" => self.private_browsing_id = value.parse().unwrap_or(u32::MAX),
            "partitionKey" | "firstPartyDomain" if !value.is_empty() => {
                self.partition_site = Some(partition_site(value));
            }
            _ => {}
        }
    }

    /// True when a cookie with these attributes belongs to container `context` and would be
    /// sent on a top-level visit to `host`.
    pub fn wanted(&self, context: u32, host: &str) -> bool {
        self.user_context_id == context
            && self.private_browsing_id == 0
            && self
                .partition_site
                .as_deref()
                .is_none_or(|site| own_partition(host, site))
    }
}

/// The site of a partition key: `(https,example.com)` or `(https,example.com,8443)` or
/// (first-party isolation) just `example.com`.
fn partition_site(key: &str) -> String {
    let inner = key.trim_start_matches('(').trim_end_matches(')');
    let mut parts = inner.split(',');
    match (parts.next(), parts.next()) {
        (Some(_scheme), Some(site)) => site.to_owned(),
        (Some(only), None) => only.to_owned(),
        _ => String::new(),
    }
}

/// The `userContextId` of container `name` (a number, or a name in `containers.json`; the
/// built-in ones are named by their `l10nID`).
fn container_id(profile: &Path, name: &str) -> Result<u32, BrowserError> {
    if let Ok(id) = name.parse() {
        return Ok(id);
    }
    let path = profile.join("containers.json");
    let err = |why: String| BrowserError::Container {
        path: path.clone(),
        why,
    };
    let text = std::fs::read_to_string(&path).map_err(|e| err(format!("{e}")))?;
    let doc: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| err(format!("not JSON: {e}")))?;
    let identities = doc["identities"].as_array().cloned().unwrap_or_default();
    let wanted = name.to_lowercase();
    for id in &identities {
        let own = id["name"].as_str().unwrap_or_default().to_lowercase();
        let builtin = id["l10nID"]
            .as_str()
            .and_then(|l| l.strip_prefix("user-context-"))
            .unwrap_or_default()
            .to_lowercase();
        if own == wanted || (own.is_empty() && builtin == wanted) {
            return id["userContextId"]
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| err(format!("container {name:?} has no userContextId")));
        }
    }
    Err(err(format!(
        "no container named {name:?}; give one of the names in this file or its number"
    )))
}

/// The persistent cookies of `cookies.sqlite`.
pub fn read_database(path: &Path, context: u32) -> Result<Vec<Record>, BrowserError> {
    let db = Copy::open(path)?;
    let version = db.user_version()?;
    let needed = [
        "name",
        "value",
        "host",
        "path",
        "expiry",
        "isSecure",
        "isHttpOnly",
    ];
    let have = db.require("moz_cookies", &needed)?;
    let origin_col = if have.iter().any(|c| c == "originAttributes") {
        "originAttributes"
    } else {
        "''"
    };
    let sql = format!(
        "SELECT host, name, value, path, expiry, isSecure, isHttpOnly, {origin_col} FROM moz_cookies"
    );
    let divisor = if version >= MS_EXPIRY_FROM { 1000 } else { 1 };
    let mut stmt = db.conn.prepare(&sql).map_err(|e| sqlite::error(path, &e))?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Row {
                host: r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                name: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                value: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                path: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                expiry: r.get::<_, Option<i64>>(4)?.unwrap_or(0),
                secure: r.get::<_, Option<i64>>(5)?.unwrap_or(0) != 0,
                http_only: r.get::<_, Option<i64>>(6)?.unwrap_or(0) != 0,
                origin: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
            })
        })
        .and_then(|rows| rows.collect::<Result<Vec<Row>, _>>())
        .map_err(|e| sqlite::error(path, &e))?;
    Ok(rows
        .into_iter()
        .filter(|row| Origin::parse_suffix(&row.origin).wanted(context, &row.host))
        .map(|row| row.into_record(divisor))
        .collect())
}

struct Row {
    host: String,
    name: String,
    value: String,
    path: String,
    expiry: i64,
    secure: bool,
    http_only: bool,
    origin: String,
}

impl Row {
    fn into_record(self, divisor: i64) -> Record {
        let mut r = host_record(
            &self.host,
            &self.name,
            &self.value,
            &self.path,
            (self.secure, self.http_only),
        );
        // A cookie in the database is persistent; 0 or less would be one already expired.
        r.expires = Some((self.expiry / divisor).clamp(0, MAX_EXPIRES));
        r
    }
}

/// One cookie of the session store's JSON.
#[derive(Debug, Deserialize)]
struct StoreCookie {
    #[serde(default)]
    host: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    path: String,
    #[serde(default)]
    secure: bool,
    #[serde(default)]
    httponly: bool,
    #[serde(default, rename = "originAttributes")]
    origin: serde_json::Value,
}

#[derive(Debug, Deserialize)]
struct Store {
    #[serde(default)]
    cookies: Vec<StoreCookie>,
}

/// The newest session store of `profile` (`recovery.jsonlz4` while Firefox runs,
/// `sessionstore.jsonlz4` after a clean quit), if any.
fn session_store_file(profile: &Path) -> Option<PathBuf> {
    let candidates = [
        profile
            .join("sessionstore-backups")
            .join("recovery.jsonlz4"),
        profile.join("sessionstore.jsonlz4"),
    ];
    candidates
        .into_iter()
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .max_by_key(|(t, _)| *t)
        .map(|(_, p)| p)
}

/// The session cookies in the session store (none when there is no store).
pub fn read_session_store(profile: &Path, context: u32) -> Result<Vec<Record>, BrowserError> {
    let Some(path) = session_store_file(profile) else {
        return Ok(Vec::new());
    };
    let err = |why: String| BrowserError::SessionStore {
        path: path.clone(),
        why,
    };
    let bytes = std::fs::read(&path).map_err(|e| err(e.to_string()))?;
    let json = moz_lz4(&bytes).map_err(err)?;
    let store: Store =
        serde_json::from_slice(&json).map_err(|e| err(format!("not session JSON: {e}")))?;
    Ok(store
        .cookies
        .into_iter()
        .filter(|c| store_origin(&c.origin).wanted(context, &c.host))
        .map(|c| host_record(&c.host, &c.name, &c.value, &c.path, (c.secure, c.httponly)))
        .collect())
}

/// `originAttributes` in the session store: an object (or, to be safe, the suffix form).
fn store_origin(v: &serde_json::Value) -> Origin {
    match v {
        serde_json::Value::String(s) => Origin::parse_suffix(s),
        serde_json::Value::Object(map) => {
            let mut o = Origin::default();
            for (k, v) in map {
                let text = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                o.set(k, &text);
            }
            o
        }
        _ => Origin::default(),
    }
}

/// The most a session store may claim to hold, against a corrupt size field.
const MOZ_LZ4_MAX: usize = 1 << 30;

/// Decodes mozLz4: `mozLz40\0`, the decoded size (u32 little-endian), one LZ4 block.
pub fn moz_lz4(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let rest = bytes
        .strip_prefix(b"mozLz40\0")
        .ok_or("not a mozLz4 file (no mozLz40 header)")?;
    let (size, block) = rest.split_at_checked(4).ok_or("truncated mozLz4 header")?;
    let size = u32::from_le_bytes([size[0], size[1], size[2], size[3]]) as usize;
    if size > MOZ_LZ4_MAX {
        return Err(format!("mozLz4 size {size} is implausible"));
    }
    lz4_flex::block::decompress(block, size).map_err(|e| format!("bad LZ4 data: {e}"))
}
