//! `Set-Cookie` handling into the jar writer (src/cookies/session.rs, jar.rs, netscape.rs).
//!
//! Input: one selector byte (which request URL the response came from), then `Set-Cookie`
//! header values, one per line. The session stores them, then saves the jar to a file
//! (`-c`, the real save path: atomic write, curl's form). Invariants beyond "no panic":
//! - the saved jar reads back, with nothing skipped, as exactly the cookies the session
//!   holds (no cookie lost, added or altered on the way to disk);
//! - the jar has at most one line per cookie after its header (no field can start a new
//!   line; a cookie with Max-Age=1 may expire before the save);
//! - the `Cookie` request header holds no CR, LF or NUL.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postie::cookies::netscape::{self, Record};
use postie::cookies::{CookieOptions, CookieSession};
use url::Url;

const URLS: [&str; 8] = [
    "http://example.com/a/b",
    "https://www.example.com/",
    "http://localhost:8080/dir/page",
    "https://sub.example.co.uk/p/q?x=1",
    "http://[::1]:8000/",
    "http://192.168.1.20/x",
    "https://a.b.c.example.org/",
    "http://xn--bcher-kva.example/",
];

fuzz_target!(|data: &[u8]| {
    let Some((sel, rest)) = postie_fuzz::selector(data) else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let url = Url::parse(URLS[usize::from(sel) % URLS.len()]).expect("a valid URL");
    let dir = postie_fuzz::temp_dir();
    let jar = dir.path().join("jar.txt");
    let mut session = CookieSession::open(CookieOptions {
        save_to: Some(jar.clone()),
        ..CookieOptions::default()
    })
    .expect("an empty session");
    session.store_response(&url, text.split('\n').take(64));

    let held = session.cookies();
    if let Some(h) = session.request_header(&url) {
        assert!(!h.contains(['\r', '\n', '\0']), "Cookie header {h:?}");
    }
    session.finish().expect("saving the jar");
    let saved = std::fs::read_to_string(&jar).unwrap_or_default();
    let header_lines = netscape::HEADER.lines().count();
    // A cookie may expire between `cookies()` and the save (Max-Age=1): at most, not exactly,
    // one line per cookie held.
    let lines = saved.lines().count().saturating_sub(header_lines);
    assert!(lines <= held.len(), "more lines than cookies: {saved:?}");
    let again = netscape::parse(&saved);
    assert!(
        again.skipped.is_empty(),
        "saved lines skipped: {:?}",
        again.skipped
    );
    // A cookie can expire between `cookies()` and the save only at a second boundary:
    // compare the ones that do not expire within a minute.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let lasting = |r: &&Record| r.expires.is_none_or(|e| e > now + 60);
    let held: Vec<&Record> = held.iter().filter(lasting).collect();
    let read: Vec<&Record> = again.records.iter().filter(lasting).collect();
    assert_eq!(read, held, "the saved jar reads back differently");
});
