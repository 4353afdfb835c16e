//! `postie fetch` against the in-process test server (tests/support/http_server.rs) and,
//! with POSTIE_INTEROP=1, against httpbin served by gunicorn.

#[path = "support/certs.rs"]
mod certs;
#[path = "support/common.rs"]
mod common;
#[path = "support/http_server.rs"]
mod http_server;

use std::fs;
use std::io::{Read, Write};
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{postie, run, text};
use http_server::{HttpServer, Request, Response, TestCerts, pattern};

fn fetch(args: &[&str]) -> Output {
    run(postie().arg("fetch").args(args))
}

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

fn echo_server() -> HttpServer {
    HttpServer::start(|req: &Request| {
        Response::ok(req.body.clone()).header("Content-Type", "text/plain")
    })
}

#[test]
fn test_server_records_requests_and_keeps_connections_alive() {
    let server = HttpServer::start(|req| Response::ok(format!("you sent {}", req.body.len())));
    let mut s = std::net::TcpStream::connect(server.addr()).expect("connect");
    s.write_all(b"POST /a?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc")
        .expect("write");
    s.write_all(b"PUT /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\nxy\r\n0\r\n\r\n")
        .expect("write");
    let mut reply = String::new();
    s.read_to_string(&mut reply).expect("read");
    assert_eq!(reply.matches("HTTP/1.1 200 OK").count(), 2, "{reply}");
    let reqs = server.requests();
    assert_eq!(reqs[0].path(), "/a");
    assert_eq!(reqs[0].query(), Some("x=1"));
    assert_eq!(reqs[0].body, b"abc");
    assert_eq!(reqs[1].body, b"xy");
    assert_eq!(server.connections(), 1);
}

#[test]
fn get_streams_the_body_to_stdout_with_default_headers() {
    let server = HttpServer::start(|_| Response::ok("hello\n").chunked());
    let out = fetch(&[&server.url("/x?q=1")]);
    assert_code(&out, 0);
    assert_eq!(out.stdout, b"hello\n");
    let req = server.single_request();
    assert_eq!(req.method, "GET");
    assert_eq!(req.target, "/x?q=1");
    assert!(
        req.header("User-Agent")
            .is_some_and(|v| v.starts_with("postie/"))
    );
    assert_eq!(req.header("Accept"), Some("*/*"));
    assert!(req.body.is_empty());
}

#[test]
fn data_flags_post_urlencoded_bodies_joined_with_ampersand() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("d.txt");
    fs::write(&file, "b=2\r\nc=3\n").expect("write");
    let server = echo_server();
    let at = format!("@{}", file.display());
    let out = fetch(&[
        "-d",
        "a=1",
        "-d",
        &at,
        "--data-raw",
        "@raw",
        "--data-urlencode",
        "msg=hello world&more",
        "--data-urlencode",
        "=x y",
        &server.url("/post"),
    ]);
    assert_code(&out, 0);
    let req = server.single_request();
    assert_eq!(req.method, "POST");
    assert_eq!(
        req.body_text(),
        "a=1&b=2c=3&@raw&msg=hello%20world%26more&x%20y"
    );
    assert_eq!(
        req.header("Content-Type"),
        Some("application/x-www-form-urlencoded")
    );
    let len = req.body.len().to_string();
    assert_eq!(req.header("Content-Length"), Some(len.as_str()));
}

#[test]
fn data_binary_file_is_sent_as_is() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("blob");
    let bytes: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    fs::write(&file, &bytes).expect("write");
    let server = echo_server();
    let at = format!("@{}", file.display());
    let out = fetch(&["--data-binary", &at, "-X", "PUT", &server.url("/up")]);
    assert_code(&out, 0);
    let req = server.single_request();
    assert_eq!(req.method, "PUT");
    assert_eq!(req.body, bytes);
    assert_eq!(req.header("Content-Length"), Some("300000"));
    assert_eq!(out.stdout, bytes, "echoed back");
}

