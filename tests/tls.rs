//! Stalled transfers and client TLS (issue 19): `fetch -Y/-y/--idle-timeout` and retries that
//! resume after a stall, against the in-process HTTP server; client certificates, pins and
//! `--show-cert` for fetch, send and pop3 against the in-process OpenSSL server
//! (tests/support/tls_server.rs); with POSTIE_INTEROP=1, nginx with `ssl_verify_client on`,
//! with curl 7.88 as the oracle for the same pins and certificates.

#[path = "support/certs.rs"]
mod certs;
#[path = "support/common.rs"]
mod common;
#[path = "support/http_server.rs"]
mod http_server;
#[path = "support/tls_server.rs"]
mod tls_server;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use certs::{Certs, ClientCerts};
use common::{interop_enabled, postie, run, text};
use http_server::{HttpServer, Response, pattern};
use tls_server::{Proto, TlsServer};

#[track_caller]
fn assert_code(out: &Output, code: i32) {
    let (o, e) = text(out);
    assert_eq!(out.status.code(), Some(code), "stdout: {o}\nstderr: {e}");
}

fn fetch(args: &[&str]) -> Output {
    run(postie().arg("fetch").args(args))
}

// ---- stalls --------------------------------------------------------------------------

#[test]
fn a_body_that_stops_mid_way_ends_with_28_within_the_speed_window() {
    let server = HttpServer::start(|_| {
        Response::generated(100_000).stall_after(1000, Duration::from_secs(30))
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("out.bin");
    let start = Instant::now();
    let out = fetch(&[
        "-sS",
        "-Y",
        "1000",
        "-y",
        "2",
        "-o",
        dest.to_str().expect("utf-8"),
        &server.url("/"),
    ]);
    let took = start.elapsed();
    assert_code(&out, 28);
    assert!(took < Duration::from_secs(8), "took {took:?}");
    assert!(took >= Duration::from_secs(2), "gave up early: {took:?}");
    assert!(text(&out).1.contains("stalled"), "{}", text(&out).1);
    assert!(!dest.exists(), "no partial file is left without --retry");
}

#[test]
fn a_server_that_goes_quiet_ends_with_28_after_the_idle_timeout() {
    let server = HttpServer::start(|_| {
        Response::generated(100_000).stall_after(1000, Duration::from_secs(30))
    });
    let start = Instant::now();
    let out = fetch(&[
        "-sS",
        "--idle-timeout",
        "1",
        "-o",
        "/dev/null",
        &server.url("/"),
    ]);
    let took = start.elapsed();
    assert_code(&out, 28);
    assert!(took < Duration::from_secs(6), "took {took:?}");
    assert!(text(&out).1.contains("--idle-timeout"), "{}", text(&out).1);
}

/// A raw server that sends headers for `len` bytes, then `chunk` bytes every `every`.
fn trickle_server(len: usize, chunk: usize, every: Duration) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for mut tcp in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut r = BufReader::new(tcp.try_clone().expect("clone"));
                let mut line = String::new();
                while r.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    line.clear();
                }
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n");
                let _ = tcp.write_all(head.as_bytes());
                for _ in 0..len / chunk {
                    if tcp.write_all(&vec![b'x'; chunk]).is_err() {
                        return;
                    }
                    std::thread::sleep(every);
                }
            });
        }
    });
    port
}

#[test]
fn a_trickle_below_the_speed_limit_ends_with_28() {
    // 50 bytes every 100 ms = 500 B/s, below -Y 2000, but never silent for a whole second.
    let port = trickle_server(100_000, 50, Duration::from_millis(100));
    let url = format!("http://127.0.0.1:{port}/");
    let start = Instant::now();
    let out = fetch(&["-sS", "-Y", "2000", "-y", "2", "-o", "/dev/null", &url]);
    let took = start.elapsed();
    assert_code(&out, 28);
    assert!(took < Duration::from_secs(8), "took {took:?}");
    assert!(
        text(&out).1.contains("slower than 2000 bytes/s"),
        "{}",
        text(&out).1
    );
    // Above the limit, the same trickle is fine until the idle timeout (never reached).
    let out = fetch(&[
        "-sS",
        "-Y",
        "100",
        "-y",
        "2",
        "-m",
        "3",
        "-o",
        "/dev/null",
        &url,
    ]);
    assert!(text(&out).1.contains("--max-time"), "{}", text(&out).1);
}

