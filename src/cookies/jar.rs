//! Jar files: reading a cookies.txt (with a warning per skipped line), the advisory lock,
//! the merge of a run's changes into what is on disk now, and the atomic 0600 save. Also the
//! conversion between [`Record`] (a file line) and `cookie_store::Cookie` (RFC 6265
//! semantics), and the public-suffix test. The format itself is in [`super::netscape`].

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use cookie_store::{Cookie, CookieDomain, CookieExpiration, RawCookie};
use time::OffsetDateTime;

use super::CookieError;
use super::netscape::{self, Line, Record};
use crate::fsutil::{self, AtomicFile};

/// The identity a jar replaces cookies by: (domain, path, name).
pub type Key = (String, String, String);

/// What one run did to cookies through responses: set (`Some`) or deleted/expired (`None`).
pub type Changes = HashMap<Key, Option<Record>>;

/// `-` as a file name means stdin (reading) or stdout (writing), as in curl.
pub fn is_stdio(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Reads and parses a jar. A missing file is `Ok(None)`. Skipped lines are reported on stderr
/// (`file:line: why`) when `warn` is set; the rest of the file loads.
pub fn read_file(path: &Path, warn: bool) -> Result<Option<Vec<Record>>, CookieError> {
    let Some(text) = read_text(path)? else {
        return Ok(None);
    };
    let parsed = netscape::parse(&text);
    if warn {
        warn_skipped(path, &parsed.skipped);
    }
    Ok(Some(parsed.records))
}

/// The text of a jar (`None`: missing). A stray byte that is not UTF-8 costs one value, not
/// the file.
fn read_text(path: &Path) -> Result<Option<String>, CookieError> {
    let mut bytes = Vec::new();
    let read = if is_stdio(path) {
        io::stdin().lock().read_to_end(&mut bytes).map(|_| ())
    } else {
        File::open(path).and_then(|mut f| f.read_to_end(&mut bytes).map(|_| ()))
    };
    match read {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(CookieError::read(path, source)),
    }
    Ok(Some(String::from_utf8(bytes).unwrap_or_else(|e| {
        String::from_utf8_lossy(e.as_bytes()).into_owned()
    })))
}

/// Reports the lines of `path` that were skipped, on stderr.
pub fn warn_skipped(path: &Path, skipped: &[(usize, netscape::LineError)]) {
    for (line, why) in skipped {
        eprintln!(
            "postie: warning: {}:{line}: {why}; line skipped",
            path.display()
        );
    }
}

/// What identifies one version of a file: replaced (rename) or rewritten, it changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
}

/// The stamp of `path` now (`None` when it cannot be read).
pub fn stamp(path: &Path) -> Option<FileStamp> {
    use std::os::unix::fs::MetadataExt;
    let m = fs::metadata(path).ok()?;
    Some(FileStamp {
        dev: m.dev(),
        ino: m.ino(),
        len: m.len(),
        mtime: (m.mtime(), m.mtime_nsec()),
    })
}

/// A file's text and, when it held still while read, its stamp.
pub type Stamped = (String, Option<FileStamp>);

/// The text of a jar (`None`: missing), plus the file's stamp when it did not change while
/// it was read (`None` otherwise, and for stdin). Parsing and warnings are the caller's.
pub fn read_stamped(path: &Path) -> Result<Option<Stamped>, CookieError> {
    let before = if is_stdio(path) { None } else { stamp(path) };
    let Some(text) = read_text(path)? else {
        return Ok(None);
    };
    let after = before.and_then(|_| stamp(path));
    Ok(Some((text, before.filter(|b| Some(*b) == after))))
}

/// Seconds since the epoch, now.
pub fn now() -> i64 {
    crate::clock::unix_now()
}

/// An advisory exclusive lock on `<jar>.lock`, held until dropped. A separate lock file,
/// because the jar itself is replaced by rename: a lock on its old inode would not exclude
/// a process that opens the new one.
#[derive(Debug)]
pub struct JarLock {
    _file: File,
}