#[test]
fn json_sets_content_type_and_accept() {
    let server = echo_server();
    let out = fetch(&["--json", r#"{"a":1}"#, &server.url("/j")]);
    assert_code(&out, 0);
    let req = server.single_request();
    assert_eq!(req.body_text(), r#"{"a":1}"#);
    assert_eq!(req.header("Content-Type"), Some("application/json"));
    assert_eq!(req.header("Accept"), Some("application/json"));
}

#[test]
fn form_sends_multipart_with_streamed_file_parts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("photo.bin");
    let content: Vec<u8> = (0..5000u32).map(|i| (i % 256) as u8).collect();
    fs::write(&file, &content).expect("write");
    let server = echo_server();
    let part = format!("up=@{};type=image/x-test;filename=pic.raw", file.display());
    let out = fetch(&["-F", "name=value 1", "-F", &part, &server.url("/form")]);
    assert_code(&out, 0);
    let req = server.single_request();
    assert_eq!(req.method, "POST");
    let ct = req.header("Content-Type").expect("content type").to_owned();
    let boundary = ct
        .strip_prefix("multipart/form-data; boundary=")
        .expect("multipart");
    let mut want = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nvalue 1\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"up\"; filename=\"pic.raw\"\r\n\
         Content-Type: image/x-test\r\n\r\n"
    )
    .into_bytes();
    want.extend_from_slice(&content);
    want.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    assert_eq!(req.body, want);
    assert_eq!(
        req.header("Content-Length"),
        Some(want.len().to_string().as_str())
    );
}

#[test]
fn get_flag_moves_data_into_the_query() {
    let server = echo_server();
    let out = fetch(&["-G", "-d", "a=1", "-d", "b=2", &server.url("/s?x=0")]);
    assert_code(&out, 0);
    let req = server.single_request();
    assert_eq!(req.method, "GET");
    assert_eq!(req.target, "/s?x=0&a=1&b=2");
    assert!(req.body.is_empty());
}

#[test]
fn head_prints_headers_only() {
    let server = HttpServer::start(|_| Response::ok("body").header("X-Thing", "yes"));
    let out = fetch(&["-I", &server.url("/")]);
    assert_code(&out, 0);
    let (stdout, _) = text(&out);
    assert!(stdout.starts_with("HTTP/1.1 200 OK\r\n"), "{stdout}");
    assert!(stdout.contains("X-Thing: yes\r\n"), "{stdout}");
    assert!(!stdout.contains("body"));
    assert_eq!(server.single_request().method, "HEAD");
}

#[test]
fn include_writes_headers_before_the_body() {
    let server = HttpServer::start(|_| Response::ok("body").header("X-Thing", "yes"));
    let out = fetch(&["-i", &server.url("/")]);
    assert_code(&out, 0);
    let (stdout, _) = text(&out);
    assert!(stdout.starts_with("HTTP/1.1 200 OK\r\n"), "{stdout}");
    assert!(stdout.ends_with("\r\n\r\nbody"), "{stdout}");
}

#[test]
fn headers_can_be_added_replaced_and_removed() {
    let server = echo_server();
    let out = fetch(&[
        "-H",
        "X-One: 1",
        "-H",
        "Accept:",
        "-H",
        "X-One: 2",
        "-A",
        "agent/9",
        "-e",
        "http://ref/",
        &server.url("/"),
    ]);
    assert_code(&out, 0);
    let req = server.single_request();
    assert_eq!(req.header_all("X-One"), vec!["1", "2"]);
    assert_eq!(req.header("Accept"), None);
    assert_eq!(req.header("User-Agent"), Some("agent/9"));
    assert_eq!(req.header("Referer"), Some("http://ref/"));
    for bad in ["no colon", "X-Bad: a\u{7f}b", "Bad Name: v", "B(ad): v"] {
        let out = fetch(&["-H", bad, &server.url("/")]);
        assert_code(&out, 2);
        assert!(text(&out).1.contains("-H"), "{}", text(&out).1);
    }
    let out = fetch(&["-X", "GE T", &server.url("/")]);
    assert_code(&out, 2);
    assert_eq!(server.requests().len(), 1, "bad flags send nothing");
}

#[test]
fn basic_auth_is_sent_and_dropped_when_a_redirect_leaves_the_host() {
    // 127.0.0.1 and localhost are the same server but different hosts for the client.
    let port = Arc::new(AtomicUsize::new(0));
    let p = Arc::clone(&port);
    let server = HttpServer::start(move |req| match req.path() {
        "/away" => Response::redirect(
            302,
            &format!("http://localhost:{}/landed", p.load(Ordering::SeqCst)),
        ),
        "/same" => Response::redirect(302, "/landed"),
        _ => Response::ok("ok"),
    });
    port.store(server.port() as usize, Ordering::SeqCst);
    let out = fetch(&["-u", "alice:s3cret", &server.url("/same")]);
    assert_code(&out, 0);
    let out = fetch(&["-u", "alice:s3cret", &server.url("/away")]);
    assert_code(&out, 0);
    let out = fetch(&[
        "-H",
        "Authorization: Bearer tok",
        "-H",
        "Cookie: c=1",
        &server.url("/away"),
    ]);
    assert_code(&out, 0);
    let reqs = server.requests();
    let basic = "Basic YWxpY2U6czNjcmV0";
    assert_eq!(reqs[0].header("Authorization"), Some(basic));
    assert_eq!(reqs[1].header("Authorization"), Some(basic), "same host");
    assert_eq!(reqs[2].header("Authorization"), Some(basic));
    assert_eq!(reqs[3].path(), "/landed");
    assert_eq!(reqs[3].header("Authorization"), None, "other host");
    assert_eq!(reqs[4].header("Authorization"), Some("Bearer tok"));
    assert_eq!(reqs[4].header("Cookie"), Some("c=1"));
    assert_eq!(reqs[5].header("Authorization"), None, "-H credentials stay");
    assert_eq!(reqs[5].header("Cookie"), None);
}

#[test]
fn netrc_file_supplies_credentials() {
    let dir = tempfile::tempdir().expect("tempdir");
    let netrc = dir.path().join("netrc");
    fs::write(&netrc, "machine 127.0.0.1 login bob password pw\n").expect("write");
    let server = echo_server();
    let out = fetch(&[
        "--netrc-file",
        netrc.to_str().expect("utf8"),
        &server.url("/"),
    ]);
    assert_code(&out, 0);
    assert_eq!(
        server.single_request().header("Authorization"),
        Some("Basic Ym9iOnB3")
    );
}

#[test]
fn user_password_comes_from_the_environment() {
    let server = echo_server();
    let out = run(postie().env("PW", "s3cret").args([
        "fetch",
        "-u",
        "alice",
        "--password-env",
        "PW",
        &server.url("/"),
    ]));
    assert_code(&out, 0);
    assert_eq!(
        server.single_request().header("Authorization"),
        Some("Basic YWxpY2U6czNjcmV0")
    );
}

#[test]
fn user_without_password_and_no_terminal_is_a_clear_error() {
    let server = echo_server();
    let out = run(postie().stdin(std::process::Stdio::null()).args([
        "fetch",
        "-u",
        "alice",
        &server.url("/"),
    ]));
    assert_ne!(out.status.code(), Some(0));
    assert!(text(&out).1.contains("alice"), "{}", text(&out).1);
    assert!(server.requests().is_empty());
}

fn redirect_server() -> HttpServer {
    HttpServer::start(|req| {
        let p = req.path();
        if let Some(code) = p.strip_prefix("/r/") {
            let code: u16 = code.parse().unwrap_or(302);
            return Response::redirect(code, "/final").body("moved");
        }
        match p {
            "/loop" => Response::redirect(302, "/loop"),
            "/chain/3" => Response::redirect(301, "/chain/2"),
            "/chain/2" => Response::redirect(301, "/chain/1"),
            "/chain/1" => Response::redirect(301, "/final"),
            _ => Response::ok(format!("{} {}", req.method, req.body_text())),
        }
    })
}

#[test]
fn redirects_rewrite_methods_as_curl_does() {
    let server = redirect_server();
    for (code, method, body) in [
        (301, "GET", ""),
        (302, "GET", ""),
        (303, "GET", ""),
        (307, "POST", "k=v"),
        (308, "POST", "k=v"),
    ] {
        let out = fetch(&["-d", "k=v", &server.url(&format!("/r/{code}"))]);
        assert_code(&out, 0);
        assert_eq!(text(&out).0, format!("{method} {body}"), "{code}");
    }
    // A PUT keeps its method on 301/302 (curl rewrites only POST); 303 turns it into GET.
    let out = fetch(&["-X", "PUT", "-d", "k=v", &server.url("/r/302")]);
    assert_eq!(text(&out).0, "PUT k=v");
    let out = fetch(&["-X", "PUT", "-d", "k=v", &server.url("/r/303")]);
    assert_eq!(text(&out).0, "GET ");
    let reqs = server.requests();
    let finals: Vec<_> = reqs.iter().filter(|r| r.path() == "/final").collect();
    assert_eq!(finals[3].header("Content-Length"), Some("3"));
    assert_eq!(
        finals[0].header("Content-Type"),
        None,
        "GET has no body type"
    );
}

#[test]
fn redirect_limits_loops_and_no_follow() {
    let server = redirect_server();
    let out = fetch(&[
        "-w",
        "%{num_redirects} %{url_effective}",
        &server.url("/chain/3"),
    ]);
    assert_code(&out, 0);
    assert_eq!(text(&out).0, format!("GET 3 {}", server.url("/final")));
    let out = fetch(&["--max-redirs", "2", &server.url("/chain/3")]);
    assert_code(&out, 47);
    let out = fetch(&[&server.url("/loop")]);
    assert_code(&out, 47);
    assert!(text(&out).1.contains("redirects"), "{}", text(&out).1);
    let out = fetch(&["-i", &server.url("/r/301")]);
    let (stdout, _) = text(&out);
    assert!(
        stdout.starts_with("HTTP/1.1 301 Moved Permanently\r\n")
            && stdout.contains("\r\n\r\nHTTP/1.1 200 OK\r\n")
            && stdout.ends_with("\r\n\r\nGET "),
        "-i shows every hop: {stdout}"
    );
    let out = fetch(&["--no-follow", "-w", " %{http_code}", &server.url("/r/302")]);
    assert_code(&out, 0);
    assert_eq!(text(&out).0, "moved 302");
}

#[test]
fn output_file_is_written_atomically() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = HttpServer::start(|req| match req.path() {
        "/cut" => Response::generated(100_000).close_after(30_000),
        _ => Response::generated(100_000),
    });
    let dest = dir.path().join("out.bin");
    let out = fetch(&["-o", dest.to_str().expect("utf8"), &server.url("/ok")]);
    assert_code(&out, 0);
    assert_eq!(fs::read(&dest).expect("read"), pattern(0, 100_000));
    assert!(out.stdout.is_empty());

    let cut = dir.path().join("cut.bin");
    let out = fetch(&["-o", cut.to_str().expect("utf8"), &server.url("/cut")]);
    assert_code(&out, 18);
    assert!(!cut.exists(), "a partial download must not look complete");
    let names: Vec<_> = fs::read_dir(dir.path())
        .expect("ls")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(
        names,
        vec![std::ffi::OsString::from("out.bin")],
        "no temp left"
    );

    let out = fetch(&["-o", dir.path().to_str().expect("utf8"), &server.url("/ok")]);
    assert_code(&out, 23);
    assert!(text(&out).1.contains("is a folder"), "{}", text(&out).1);
    let out = fetch(&["-o", "/nonexistent-dir/x", &server.url("/ok")]);
    assert_code(&out, 23);
    assert!(
        text(&out).1.contains("/nonexistent-dir/x"),
        "{}",
        text(&out).1
    );
    let out = fetch(&["--output-dir", "/nonexistent-dir", "-O", &server.url("/ok")]);
    assert_code(&out, 2);
}

#[test]
fn remote_name_output_dir_and_content_disposition() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = HttpServer::start(|req| match req.path() {
        "/cd" => Response::ok("evil").header(
            "Content-Disposition",
            "attachment; filename=\"../../escape.txt\"",
        ),
        _ => Response::ok("plain"),
    });
    let d = dir.path().to_str().expect("utf8");
    let out = fetch(&[
        "--output-dir",
        d,
        "-O",
        &server.url("/files/report.csv?x=1"),
    ]);
    assert_code(&out, 0);
    assert_eq!(
        fs::read_to_string(dir.path().join("report.csv")).expect("read"),
        "plain"
    );
    let out = fetch(&["--output-dir", d, "-O", "-J", &server.url("/cd")]);
    assert_code(&out, 0);
    assert_eq!(
        fs::read_to_string(dir.path().join("escape.txt")).expect("read"),
        "evil"
    );
    assert!(
        !dir.path()
            .parent()
            .expect("parent")
            .join("escape.txt")
            .exists()
    );
    // -J never replaces an existing file unless --clobber.
    let out = fetch(&["--output-dir", d, "-O", "-J", &server.url("/cd")]);
    assert_code(&out, 23);
    let out = fetch(&["--output-dir", d, "-OJ", "--clobber", &server.url("/cd")]);
    assert_code(&out, 0);
    let out = fetch(&["-O", &server.url("/")]);
    assert_code(&out, 23);
}

