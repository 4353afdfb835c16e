//! `postie fetch` for many URLs (issue 14): `--url-file`, `--parallel` with
//! `--parallel-per-host`, `--rate`, Retry-After pauses per host, one cookie jar for the run,
//! `--jar-save-interval`, `--json-results`, and the files a url-file names. Several
//! in-process servers on 127.0.0.1 are several hosts (tests/support/http_hosts.rs).

#[path = "support/certs.rs"]
mod certs;
#[path = "support/common.rs"]
mod common;
#[path = "support/http_hosts.rs"]
mod http_hosts;
#[path = "support/http_server.rs"]
mod http_server;

use std::fs;
use std::process::Output;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{postie, run, run_with_stdin, text};
use http_hosts::Hosts;
use http_server::{HttpServer, Request, Response};

fn fetch_in(dir: &std::path::Path, args: &[&str]) -> Output {
    run(postie().current_dir(dir).arg("fetch").args(args))
}

#[track_caller]
fn assert_code(out: &Output, code: i32) {
    let (o, e) = text(out);
    assert_eq!(
        out.status.code(),
        Some(code),
        "exit code; stdout: {o:?}; stderr: {e}"
    );
}

/// `n` URLs over every host of `hosts`, interleaved, each with its own file name.
fn url_list(hosts: &Hosts, n: usize) -> String {
    (0..n)
        .map(|i| {
            hosts.url(
                i % hosts.servers.len(),
                &format!("/h{}-{i}.txt", i % hosts.servers.len()),
            ) + "\n"
        })
        .collect()
}

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

#[test]
fn two_hundred_urls_over_four_hosts_at_most_two_per_host() {
    let hosts = Hosts::start(4, Duration::from_millis(15), |_, req: &Request| {
        Response::ok(format!("body of {}", req.path()))
    });
    let dir = tempfile::tempdir().expect("tempdir");
    // Host by host: without the per-host limit, all 8 transfers would go to the first host.
    let mut list: Vec<String> = url_list(&hosts, 200).lines().map(str::to_owned).collect();
    list.sort_by_key(|u| u.rsplit('/').next().map(|n| n[..2].to_owned()));
    fs::write(dir.path().join("list"), list.join("\n")).expect("list");
    fs::create_dir(dir.path().join("out")).expect("out");
    let out = fetch_in(
        dir.path(),
        &[
            "--url-file",
            "list",
            "--parallel",
            "8",
            "--parallel-per-host",
            "2",
            "--output-dir",
            "out",
        ],
    );
    assert_code(&out, 0);
    for (h, st) in hosts.stats.iter().enumerate() {
        assert_eq!(st.arrivals().len(), 50, "host {h}");
        // Two at once, never more: the limit holds and is used.
        assert_eq!(st.max_at_once(), 2, "host {h}");
    }
    for i in 0..200 {
        let name = format!("h{}-{i}.txt", i % 4);
        let body = fs::read_to_string(dir.path().join("out").join(&name)).expect(&name);
        assert_eq!(body, format!("body of /{name}"));
    }
    let (_, err) = text(&out);
    assert!(
        err.contains("postie: 200 URLs: 200 done, 0 failed"),
        "{err}"
    );
    assert!(
        !err.contains('\r') && !err.contains('\u{1b}'),
        "no progress display off a terminal: {err:?}"
    );
}

