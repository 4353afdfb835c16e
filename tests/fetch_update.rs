//! `postie fetch --update` and resuming (issue 14): conditional requests from the state
//! file, 304s that leave files alone, `FILE.part` resumed with Range + If-Range after a cut
//! or a `kill -9`, and atomic replacement on 200, against the in-process test server.

#[path = "support/certs.rs"]
mod certs;
#[path = "support/common.rs"]
mod common;
#[path = "support/http_server.rs"]
mod http_server;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{postie, run, text};
use http_server::{HttpServer, Request, Response, pattern};

#[track_caller]
fn assert_code(out: &Output, code: i32) {
    let (stdout, stderr) = text(out);
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {stdout}\nstderr: {stderr}"
    );
}

fn fetch(args: &[&str]) -> Output {
    run(postie().arg("fetch").args(args))
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// (inode, mtime in ns) of a file: what a rewrite would change.
fn identity(p: &Path) -> (u64, i64, i64) {
    let m = fs::metadata(p).expect("metadata");
    (m.ino(), m.mtime(), m.mtime_nsec())
}

/// A server whose `/pN` resources carry `ETag: "eN"` and answer a matching If-None-Match
/// with 304 (and the ETag), as nginx does.
fn etag_server() -> HttpServer {
    HttpServer::start(|req: &Request| {
        let n = req.path().trim_start_matches("/p").to_owned();
        let etag = format!("\"e{n}\"");
        if req.header("If-None-Match") == Some(etag.as_str()) {
            return Response::status(304).header("ETag", &etag);
        }
        Response::ok(format!("page {n}\n")).header("ETag", &etag)
    })
}

#[test]
fn a_second_update_run_is_all_304_and_rewrites_no_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = etag_server();
    let state = dir.path().join("state.json");
    let files: Vec<PathBuf> = (0..3).map(|i| dir.path().join(format!("f{i}"))).collect();
    let urls: Vec<String> = (0..3).map(|i| server.url(&format!("/p{i}"))).collect();
    let mut args = vec!["-sS", "--update", "--state", s(&state)];
    for (f, u) in files.iter().zip(&urls) {
        args.extend(["-o", s(f), u.as_str()]);
    }
    assert_code(&fetch(&args), 0);
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.header("If-None-Match").is_none())
    );
    let before: Vec<_> = files.iter().map(|f| identity(f)).collect();
    let mode = fs::metadata(&state).expect("state").mode();
    assert_eq!(mode & 0o777, 0o600, "the state file is private");
    let state_before = identity(&state);

    let out = fetch(&args);
    assert_code(&out, 0);
    let second = &server.requests()[3..];
    assert_eq!(second.len(), 3);
    for (i, r) in second.iter().enumerate() {
        assert_eq!(
            r.header("If-None-Match"),
            Some(format!("\"e{i}\"").as_str())
        );
    }
    let after: Vec<_> = files.iter().map(|f| identity(f)).collect();
    assert_eq!(before, after, "same inode and mtime: no file was rewritten");
    assert_eq!(
        identity(&state),
        state_before,
        "nothing changed: the state file is not rewritten either"
    );
    assert_eq!(fs::read(&files[2]).expect("f2"), b"page 2\n");
    assert!(!dir.path().join("f0.part").exists());
}

#[test]
fn a_304_removes_a_part_the_store_recorded_for_another_url() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = etag_server();
    let state = dir.path().join("state.json");
    let file = dir.path().join("f0");
    let url = server.url("/p0");
    let args = [
        "-sS",
        "--update",
        "--state",
        s(&state),
        "-o",
        s(&file),
        url.as_str(),
    ];
    assert_code(&fetch(&args), 0);
    // What a killed run of another URL into the same file leaves: its part, and its record.
    let mut doc: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&state).expect("state")).expect("json");
    doc["files"][s(&file)]["part"] =
        serde_json::json!({"url": "http://elsewhere.test/p0", "if_range": "\"old\""});
    fs::write(&state, doc.to_string()).expect("state");
    let part = dir.path().join("f0.part");
    fs::write(&part, "half of another resource").expect("part");

    assert_code(&fetch(&args), 0);
    let last = server.requests().pop().expect("request");
    assert_eq!(last.header("If-None-Match"), Some("\"e0\""));
    assert_eq!(
        last.header("Range"),
        None,
        "the other URL's part is not resumed"
    );
    assert!(!part.exists(), "the 304 removed the recorded part");
    let doc: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&state).expect("state")).expect("json");
    assert!(doc["files"][s(&file)]["part"].is_null(), "{doc}");
    assert_eq!(fs::read(&file).expect("f0"), b"page 0\n");
}