/// `<jar>.lock`, beside the file the jar is once symbolic links are followed: runs that
/// name the jar through a link and runs that name it directly take the same lock.
pub fn lock_path(jar: &Path) -> PathBuf {
    let jar = fsutil::resolve_links(jar).unwrap_or_else(|_| jar.to_owned());
    let mut name = jar.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    jar.with_file_name(name)
}

/// Takes the jar's lock (see [`fsutil::lock_file`]: a symbolic link planted at the lock's
/// name is refused, never followed).
pub fn lock(jar: &Path) -> Result<JarLock, CookieError> {
    let path = lock_path(jar);
    let file = fsutil::lock_file(&path, fsutil::PRIVATE)
        .map_err(|source| CookieError::Lock { path, source })?;
    Ok(JarLock { _file: file })
}

/// Writes `records` to `path` in curl's form, in the order given, atomically with mode
/// 0600; `-` writes to stdout.
pub fn save(path: &Path, records: &[&dyn Line]) -> Result<(), CookieError> {
    save_with(path, |out| netscape::write(out, records.iter().copied()))
}

/// Like [`save`], with `write` writing the whole file (header included) to the buffered
/// output it is given.
pub fn save_with(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<&mut dyn Write>) -> io::Result<()>,
) -> Result<(), CookieError> {
    let result = if is_stdio(path) {
        let mut stdout = io::stdout().lock();
        let mut out = BufWriter::new(&mut stdout as &mut dyn Write);
        write(&mut out).and_then(|()| out.flush())
    } else {
        (|| -> io::Result<()> {
            let mut file = AtomicFile::create(path, fsutil::PRIVATE)?;
            let mut out = BufWriter::with_capacity(1 << 16, file.file() as &mut dyn Write);
            write(&mut out)?;
            out.flush()?;
            drop(out);
            file.commit()
        })()
    };
    result.map_err(|source| CookieError::write(path, source))
}

/// The jar as it should be saved: what is on disk now (in its order), plus cookies from
/// `extra` that the disk does not have, with this run's `changes` applied on top (new
/// cookies last, sorted). Expired cookies go.
pub fn merge(
    disk: Vec<Record>,
    extra: impl IntoIterator<Item = Record>,
    changes: &Changes,
    now: i64,
) -> Vec<Record> {
    let mut seen: HashSet<Key> = HashSet::new();
    let mut out = Vec::with_capacity(disk.len());
    for r in disk.into_iter().chain(extra) {
        let key = r.key();
        if seen.contains(&key) {
            continue;
        }
        match changes.get(&key) {
            Some(Some(new)) => out.push(new.clone()),
            Some(None) => {}
            None => out.push(r),
        }
        seen.insert(key);
    }
    let mut new: Vec<&Record> = changes
        .iter()
        .filter(|(k, _)| !seen.contains(*k))
        .filter_map(|(_, r)| r.as_ref())
        .collect();
    new.sort_by(|a, b| (&a.domain, &a.path, &a.name).cmp(&(&b.domain, &b.path, &b.name)));
    out.extend(new.into_iter().cloned());
    out.retain(|r| !r.is_expired_at(now));
    out
}

/// True when `a` and `b` name the same file (the same path, or the same file on disk).
pub fn same_file(a: &Path, b: &Path) -> bool {
    a == b || matches!((fs::canonicalize(a), fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y)
}

/// A URL only used to give `cookie_store` a request for cookies read from a file; domain,
/// path and expiry are set from the file line right after.
static FILE_ORIGIN: LazyLock<url::Url> =
    LazyLock::new(|| url::Url::parse("http://cookie-file.invalid/").expect("a valid URL"));

/// The latest time `cookie_store` serializes (9999-12-31T23:59:59Z).
const MAX_TIMESTAMP: i64 = 253_402_300_799;
const MIN_TIMESTAMP: i64 = -62_167_219_200;

/// A file line as a `cookie_store` cookie, keeping host-only vs domain, Secure and HttpOnly.
pub fn to_cookie(r: &Record) -> Option<Cookie<'static>> {
    let mut raw = RawCookie::new(r.name.clone(), r.value.clone());
    raw.set_path(r.path.clone());
    if r.secure {
        raw.set_secure(true);
    }
    if r.http_only {
        raw.set_http_only(true);
    }
    let mut cookie = Cookie::try_from_raw_cookie(&raw, &FILE_ORIGIN).ok()?;
    cookie.domain = if r.include_subdomains {
        CookieDomain::Suffix(r.domain.clone())
    } else {
        CookieDomain::HostOnly(r.domain.clone())
    };
    cookie.expires = match r.expires {
        None => CookieExpiration::SessionEnd,
        Some(t) => CookieExpiration::AtUtc(
            OffsetDateTime::from_unix_timestamp(t.clamp(MIN_TIMESTAMP, MAX_TIMESTAMP)).ok()?,
        ),
    };
    Some(cookie)
}