const SIZE: u64 = 200_000;
const CUT: u64 = 50_000;

/// A server whose first answer stalls after CUT bytes; later answers come from `again`.
fn stalling_server(again: fn(Option<u64>) -> Response) -> HttpServer {
    let first = std::sync::atomic::AtomicBool::new(true);
    HttpServer::start(move |req| {
        if first.swap(false, std::sync::atomic::Ordering::SeqCst) {
            return Response::generated(SIZE)
                .header("ETag", "\"v1\"")
                .stall_after(CUT, Duration::from_secs(30));
        }
        again(req.range_start())
    })
}

fn honour_range(start: Option<u64>) -> Response {
    match start {
        Some(n) => Response::status(206)
            .header("Content-Range", &format!("bytes {n}-{}/{SIZE}", SIZE - 1))
            .generated_body(n, SIZE - n),
        None => Response::generated(SIZE),
    }
}

#[test]
fn a_retry_after_a_stall_resumes_with_range_into_the_file() {
    let server = stalling_server(honour_range);
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("out.bin");
    let out = fetch(&[
        "-sS",
        "--retry",
        "2",
        "--idle-timeout",
        "1",
        "-o",
        dest.to_str().expect("utf-8"),
        &server.url("/f"),
    ]);
    assert_code(&out, 0);
    assert!(
        std::fs::read(&dest).expect("file") == pattern(0, SIZE as usize),
        "file differs"
    );
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].range_start(), Some(CUT));
    assert_eq!(reqs[1].header("If-Range"), Some("\"v1\""));
}

#[test]
fn a_retry_after_a_stall_resumes_on_stdout() {
    let server = stalling_server(honour_range);
    let out = fetch(&[
        "-sS",
        "--retry",
        "1",
        "--idle-timeout",
        "1",
        &server.url("/f"),
    ]);
    assert_code(&out, 0);
    assert!(out.stdout == pattern(0, SIZE as usize), "stdout differs");
}

#[test]
fn a_retry_starts_the_file_over_when_the_server_ignores_range() {
    let server = stalling_server(|_| Response::generated(SIZE));
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("out.bin");
    let out = fetch(&[
        "-sS",
        "--retry",
        "1",
        "--idle-timeout",
        "1",
        "-o",
        dest.to_str().expect("utf-8"),
        &server.url("/f"),
    ]);
    assert_code(&out, 0);
    assert!(
        std::fs::read(&dest).expect("file") == pattern(0, SIZE as usize),
        "file differs"
    );
    // On stdout, what was written cannot be taken back: a clear error, not a doubled body.
    let server = stalling_server(|_| Response::generated(SIZE));
    let out = fetch(&[
        "-sS",
        "--retry",
        "1",
        "--idle-timeout",
        "1",
        &server.url("/f"),
    ]);
    assert_code(&out, 18);
    assert!(
        text(&out).1.contains("whole body again"),
        "{}",
        text(&out).1
    );
}

// ---- client certificates, pins, --show-cert --------------------------------------------

fn path(p: &std::path::Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The pin of a PEM certificate, by the openssl pipeline curl's documentation gives.
fn openssl_pin(cert: &std::path::Path) -> String {
    let script = format!(
        "openssl x509 -in '{}' -pubkey -noout | openssl pkey -pubin -outform der | \
         openssl dgst -sha256 -binary | openssl enc -base64",
        path(cert)
    );
    let out = Command::new("sh")
        .args(["-c", &script])
        .output()
        .expect("sh");
    assert!(out.status.success());
    format!("sha256//{}", String::from_utf8_lossy(&out.stdout).trim())
}

fn show_cert_pin(url: &str, extra: &[&str]) -> String {
    let out = run(postie().args(["fetch", "--show-cert"]).args(extra).arg(url));
    assert_code(&out, 0);
    let stdout = text(&out).0;
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("--pinnedpubkey '"))
        .unwrap_or_else(|| panic!("no pin line in {stdout}"));
    line.trim_end_matches('\'').to_owned()
}