#[test]
fn several_urls_reuse_one_connection_and_keep_their_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = HttpServer::start(|req| Response::ok(req.path().to_owned()));
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    let out = fetch(&[
        "-o",
        a.to_str().expect("utf8"),
        "-o",
        b.to_str().expect("utf8"),
        &server.url("/one"),
        &server.url("/two"),
        &server.url("/three"),
    ]);
    assert_code(&out, 0);
    assert_eq!(fs::read_to_string(&a).expect("a"), "/one");
    assert_eq!(fs::read_to_string(&b).expect("b"), "/two");
    assert_eq!(text(&out).0, "/three");
    assert_eq!(server.connections(), 1, "one connection for all");
}

#[test]
fn batch_goes_on_after_a_failure_and_exits_with_its_code() {
    let server = HttpServer::start(|req| match req.path() {
        "/bad" => Response::status(500).body("oops"),
        _ => Response::ok("fine"),
    });
    let out = fetch(&["-f", &server.url("/bad"), &server.url("/good")]);
    assert_code(&out, 22);
    assert_eq!(text(&out).0, "fine");
    assert!(text(&out).1.contains("500"), "{}", text(&out).1);
}

#[test]
fn fail_suppresses_the_body_and_exits_22() {
    let server = HttpServer::start(|_| Response::status(404).body("not here"));
    let out = fetch(&["-f", &server.url("/missing")]);
    assert_code(&out, 22);
    assert!(out.stdout.is_empty());
    assert!(text(&out).1.contains("/missing"));
    let out = fetch(&["-fs", &server.url("/missing")]);
    assert_code(&out, 22);
    assert!(out.stderr.is_empty(), "-s is silent");
    let out = fetch(&["-fsS", &server.url("/missing")]);
    assert!(!out.stderr.is_empty(), "-S shows errors");
    let out = fetch(&[&server.url("/missing")]);
    assert_code(&out, 0);
    assert_eq!(out.stdout, b"not here");
    let out = fetch(&["--fail-with-body", &server.url("/missing")]);
    assert_code(&out, 22);
    assert_eq!(out.stdout, b"not here");
}

#[test]
fn resume_appends_when_the_server_honours_range() {
    let dir = tempfile::tempdir().expect("tempdir");
    let total = 50_000u64;
    let server = HttpServer::start(move |req| match req.range_start() {
        Some(start) if start >= total => {
            Response::status(416).header("Content-Range", &format!("bytes */{total}"))
        }
        Some(start) => Response::status(206)
            .header(
                "Content-Range",
                &format!("bytes {start}-{}/{total}", total - 1),
            )
            .generated_body(start, total - start),
        None => Response::generated(total),
    });
    let dest = dir.path().join("f");
    fs::write(&dest, pattern(0, 12_345)).expect("partial");
    let d = dest.to_str().expect("utf8");
    let out = fetch(&["-C", "-", "-o", d, &server.url("/f")]);
    assert_code(&out, 0);
    assert_eq!(fs::read(&dest).expect("read"), pattern(0, total as usize));
    assert_eq!(server.requests()[0].header("Range"), Some("bytes=12345-"));
    // Already complete: 416 with the same size is success, the file untouched.
    let out = fetch(&["-C", "-", "-o", d, &server.url("/f")]);
    assert_code(&out, 0);
    assert_eq!(fs::metadata(&dest).expect("meta").len(), total);
}

/// Writes `partial` to `dest`, then runs `fetch -C - -o dest url`.
fn resume_into(dest: &std::path::Path, partial: &[u8], url: &str) -> Output {
    fs::write(dest, partial).expect("partial");
    fetch(&["-C", "-", "-o", dest.to_str().expect("utf8"), url])
}

#[test]
fn resume_is_correct_when_the_server_ignores_range() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = HttpServer::start(|_| Response::generated(40_000));
    let dest = dir.path().join("f");
    let out = resume_into(&dest, b"garbage that is not the start", &server.url("/f"));
    assert_code(&out, 0);
    assert_eq!(fs::read(&dest).expect("read"), pattern(0, 40_000));
}

#[test]
fn resume_with_a_wrong_content_range_is_exit_33() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = HttpServer::start(|_| {
        Response::status(206)
            .header("Content-Range", "bytes 0-9/10")
            .body("0123456789")
    });
    let dest = dir.path().join("f");
    let out = resume_into(&dest, b"01234", &server.url("/f"));
    assert_code(&out, 33);
    assert_eq!(fs::read(&dest).expect("read"), b"01234", "left alone");
}

#[test]
fn write_out_variables_and_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = HttpServer::start(|_| {
        Response::ok("12345")
            .header("Content-Type", "text/x-test")
            .header("X-A", "1")
    });
    let dest = dir.path().join("w");
    let out = fetch(&[
        "-o",
        dest.to_str().expect("utf8"),
        "-w",
        "%{http_code}|%{content_type}|%{size_download}|%{filename_effective}|%{num_redirects}\\n%{json}",
        &server.url("/w"),
    ]);
    assert_code(&out, 0);
    let stdout = text(&out).0;
    let (line, json) = stdout.split_once('\n').expect("two parts");
    assert_eq!(line, format!("200|text/x-test|5|{}|0", dest.display()));
    let v: serde_json::Value = serde_json::from_str(json).expect("json");
    assert_eq!(v["http_code"], 200);
    assert_eq!(v["size_download"], 5);
    assert_eq!(v["url_effective"], server.url("/w"));
    assert_eq!(v["headers"]["x-a"][0], "1");
    assert!(v["time_total"].as_f64().is_some());
    assert!(v["time_starttransfer"].as_f64() <= v["time_total"].as_f64());
    assert!(v["speed_download"].as_f64().is_some());
}

#[test]
fn verbose_masks_authorization_and_cookie() {
    let server = echo_server();
    let out = fetch(&[
        "-v",
        "-u",
        "alice:s3cret",
        "-H",
        "Cookie: session=topsecret",
        &server.url("/v"),
    ]);
    assert_code(&out, 0);
    let err = text(&out).1;
    assert!(err.contains("> GET /v HTTP/1.1"), "{err}");
    assert!(err.contains("> Authorization: Basic (masked)"), "{err}");
    assert!(err.contains("> Cookie: session=(masked)"), "{err}");
    assert!(err.contains("< HTTP/1.1 200 OK"), "{err}");
    assert!(
        !err.contains("YWxpY2U6czNjcmV0") && !err.contains("topsecret"),
        "{err}"
    );
    let req = server.single_request();
    assert_eq!(req.header("Cookie"), Some("session=topsecret"));
}

#[test]
fn max_time_and_connect_errors_have_curls_codes() {
    let server = HttpServer::start(|req| match req.path() {
        "/stall" => Response::generated(100_000).stall_after(10_000, Duration::from_secs(5)),
        _ => Response::ok("late").delay(Duration::from_secs(5)),
    });
    let out = fetch(&["-m", "0.5", &server.url("/slow")]);
    assert_code(&out, 28);
    let out = fetch(&["-m", "0.5", &server.url("/stall")]);
    assert_code(&out, 28);
    assert_eq!(out.stdout, pattern(0, 10_000), "what arrived was written");
    let port = common::free_port();
    let out = fetch(&[&format!("http://127.0.0.1:{port}/")]);
    assert_code(&out, 7);
    assert!(text(&out).1.contains(&format!("127.0.0.1:{port}")));
    let out = fetch(&["http://nonexistent.invalid/"]);
    assert_code(&out, 6);
    let out = fetch(&["ftp://example.com/x"]);
    assert_code(&out, 3);
    let out = fetch(&["http://[::1/"]);
    assert_code(&out, 3);
}