/// A `cookie_store` cookie as a file line.
pub fn to_record(c: &Cookie<'_>) -> Option<Record> {
    let (domain, include_subdomains) = match &c.domain {
        CookieDomain::HostOnly(h) => (h.clone(), false),
        CookieDomain::Suffix(s) => (s.clone(), true),
        CookieDomain::NotPresent | CookieDomain::Empty => return None,
    };
    Some(Record {
        domain,
        include_subdomains,
        path: String::from(&c.path),
        secure: c.secure().unwrap_or(false),
        http_only: c.http_only().unwrap_or(false),
        expires: match c.expires {
            CookieExpiration::SessionEnd => None,
            CookieExpiration::AtUtc(t) => Some(t.unix_timestamp()),
        },
        name: c.name().to_owned(),
        value: c.value().to_owned(),
    })
}

/// True when `domain` (lower case, no leading dot) is a public suffix: listed in the Public
/// Suffix List (compiled into the `psl` crate), or a single label, which the list's implicit
/// `*` rule makes one (as libpsl, so curl, treats it).
pub fn is_public_suffix(domain: &str) -> bool {
    if !domain.contains('.') {
        return true;
    }
    psl::suffix(domain.as_bytes())
        .is_some_and(|s| s.is_known() && s.as_bytes() == domain.as_bytes())
}

/// Browsers' limit on a cookie's name and value together (Chrome's and Firefox's 4096 bytes).
pub const MAX_COOKIE_BYTES: usize = 4096;

/// Browsers' limit on the cookies of one site (Chrome and Firefox keep 180 per registrable
/// domain): one subdomain cannot fill its parent's requests without bound.
pub const MAX_COOKIES_PER_SITE: usize = 180;

/// Why a cookie from outside (a response, `cookies import`) is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("a control character in its {0}")]
    ControlCharacter(&'static str),
    #[error("no name and no value")]
    Empty,
    #[error("name and value of {0} bytes, more than {MAX_COOKIE_BYTES}")]
    TooBig(usize),
    #[error("a domain cookie for the public suffix {0}")]
    PublicSuffix(String),
    #[error("a __Secure- cookie without Secure")]
    SecurePrefix,
    #[error("a __Host- cookie that is not Secure and host-only with path /")]
    HostPrefix,
}

/// Whether `r` may enter a jar, by the rules for cookies from outside: no control character
/// in any field (a TAB, CR or LF would alter or add jar lines, a NUL or CR break every
/// request to the host), at most [`MAX_COOKIE_BYTES`] of name and value, no domain cookie
/// for a public suffix, and the `__Secure-` and `__Host-` name prefixes honoured.
pub fn refusal(r: &Record) -> Option<Refusal> {
    if let Some(refused) = control_in([&r.domain, &r.path, &r.name, &r.value]) {
        return Some(refused);
    }
    let size = r.name.len() + r.value.len();
    if size == 0 {
        return Some(Refusal::Empty);
    }
    if size > MAX_COOKIE_BYTES {
        return Some(Refusal::TooBig(size));
    }
    if r.include_subdomains && is_public_suffix(&r.domain) {
        return Some(Refusal::PublicSuffix(r.domain.clone()));
    }
    if r.name.starts_with("__Secure-") && !r.secure {
        return Some(Refusal::SecurePrefix);
    }
    let host_ok = r.secure && !r.include_subdomains && r.path == "/";
    if r.name.starts_with("__Host-") && !host_ok {
        return Some(Refusal::HostPrefix);
    }
    None
}