const WRONG_PIN: &str = "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

#[test]
fn fetch_presents_a_client_certificate_when_the_server_demands_it() {
    let certs = Certs::make();
    let client = ClientCerts::make(&certs);
    let server = TlsServer::start(&certs.cert, &certs.key, Some(&certs.ca), Proto::Http);
    let url = server.url("https");
    let base = ["-sS", "--cacert", path(&certs.ca)];
    let out = fetch(&[&base[..], &[&url]].concat());
    assert_ne!(out.status.code(), Some(0), "refused without a certificate");
    assert!(out.stdout.is_empty());
    let out = fetch(
        &[
            &base[..],
            &[
                "--cert",
                path(&client.cert),
                "--key",
                path(&client.key),
                &url,
            ],
        ]
        .concat(),
    );
    assert_code(&out, 0);
    assert_eq!(text(&out).0, "hello postie client\n");
    let p12 = format!("{}:env:P12_PASS", path(&client.p12));
    let out = run(postie()
        .args(["fetch"])
        .args(base)
        .args(["--cert", &p12, &url])
        .env("P12_PASS", ClientCerts::PASSPHRASE));
    assert_code(&out, 0);
    assert_eq!(server.counts(3), (2, 1));
}

#[test]
fn an_encrypted_key_takes_its_pass_phrase_from_a_source_never_from_argv() {
    let certs = Certs::make();
    let client = ClientCerts::make(&certs);
    let server = TlsServer::start(&certs.cert, &certs.key, Some(&certs.ca), Proto::Http);
    let url = server.url("https");
    let key = ["--key", path(&client.key_encrypted)];
    let cert = path(&client.cert);
    let out = fetch(
        &[
            &["-sS", "--cacert", path(&certs.ca), "--cert", cert],
            &key[..],
            &[&url],
        ]
        .concat(),
    );
    assert_code(&out, 58);
    assert!(text(&out).1.contains("encrypted"), "{}", text(&out).1);
    let pass_file = certs.dir.path().join("pass.txt");
    std::fs::write(&pass_file, format!("{}\n", ClientCerts::PASSPHRASE)).expect("write");
    let with_file = format!("{cert}:file:{}", path(&pass_file));
    let out = fetch(
        &[
            &["-sS", "--cacert", path(&certs.ca), "--cert", &with_file],
            &key[..],
            &[&url],
        ]
        .concat(),
    );
    assert_code(&out, 0);
    assert_eq!(text(&out).0, "hello postie client\n");
    let on_argv = format!("{cert}:{}", ClientCerts::PASSPHRASE);
    let out = fetch(
        &[
            &["-sS", "--cacert", path(&certs.ca), "--cert", &on_argv],
            &key[..],
            &[&url],
        ]
        .concat(),
    );
    assert_code(&out, 2);
    assert!(text(&out).1.contains("not accepted"), "{}", text(&out).1);
    assert!(
        !text(&out).1.contains(ClientCerts::PASSPHRASE),
        "the secret is not echoed"
    );
}