#[test]
fn retry_after_pauses_that_host_only() {
    // The path answered 429: two requests to the host may arrive together, so the first
    // arrival is not always the one refused.
    let refused = Arc::new(std::sync::Mutex::new(None::<String>));
    let r2 = Arc::clone(&refused);
    let hosts = Hosts::start(4, Duration::from_millis(10), move |host, req: &Request| {
        let mut first = r2.lock().expect("lock");
        if host == 3 && first.is_none() {
            *first = Some(req.path().to_owned());
            return Response::status(429).header("Retry-After", "2");
        }
        drop(first);
        Response::ok(req.path().to_owned())
    });
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("list"), url_list(&hosts, 80)).expect("list");
    let started = Instant::now();
    let out = fetch_in(
        dir.path(),
        &[
            "--url-file",
            "list",
            "--parallel",
            "8",
            "--parallel-per-host",
            "2",
            "--retry",
            "3",
        ],
    );
    assert_code(&out, 0);
    let (_, err) = text(&out);
    assert!(err.contains("HTTP 429; retrying in 2 s"), "{err}");
    let paused = hosts.stats[3].arrivals();
    let t429 = paused[0].0;
    // Nothing more to that host for 2 s after the 429 (the request that was already open
    // at that moment excepted: it arrived with the 429, within the same few milliseconds).
    // (A request that started while the 429 was on its way arrives just after it.)
    let later: Vec<_> = paused
        .iter()
        .filter(|(t, _)| *t > t429 + Duration::from_millis(200))
        .collect();
    assert!(
        later.len() >= 17,
        "{} requests after the pause",
        later.len()
    );
    for (t, path) in &later {
        assert!(
            *t >= t429 + Duration::from_millis(1950),
            "{path} {:?} after the 429",
            *t - t429
        );
    }
    let refused_path = refused
        .lock()
        .expect("lock")
        .clone()
        .expect("a 429 was sent");
    let retried = paused.iter().filter(|(_, p)| *p == refused_path).count();
    assert_eq!(retried, 2, "the refused URL was asked again");
    // The other hosts did not wait for it.
    for h in 0..3 {
        let last = hosts.stats[h].arrivals().last().expect("requests").0;
        assert!(
            last < t429 + Duration::from_millis(1500),
            "host {h} finished {:?} after the 429",
            last - t429
        );
    }
    assert!(started.elapsed() >= Duration::from_secs(2));
    for i in 0..80 {
        assert!(
            dir.path().join(format!("h{}-{i}.txt", i % 4)).is_file(),
            "{i}"
        );
    }
}

