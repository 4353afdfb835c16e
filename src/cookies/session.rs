//! [`SessionState`]: the cookie state of one `postie fetch` run (its transfers share it
//! through the `CookieSession` handle), driven by the HTTP engine on every request and
//! every redirect hop. RFC 6265 matching, storage and replacement are `cookie_store`'s;
//! this file adds what curl does on top (Secure only from a secure origin,
//! `__Secure-`/`__Host-` prefixes, public suffixes refused, literal `-b` cookies sent to
//! every host) and remembers what the run changed so that saving can merge with other processes.

use std::collections::{HashMap, HashSet};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use cookie_store::{Cookie, CookieStore, RawCookie, StoreAction};
use url::{Host, Url};

use super::jar::{self, Changes, FileStamp, Key};
use super::netscape::{self, Line, Record};
use super::pending::FileCookies;
use super::{CookieError, CookieOptions, CookieSource};

/// From this many cookies on, `free` drops the jar on a background thread.
const BACKGROUND_FREE_MIN: usize = 10_000;

/// The cookie state of one run.
///
/// Cookies read from files wait in `files` and enter the `cookie_store` only when a response
/// for a host they could match arrives: a 100,000-cookie jar then costs one parse, not
/// 100,000 conversions, and saving an unchanged jar needs no second parse: the lines of the
/// cookies the run left alone are copied from the text read.
#[derive(Debug)]
pub struct SessionState {
    store: CookieStore,
    files: FileCookies,
    /// Literal `-b "N=V; N2=V2"` cookies, sent to every host (as curl), never saved.
    literal: Vec<String>,
    loaded: Vec<Loaded>,
    changes: Changes,
    options: CookieOptions,
    /// The age order of the cookies in the store, for the per-site limit: a file cookie's
    /// index in the files, then `files.len()` + the order in which this run set the rest.
    births: HashMap<Key, usize>,
    clock: usize,
    /// Sites whose waiting file cookies have all moved to the store (to be counted).
    sites_taken: HashSet<String>,
}

/// One cookie in save order: a file cookie the run left alone (by index), or the store's.
enum Saved<'a> {
    File(usize),
    Store(&'a Record),
}

/// A file read at open.
#[derive(Debug)]
struct Loaded {
    path: PathBuf,
    /// The file as it was read (`None`: missing, or changing while read).
    stamp: Option<FileStamp>,
    /// Its records, kept only when it is not a save target: they are merged into a target
    /// that another process changed meanwhile.
    records: Option<Vec<Record>>,
}

impl SessionState {
    /// Loads what `options` says to load: every `-b` file (a missing one is an error), every
    /// literal, and the `--jar` file if it exists. Expired cookies are dropped, and with
    /// `-j` session cookies too.
    pub fn open(options: CookieOptions) -> Result<SessionState, CookieError> {
        let mut session = SessionState {
            store: CookieStore::new(),
            files: FileCookies::default(),
            literal: Vec::new(),
            loaded: Vec::new(),
            changes: Changes::new(),
            options,
            births: HashMap::new(),
            clock: 0,
            sites_taken: HashSet::new(),
        };
        let mut files: Vec<(PathBuf, bool)> = Vec::new();
        for source in &session.options.sources {
            match source {
                CookieSource::Literal(s) => session.literal.extend(literal_pairs(s)),
                // `-b ""` turns the cookie engine on without a file, as in curl.
                CookieSource::File(p) if p.as_os_str().is_empty() => {}
                CookieSource::File(p) => files.push((p.clone(), false)),
            }
        }
        if let Some(jar) = &session.options.jar {
            files.push((jar.clone(), true));
        }
        let now = jar::now();
        for (path, missing_ok) in files {
            if session
                .loaded
                .iter()
                .any(|l| jar::same_file(&l.path, &path))
            {
                continue;
            }
            let (text, stamp) = match jar::read_stamped(&path)? {
                Some(r) => r,
                None if missing_ok => (String::new(), None),
                None => return Err(CookieError::Missing { path }),
            };
            let junk = session.options.junk_session;
            let first = session.files.len();
            let skipped = session.files.load(text, |f| {
                !(f.expires.is_some_and(|e| e <= now) || junk && f.expires.is_none())
            });
            jar::warn_skipped(&path, &skipped);
            let keep = (!session.is_target(&path)).then(|| {
                (first..session.files.len())
                    .map(|i| session.files.get(i).to_record())
                    .collect()
            });
            session.loaded.push(Loaded {
                path,
                stamp,
                records: keep,
            });
        }
        Ok(session)
    }