#[test]
fn show_cert_prints_the_pin_and_pinnedpubkey_checks_it_with_exit_90() {
    let certs = Certs::make();
    let server = TlsServer::start(&certs.cert, &certs.key, None, Proto::Http);
    let url = server.url("https");
    let out = run(postie().args(["fetch", "--show-cert", "--cacert", path(&certs.ca), &url]));
    assert_code(&out, 0);
    let stdout = text(&out).0;
    assert!(
        stdout.contains("0 subject: CN=localhost\n  issuer: CN=postie test CA\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 subject: CN=postie test CA") || !stdout.contains("1 subject"),
        "{stdout}"
    );
    assert!(stdout.contains("verify: ok"), "{stdout}");
    let pin = show_cert_pin(&url, &["--cacert", path(&certs.ca)]);
    assert_eq!(
        pin,
        openssl_pin(&certs.cert),
        "the same pin as curl's recipe"
    );
    let ok = fetch(&[
        "-sS",
        "--cacert",
        path(&certs.ca),
        "--pinnedpubkey",
        &pin,
        &url,
    ]);
    assert_code(&ok, 0);
    assert_eq!(text(&ok).0, "hello anonymous\n");
    let both = format!("{WRONG_PIN};{pin}");
    assert_code(
        &fetch(&[
            "-sS",
            "--cacert",
            path(&certs.ca),
            "--pinnedpubkey",
            &both,
            &url,
        ]),
        0,
    );
    let bad = fetch(&[
        "-sS",
        "--cacert",
        path(&certs.ca),
        "--pinnedpubkey",
        WRONG_PIN,
        &url,
    ]);
    assert_code(&bad, 90);
    assert!(bad.stdout.is_empty());
    assert!(
        text(&bad).1.contains(&pin),
        "names the server's pin: {}",
        text(&bad).1
    );
}

#[test]
fn a_pin_is_checked_even_with_insecure_and_show_cert_reports_a_failed_verification() {
    let certs = Certs::make();
    let server = TlsServer::start(
        &certs.self_signed_cert,
        &certs.self_signed_key,
        None,
        Proto::Http,
    );
    let url = server.url("https");
    let out = run(postie().args(["fetch", "--show-cert", &url]));
    assert_code(&out, 0);
    assert!(
        text(&out).0.contains("verify: FAILED (self-signed"),
        "{}",
        text(&out).0
    );
    assert_code(
        &fetch(&["-sS", "-k", "--pinnedpubkey", WRONG_PIN, &url]),
        90,
    );
    let pin = openssl_pin(&certs.self_signed_cert);
    assert_code(&fetch(&["-sS", "-k", "--pinnedpubkey", &pin, &url]), 0);
}

fn send(server: &TlsServer, certs: &Certs, extra: &[&str]) -> Output {
    run(postie()
        .args([
            "send",
            "--server",
            &format!("smtps://localhost:{}", server.port),
        ])
        .args(["--cacert", path(&certs.ca)])
        .args([
            "--from",
            "ann@example.org",
            "--to",
            "bob@example.org",
            "--subject",
            "hi",
            "--body",
            "hello",
        ])
        .args(extra)
        .env("HOME", "/nonexistent-postie-home")
        .env_remove("XDG_CONFIG_HOME")
        .stdin(std::process::Stdio::null()))
}

#[test]
fn send_presents_the_client_certificate_and_checks_the_pin() {
    let certs = Certs::make();
    let client = ClientCerts::make(&certs);
    let server = TlsServer::start(&certs.cert, &certs.key, Some(&certs.ca), Proto::Smtp);
    let pin = openssl_pin(&certs.cert);
    let cert = ["--cert", path(&client.cert), "--key", path(&client.key)];
    assert_code(
        &send(
            &server,
            &certs,
            &[&cert[..], &["--pinnedpubkey", &pin]].concat(),
        ),
        0,
    );
    assert_code(
        &send(
            &server,
            &certs,
            &[&cert[..], &["--pinnedpubkey", WRONG_PIN]].concat(),
        ),
        90,
    );
    let without = send(&server, &certs, &[]);
    assert_ne!(without.status.code(), Some(0));
    assert_eq!(server.counts(3), (2, 1));
}

fn pop3(server: &TlsServer, extra: &[&str], home: &std::path::Path) -> Output {
    run(postie()
        .args(["pop3", "stat", "--user", "u", "--password-env", "POP_PW"])
        .args(extra)
        .env("POP_PW", "pw")
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .arg("--server")
        .arg(format!("pop3s://localhost:{}", server.port)))
}