#[test]
fn a_304_without_an_etag_keeps_the_stored_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hits = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&hits);
    // The first answer has the ETag; later ones are 304s without it (curl #15728 empties
    // its etag file on such a 304).
    let server = HttpServer::start(move |_| {
        if seen.fetch_add(1, Ordering::SeqCst) == 0 {
            Response::ok("v1 body").header("ETag", "\"v1\"")
        } else {
            Response::status(304)
        }
    });
    let state = dir.path().join("st.json");
    let dest = dir.path().join("out");
    let url = server.url("/r");
    let args = update_args(&state, &dest, &url);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    for _ in 0..3 {
        assert_code(&fetch(&args), 0);
    }
    let reqs = server.requests();
    assert_eq!(reqs[1].header("If-None-Match"), Some("\"v1\""));
    assert_eq!(
        reqs[2].header("If-None-Match"),
        Some("\"v1\""),
        "still sent"
    );
    assert!(
        fs::read_to_string(&state)
            .expect("state")
            .contains("\\\"v1\\\"")
    );
    assert_eq!(fs::read(&dest).expect("out"), b"v1 body");
}

#[test]
fn a_200_replaces_the_file_atomically_and_updates_the_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let version = Arc::new(AtomicUsize::new(1));
    let v = Arc::clone(&version);
    let server = HttpServer::start(move |req| {
        let n = v.load(Ordering::SeqCst);
        let etag = format!("\"v{n}\"");
        if req.header("If-None-Match") == Some(etag.as_str()) {
            return Response::status(304);
        }
        // Version 2 pauses mid-body, so the test can look at the file meanwhile.
        let body = pattern(n as u64 * 1000, 200_000);
        let resp = Response::ok(body).header("ETag", &etag);
        if n == 2 {
            resp.stall_after(100_000, Duration::from_millis(1500))
        } else {
            resp
        }
    });
    let state = dir.path().join("st.json");
    let dest = dir.path().join("out.bin");
    let url = server.url("/r");
    let args = update_args(&state, &dest, &url);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_code(&fetch(&args), 0);
    let old = identity(&dest);
    version.store(2, Ordering::SeqCst);
    let child = postie()
        .arg("fetch")
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let part = dir.path().join("out.bin.part");
    wait_for(|| part.exists(), "the .part file");
    assert_eq!(
        fs::read(&dest).expect("old"),
        pattern(1000, 200_000),
        "while the new version downloads, the old file is whole"
    );
    let out = child.wait_with_output().expect("wait");
    assert_code(&out, 0);
    assert_eq!(server.requests()[1].header("If-None-Match"), Some("\"v1\""));
    assert_eq!(fs::read(&dest).expect("new"), pattern(2000, 200_000));
    assert_ne!(
        identity(&dest).0,
        old.0,
        "replaced by a rename (a new inode)"
    );
    assert!(!part.exists());
    assert!(
        fs::read_to_string(&state)
            .expect("state")
            .contains("\\\"v2\\\"")
    );
}

/// `-sS --update --state STATE -o DEST URL`.
fn update_args(state: &Path, dest: &Path, url: &str) -> Vec<String> {
    let args = ["-sS", "--update", "--state", s(state), "-o", s(dest), url];
    args.map(str::to_owned).to_vec()
}

#[track_caller]
fn wait_for(mut cond: impl FnMut() -> bool, what: &str) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

const SIZE: u64 = 3 * 1024 * 1024;
const CUT: u64 = 2 * 1024 * 1024;

/// Ranges from `start` of the resource whose body is `pattern(offset, SIZE)`.
fn partial_response(offset: u64, start: u64, etag: &str) -> Response {
    Response::status(206)
        .header("ETag", etag)
        .header(
            "Content-Range",
            &format!("bytes {start}-{}/{SIZE}", SIZE - 1),
        )
        .body(pattern(offset + start, (SIZE - start) as usize))
}