/// Ctrl-C or SIGTERM mid-download: the file being written (unnamed, or a hidden temporary
/// file where the filesystem has no O_TMPFILE) is gone, no file appears under the target
/// name, an existing target is left as it was, and the exit code is 130.
#[test]
fn an_interrupted_download_leaves_no_temporary_file() {
    let server = HttpServer::start(|_| {
        Response::generated(100_000).stall_after(10_000, Duration::from_secs(30))
    });
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("file.bin");
        fs::write(&target, "previous").expect("write");
        let mut child = postie()
            .args(["fetch", "-s", "-o"])
            .arg(&target)
            .arg(server.url("/big"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn postie");
        let temp_seen = (0..200).any(|_| {
            std::thread::sleep(Duration::from_millis(25));
            writing_in(child.id(), dir.path())
        });
        assert!(temp_seen, "the download started a temporary file");
        std::thread::sleep(Duration::from_millis(200));
        let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid"));
        kill(pid, signal).expect("signal postie");
        let status = child.wait().expect("wait");
        assert_eq!(status.code(), Some(130), "{signal}");
        let left: Vec<_> = fs::read_dir(dir.path())
            .expect("ls")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(left, ["file.bin"], "{signal}: only the old file is left");
        assert_eq!(fs::read(&target).expect("read"), b"previous");
    }
}

#[test]
fn garbage_and_empty_replies_are_errors() {
    let server = HttpServer::start(|req| match req.path() {
        "/garbage" => Response::raw("this is not HTTP at all\r\n\r\n"),
        "/empty" => Response::raw(""),
        _ => Response::ok("x"),
    });
    let out = fetch(&[&server.url("/garbage")]);
    assert_code(&out, 8);
    let out = fetch(&[&server.url("/empty")]);
    assert_code(&out, 52);
}

#[test]
fn retry_honours_retry_after_then_succeeds() {
    let count = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&count);
    let server = HttpServer::start(move |_| {
        if c.fetch_add(1, Ordering::SeqCst) < 2 {
            Response::status(503)
                .header("Retry-After", "0")
                .body("busy")
        } else {
            Response::ok("done")
        }
    });
    let out = fetch(&["--retry", "3", &server.url("/")]);
    assert_code(&out, 0);
    assert_eq!(text(&out).0, "done");
    assert_eq!(server.requests().len(), 3);
    // Without --retry the first answer stands.
    count.store(0, Ordering::SeqCst);
    let out = fetch(&["-f", &server.url("/")]);
    assert_code(&out, 22);
}

#[test]
fn proxies_are_chosen_by_scheme_as_curl_does() {
    // ureq tunnels through an HTTP proxy with CONNECT (for http:// too); the test proxy
    // accepts the tunnel and answers the request inside it.
    let proxy = HttpServer::start(|req| match req.method.as_str() {
        "CONNECT" => Response::status(200),
        _ => Response::ok("via proxy"),
    });
    let origin = HttpServer::start(|_| Response::ok("direct"));
    let target = format!("http://example.test:{}/p", origin.port());
    let out = fetch(&["-x", &proxy.url(""), &target]);
    assert_code(&out, 0);
    assert_eq!(text(&out).0, "via proxy");
    let reqs = proxy.requests();
    assert_eq!(reqs[0].method, "CONNECT");
    assert_eq!(reqs[0].target, format!("example.test:{}", origin.port()));
    assert_eq!(reqs[1].target, "/p");
    assert!(origin.requests().is_empty());

    // https_proxy and ALL_PROXY are not used for http:// when http_proxy says otherwise.
    let out = run(postie()
        .env("https_proxy", "http://127.0.0.1:9")
        .env("ALL_PROXY", "http://127.0.0.1:9")
        .env("http_proxy", proxy.url(""))
        .args(["fetch", &origin.url("/e")]));
    assert_code(&out, 0);
    assert_eq!(text(&out).0, "via proxy");
    let out = run(postie()
        .env("https_proxy", proxy.url(""))
        .args(["fetch", &origin.url("/d")]));
    assert_code(&out, 0);
    assert_eq!(text(&out).0, "direct");
    let out = run(postie().env("http_proxy", proxy.url("")).args([
        "fetch",
        "--noproxy",
        "127.0.0.1",
        &origin.url("/n"),
    ]));
    assert_eq!(text(&out).0, "direct");
    let out = run(postie()
        .env("http_proxy", proxy.url(""))
        .env("no_proxy", "localhost,127.0.0.1")
        .args(["fetch", &origin.url("/n")]));
    assert_eq!(text(&out).0, "direct");
}

#[test]
fn gzip_and_brotli_are_decoded() {
    let text_body = "hello gzip\n".repeat(100);
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(text_body.as_bytes()).expect("gzip");
    let gz = enc.finish().expect("gzip");
    let br = fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/fetch/hello.br"
    ))
    .expect("brotli fixture");
    let server = HttpServer::start(move |req| match req.path() {
        "/gzip" => Response::ok(gz.clone()).header("Content-Encoding", "gzip"),
        "/br" => Response::ok(br.clone()).header("Content-Encoding", "br"),
        _ => Response::ok("not gzip").header("Content-Encoding", "gzip"),
    });
    let out = fetch(&[&server.url("/gzip")]);
    assert_code(&out, 0);
    assert_eq!(text(&out).0, text_body);
    assert!(
        server.requests()[0]
            .header("Accept-Encoding")
            .is_some_and(|v| v.contains("gzip") && v.contains("br"))
    );
    let out = fetch(&[&server.url("/br")]);
    assert_code(&out, 0);
    assert_eq!(text(&out).0, "hello brotli\n".repeat(100));
    let out = fetch(&[&server.url("/broken")]);
    assert_code(&out, 61);
    let out = fetch(&["--raw", &server.url("/raw")]);
    assert_eq!(
        server
            .requests()
            .last()
            .expect("req")
            .header("Accept-Encoding"),
        None
    );
    drop(out);
}

#[test]
fn tls_self_signed_is_rejected_and_cacert_is_accepted() {
    let certs = TestCerts::generate();
    let self_signed = HttpServer::start_tls(certs.self_signed_identity(), |_| Response::ok("s"));
    let out = fetch(&[&self_signed.url("/")]);
    assert_code(&out, 60);
    assert!(text(&out).1.contains("self-signed"), "{}", text(&out).1);
    let out = fetch(&["-k", &self_signed.url("/")]);
    assert_code(&out, 0);

    let signed = HttpServer::start_tls(certs.leaf_identity(), |_| Response::ok("secure"));
    let out = fetch(&[&signed.url("/")]);
    assert_code(&out, 60);
    assert!(text(&out).1.contains("unknown issuer"), "{}", text(&out).1);
    let ca = certs.ca_pem();
    let out = fetch(&["--cacert", ca.to_str().expect("utf8"), &signed.url("/")]);
    assert_code(&out, 0);
    assert_eq!(text(&out).0, "secure");
    // The platform's trust store is used (not roots compiled into the binary), so
    // OpenSSL's SSL_CERT_FILE is honoured as in curl.
    let out = run(postie()
        .env("SSL_CERT_FILE", &ca)
        .args(["fetch", &signed.url("/")]));
    assert_code(&out, 0);
    // A CA file that cannot be read is a clear error, before any connection.
    let out = fetch(&["--cacert", "/nonexistent/ca.pem", &signed.url("/")]);
    assert_code(&out, 26);
}

#[test]
fn cookie_flags_are_accepted_and_the_session_is_finished_after_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = HttpServer::start(|_| Response::status(404).header("Set-Cookie", "id=1; Path=/"));
    let jar = dir.path().join("jar.txt");
    let out = fetch(&[
        "-b",
        "a=1; b=2",
        "-c",
        jar.to_str().expect("utf8"),
        "-j",
        "--discard-session",
        "-f",
        &server.url("/"),
    ]);
    assert_code(&out, 22);
}

#[test]
fn a_200_mb_download_is_streamed_to_disk_intact() {
    const SIZE: u64 = 200 * 1024 * 1024;
    // sha256 of pattern(0, SIZE), computed once outside the test (a debug-build hash of
    // 200 MB would dominate the test's time); `pattern_fill_matches_pattern_byte` and the
    // prefix check below tie it to the pattern.
    const SHA256: &str = "fedc5b3f254c9fc480d1ce2bbfec2f3b5be2969bb0b16d99409bc24a3ba4738f";
    let dir = tempfile::tempdir().expect("tempdir");
    let server = HttpServer::start(|_| Response::generated(SIZE));
    let dest = dir.path().join("big");
    let out = fetch(&[
        "-s",
        "-o",
        dest.to_str().expect("utf8"),
        &server.url("/big"),
    ]);
    assert_code(&out, 0);
    assert_eq!(fs::metadata(&dest).expect("meta").len(), SIZE);
    let mut head = vec![0u8; 100_000];
    fs::File::open(&dest)
        .expect("open")
        .read_exact(&mut head)
        .expect("read");
    assert_eq!(head, pattern(0, 100_000));
    let sum = run(std::process::Command::new("sha256sum").arg(&dest));
    assert!(sum.status.success(), "sha256sum runs");
    assert_eq!(text(&sum).0.split_whitespace().next(), Some(SHA256));
}