#[test]
fn pop3_presents_the_client_certificate_and_checks_the_pin() {
    let certs = Certs::make();
    let client = ClientCerts::make(&certs);
    let server = TlsServer::start(&certs.cert, &certs.key, Some(&certs.ca), Proto::Pop3);
    let home = tempfile::tempdir().expect("home");
    let pin = openssl_pin(&certs.cert);
    let base = [
        "--cacert",
        path(&certs.ca),
        "--cert",
        path(&client.cert),
        "--key",
        path(&client.key),
    ];
    assert_code(
        &pop3(
            &server,
            &[&base[..], &["--pinnedpubkey", &pin]].concat(),
            home.path(),
        ),
        0,
    );
    assert_code(
        &pop3(
            &server,
            &[&base[..], &["--pinnedpubkey", WRONG_PIN]].concat(),
            home.path(),
        ),
        90,
    );
    assert_ne!(
        pop3(&server, &["--cacert", path(&certs.ca)], home.path())
            .status
            .code(),
        Some(0)
    );
    assert_eq!(server.counts(3), (2, 1));
}

#[test]
fn account_keys_give_the_certificate_and_an_msmtp_fingerprint_trusts_a_self_signed_server() {
    let certs = Certs::make();
    let client = ClientCerts::make(&certs);
    let server = TlsServer::start(
        &certs.self_signed_cert,
        &certs.self_signed_key,
        Some(&certs.ca),
        Proto::Pop3,
    );
    // msmtp's documented recipe for tls_fingerprint.
    let out = Command::new("openssl")
        .args([
            "x509",
            "-noout",
            "-fingerprint",
            "-sha256",
            "-in",
            path(&certs.self_signed_cert),
        ])
        .output()
        .expect("openssl");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let fingerprint = stdout
        .trim()
        .rsplit('=')
        .next()
        .expect("fingerprint")
        .to_owned();
    let home = tempfile::tempdir().expect("home");
    let conf = home.path().join(".config/postie");
    std::fs::create_dir_all(&conf).expect("mkdir");
    let write_account = |fp: &str| {
        let toml = format!(
            "[account.work]\ntls_cert_file = '{}'\ntls_key_file = '{}'\n\
             tls_key_password = 'env:KEY_PW'\ntls_fingerprint = '{fp}'\n",
            path(&client.cert),
            path(&client.key_encrypted)
        );
        std::fs::write(conf.join("config.toml"), toml).expect("write config");
    };
    write_account(&fingerprint);
    let with_account = |home: &std::path::Path| {
        run(postie()
            .args([
                "pop3",
                "stat",
                "--account",
                "work",
                "--user",
                "u",
                "--password-env",
                "POP_PW",
            ])
            .env("POP_PW", "pw")
            .env("KEY_PW", ClientCerts::PASSPHRASE)
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .arg("--server")
            .arg(format!("pop3s://localhost:{}", server.port)))
    };
    assert_code(&with_account(home.path()), 0);
    write_account(&vec!["AB"; 32].join(":"));
    assert_code(&with_account(home.path()), 90);
    // The server demands a certificate: the first run passing shows the account's was sent.
    assert!(server.counts(2).0 >= 1);
}

// ---- interop: curl as the oracle; nginx with ssl_verify_client on ----------------------

#[test]
fn interop_curl_gives_the_same_28_for_a_stall_below_the_speed_limit() {
    if !interop_enabled() {
        println!(
            "skipped: interop_curl_gives_the_same_28_for_a_stall_below_the_speed_limit (set POSTIE_INTEROP=1)"
        );
        return;
    }
    let server = HttpServer::start(|_| {
        Response::generated(100_000).stall_after(1000, Duration::from_secs(30))
    });
    let args = ["-sS", "-Y", "1000", "-y", "2", "-o", "/dev/null"];
    let url = server.url("/");
    let theirs = curl(&[&args[..], &[&url]].concat());
    let ours = fetch(&[&args[..], &[&url]].concat());
    assert_eq!(theirs.status.code(), Some(28), "curl: {}", text(&theirs).1);
    assert_eq!(ours.status.code(), theirs.status.code());
}