/// The refusal for a control character in a cookie's (domain, path, name, value), if any.
pub fn control_in(fields: [&str; 4]) -> Option<Refusal> {
    ["domain", "path", "name", "value"]
        .into_iter()
        .zip(fields)
        .find(|(_, text)| text.bytes().any(netscape::is_control))
        .map(|(field, _)| Refusal::ControlCharacter(field))
}

/// Says on stderr that the cookie `name` for `domain` from `origin` was refused, and why.
/// Name and domain are escaped (they may hold anything), the value is never shown.
pub fn warn_refused(origin: &str, name: &str, domain: &str, why: &Refusal) {
    eprintln!(
        "postie: warning: {origin}: cookie \"{}\" for {} refused: {why}",
        name.escape_debug(),
        domain.escape_debug()
    );
}

/// The site a cookie domain belongs to, for the per-site limit: its registrable domain
/// (`www.example.co.uk` -> `example.co.uk`); an IP address, or a name with no registrable
/// part (`localhost`), is its own site.
pub fn site(domain: &str) -> &str {
    if domain.starts_with('[') || domain.parse::<std::net::Ipv4Addr>().is_ok() {
        return domain;
    }
    psl::domain_str(domain).unwrap_or(domain)
}

/// True when `domain` is `site` or under it.
pub fn in_site(domain: &str, site: &str) -> bool {
    domain == site
        || domain
            .strip_suffix(site)
            .is_some_and(|rest| rest.ends_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(domain: &str, name: &str, value: &str, expires: Option<i64>) -> Record {
        Record {
            expires,
            ..Record::new(domain, name, value)
        }
    }

    #[test]
    fn record_cookie_round_trip_keeps_every_attribute() {
        for sub in [false, true] {
            for secure in [false, true] {
                for http_only in [false, true] {
                    for expires in [None, Some(2_110_680_753)] {
                        let r = Record {
                            domain: "example.com".into(),
                            include_subdomains: sub,
                            path: "/a/b".into(),
                            secure,
                            http_only,
                            expires,
                            name: "n".into(),
                            value: "v=w x".into(),
                        };
                        let c = to_cookie(&r).expect("converts");
                        assert_eq!(to_record(&c), Some(r));
                    }
                }
            }
        }
    }

    #[test]
    fn file_cookies_match_like_received_ones() {
        let mut r = rec("example.com", "n", "v", None);
        let url = |s: &str| url::Url::parse(s).expect("url");
        let host_only = to_cookie(&r).expect("converts");
        assert!(host_only.matches(&url("http://example.com/x")));
        assert!(!host_only.matches(&url("http://www.example.com/x")));
        r.include_subdomains = true;
        r.path = "/app".into();
        r.secure = true;
        let domain = to_cookie(&r).expect("converts");
        assert!(domain.matches(&url("https://www.example.com/app/x")));
        assert!(
            !domain.matches(&url("http://www.example.com/app/x")),
            "Secure"
        );
        assert!(
            !domain.matches(&url("https://www.example.com/other")),
            "Path"
        );
    }

    #[test]
    fn merge_keeps_others_and_applies_changes() {
        let disk = vec![
            rec("a.com", "theirs", "new", None),
            rec("a.com", "shared", "theirs", None),
            rec("a.com", "deleted-by-us", "x", None),
            rec("a.com", "old", "x", Some(1)),
        ];
        let mut changes = Changes::new();
        let mine = rec("a.com", "shared", "mine", None);
        changes.insert(mine.key(), Some(mine));
        changes.insert(rec("a.com", "deleted-by-us", "", None).key(), None);
        let extra = [
            rec("b.com", "extra", "e", None),
            rec("a.com", "theirs", "stale", None),
        ];
        let mut got = merge(disk, extra, &changes, 100);
        got.sort_by(|a, b| a.name.cmp(&b.name));
        let got: Vec<(&str, &str)> = got
            .iter()
            .map(|r| (r.name.as_str(), r.value.as_str()))
            .collect();
        assert_eq!(got, [("extra", "e"), ("shared", "mine"), ("theirs", "new")]);
    }

    #[test]
    fn public_suffixes() {
        for d in ["com", "co.uk", "github.io", "test", "localhost"] {
            assert!(is_public_suffix(d), "{d}");
        }
        for d in ["example.com", "example.co.uk", "me.github.io", "127.0.0.1"] {
            assert!(!is_public_suffix(d), "{d}");
        }
    }

    #[test]
    fn save_is_0600_in_order_and_lock_file_is_beside() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let jar = dir.path().join("jar.txt");
        let lock = lock(&jar).expect("lock");
        let (b, a) = (rec("b.com", "n", "v", None), rec("a.com", "n", "v", None));
        save(&jar, &[&b as &dyn Line, &a]).expect("save");
        drop(lock);
        let text = fs::read_to_string(&jar).expect("read");
        assert!(
            text.find("b.com").expect("b") < text.find("a.com").expect("a"),
            "in the order given"
        );
        let mode = fs::metadata(&jar).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(lock_path(&jar).ends_with("jar.txt.lock"));
    }

    #[test]
    fn missing_file_is_none_and_unreadable_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(
            read_file(&dir.path().join("none"), true)
                .expect("missing is fine")
                .is_none()
        );
        let err = read_file(dir.path(), true).expect_err("a folder is not a jar");
        assert_eq!(err.exit_code(), crate::exit::code::READ);
    }

    #[test]
    fn refusals_of_cookies_from_outside() {
        let ok = rec("www.example.com", "n", "v", None);
        assert_eq!(refusal(&ok), None);
        let with = |f: &dyn Fn(&mut Record)| {
            let mut r = ok.clone();
            f(&mut r);
            refusal(&r)
        };
        let ctl = Refusal::ControlCharacter;
        assert_eq!(with(&|r| r.value = "a\tb".into()), Some(ctl("value")));
        assert_eq!(with(&|r| r.value = "a\0b".into()), Some(ctl("value")));
        assert_eq!(with(&|r| r.name = "a\nb".into()), Some(ctl("name")));
        assert_eq!(with(&|r| r.path = "/\r\n.x".into()), Some(ctl("path")));
        assert_eq!(with(&|r| r.domain = "a\tTRUE".into()), Some(ctl("domain")));
        assert_eq!(with(&|r| r.value = "v".repeat(4095)), None);
        assert_eq!(
            with(&|r| r.value = "v".repeat(4096)),
            Some(Refusal::TooBig(4097))
        );
        assert_eq!(
            with(&|r| {
                r.domain = "co.uk".into();
                r.include_subdomains = true
            }),
            Some(Refusal::PublicSuffix("co.uk".into()))
        );
        assert_eq!(with(&|r| r.domain = "localhost".into()), None);
        assert_eq!(
            with(&|r| r.name = "__Secure-x".into()),
            Some(Refusal::SecurePrefix)
        );
        assert_eq!(
            with(&|r| {
                r.name = "__Host-x".into();
                r.secure = true;
                r.include_subdomains = true
            }),
            Some(Refusal::HostPrefix)
        );
        assert_eq!(
            with(&|r| {
                r.name = String::new();
                r.value = String::new()
            }),
            Some(Refusal::Empty)
        );
        assert_eq!(
            with(&|r| r.name = String::new()),
            None,
            "empty name, a value"
        );
    }

    #[test]
    fn sites() {
        assert_eq!(site("a.b.example.co.uk"), "example.co.uk");
        assert_eq!(site("example.com"), "example.com");
        assert_eq!(site("127.0.0.1"), "127.0.0.1");
        assert_eq!(site("localhost"), "localhost");
        assert_eq!(site("[::1]"), "[::1]");
        assert!(in_site("www.example.com", "example.com"));
        assert!(!in_site("badexample.com", "example.com"));
    }
}