#[test]
fn pattern_fill_matches_pattern_byte() {
    let mut buf = vec![0u8; 40_000];
    http_server::pattern_fill(8_000, &mut buf);
    let want: Vec<u8> = (8_000..48_000u64).map(http_server::pattern_byte).collect();
    assert_eq!(buf, want);
}

#[test]
fn relative_output_paths_use_the_current_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = HttpServer::start(|_| Response::ok("rel"));
    let out = fetch_in(dir.path(), &["-o", "r.txt", &server.url("/")]);
    assert_code(&out, 0);
    assert_eq!(
        fs::read_to_string(dir.path().join("r.txt")).expect("read"),
        "rel"
    );
}

/// gunicorn serving httpbin on a free port; killed on drop (even on panic).
struct Httpbin {
    child: std::process::Child,
    port: u16,
}

impl Drop for Httpbin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Httpbin {
    fn start(gunicorn: &std::path::Path) -> Httpbin {
        let port = common::free_port();
        let child = std::process::Command::new(gunicorn)
            .args(["-w", "2", "-b", &format!("127.0.0.1:{port}"), "httpbin:app"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("gunicorn starts");
        let server = Httpbin { child, port };
        assert!(common::wait_for_port(port, 30), "httpbin did not start");
        server
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn json(&self, args: &[&str], path: &str) -> serde_json::Value {
        let mut all: Vec<&str> = args.to_vec();
        let url = self.url(path);
        all.push(&url);
        let out = fetch(&all);
        assert_code(&out, 0);
        serde_json::from_slice(&out.stdout).expect("httpbin answers JSON")
    }
}

#[test]
fn interop_httpbin() {
    let gunicorn = common::venv_bin("gunicorn");
    if !common::require_peer("interop_httpbin", "gunicorn + httpbin", gunicorn.is_some()) {
        return;
    }
    let bin = Httpbin::start(&gunicorn.expect("gunicorn"));
    let dir = tempfile::tempdir().expect("tempdir");

    let v = bin.json(&["-d", "a=1", "--data-urlencode", "b=x y"], "/post");
    assert_eq!(v["form"]["a"], "1");
    assert_eq!(v["form"]["b"], "x y");

    let v = bin.json(&["--json", r#"{"k":[1,2]}"#], "/post");
    assert_eq!(v["json"]["k"][1], 2);
    assert_eq!(v["headers"]["Content-Type"], "application/json");

    let file = dir.path().join("up.txt");
    fs::write(&file, "file content\n").expect("write");
    let part = format!("doc=@{}", file.display());
    let v = bin.json(&["-F", "field=value", "-F", &part], "/post");
    assert_eq!(v["form"]["field"], "value");
    assert_eq!(v["files"]["doc"], "file content\n");

    let out = fetch(&[
        "-w",
        "\n%{num_redirects} %{url_effective}",
        &bin.url("/redirect/3"),
    ]);
    assert_code(&out, 0);
    let (stdout, _) = text(&out);
    assert!(
        stdout.ends_with(&format!("\n3 {}", bin.url("/get"))),
        "{stdout}"
    );

    let v = bin.json(&[], "/gzip");
    assert_eq!(v["gzipped"], true);
    let v = bin.json(&[], "/brotli");
    assert_eq!(v["brotli"], true);

    let v = bin.json(&["-u", "user:passwd"], "/basic-auth/user/passwd");
    assert_eq!(v["authenticated"], true);
    let out = fetch(&[
        "-f",
        "-u",
        "user:wrong",
        &bin.url("/basic-auth/user/passwd"),
    ]);
    assert_code(&out, 22);

    let out = fetch(&["--fail", &bin.url("/status/418")]);
    assert_code(&out, 22);
    assert!(out.stdout.is_empty());
    assert!(text(&out).1.contains("418"));
}

#[test]
fn a_full_disk_is_a_write_error() {
    let server = HttpServer::start(|_| Response::generated(100_000));
    let out = fetch(&["-o", "/dev/full", &server.url("/")]);
    assert_code(&out, 23);
    assert!(text(&out).1.contains("/dev/full"), "{}", text(&out).1);
    let full = fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let out = run(postie().stdout(full).args(["fetch", &server.url("/")]));
    assert_code(&out, 23);
    assert!(text(&out).1.contains("stdout"), "{}", text(&out).1);
}

#[test]
fn a_closed_stdout_pipe_is_a_clean_exit() {
    let server = HttpServer::start(|_| Response::generated(50_000_000));
    let mut child = postie()
        .args(["fetch", &server.url("/")])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0u8; 1000];
    stdout.read_exact(&mut first).expect("some bytes");
    drop(stdout);
    let out = child.wait_with_output().expect("wait");
    assert_code(&out, 0);
    assert!(out.stderr.is_empty(), "{}", text(&out).1);
}

#[test]
fn retry_covers_refused_connections() {
    let port = common::free_port();
    let out = fetch(&["--retry", "1", &format!("http://127.0.0.1:{port}/")]);
    assert_code(&out, 7);
    let err = text(&out).1;
    assert!(err.contains("retrying in 1 s"), "{err}");
}

#[test]
fn a_body_cut_short_on_stdout_is_exit_18() {
    let server = HttpServer::start(|_| Response::generated(10_000).chunked().close_after(4_000));
    let out = fetch(&[&server.url("/")]);
    assert_code(&out, 18);
    assert_eq!(out.stdout, pattern(0, 4_000));
}

#[test]
fn resume_against_an_error_page_keeps_the_partial_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = HttpServer::start(|_| Response::status(404).body("not found page"));
    let dest = dir.path().join("f");
    let out = resume_into(&dest, b"01234", &server.url("/f"));
    assert_code(&out, 22);
    assert_eq!(fs::read(&dest).expect("read"), b"01234");
}

#[test]
fn progress_bar_only_on_a_terminal_and_not_with_silent() {
    let Some(script) = common::which("script") else {
        eprintln!("skipped: progress bar test (needs util-linux `script` for a terminal)");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = HttpServer::start(|_| Response::generated(20_000_000));
    let bin = env!("CARGO_BIN_EXE_postie");
    let dest = dir.path().join("p.bin");
    let on_tty = |extra: &str| {
        let cmd = format!(
            "{bin} fetch {extra} -o {} {} 2>&1",
            dest.display(),
            server.url("/p")
        );
        let out = run(std::process::Command::new(&script).args(["-qec", &cmd, "/dev/null"]));
        assert_code(&out, 0);
        text(&out).0
    };
    let shown = on_tty("");
    assert!(shown.contains("MiB") && shown.contains("ETA"), "{shown:?}");
    let silent = on_tty("-s");
    assert!(!silent.contains("MiB"), "{silent:?}");
    // Not a terminal: nothing on stderr.
    let out = fetch(&["-o", dest.to_str().expect("utf8"), &server.url("/p")]);
    assert_code(&out, 0);
    assert!(out.stderr.is_empty(), "{}", text(&out).1);
}

#[test]
fn unreadable_input_files_are_exit_26_before_any_request() {
    let server = echo_server();
    let url = server.url("/");
    for args in [
        vec!["-F", "up=@/nonexistent/file.bin"],
        vec!["--data-binary", "@/nonexistent/file.bin"],
        vec!["-d", "@/nonexistent/file.bin"],
        vec!["--json", "@/nonexistent/file.bin"],
    ] {
        let mut all = args.clone();
        all.push(&url);
        let out = fetch(&all);
        assert_code(&out, 26);
        let err = text(&out).1;
        assert!(
            err.contains("/nonexistent/file.bin") && err.contains(args[0]),
            "{err}"
        );
    }
    assert!(server.requests().is_empty());
}

// ---- issue 19 (curl/wget habits) and issue 10 (fetch -O, passwords in URLs) ----

fn cookie_server() -> HttpServer {
    HttpServer::start(|_| Response::ok("ok").header("Set-Cookie", "sid=abc; Path=/"))
}

#[test]
fn a_missing_b_file_is_an_empty_jar_that_c_then_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let jar = dir.path().join("jar.txt");
    let server = cookie_server();
    let jar_s = jar.to_str().expect("utf8");
    let out = fetch(&["-v", "-b", jar_s, "-c", jar_s, &server.url("/login")]);
    assert_code(&out, 0);
    assert!(
        text(&out).1.contains("empty cookie jar"),
        "{}",
        text(&out).1
    );
    let written = fs::read_to_string(&jar).expect("jar written");
    assert!(written.contains("\tsid\tabc"), "{written}");
    // The second run sends what the first stored.
    let out = fetch(&["-b", jar_s, "-c", jar_s, &server.url("/next")]);
    assert_code(&out, 0);
    assert_eq!(server.requests()[1].header("Cookie"), Some("sid=abc"));
    // Without -v there is no note; a -b that is a folder stays an error (26).
    let out = fetch(&["-b", "no-such-jar", &server.url("/q")]);
    assert_code(&out, 0);
    assert!(text(&out).1.is_empty(), "{}", text(&out).1);
    let out = fetch(&["-b", dir.path().to_str().expect("utf8"), &server.url("/q")]);
    assert_code(&out, 26);
}

fn irregular_headers_server() -> HttpServer {
    HttpServer::start(|_| {
        Response::ok("body")
            .header("ETag", "\"v1\"")
            .header("WWW-Authenticate", "Basic realm=x")
            .header("Set-Cookie", "a=1")
            .header("X-Request-Id", "7")
    })
}

#[test]
fn header_names_are_never_all_lower_case() {
    let server = irregular_headers_server();
    let dir = tempfile::tempdir().expect("tempdir");
    let dump = dir.path().join("h.txt");
    let wanted = [
        "\nContent-Length: 4\r",
        "\nETag: \"v1\"\r",
        "\nWWW-Authenticate: Basic realm=x\r",
        "\nSet-Cookie: a=1\r",
        "\nX-Request-Id: 7\r",
    ];
    for flag in ["-i", "-I"] {
        let (stdout, _) = text(&fetch(&[flag, &server.url("/")]));
        for w in wanted {
            assert!(stdout.contains(w), "{flag}: {w:?} in {stdout}");
        }
    }
    let out = fetch(&["-D", dump.to_str().expect("utf8"), &server.url("/")]);
    assert_code(&out, 0);
    assert_eq!(out.stdout, b"body", "-D FILE leaves stdout to the body");
    let dumped = fs::read_to_string(&dump).expect("dump");
    for w in wanted {
        assert!(dumped.contains(w), "-D: {w:?} in {dumped}");
    }
    let out = fetch(&["-D", "-", "-o", "/dev/null", &server.url("/")]);
    assert!(
        text(&out).0.starts_with("HTTP/1.1 200 OK\r\n"),
        "{}",
        text(&out).0
    );
    let (_, stderr) = text(&fetch(&["-v", &server.url("/")]));
    assert!(stderr.contains("< ETag: \"v1\"\n"), "{stderr}");
    assert!(stderr.contains("< Content-Length: 4\n"), "{stderr}");
}

#[test]
fn form_parameters_apply_to_plain_values_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hdrs = dir.path().join("h.txt");
    fs::write(&hdrs, "X-A: 1\n# comment\nX-B: 2\n").expect("write");
    let server = echo_server();
    let headers_at = format!("c=val;headers=\"X-H: 1\";headers=@{}", hdrs.display());
    let out = fetch(&[
        "-F",
        "a=hello;type=text/x-foo",
        "-F",
        "b=world;filename=w.txt;type=text/y",
        "-F",
        &headers_at,
        "-F",
        "d=hé llo;encoder=base64",
        "-F",
        "e=\"quoted;semi\";type=text/plain; charset=utf-8",
        "-F",
        "f=1;2",
        &server.url("/f"),
    ]);
    assert_code(&out, 0);
    assert!(
        text(&out).1.contains("unknown form field"),
        "{}",
        text(&out).1
    );
    let body = server.single_request().body_text();
    for part in [
        "name=\"a\"\r\nContent-Type: text/x-foo\r\n\r\nhello\r\n",
        "name=\"b\"; filename=\"w.txt\"\r\nContent-Type: text/y\r\n\r\nworld\r\n",
        "name=\"c\"\r\nX-H: 1\r\nX-A: 1\r\nX-B: 2\r\n\r\nval\r\n",
        "name=\"d\"\r\nContent-Transfer-Encoding: base64\r\n\r\naMOpIGxsbw==\r\n",
        "name=\"e\"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nquoted;semi\r\n",
        "name=\"f\"\r\n\r\n1\r\n",
    ] {
        assert!(body.contains(part), "{part:?} in {body}");
    }
}

#[test]
fn write_out_warns_about_unknown_variables_and_has_curls_new_ones() {
    let server = HttpServer::start(|req| match req.path() {
        "/r" => Response::redirect(302, "/target"),
        _ => Response::ok("12345").header("Content-Type", "text/x-w"),
    });
    let format = "%{nope}|%{remote_ip}|%{remote_port}|%{local_ip}|%{urlnum}|%{exitcode}|\
                  %{redirect_url}|%{content_type}|%header{content-TYPE}|%{size_header}|\
                  %{size_request}|%{time_namelookup}|%{time_connect}|%{time_appconnect}|\
                  %{time_pretransfer}\\n";
    let out = fetch(&[
        "--no-follow",
        "-o",
        "/dev/null",
        "-o",
        "/dev/null",
        "-w",
        format,
        &server.url("/r"),
        &server.url("/x"),
    ]);
    assert_code(&out, 0);
    let (stdout, stderr) = text(&out);
    assert!(stderr.contains("%{nope}"), "{stderr}");
    let lines: Vec<Vec<&str>> = stdout.lines().map(|l| l.split('|').collect()).collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    let port = server.port().to_string();
    let (a, b) = (&lines[0], &lines[1]);
    assert_eq!(
        &a[..8],
        [
            "",
            "127.0.0.1",
            &port,
            "127.0.0.1",
            "0",
            "0",
            &server.url("/target"),
            ""
        ]
    );
    assert_eq!(
        &b[..9],
        [
            "",
            "127.0.0.1",
            &port,
            "127.0.0.1",
            "1",
            "0",
            "",
            "text/x-w",
            "text/x-w"
        ]
    );
    let size_header: u64 = b[9].parse().expect("size_header");
    assert!(size_header > 40, "{size_header}");
    let size_request: u64 = b[10].parse().expect("size_request");
    assert!(size_request > 40, "{size_request}");
    let times: Vec<f64> = a[11..].iter().map(|t| t.parse().expect("time")).collect();
    assert!(times[0] > 0.0 && times[1] >= times[0], "{times:?}");
    assert_eq!(times[2], 0.0, "no TLS on http://");
    assert!(times[3] >= times[1], "{times:?}");
    // A failure: exitcode and errormsg.
    let out = fetch(&["-w", "%{exitcode}|%{errormsg}", "http://127.0.0.1:9/x"]);
    assert_code(&out, 7);
    assert!(
        text(&out)
            .0
            .starts_with("7|http://127.0.0.1:9/x: could not connect"),
        "{}",
        text(&out).0
    );
}

#[test]
fn remote_name_with_a_file_name_suggests_o() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = HttpServer::start(|_| Response::ok("page"));
    let out = fetch_in(dir.path(), &["-O", "page.html", &server.url("/index.html")]);
    assert_code(&out, 23);
    let stderr = text(&out).1;
    assert!(stderr.contains("use -o page.html"), "{stderr}");
    assert_eq!(
        fs::read(dir.path().join("index.html")).expect("saved"),
        b"page"
    );
}

#[test]
fn remote_name_follows_the_given_url_and_never_replaces_a_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = HttpServer::start(|req| match req.path() {
        "/get.sh" => Response::redirect(302, "/.bashrc"),
        _ => Response::ok("evil"),
    });
    fs::write(dir.path().join(".bashrc"), "mine").expect("write");
    let out = fetch_in(dir.path(), &["-O", &server.url("/get.sh")]);
    assert_code(&out, 0);
    assert_eq!(fs::read(dir.path().join(".bashrc")).expect("kept"), b"mine");
    assert_eq!(fs::read(dir.path().join("get.sh")).expect("named"), b"evil");
    // A second run does not replace get.sh (23, before connecting) unless --clobber.
    let before = server.requests().len();
    let out = fetch_in(dir.path(), &["-O", &server.url("/get.sh")]);
    assert_code(&out, 23);
    assert!(text(&out).1.contains("--clobber"), "{}", text(&out).1);
    assert_eq!(server.requests().len(), before);
    fs::write(dir.path().join("get.sh"), "old").expect("write");
    let out = fetch_in(dir.path(), &["-O", "--clobber", &server.url("/get.sh")]);
    assert_code(&out, 0);
    assert_eq!(
        fs::read(dir.path().join("get.sh")).expect("replaced"),
        b"evil"
    );
}