struct Nginx {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    /// SIGTERM to the master, which stops its workers too (SIGKILL would orphan them).
    fn drop(&mut self) {
        use nix::sys::signal::{Signal, kill};
        use nix::unistd::Pid;
        let pid = i32::try_from(self.child.id()).expect("pid");
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn start_nginx(certs: &Certs) -> Nginx {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let port = free_port();
    let conf = format!(
        "daemon off;\nworker_processes 1;\nerror_log {d}/error.log;\npid {d}/nginx.pid;\n\
         events {{}}\nhttp {{\n access_log off;\n client_body_temp_path {d}/t;\n\
         proxy_temp_path {d}/t;\n fastcgi_temp_path {d}/t;\n uwsgi_temp_path {d}/t;\n\
         scgi_temp_path {d}/t;\n server {{\n  listen 127.0.0.1:{port} ssl;\n\
         server_name localhost;\n  ssl_certificate {cert};\n  ssl_certificate_key {key};\n\
         ssl_client_certificate {ca};\n  ssl_verify_client on;\n\
         location / {{ return 200 \"hello $ssl_client_s_dn\\n\"; }}\n }}\n}}\n",
        d = d.display(),
        cert = path(&certs.cert),
        key = path(&certs.key),
        ca = path(&certs.ca),
    );
    std::fs::write(d.join("nginx.conf"), conf).expect("write nginx.conf");
    let child = Command::new("nginx")
        .args(["-p", path(d), "-c", path(&d.join("nginx.conf"))])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("nginx starts (install the nginx package)");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nginx did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    Nginx {
        child,
        port,
        _dir: dir,
    }
}

fn curl(args: &[&str]) -> Output {
    Command::new("curl").args(args).output().expect("curl runs")
}

#[test]
fn interop_nginx_client_certificates_and_pins_agree_with_curl() {
    if !interop_enabled() {
        println!(
            "skipped: interop_nginx_client_certificates_and_pins_agree_with_curl (set POSTIE_INTEROP=1)"
        );
        return;
    }
    let certs = Certs::make();
    let client = ClientCerts::make(&certs);
    let nginx = start_nginx(&certs);
    let url = format!("https://localhost:{}/", nginx.port);
    let ca = ["-sS", "--cacert", path(&certs.ca)];
    let cert = ["--cert", path(&client.cert), "--key", path(&client.key)];
    let code = ["-o", "/dev/null", "-w", "%{http_code}"];
    // Without a certificate nginx answers 400; with one, 200 naming it: both tools alike.
    for args in [
        [&ca[..], &code[..]].concat(),
        [&ca[..], &cert[..], &code[..]].concat(),
    ] {
        let ours = fetch(&[&args[..], &[&url]].concat());
        let theirs = curl(&[&args[..], &[&url]].concat());
        assert_eq!(text(&ours).0, text(&theirs).0, "{args:?}");
    }
    let ours = fetch(&[&ca[..], &cert[..], &[&url]].concat());
    assert_code(&ours, 0);
    assert_eq!(text(&ours).0, "hello CN=postie client\n");
    // The pin --show-cert prints is one curl accepts; a wrong one is 90 for both.
    let pin = show_cert_pin(&url, &["--cacert", path(&certs.ca)]);
    for p in [pin.as_str(), WRONG_PIN] {
        let args = [
            &ca[..],
            &cert[..],
            &["--pinnedpubkey", p, "-o", "/dev/null", &url],
        ]
        .concat();
        let ours = fetch(&args);
        let theirs = curl(&args);
        assert_eq!(ours.status.code(), theirs.status.code(), "pin {p}");
    }
    assert_code(
        &fetch(&[&ca[..], &cert[..], &["--pinnedpubkey", WRONG_PIN, &url]].concat()),
        90,
    );
}