    fn targets(&self) -> Vec<PathBuf> {
        let mut targets: Vec<PathBuf> = Vec::new();
        for t in [&self.options.jar, &self.options.save_to]
            .into_iter()
            .flatten()
        {
            if !targets.iter().any(|x| jar::same_file(x, t)) {
                targets.push(t.clone());
            }
        }
        targets
    }

    fn is_target(&self, path: &Path) -> bool {
        self.targets().iter().any(|t| jar::same_file(t, path))
    }

    /// File cookies still waiting that match `url` (and that the store does not replace).
    fn pending_matches(&self, url: &Url) -> Vec<Cookie<'static>> {
        let Some(host) = url.host_str() else {
            return Vec::new();
        };
        self.files
            .candidates(host)
            .filter(|(_, r)| !self.store.contains_any(r.domain(), r.path(), r.name()))
            .filter_map(|(_, r)| jar::to_cookie(&r.to_record()))
            .filter(|c| c.matches(url))
            .collect()
    }

    /// Moves the waiting file cookies that could match `url`'s host into the store, so that
    /// the store's replacement rules apply to them before a response's cookies arrive.
    fn materialize(&mut self, url: &Url) {
        let Some(host) = url.host_str() else {
            return;
        };
        let taken = self.files.take(host);
        self.move_to_store(taken, |_| Some(url.clone()));
    }

    /// Puts file cookies (with their index) into the store, each as if from the URL `from`
    /// gives for it, and remembers their age. One the store has already (set by this run)
    /// stays as the store has it.
    fn move_to_store(
        &mut self,
        taken: Vec<(usize, Record)>,
        from: impl Fn(&Record) -> Option<Url>,
    ) {
        for (i, r) in taken {
            if self.store.contains_any(&r.domain, &r.path, &r.name) {
                continue;
            }
            let (Some(cookie), Some(url)) = (jar::to_cookie(&r), from(&r)) else {
                continue;
            };
            if self.store.insert(cookie, &url).is_ok() {
                self.births.entry(r.key()).or_insert(i);
            }
        }
    }

    /// Keeps the site of `domain` at [`jar::MAX_COOKIES_PER_SITE`] cookies, as browsers do,
    /// by removing its oldest cookies (file cookies in file order, then this run's in the
    /// order they were first set; never `keep`, the one just set). Checked when the cookies
    /// in the store (those of the hosts this run talked to, and their parents' domain
    /// cookies: all that can be sent to them) pass the limit; the site's other file
    /// cookies then move to the store too, so that all of them count. (A scan of every
    /// file domain on each new cookie would cost a big jar's runs time for nothing.)
    fn enforce_site_limit(&mut self, domain: &str, keep: &Key) {
        let site = jar::site(domain).to_owned();
        let mut in_site = self.site_cookies(&site);
        if in_site.len() <= jar::MAX_COOKIES_PER_SITE {
            return;
        }
        if self.sites_taken.insert(site.clone()) {
            let taken = self.files.take_domains(|d| jar::in_site(d, &site));
            self.move_to_store(taken, |r| {
                Url::parse(&format!("https://{}/", r.domain)).ok()
            });
            in_site = self.site_cookies(&site);
        }
        let excess = in_site.len().saturating_sub(jar::MAX_COOKIES_PER_SITE);
        in_site.sort();
        for (_, key) in in_site.into_iter().filter(|(_, k)| k != keep).take(excess) {
            self.store.remove(&key.0, &key.1, &key.2);
            self.changes.insert(key, None);
        }
    }

    /// The value of the `Cookie` header for a request to `url`, if any cookie matches:
    /// the jar's cookies (longest path first, as RFC 6265 asks, then by name for a stable
    /// order), then the literal ones.
    pub fn request_header(&self, url: &Url) -> Option<String> {
        let pending = self.pending_matches(url);
        let mut matched: Vec<&Cookie<'static>> = self.store.matches(url);
        matched.extend(pending.iter());
        matched.sort_by(|a, b| {
            b.path
                .len()
                .cmp(&a.path.len())
                .then_with(|| a.name().cmp(b.name()))
        });
        let parts: Vec<String> = matched
            .iter()
            // A cookie without a name is sent as its value (RFC 6265bis, browsers, Python).
            .map(|c| match c.name() {
                "" => c.value().to_owned(),
                name => format!("{name}={}", c.value()),
            })
            .chain(self.literal.iter().cloned())
            .collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    /// Takes the `Set-Cookie` header values of a response from `url`. Values that are not
    /// cookies, or that the rules refuse, are ignored (as browsers and curl do).
    pub fn store_response<'a>(&mut self, url: &Url, set_cookie: impl Iterator<Item = &'a str>) {
        self.materialize(url);
        for value in set_cookie {
            self.store_one(url, value);
        }
    }

    fn store_one(&mut self, url: &Url, value: &str) {
        let Ok(mut raw) = RawCookie::parse(value.to_owned()) else {
            return;
        };
        // Before anything reads the attributes: a TAB in `Domain` would otherwise only be
        // dropped silently as a mismatch.
        let fields = [
            raw.domain().unwrap_or_default(),
            raw.path().unwrap_or_default(),
            raw.name(),
            raw.value(),
        ];
        if let Some(why) = jar::control_in(fields) {
            let host = url.host_str().unwrap_or_default();
            jar::warn_refused(&without_userinfo(url), raw.name(), host, &why);
            return;
        }
        if !acceptable(&mut raw, url) {
            return;
        }
        let Ok(cookie) = cookie_store::Cookie::try_from_raw_cookie(&raw, url) else {
            return;
        };
        let Some(record) = jar::to_record(&cookie) else {
            return;
        };
        if let Some(why) = jar::refusal(&record) {
            jar::warn_refused(&without_userinfo(url), &record.name, &record.domain, &why);
            return;
        }
        if !is_secure_origin(url) && self.shadows_a_secure_cookie(&record) {
            return;
        }
        match self.store.insert(cookie, url) {
            Ok(StoreAction::Inserted) => {
                let key = record.key();
                self.births
                    .insert(key.clone(), self.files.len() + self.clock);
                self.clock += 1;
                self.changes.insert(key.clone(), Some(record));
                self.enforce_site_limit(&key.0, &key);
            }
            Ok(StoreAction::UpdatedExisting) => {
                self.changes.insert(record.key(), Some(record));
            }
            Ok(StoreAction::ExpiredExisting) | Err(cookie_store::CookieError::Expired) => {
                self.changes.insert(record.key(), None);
            }
            Err(_) => {}
        }
    }

    /// RFC 6265bis "leave secure cookies alone" (curl does it too): a cookie from a plain
    /// http origin may not replace or shadow a Secure cookie of the same name whose domain
    /// domain-matches it (either way) and under whose path it lies.
    fn shadows_a_secure_cookie(&self, new: &Record) -> bool {
        let within =
            |a: &str, b: &str| a == b || a.strip_suffix(b).is_some_and(|rest| rest.ends_with('.'));
        self.store.iter_unexpired().any(|c| {
            let domain = c.domain.as_cow().unwrap_or_default();
            c.secure() == Some(true)
                && c.name() == new.name
                && (within(&domain, &new.domain) || within(&new.domain, &domain))
                && new.path.starts_with(&*c.path)
        })
    }

    /// The store's cookies of `site`, with their age.
    fn site_cookies(&self, site: &str) -> Vec<(usize, Key)> {
        self.store
            .iter_unexpired()
            .filter_map(jar::to_record)
            .filter(|r| jar::in_site(&r.domain, site))
            .map(|r| (self.births.get(&r.key()).copied().unwrap_or(0), r.key()))
            .collect()
    }

    /// Every unexpired cookie the session holds now (not the literal ones), in save order.
    pub fn cookies(&self) -> Vec<Record> {
        let current = self.store_versions();
        let mut out = Vec::new();
        let _ = self.each_in_order(&current, |c| -> Result<(), std::convert::Infallible> {
            out.push(match c {
                Saved::File(i) => self.files.get(i).to_record(),
                Saved::Store(r) => r.clone(),
            });
            Ok(())
        });
        out
    }

    /// The store's unexpired cookies by key (the few a run touched).
    fn store_versions(&self) -> HashMap<Key, Record> {
        self.store
            .iter_unexpired()
            .filter_map(jar::to_record)
            .map(|r| (r.key(), r))
            .collect()
    }

    /// Hands `each` the cookies in save order: file cookies where they were (the store's
    /// version of the ones that moved there, none for the deleted), then the new ones,
    /// sorted.
    fn each_in_order<'a, E>(
        &'a self,
        current: &'a HashMap<Key, Record>,
        mut each: impl FnMut(Saved<'a>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut placed: HashSet<Key> = HashSet::new();
        // A file cookie that did not move can still be replaced or deleted by a response
        // (a domain cookie over a host-only one of the same name): only the few keys the
        // run changed can do that.
        let mut replaced = vec![false; self.files.len()];
        for (domain, path, name) in self.changes.keys() {
            for i in self.files.indexes_of(domain) {
                let r = self.files.get(i);
                if let Some(slot) = replaced.get_mut(i) {
                    *slot |= r.path() == path && r.name() == name;
                }
            }
        }
        for (i, replaced) in replaced.into_iter().enumerate() {
            if self.files.moved(i) {
                let r = self.files.get(i);
                let key = (
                    r.domain().to_owned(),
                    r.path().to_owned(),
                    r.name().to_owned(),
                );
                if let Some(now) = current.get(&key)
                    && placed.insert(key)
                {
                    each(Saved::Store(now))?;
                }
            } else if !replaced {
                each(Saved::File(i))?;
            }
        }
        let mut new: Vec<&Record> = current
            .iter()
            .filter(|(k, _)| !placed.contains(*k))
            .map(|(_, r)| r)
            .collect();
        new.sort_by(|a, b| (&a.domain, &a.path, &a.name).cmp(&(&b.domain, &b.path, &b.name)));
        new.into_iter().try_for_each(|r| each(Saved::Store(r)))
    }

    /// Writes the jar: the header, then the cookies in save order that [`Self::keeps`]
    /// (file cookies untouched by the run copied from the file's text).
    fn write_in_order(
        &self,
        current: &HashMap<Key, Record>,
        now: i64,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        out.write_all(netscape::HEADER.as_bytes())?;
        let mut run = 0..0;
        self.each_in_order(current, |c| match c {
            Saved::File(i)
                if self
                    .files
                    .flags(i)
                    .is_some_and(|f| self.keeps(f.expires, now)) =>
            {
                self.files.write(i, &mut run, out)
            }
            Saved::File(_) => Ok(()),
            Saved::Store(r) if self.keeps(r.expires, now) => {
                self.files.flush(&mut run, out)?;
                r.write_line(out)
            }
            Saved::Store(_) => Ok(()),
        })?;
        self.files.flush(&mut run, out)
    }

    /// Saves the jar where the options say (`--jar`, `-c`): atomic, 0600, under a lock. A
    /// target that was also read at open and that another process changed since is re-read
    /// and merged, so that the other run's cookies survive; a `-c` file that was not read is
    /// replaced, as curl does.
    pub fn save(&mut self) -> Result<(), CookieError> {
        let now = jar::now();
        let current = self.store_versions();
        for target in self.targets() {
            let ours =
                |out: &mut BufWriter<&mut dyn Write>| self.write_in_order(&current, now, out);
            if jar::is_stdio(&target) {
                jar::save_with(&target, ours)?;
                continue;
            }
            let lock = jar::lock(&target)?;
            match self.merged_for(&target, now)? {
                Some(merged) => {
                    let lines: Vec<&dyn Line> = merged
                        .iter()
                        .filter(|r| self.keeps(r.expires, now))
                        .map(|r| r as &dyn Line)
                        .collect();
                    jar::save(&target, &lines)?
                }
                None => jar::save_with(&target, ours)?,
            }
            self.saved_as(&target);
            drop(lock);
        }
        Ok(())
    }

    /// After a save to `target`: the file now holds what this run knows, so the next save
    /// (`--jar-save-interval`, or the last) merges only if another process wrote after it.
    fn saved_as(&mut self, target: &Path) {
        let stamp = jar::stamp(target);
        if let Some(l) = self
            .loaded
            .iter_mut()
            .find(|l| jar::same_file(&l.path, target))
        {
            l.stamp = stamp;
        }
    }

    /// Frees the state; a big one on a background thread, as the run is over.
    pub fn free(self) {
        // Freeing 100,000 cookies one by one is measurable; the run is over, so let a thread
        // do it while the caller goes on (or the process exits). A small jar is freed here:
        // a thread (its stack, its malloc arena) would cost more than it saves.
        // (If no thread can be had, the closure and what it holds are dropped right here.)
        if self.files.len() + self.store.iter_any().count() >= BACKGROUND_FREE_MIN {
            let _ = std::thread::Builder::new().spawn(move || drop(self));
        }
    }

    fn merged_for(&self, target: &Path, now: i64) -> Result<Option<Vec<Record>>, CookieError> {
        let Some(loaded) = self.loaded.iter().find(|l| jar::same_file(&l.path, target)) else {
            return Ok(None);
        };
        if loaded.stamp.is_some() && loaded.stamp == jar::stamp(target) {
            return Ok(None);
        }
        let disk = jar::read_file(target, false)?.unwrap_or_default();
        let extra = self
            .loaded
            .iter()
            .filter(|l| !jar::same_file(&l.path, target))
            .filter_map(|l| l.records.as_ref())
            .flatten()
            .cloned();
        Ok(Some(jar::merge(disk, extra, &self.changes, now)))
    }

    /// Whether saving at `now` writes a cookie that `expires`: not expired, and not a session cookie under
    /// `--discard-session`.
    fn keeps(&self, expires: Option<i64>, now: i64) -> bool {
        expires.is_none_or(|e| e > now) && !(self.options.discard_session && expires.is_none())
    }
}