#[test]
fn header_files_send_one_header_per_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("h.txt");
    fs::write(&file, "X-One: 1\r\n\nX-Two: two words\n").expect("write");
    let server = echo_server();
    let at = format!("@{}", file.display());
    let out = fetch(&["-H", &at, "-H", "X-Three: 3", &server.url("/h")]);
    assert_code(&out, 0);
    let req = server.single_request();
    assert_eq!(req.header("X-One"), Some("1"));
    assert_eq!(req.header("X-Two"), Some("two words"));
    assert_eq!(req.header("X-Three"), Some("3"));
    let out = common::run_with_stdin(
        postie().args(["fetch", "-H", "@-", &server.url("/s")]),
        b"X-Stdin: yes\n",
    );
    assert_code(&out, 0);
    assert_eq!(server.requests()[1].header("X-Stdin"), Some("yes"));
}

#[test]
fn bearer_tokens_come_from_env_file_or_command_and_are_masked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("tok");
    fs::write(&file, "tok-file\n").expect("write");
    let server = echo_server();
    let out = run(postie().env("TOKEN_VAR", "tok-env").args([
        "fetch",
        "-v",
        "--bearer-env",
        "TOKEN_VAR",
        &server.url("/a"),
    ]));
    assert_code(&out, 0);
    let stderr = text(&out).1;
    assert!(
        stderr.contains("Authorization: Bearer (masked)"),
        "{stderr}"
    );
    assert!(!stderr.contains("tok-env"), "{stderr}");
    let f = file.to_str().expect("utf8");
    assert_code(&fetch(&["--bearer-file", f, &server.url("/b")]), 0);
    assert_code(
        &fetch(&["--bearer-command", "echo tok-cmd", &server.url("/c")]),
        0,
    );
    assert_code(
        &fetch(&["--oauth2-bearer", "tok-argv", &server.url("/d")]),
        0,
    );
    let got: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.header("Authorization").unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        got,
        [
            "Bearer tok-env",
            "Bearer tok-file",
            "Bearer tok-cmd",
            "Bearer tok-argv"
        ]
    );
    let out = fetch(&["--bearer-env", "POSTIE_SURELY_UNSET", &server.url("/e")]);
    assert!(
        text(&out).1.contains("--bearer-env POSTIE_SURELY_UNSET"),
        "{}",
        text(&out).1
    );
}