#[test]
fn cookies_from_every_host_all_land_in_the_jar() {
    let hosts = Hosts::start(4, Duration::from_millis(5), |host, req: &Request| {
        let name = req.path().trim_start_matches('/').replace(['.', '-'], "_");
        Response::ok("x").header("Set-Cookie", &format!("{name}=h{host}; Max-Age=3600"))
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let jar = dir.path().join("jar.txt");
    // A cookie already in the jar survives the run.
    fs::write(&jar, "127.0.0.1\tFALSE\t/\tFALSE\t0\told\t1\n").expect("jar");
    fs::write(dir.path().join("list"), url_list(&hosts, 120)).expect("list");
    let out = fetch_in(
        dir.path(),
        &[
            "--url-file",
            "list",
            "--parallel",
            "8",
            "--parallel-per-host",
            "2",
            "--jar",
            "jar.txt",
            "-s",
        ],
    );
    assert_code(&out, 0);
    let saved = fs::read_to_string(&jar).expect("jar");
    let names: Vec<&str> = saved
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split('\t').nth(5))
        .collect();
    assert_eq!(names.len(), 121, "{saved}");
    assert!(names.contains(&"old"));
    for i in 0..120 {
        let name = format!("h{}_{i}_txt", i % 4);
        assert!(names.contains(&name.as_str()), "{name} lost");
    }
    // Every transfer reads the same store: a later request carries earlier cookies.
    let last = hosts.servers[0].requests().pop().expect("requests");
    let sent = last
        .header("cookie")
        .unwrap_or_default()
        .matches('=')
        .count();
    assert!(sent > 50, "the last request sent {sent} cookies");
}

#[test]
fn jar_save_interval_writes_the_jar_mid_run() {
    let server = HttpServer::start(|req: &Request| match req.path() {
        "/login" => Response::ok("in").header("Set-Cookie", "session=abc; Max-Age=3600"),
        _ => Response::ok("slow").delay(Duration::from_secs(3)),
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let jar = dir.path().join("jar.txt");
    let mut child = postie()
        .current_dir(dir.path())
        .args([
            "fetch",
            "-s",
            "--jar",
            "jar.txt",
            "--jar-save-interval",
            "0.2",
            "-o",
            "a",
            "-o",
            "b",
        ])
        .args([server.url("/login"), server.url("/slow")])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("postie runs");
    let deadline = Instant::now() + Duration::from_millis(2500);
    let mut seen = false;
    while Instant::now() < deadline {
        if fs::read_to_string(&jar).is_ok_and(|t| t.contains("session\tabc")) {
            seen = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let still_running = child.try_wait().expect("try_wait").is_none();
    let out = child.wait_with_output().expect("postie ends");
    let (_, err) = text(&out);
    assert!(
        seen,
        "the jar was not written during the run: {:?}; {err}",
        fs::read_to_string(&jar)
    );
    assert!(
        still_running,
        "postie ended before the jar was seen: the test proves nothing"
    );
    assert_code(&out, 0);
    assert!(
        fs::read_to_string(&jar)
            .expect("jar")
            .contains("session\tabc")
    );
}

#[test]
fn json_results_one_line_per_url_and_the_last_failure_is_the_exit_code() {
    let server = HttpServer::start(|req: &Request| match req.path() {
        "/gone" => Response::status(404),
        "/moved" => Response::redirect(302, "/here"),
        p => Response::ok(format!("at {p}")),
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let list = format!(
        "{}\n{}\n{}\n",
        server.url("/here"),
        server.url("/moved"),
        server.url("/gone")
    );
    fs::write(dir.path().join("list"), list).expect("list");
    let out = fetch_in(
        dir.path(),
        &[
            "--url-file",
            "list",
            "-L",
            "-f",
            "--json-results",
            "results.jsonl",
        ],
    );
    assert_code(&out, 22);
    let mut lines =
        json_lines(&fs::read_to_string(dir.path().join("results.jsonl")).expect("results"));
    lines.sort_by_key(|v| v["index"].as_u64());
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["status"], 200);
    assert_eq!(lines[0]["bytes"], 8);
    assert_eq!(lines[0]["output"], "./here");
    assert_eq!(lines[0]["exit_code"], 0);
    assert_eq!(lines[0]["error"], serde_json::Value::Null);
    assert_eq!(lines[0]["not_modified"], false);
    assert_eq!(lines[0]["resumed"], false);
    assert!(lines[0]["time"].as_f64().is_some_and(|t| t > 0.0));
    assert_eq!(lines[1]["url"], server.url("/moved"));
    assert_eq!(lines[1]["final_url"], server.url("/here"));
    assert_eq!(lines[1]["output"], "./moved");
    assert_eq!(lines[2]["status"], 404);
    assert_eq!(lines[2]["exit_code"], 22);
    assert!(
        lines[2]["error"]
            .as_str()
            .is_some_and(|e| e.contains("404")),
        "{}",
        lines[2]
    );
    let (_, err) = text(&out);
    assert!(
        err.contains("postie: 3 URLs: 2 done, 1 failed (last failure: exit 22)"),
        "{err}"
    );
    // `-` is stdout; a run where all worked exits 0.
    let out = run_with_stdin(
        postie().current_dir(dir.path()).args([
            "fetch",
            "--url-file",
            "-",
            "--json-results",
            "-",
            "--clobber",
        ]),
        format!("{}\n", server.url("/here")).as_bytes(),
    );
    assert_code(&out, 0);
    let (stdout, _) = text(&out);
    assert_eq!(json_lines(&stdout)[0]["status"], 200);
}

#[test]
fn same_names_get_distinct_files_and_bad_lines_are_named_while_the_rest_goes_on() {
    let server = HttpServer::start(|req: &Request| Response::ok(req.path().to_owned()));
    let dir = tempfile::tempdir().expect("tempdir");
    let list = format!(
        "# two pages named x.html\n{}\n\n{}\nnot a url\n{{\"url\": \"{}\", \"method\": \"PUT\", \"json\": {{\"a\": 1}}, \"headers\": {{\"X-Job\": \"7\"}}}}\n{{\"oops\n{}\n",
        server.url("/a/x.html"),
        server.url("/b/x.html"),
        server.url("/put"),
        server.url("/"),
    );
    fs::write(dir.path().join("list"), list).expect("list");
    fs::write(dir.path().join("put"), "old").expect("existing file");
    let out = fetch_in(dir.path(), &["--url-file", "list"]);
    // The last failure in time: the refused file (23) or a bad line (3), as the reader of
    // the list and the transfer race.
    assert!(
        matches!(out.status.code(), Some(23 | 3)),
        "{:?}",
        text(&out)
    );
    let (_, err) = text(&out);
    let read =
        |n: &str| fs::read_to_string(dir.path().join(n)).unwrap_or_else(|e| panic!("{n}: {e}"));
    assert_eq!(read("x.html"), "/a/x.html");
    assert_eq!(read("x.html.1"), "/b/x.html");
    assert_eq!(read("index.html"), "/");
    assert!(
        err.contains("line 4: x.html is taken by an earlier URL;"),
        "{err}"
    );
    assert!(err.contains("--url-file list: line 5: not a URL"), "{err}");
    assert!(err.contains("--url-file list: line 7: bad JSON"), "{err}");
    // -O's rule: an existing file is not replaced without --clobber (exit 23).
    assert!(err.contains("refusing to overwrite"), "{err}");
    assert_eq!(read("put"), "old");
    let out = fetch_in(dir.path(), &["--url-file", "list", "--clobber", "-s"]);
    assert_code(&out, 3);
    assert!(
        !text(&out).1.contains("taken by an earlier URL"),
        "-s: no note"
    );
    assert_eq!(read("put"), "/put");
    let put = server
        .requests()
        .into_iter()
        .find(|r| r.path() == "/put")
        .expect("PUT");
    assert_eq!(put.method, "PUT");
    assert_eq!(put.body_text(), r#"{"a":1}"#);
    assert_eq!(put.header("content-type"), Some("application/json"));
    assert_eq!(put.header("x-job"), Some("7"));
}

#[test]
fn rate_spaces_the_starts_to_one_host_even_in_parallel() {
    let hosts = Hosts::start(2, Duration::ZERO, |_, _: &Request| Response::ok("x"));
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("list"), url_list(&hosts, 8)).expect("list");
    let out = fetch_in(
        dir.path(),
        &["--url-file", "list", "-Z", "--rate", "5/s", "-s"],
    );
    assert_code(&out, 0);
    for st in &hosts.stats {
        let times: Vec<Instant> = st.arrivals().iter().map(|a| a.0).collect();
        assert_eq!(times.len(), 4);
        // 200 ms between starts; arrivals jitter a little on a loaded machine.
        assert!(
            times[3] - times[0] >= Duration::from_millis(550),
            "{:?}",
            times[3] - times[0]
        );
        for w in times.windows(2) {
            assert!(
                w[1] - w[0] >= Duration::from_millis(100),
                "{:?}",
                w[1] - w[0]
            );
        }
    }
}

#[test]
fn bad_many_flags_are_refused() {
    for (args, flag) in [
        (&["--rate", "3/w"][..], "--rate"),
        (&["--parallel", "0"][..], "--parallel"),
        (
            &["--parallel-per-host", "0", "-Z"][..],
            "--parallel-per-host",
        ),
        (
            &["--jar-save-interval", "0", "-Z"][..],
            "--jar-save-interval",
        ),
    ] {
        let out = run(postie().arg("fetch").args(args).arg("http://127.0.0.1:9/"));
        let (_, err) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(flag), "{args:?}: {err}");
    }
}

/// The two halves of issue 14 together: a url-file fetched in parallel with `--update`
/// twice; the second run is all 304 (reported `not_modified` in --json-results), and no
/// file is rewritten.
#[test]
fn a_parallel_url_file_with_update_reports_not_modified_and_keeps_the_files() {
    let server = HttpServer::start(|req: &Request| {
        let etag = format!("\"{}\"", req.path().trim_start_matches('/'));
        if req.header("If-None-Match") == Some(etag.as_str()) {
            return Response::status(304).header("ETag", &etag);
        }
        Response::ok(format!("page {}\n", req.path())).header("ETag", &etag)
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let list: String = (0..12)
        .map(|i| server.url(&format!("/p{i}.txt")) + "\n")
        .collect();
    fs::write(dir.path().join("list"), list).expect("list");
    fs::create_dir(dir.path().join("out")).expect("out");
    let args = [
        "--url-file",
        "list",
        "--parallel",
        "4",
        "--update",
        "--state",
        "state.json",
        "--output-dir",
        "out",
        "--json-results",
        "-",
    ];
    let first = fetch_in(dir.path(), &args);
    assert_code(&first, 0);
    let stamp = |i: usize| {
        let m = fs::metadata(dir.path().join(format!("out/p{i}.txt"))).expect("file");
        (
            std::os::unix::fs::MetadataExt::ino(&m),
            m.modified().expect("mtime"),
        )
    };
    let before: Vec<_> = (0..12).map(stamp).collect();
    assert!(
        json_lines(&text(&first).0)
            .iter()
            .all(|v| v["not_modified"] == false)
    );
    let second = fetch_in(dir.path(), &args);
    assert_code(&second, 0);
    let lines = json_lines(&text(&second).0);
    assert_eq!(lines.len(), 12);
    assert!(
        lines
            .iter()
            .all(|v| v["not_modified"] == true && v["status"] == 304),
        "{lines:?}"
    );
    assert_eq!((0..12).map(stamp).collect::<Vec<_>>(), before);
}