/// `url` without user name and password, for messages.
fn without_userinfo(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

/// `N=V; N2=V2` as its pairs (empty pieces dropped).
fn literal_pairs(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
}

/// A secure origin: https, or the loopback host (browsers and curl treat
/// http://localhost as secure; `cookie_store` sends Secure cookies there too).
fn is_secure_origin(url: &Url) -> bool {
    url.scheme() == "https"
        || match url.host() {
            Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(Host::Ipv4(ip)) => ip.is_loopback(),
            Some(Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        }
}

/// curl's rules on top of RFC 6265: a Secure cookie only from a secure origin, the
/// `__Secure-` and `__Host-` name prefixes, and no Domain attribute that is a public suffix
/// (one equal to the request host becomes a host-only cookie).
fn acceptable(raw: &mut RawCookie<'static>, url: &Url) -> bool {
    let secure = raw.secure() == Some(true);
    if secure && !is_secure_origin(url) {
        return false;
    }
    let name = raw.name();
    if name.starts_with("__Secure-") && !secure {
        return false;
    }
    if name.starts_with("__Host-") && (!secure || raw.domain().is_some() || raw.path() != Some("/"))
    {
        return false;
    }
    let Some(domain) = raw
        .domain()
        .map(|d| d.trim().trim_start_matches('.').to_ascii_lowercase())
    else {
        return true;
    };
    if domain.is_empty() || !jar::is_public_suffix(&domain) {
        return true;
    }
    if url
        .host_str()
        .is_some_and(|h| h.eq_ignore_ascii_case(&domain))
    {
        raw.unset_domain();
        true
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    // The state itself: the handle's methods are the same, behind its lock.
    use super::SessionState as CookieSession;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("url")
    }

    fn empty() -> CookieSession {
        CookieSession::open(CookieOptions::default()).expect("open")
    }

    fn header(s: &CookieSession, u: &str) -> String {
        s.request_header(&url(u)).unwrap_or_default()
    }

    #[test]
    fn host_only_and_domain_cookies() {
        let mut s = empty();
        let from = url("http://www.example.com/login");
        s.store_response(
            &from,
            ["h=1; Path=/", "d=2; Domain=example.com; Path=/"].into_iter(),
        );
        let www = header(&s, "http://www.example.com/");
        assert!(www.contains("h=1") && www.contains("d=2"), "{www}");
        assert_eq!(header(&s, "http://api.example.com/"), "d=2");
        assert_eq!(header(&s, "http://other.com/"), "");
    }

    #[test]
    fn secure_cookies_need_a_secure_origin() {
        let mut s = empty();
        s.store_response(&url("http://example.com/"), ["s=1; Secure"].into_iter());
        assert!(s.cookies().is_empty(), "not from plain http");
        s.store_response(&url("https://example.com/"), ["s=2; Secure"].into_iter());
        assert_eq!(header(&s, "https://example.com/"), "s=2");
        assert_eq!(
            header(&s, "http://example.com/"),
            "",
            "never sent over http"
        );
        s.store_response(&url("http://127.0.0.1:8080/"), ["l=1; Secure"].into_iter());
        assert_eq!(
            header(&s, "http://127.0.0.1:8080/"),
            "l=1",
            "loopback is secure"
        );
    }

    #[test]
    fn plain_http_leaves_secure_cookies_alone() {
        let mut s = empty();
        s.store_response(
            &url("https://example.com/"),
            ["sid=good; Secure; Path=/"].into_iter(),
        );
        s.store_response(
            &url("http://example.com/"),
            [
                "sid=evil; Path=/",
                "sid=evil2; Path=/deeper",
                "other=1; Path=/",
            ]
            .into_iter(),
        );
        assert_eq!(
            header(&s, "https://example.com/deeper/x"),
            "other=1; sid=good"
        );
        s.store_response(
            &url("https://example.com/"),
            ["sid=new; Path=/"].into_iter(),
        );
        assert_eq!(
            header(&s, "http://example.com/"),
            "other=1; sid=new",
            "https may"
        );
    }

    #[test]
    fn prefixes_and_public_suffixes() {
        let mut s = empty();
        let u = url("https://www.example.co.uk/");
        s.store_response(
            &u,
            [
                "__Secure-a=1",
                "__Host-b=1; Secure; Path=/; Domain=example.co.uk",
                "c=1; Domain=co.uk",
                "ok=1; Domain=example.co.uk",
                "__Host-good=1; Secure; Path=/",
            ]
            .into_iter(),
        );
        let mut names: Vec<String> = s.cookies().into_iter().map(|r| r.name).collect();
        names.sort();
        assert_eq!(names, ["__Host-good", "ok"]);
        let mut s = empty();
        s.store_response(
            &url("http://localhost/"),
            ["x=1; Domain=localhost"].into_iter(),
        );
        let c = s.cookies();
        assert_eq!(
            c.len(),
            1,
            "a public suffix equal to the host becomes host-only"
        );
        assert!(!c[0].include_subdomains);
    }

    #[test]
    fn path_max_age_and_replacement() {
        let mut s = empty();
        let u = url("http://example.com/app/login");
        s.store_response(
            &u,
            [
                "a=1; Path=/app",
                "b=1; Path=/",
                "gone=1; Max-Age=0",
                "later=1; Max-Age=3600; Path=/",
            ]
            .into_iter(),
        );
        assert_eq!(header(&s, "http://example.com/app/x"), "a=1; b=1; later=1");
        assert_eq!(header(&s, "http://example.com/"), "b=1; later=1");
        s.store_response(&u, ["b=2; Path=/", "later=; Max-Age=0; Path=/"].into_iter());
        assert_eq!(header(&s, "http://example.com/"), "b=2");
        let later = s
            .changes
            .get(&("example.com".into(), "/".into(), "later".into()));
        assert_eq!(later, Some(&None), "a deletion is remembered for the merge");
    }

    #[test]
    fn literal_cookies_go_to_every_host() {
        let s = CookieSession::open(CookieOptions {
            sources: vec![CookieSource::Literal("a=1; b=2;".into())],
            ..CookieOptions::default()
        })
        .expect("open");
        assert_eq!(header(&s, "http://one.example/"), "a=1; b=2");
        assert_eq!(header(&s, "https://two.example/x"), "a=1; b=2");
        assert!(s.cookies().is_empty(), "literal cookies are not saved");
    }

    #[test]
    fn missing_b_file_is_an_error_missing_jar_is_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("missing.txt");
        let err = CookieSession::open(CookieOptions {
            sources: vec![CookieSource::File(missing.clone())],
            ..CookieOptions::default()
        })
        .expect_err("missing -b file");
        assert_eq!(err.exit_code(), crate::exit::code::READ);
        assert!(err.to_string().contains("missing.txt"), "{err}");
        let s = CookieSession::open(CookieOptions {
            jar: Some(missing),
            ..CookieOptions::default()
        })
        .expect("missing --jar is an empty jar");
        assert!(s.cookies().is_empty());
    }

    fn jar_session(lines: &[&str]) -> (tempfile::TempDir, PathBuf, CookieSession) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("jar.txt");
        std::fs::write(&path, lines.join("\n")).expect("write jar");
        let s = CookieSession::open(CookieOptions {
            jar: Some(path.clone()),
            ..CookieOptions::default()
        })
        .expect("open");
        (dir, path, s)
    }

    #[test]
    fn file_cookies_match_before_and_after_a_response() {
        let (_dir, _path, mut s) = jar_session(&[
            "example.com\tFALSE\t/\tFALSE\t0\thost\t1",
            ".example.com\tTRUE\t/\tFALSE\t0\tdom\t1",
            "www.example.com\tFALSE\t/\tFALSE\t0\tgone\t1",
            "example.com\tFALSE\t/\tFALSE\t1\texpired\t1",
        ]);
        assert_eq!(header(&s, "http://www.example.com/"), "dom=1; gone=1");
        assert_eq!(header(&s, "http://example.com/"), "dom=1; host=1");
        s.store_response(
            &url("http://www.example.com/"),
            ["host=2; Domain=example.com", "gone=; Max-Age=0"].into_iter(),
        );
        assert_eq!(header(&s, "http://www.example.com/"), "dom=1; host=2");
        assert_eq!(
            header(&s, "http://example.com/"),
            "dom=1; host=2",
            "replaced"
        );
        let mut saved: Vec<(String, String)> =
            s.cookies().into_iter().map(|r| (r.name, r.value)).collect();
        saved.sort();
        assert_eq!(
            saved,
            [("dom".into(), "1".into()), ("host".into(), "2".into())]
        );
    }

    #[test]
    fn finish_merges_what_another_process_wrote_meanwhile() {
        let (_dir, path, mut s) = jar_session(&["a.com\tFALSE\t/\tFALSE\t0\tmine\t1"]);
        s.store_response(&url("http://a.com/"), ["new=1"].into_iter());
        // Another process saves the jar after we read it.
        let mut other = jar::read_file(&path, false).expect("read").expect("exists");
        other.push(Record::new("b.com", "theirs", "1"));
        let lines: Vec<&dyn Line> = other.iter().map(|r| r as &dyn Line).collect();
        jar::save(&path, &lines).expect("save");
        s.save().expect("save");
        let mut names: Vec<String> = jar::read_file(&path, false)
            .expect("read")
            .expect("exists")
            .into_iter()
            .map(|r| r.name)
            .collect();
        names.sort();
        assert_eq!(names, ["mine", "new", "theirs"]);
    }
}