#[test]
fn proxy_user_takes_the_password_sources_of_u() {
    let proxy = HttpServer::start(|req| match req.method.as_str() {
        "CONNECT" => Response::status(200),
        _ => Response::ok("via proxy"),
    });
    let out = run(postie().env("PROXY_PW", "p@ss word").args([
        "fetch",
        "-x",
        &proxy.url(""),
        "-U",
        "bob",
        "--proxy-password-env",
        "PROXY_PW",
        "http://example.test/p",
    ]));
    assert_code(&out, 0);
    let connect = &proxy.requests()[0];
    assert_eq!(connect.method, "CONNECT");
    use base64::Engine as _;
    let expected = base64::engine::general_purpose::STANDARD.encode("bob:p@ss word");
    assert_eq!(
        connect.header("Proxy-Authorization"),
        Some(format!("Basic {expected}").as_str())
    );
}

#[test]
fn create_dirs_no_clobber_and_remote_time_on_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = HttpServer::start(|_| {
        Response::ok("new").header("Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT")
    });
    let deep = dir.path().join("a/b/c.txt");
    let deep_s = deep.to_str().expect("utf8");
    let out = fetch(&["-o", deep_s, &server.url("/c")]);
    assert_code(&out, 23);
    let out = fetch(&["--create-dirs", "-R", "-o", deep_s, &server.url("/c")]);
    assert_code(&out, 0);
    assert_eq!(fs::read(&deep).expect("saved"), b"new");
    let mtime = fs::metadata(&deep)
        .expect("meta")
        .modified()
        .expect("mtime");
    let secs = mtime
        .duration_since(std::time::UNIX_EPOCH)
        .expect("epoch")
        .as_secs();
    assert_eq!(secs, 784_111_777);
    // -nc: the existing file is kept, the URL skipped and reported, exit 0.
    fs::write(&deep, "mine").expect("write");
    let before = server.requests().len();
    let out = fetch(&["-nc", "-o", deep_s, &server.url("/c")]);
    assert_code(&out, 0);
    assert!(text(&out).1.contains("not retrieving"), "{}", text(&out).1);
    assert_eq!(fs::read(&deep).expect("kept"), b"mine");
    assert_eq!(server.requests().len(), before);
    // --create-dirs makes --output-dir too.
    let out_dir = dir.path().join("x/y");
    let out = fetch(&[
        "--create-dirs",
        "--output-dir",
        out_dir.to_str().expect("utf8"),
        "-O",
        &server.url("/d.txt"),
    ]);
    assert_code(&out, 0);
    assert_eq!(fs::read(out_dir.join("d.txt")).expect("saved"), b"new");
    // -nc with -J: the name comes with the response; an existing file is skipped then.
    let cd = HttpServer::start(|_| {
        Response::ok("new").header("Content-Disposition", "attachment; filename=\"cd.txt\"")
    });
    fs::write(out_dir.join("cd.txt"), "mine").expect("write");
    let out = fetch(&[
        "-nc",
        "-OJ",
        "--output-dir",
        out_dir.to_str().expect("utf8"),
        &cd.url("/x"),
    ]);
    assert_code(&out, 0);
    assert!(text(&out).1.contains("not retrieving"), "{}", text(&out).1);
    assert_eq!(fs::read(out_dir.join("cd.txt")).expect("kept"), b"mine");
}

#[test]
fn passwords_in_urls_are_masked_in_verbose_errors_and_write_out() {
    let server = HttpServer::start(|req| match req.path() {
        "/r" => Response::redirect(302, "/final"),
        _ => Response::ok("x"),
    });
    let url = server.url("/r").replace("http://", "http://user:s3cr3t@");
    let out = fetch(&["-v", "-w", "%{url_effective} %{json}", &url]);
    assert_code(&out, 0);
    let (stdout, stderr) = text(&out);
    assert_eq!(
        server.requests()[0].header("Authorization"),
        Some("Basic dXNlcjpzM2NyM3Q="),
        "the password is still sent"
    );
    for shown in [&stdout, &stderr] {
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }
    assert!(stdout.contains("user:***@"), "{stdout}");
    // A URL without a scheme is refused (postie reads `user:` as a scheme), still masked.
    let out = fetch(&[
        "user:s3cr3t@127.0.0.1:9/y",
        "http://user:s3cr3t@127.0.0.1:9/x",
    ]);
    assert_code(&out, 7);
    assert!(
        text(&out).1.contains("postie: user:***@127.0.0.1:9/y"),
        "{}",
        text(&out).1
    );
    let stderr = text(&out).1;
    assert!(!stderr.contains("s3cr3t"), "{stderr}");
    assert!(stderr.contains("user:***@127.0.0.1:9"), "{stderr}");
}

// ---- curl 7.88 (and wget for -nc) as the oracle, on the same in-process servers ----

fn curl(args: &[&str], dir: &std::path::Path) -> Output {
    run(std::process::Command::new("curl")
        .current_dir(dir)
        .args(args))
}

/// The lines of `text` a case-sensitive `grep '^NAME:'` finds, for the names scripts grep.
fn grepped(text: &str) -> Vec<String> {
    let names = [
        "Content-Length:",
        "Content-Type:",
        "ETag:",
        "WWW-Authenticate:",
        "Set-Cookie:",
    ];
    text.lines()
        .filter(|l| names.iter().any(|n| l.starts_with(n)))
        .map(|l| l.trim_end().to_owned())
        .collect()
}