#[test]
fn a_resource_changed_after_a_cut_is_fetched_whole_not_spliced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let version = Arc::new(AtomicUsize::new(1));
    let v = Arc::clone(&version);
    let server = HttpServer::start(move |req| {
        let n = v.load(Ordering::SeqCst) as u64;
        let etag = format!("\"v{n}\"");
        match (req.range_start(), req.header("If-Range")) {
            (Some(start), Some(tag)) if tag == etag => partial_response(n * 7, start, &etag),
            _ if n == 1 => Response::ok(pattern(7, SIZE as usize))
                .header("ETag", &etag)
                .close_after(CUT as usize),
            _ => Response::ok(pattern(n * 7, SIZE as usize)).header("ETag", &etag),
        }
    });
    let state = dir.path().join("st.json");
    let dest = dir.path().join("big");
    let url = server.url("/big");
    let args = update_args(&state, &dest, &url);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = fetch(&args);
    assert_code(&out, 18);
    let part = dir.path().join("big.part");
    assert_eq!(
        fs::metadata(&part).expect("part").len(),
        CUT,
        "the part stays"
    );
    assert!(!dest.exists());

    version.store(2, Ordering::SeqCst);
    assert_code(&fetch(&args), 0);
    let resume = &server.requests()[1];
    assert_eq!(resume.range_start(), Some(CUT));
    assert_eq!(resume.header("If-Range"), Some("\"v1\""));
    assert!(
        fs::read(&dest).expect("dest") == pattern(14, SIZE as usize),
        "the file is the new version, not v1's first part glued to v2's rest"
    );
    assert!(!part.exists());
}

#[test]
fn a_retry_after_a_cut_asks_with_if_range_and_takes_a_changed_resource_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hits = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&hits);
    let server = HttpServer::start(move |req| {
        if seen.fetch_add(1, Ordering::SeqCst) == 0 {
            return Response::ok(pattern(0, 100_000))
                .header("ETag", "\"a\"")
                .close_after(40_000);
        }
        // Changed meanwhile: If-Range "a" no longer matches, so the whole new body.
        assert_eq!(req.header("If-Range"), Some("\"a\""));
        Response::ok(pattern(5, 100_000)).header("ETag", "\"b\"")
    });
    let dest = dir.path().join("f");
    let out = fetch(&["-sS", "--retry", "1", "-o", s(&dest), &server.url("/f")]);
    assert_code(&out, 0);
    assert_eq!(server.requests()[1].range_start(), Some(40_000));
    assert!(
        fs::read(&dest).expect("f") == pattern(5, 100_000),
        "not spliced"
    );
}

#[test]
fn a_killed_download_is_resumed_by_the_next_update_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = HttpServer::start(|req| match req.range_start() {
        Some(start) if req.header("If-Range") == Some("\"k1\"") => {
            partial_response(0, start, "\"k1\"")
        }
        _ => Response::ok(pattern(0, SIZE as usize))
            .header("ETag", "\"k1\"")
            .stall_after(CUT, Duration::from_secs(30)),
    });
    let state = dir.path().join("st.json");
    let dest = dir.path().join("big");
    let url = server.url("/big");
    let args = update_args(&state, &dest, &url);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = postie()
        .arg("fetch")
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let part = dir.path().join("big.part");
    wait_for(
        || fs::metadata(&part).is_ok_and(|m| m.len() >= CUT) && state.exists(),
        "the part and its record",
    );
    child.kill().expect("kill -9");
    child.wait().expect("reap");
    assert!(!dest.exists());

    let out = fetch(&args);
    assert_code(&out, 0);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        reqs[1].header("Range"),
        Some(format!("bytes={CUT}-").as_str())
    );
    assert_eq!(reqs[1].header("If-Range"), Some("\"k1\""));
    assert!(
        fs::read(&dest).expect("dest") == pattern(0, SIZE as usize),
        "whole"
    );
    assert!(!part.exists());
}

#[test]
fn update_needs_an_output_file_and_no_j() {
    let out = fetch(&["--update", "http://127.0.0.1:9/x"]);
    assert_code(&out, 2);
    assert!(text(&out).1.contains("--update"), "{}", text(&out).1);
    let out = fetch(&["--update", "-OJ", "http://127.0.0.1:9/x"]);
    assert_code(&out, 2);
}