/// A multipart body with its boundary replaced, for comparing two clients' bytes.
fn unbounded(req: &Request) -> String {
    let ct = req.header("Content-Type").unwrap_or("");
    let boundary = ct.split("boundary=").nth(1).unwrap_or("none");
    req.body_text().replace(boundary, "BOUNDARY")
}

#[test]
fn interop_curl_is_the_oracle_for_issue_19() {
    let have = common::which("curl").is_some() && common::which("wget").is_some();
    if !common::require_peer(
        "interop_curl_is_the_oracle_for_issue_19",
        "curl, wget",
        have,
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let server = HttpServer::start(|req| match req.path() {
        "/r" => Response::redirect(302, "/target"),
        _ => Response::ok("body\n")
            .header("Content-Type", "text/plain")
            .header("ETag", "\"v1\"")
            .header("WWW-Authenticate", "Basic realm=x")
            .header("Set-Cookie", "sid=abc; Path=/")
            .header("Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT"),
    });
    let url = server.url("/page.txt");

    // The jar on the first run.
    for (tool, jar) in [("curl", "c.jar"), ("postie", "p.jar")] {
        let args = ["-s", "-b", jar, "-c", jar, "-o", "/dev/null", url.as_str()];
        let out = if tool == "curl" {
            curl(&args, d)
        } else {
            fetch_in(d, &args)
        };
        assert_code(&out, 0);
    }
    let cookie_lines = |f: &str| -> Vec<String> {
        let text = fs::read_to_string(d.join(f)).expect("jar written");
        text.lines()
            .filter(|l| !l.is_empty() && (!l.starts_with('#') || l.starts_with("#HttpOnly_")))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(cookie_lines("p.jar"), cookie_lines("c.jar"));

    // Header lines a case-sensitive grep finds, for -i, -I, -D - and -v.
    for flags in [&["-i"][..], &["-I"], &["-D", "-", "-o", "/dev/null"]] {
        let mut args = vec!["-s"];
        args.extend_from_slice(flags);
        args.push(&url);
        let (c, p) = (curl(&args, d), fetch_in(d, &args));
        assert_eq!(grepped(&text(&p).0), grepped(&text(&c).0), "{flags:?}");
        assert_eq!(grepped(&text(&p).0).len(), 5, "{flags:?}");
    }
    let strip = |s: String| {
        s.lines()
            .filter_map(|l| l.strip_prefix("< "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let (c, p) = (curl(&["-sv", &url], d), fetch_in(d, &["-v", &url]));
    let (c, p) = (strip(text(&c).1), strip(text(&p).1));
    assert_eq!(grepped(&p).len(), 5, "{p}");
    assert!(
        grepped(&p)
            .iter()
            .all(|l| grepped(&c).contains(l) || l.starts_with("Set-Cookie")),
        "{p}\n{c}"
    );

    // The multipart part's bytes.
    let hdrs = d.join("parth.txt");
    fs::write(&hdrs, "X-A: 1\nX-B: 2\n").expect("write");
    let with_headers = format!("c=val;headers=\"X-H: 1\";headers=@{}", hdrs.display());
    let form = [
        "-F",
        "a=hello;type=text/x-foo",
        "-F",
        "b=world;filename=w.txt;type=text/y",
        "-F",
        with_headers.as_str(),
        "-F",
        "d=hé llo;encoder=base64",
        "-F",
        "e=\"quoted;semi\";type=text/plain; charset=utf-8",
        "-F",
        "g=x;encoder=8bit;filename=g.txt",
    ];
    let form_server = echo_server();
    let mut args = vec!["-s", "-o", "/dev/null"];
    args.extend_from_slice(&form);
    let form_url = form_server.url("/f");
    args.push(&form_url);
    assert_code(&curl(&args, d), 0);
    assert_code(&fetch_in(d, &args), 0);
    let reqs = form_server.requests();
    assert_eq!(unbounded(&reqs[1]), unbounded(&reqs[0]));

    // -w: the output and the warning for an unknown variable.
    let format = "%{http_code}|%{nope}|%{content_type}|%header{etag}|%{size_download}|\
                  %{num_redirects}|%{redirect_url}|%{remote_ip}|%{remote_port}|%{local_ip}|\
                  %{urlnum}|%{exitcode}|%{errormsg}|%{size_header}\\n";
    let r = server.url("/r");
    let args = [
        "-s",
        "--no-follow",
        "-o",
        "/dev/null",
        "-o",
        "/dev/null",
        "-w",
        format,
        r.as_str(),
        url.as_str(),
    ];
    let c = curl(
        &args[..1]
            .iter()
            .chain(&args[2..])
            .copied()
            .collect::<Vec<_>>(),
        d,
    );
    let p = fetch_in(d, &args);
    assert_eq!(text(&p).0, text(&c).0);
    assert!(
        text(&c).1.contains("nope") && text(&p).1.contains("nope"),
        "{}",
        text(&p).1
    );
    let args = [
        "-s",
        "-w",
        "%{http_code}|%{exitcode}|%{remote_port}|%{urlnum}",
        "http://127.0.0.1:9/",
    ];
    let (c, p) = (curl(&args, d), fetch_in(d, &args));
    assert_eq!(text(&p).0, text(&c).0);

    // -H @file: the headers arrive, as curl's.
    let hfile = d.join("h.txt");
    fs::write(&hfile, "X-One: 1\nX-Two: two words\n").expect("write");
    let at = format!("@{}", hfile.display());
    let hserver = echo_server();
    let hurl = hserver.url("/h");
    assert_code(&curl(&["-s", "-H", &at, &hurl], d), 0);
    assert_code(&fetch_in(d, &["-s", "-H", &at, &hurl]), 0);
    let reqs = hserver.requests();
    for name in ["X-One", "X-Two"] {
        assert_eq!(reqs[1].header(name), reqs[0].header(name));
        assert!(reqs[1].header(name).is_some());
    }

    // --create-dirs and -R on disk, as curl; -nc as wget.
    for (tool, out) in [("curl", "c/x/y.txt"), ("postie", "p/x/y.txt")] {
        let args = ["-s", "--create-dirs", "-R", "-o", out, url.as_str()];
        let o = if tool == "curl" {
            curl(&args, d)
        } else {
            fetch_in(d, &args)
        };
        assert_code(&o, 0);
    }
    let meta = |p: &str| fs::metadata(d.join(p)).expect("written");
    assert_eq!(
        meta("p/x/y.txt").modified().ok(),
        meta("c/x/y.txt").modified().ok()
    );
    assert_eq!(
        fs::read(d.join("p/x/y.txt")).ok(),
        fs::read(d.join("c/x/y.txt")).ok()
    );
    fs::write(d.join("page.txt"), "mine").expect("write");
    let w = run(std::process::Command::new("wget")
        .current_dir(d)
        .args(["-q", "-nc", &url]));
    assert_eq!(w.status.code(), Some(0));
    assert_code(&fetch_in(d, &["-nc", "-O", &url]), 0);
    assert_eq!(fs::read(d.join("page.txt")).expect("kept"), b"mine");
}

#[test]
fn write_out_times_tls_after_tcp_on_https() {
    let certs = TestCerts::generate();
    let server = HttpServer::start_tls(certs.self_signed_identity(), |_| Response::ok("s"));
    let format = "%{time_namelookup} %{time_connect} %{time_appconnect} %{time_pretransfer} %{time_starttransfer} %{remote_port}";
    let out = fetch(&["-k", "-o", "/dev/null", "-w", format, &server.url("/")]);
    assert_code(&out, 0);
    let stdout = text(&out).0;
    let f: Vec<f64> = stdout
        .split(' ')
        .map(|t| t.parse().expect("number"))
        .collect();
    assert!(
        f[0] > 0.0 && f[0] <= f[1] && f[1] < f[2] && f[2] <= f[3] && f[3] <= f[4],
        "{stdout}"
    );
    assert_eq!(f[5], f64::from(server.port()));
}

/// Whether process `pid` has a file open in `dir` that is not yet named there: an
/// O_TMPFILE file (`/proc` shows `DIR/#INODE (deleted)`) or a hidden `.tmp` file.
fn writing_in(pid: u32, dir: &std::path::Path) -> bool {
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.filter_map(Result::ok).any(|fd| {
        fs::read_link(fd.path()).is_ok_and(|target| {
            let name = target.to_string_lossy();
            target.starts_with(dir) && (name.ends_with(" (deleted)") || name.ends_with(".tmp"))
        })
    })
}
