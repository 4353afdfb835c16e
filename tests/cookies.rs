//! `postie cookies` and cookie jars: listing, conversion, concurrent writers, and (with
//! `POSTIE_INTEROP=1`) jars exchanged with curl, wget and Python's http.cookiejar in both
//! directions, the server checking what each client sends.

#[path = "support/common.rs"]
mod common;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::{free_port, postie, require_peer, run, text, wait_for_port, which};

const HEADER: &str = "# Netscape HTTP Cookie File\n";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/cookies")
        .join(name)
}

fn write_jar(dir: &Path, name: &str, lines: &[&str]) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, format!("{HEADER}{}\n", lines.join("\n"))).expect("write jar");
    path
}

/// Runs `postie cookies ARGS --jar JAR`, asserts it succeeded, returns (stdout, stderr).
fn cookies_ok(args: &[&str], jar: &Path) -> (String, String) {
    let out = run(postie().arg("cookies").args(args).arg("--jar").arg(jar));
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "postie cookies {args:?}: {stderr}");
    (stdout, stderr)
}

/// `postie cookies list --json --show-values` as (domain, name, value, flags) tuples.
fn listed(jar: &Path) -> BTreeSet<(String, String, String, String)> {
    let out = run(postie()
        .args(["cookies", "list", "--json", "--show-values", "--jar"])
        .arg(jar));
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "list failed: {stderr}");
    stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
            let flag = |k: &str, s: &'static str| if v[k] == true { s } else { "" };
            (
                v["domain"].as_str().expect("domain").to_owned(),
                v["name"].as_str().expect("name").to_owned(),
                v["value"].as_str().expect("value").to_owned(),
                format!(
                    "{}{}{}{}",
                    flag("include_subdomains", "D"),
                    flag("secure", "S"),
                    flag("http_only", "H"),
                    flag("session", "s")
                ),
            )
        })
        .collect()
}

fn tuple(d: &str, n: &str, v: &str, f: &str) -> (String, String, String, String) {
    (d.into(), n.into(), v.into(), f.into())
}

#[test]
fn list_shows_flags_and_masks_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    let jar = write_jar(
        dir.path(),
        "jar.txt",
        &[
            "#HttpOnly_.example.com\tTRUE\t/\tTRUE\t2110680753\tsid\tsecret-value",
            "www.example.com\tFALSE\t/app\tFALSE\t0\tpref\tdark",
            "old.example.com\tFALSE\t/\tFALSE\t1000\texpired\tx",
        ],
    );
    let (stdout, _) = cookies_ok(&["list"], &jar);
    assert!(
        !stdout.contains("secret-value"),
        "values are masked: {stdout}"
    );
    assert!(
        !stdout.contains("expired"),
        "expired cookies are not listed"
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[0].starts_with("DOMAIN"));
    assert_eq!(
        lines[1],
        ".example.com     /     sid   ***    2036-11-19 04:12:33  subdomains,secure,httponly"
    );
    assert_eq!(
        lines[2],
        "www.example.com  /app  pref  ***    session              -"
    );
    let shown = run(postie()
        .args(["cookies", "list", "--show-values", "--jar"])
        .arg(&jar));
    assert!(text(&shown).0.contains("secret-value"));
}

#[test]
fn list_json_with_domain_filter() {
    let dir = tempfile::tempdir().expect("tempdir");
    let jar = write_jar(
        dir.path(),
        "jar.txt",
        &[
            ".example.com\tTRUE\t/\tFALSE\t0\ta\t1",
            "www.example.com\tFALSE\t/\tFALSE\t0\tb\t2",
            "other.org\tFALSE\t/\tFALSE\t0\tc\t3",
        ],
    );
    let out = run(postie()
        .args([
            "cookies",
            "list",
            "--json",
            "--domain",
            "www.example.com",
            "--jar",
        ])
        .arg(&jar));
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let names: Vec<String> = stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            assert_eq!(v["value"], serde_json::Value::Null, "masked");
            v["name"].as_str().expect("name").to_owned()
        })
        .collect();
    assert_eq!(names, ["a", "b"]);
}

#[test]
fn malformed_lines_are_warned_about_and_the_rest_loads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let jar = write_jar(
        dir.path(),
        "jar.txt",
        &[
            "a.com\tFALSE\t/\tFALSE\t0\tgood1\tv",
            "this line is not a cookie",
            "a.com\tFALSE\t/\tFALSE\tsoon\tbad\tv",
            "a.com\tFALSE\t/\tFALSE\t0\tgood2\tv",
        ],
    );
    let (stdout, stderr) = cookies_ok(&["list"], &jar);
    assert!(
        stdout.contains("good1") && stdout.contains("good2"),
        "{stdout}"
    );
    let jar_name = jar.display().to_string();
    assert!(stderr.contains(&format!("{jar_name}:3: ")), "{stderr}");
    assert!(
        stderr.contains(&format!("{jar_name}:4: expiry \"soon\"")),
        "{stderr}"
    );
}

#[test]
fn a_missing_jar_to_list_is_exit_26() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(postie()
        .args(["cookies", "list", "--jar"])
        .arg(dir.path().join("nope.txt")));
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(26));
    assert!(
        stderr.starts_with("postie: ") && stderr.contains("nope.txt: no such cookie file"),
        "{stderr}"
    );
}

#[test]
fn export_then_import_keeps_every_cookie_and_flag() {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("cookies.json");
    let out = run(postie()
        .args(["cookies", "export", "--jar"])
        .arg(fixture("curl-7.88.1.txt"))
        .arg("-o")
        .arg(&json));
    assert!(out.status.success(), "{}", text(&out).1);
    let exported: serde_json::Value =
        serde_json::from_slice(&fs::read(&json).expect("json")).expect("valid JSON");
    assert_eq!(exported.as_array().expect("an array").len(), 12);

    let jar = dir.path().join("new.txt");
    let out = run(postie()
        .args(["cookies", "import", "--jar"])
        .arg(&jar)
        .arg(&json));
    assert!(out.status.success(), "{}", text(&out).1);
    assert_eq!(listed(&jar), listed(&fixture("curl-7.88.1.txt")));
    let mode = fs::metadata(&jar).expect("jar").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let written = fs::read_to_string(&jar).expect("jar");
    assert!(written.starts_with(HEADER));
    assert!(written.contains("#HttpOnly_127.0.0.1\tFALSE\t/\tFALSE\t2110680753\tho\th1\n"));
    assert!(written.contains("\n.example.test\tTRUE\t/\tFALSE\t2110680753\tdom\td1\n"));
    assert!(written.contains("\nwww.example.test\tFALSE\t/\tFALSE\t0\tsid\ts1\n"));
}

#[test]
fn import_merges_into_an_existing_jar_and_rejects_garbage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = write_jar(
        dir.path(),
        "src.txt",
        &["a.com\tFALSE\t/\tFALSE\t0\tnew\t1"],
    );
    let jar = write_jar(
        dir.path(),
        "jar.txt",
        &[
            "a.com\tFALSE\t/\tFALSE\t0\tkept\t1",
            "a.com\tFALSE\t/\tFALSE\t0\tnew\t0",
        ],
    );
    let export = run(postie().args(["cookies", "export", "--jar"]).arg(&src));
    let out = common::run_with_stdin(
        postie().args(["cookies", "import", "--jar"]).arg(&jar),
        &export.stdout,
    );
    assert!(out.status.success(), "{}", text(&out).1);
    assert_eq!(
        listed(&jar),
        [
            tuple("a.com", "kept", "1", "s"),
            tuple("a.com", "new", "1", "s")
        ]
        .into()
    );

    let bad = dir.path().join("bad.json");
    fs::write(&bad, "[{\"not\": \"a cookie\"}]").expect("write");
    let out = run(postie()
        .args(["cookies", "import", "--jar"])
        .arg(&jar)
        .arg(&bad));
    assert_eq!(out.status.code(), Some(26));
    assert!(text(&out).1.contains("bad.json: not cookie_store JSON"));
    assert_eq!(listed(&jar).len(), 2, "the jar is untouched");
}

#[test]
fn concurrent_writers_to_one_jar_lose_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let jar = dir.path().join("shared.txt");
    const N: usize = 12;
    let inputs: Vec<PathBuf> = (0..N)
        .map(|i| {
            let src = write_jar(
                dir.path(),
                &format!("src{i}.txt"),
                &[&format!("site{i}.example\tFALSE\t/\tFALSE\t0\tc{i}\tv{i}")],
            );
            let json = dir.path().join(format!("in{i}.json"));
            let out = run(postie()
                .args(["cookies", "export", "--jar"])
                .arg(&src)
                .arg("-o")
                .arg(&json));
            assert!(out.status.success());
            json
        })
        .collect();
    let children: Vec<Child> = inputs
        .iter()
        .map(|json| {
            postie()
                .args(["cookies", "import", "--jar"])
                .arg(&jar)
                .arg(json)
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("wait");
        assert!(out.status.success());
    }
    let names: BTreeSet<String> = listed(&jar).into_iter().map(|t| t.1).collect();
    let expected: BTreeSet<String> = (0..N).map(|i| format!("c{i}")).collect();
    assert_eq!(names, expected);
}

// ---- interop: real curl, wget and Python against fixtures/cookies/sample_server.py ----

/// The sample server (also a forward proxy for made-up host names), killed on drop.
struct SampleServer {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl SampleServer {
    fn start(dir: &Path) -> SampleServer {
        let port = free_port();
        let log = dir.join("server.log");
        let child = Command::new("python3")
            .arg(fixture("sample_server.py"))
            .arg(port.to_string())
            .arg(&log)
            .stdout(Stdio::null())
            .spawn()
            .expect("python3 runs the sample server");
        let server = SampleServer { child, port, log };
        assert!(wait_for_port(port, 10), "sample server did not start");
        server
    }

    fn proxy(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn direct(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The Cookie headers received, in order, as (host, path, set of cookie pairs); the log
    /// is emptied.
    fn received(&self) -> Vec<(String, String, BTreeSet<String>)> {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let _ = fs::remove_file(&self.log);
        text.lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("log line");
                let host = v["host"].as_str().unwrap_or_default().to_owned();
                let host = host.split(':').next().unwrap_or_default().to_owned();
                let cookies = v["cookie"]
                    .as_str()
                    .unwrap_or_default()
                    .split("; ")
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned)
                    .collect();
                (
                    host,
                    v["path"].as_str().unwrap_or_default().to_owned(),
                    cookies,
                )
            })
            .collect()
    }
}

impl Drop for SampleServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn peers_available() -> bool {
    ["curl", "wget", "python3"]
        .iter()
        .all(|p| which(p).is_some())
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// Runs a peer, asserting success.
fn peer_ok(cmd: &mut Command) {
    let out = cmd.output().expect("peer runs");
    assert!(out.status.success(), "{cmd:?}: {}", text(&out).1);
}

const WWW_APP: &str = "http://www.example.test/app/echo";

#[test]
fn interop_peers_read_the_jar_postie_writes() {
    if !require_peer(
        "interop_peers_read_the_jar_postie_writes",
        "curl, wget and python3",
        peers_available(),
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let server = SampleServer::start(dir.path());
    let jar = dir.path().join("postie-jar.txt");
    let j = path_str(&jar);
    // A real login on both hosts: www.example.test through the server as a proxy, then
    // 127.0.0.1 directly (a loopback origin, which curl and postie treat as secure).
    fetch_ok(&[
        "-o",
        "/dev/null",
        "-x",
        &server.proxy(),
        "--jar",
        j,
        "http://www.example.test/set",
    ]);
    fetch_ok(&["-o", "/dev/null", "--jar", j, &server.direct("/set")]);
    let app = server.direct("/app/echo");

    // Each client asks for /app/echo on 127.0.0.1, then on www.example.test.
    fetch_ok(&["-o", "/dev/null", "-b", j, &app]);
    fetch_ok(&["-o", "/dev/null", "-x", &server.proxy(), "-b", j, WWW_APP]);
    let postie_sent = server.received();
    peer_ok(Command::new("curl").args(["-s", "-o", "/dev/null", "--noproxy", "*", "-b", j, &app]));
    peer_ok(Command::new("curl").args([
        "-s",
        "-o",
        "/dev/null",
        "-x",
        &server.proxy(),
        "-b",
        j,
        WWW_APP,
    ]));
    let curl = server.received();
    peer_ok(Command::new("wget").args([
        "-q",
        "-O",
        "/dev/null",
        "--no-proxy",
        "--load-cookies",
        j,
        &app,
    ]));
    peer_ok(
        Command::new("wget")
            .env("http_proxy", server.proxy())
            .args(["-q", "-O", "/dev/null", "--load-cookies", j, WWW_APP]),
    );
    let wget = server.received();
    peer_ok(
        Command::new("python3")
            .arg("-c")
            .arg(PY_LOAD)
            .args([j, &app, &server.proxy()]),
    );
    let python = server.received();

    let cookies = |sent: &[(String, String, BTreeSet<String>)]| -> Vec<BTreeSet<String>> {
        sent.iter().map(|(_, _, c)| c.clone()).collect()
    };
    let everything = ["sid=s1", "persist=p1", "ho=h1", "deep=dp", "eq=a=b c"];
    let mut local = set(&everything);
    local.insert("sec=x1".into());
    let mut www = set(&everything);
    www.insert("dom=d1".into());
    assert_eq!(
        cookies(&postie_sent),
        [local.clone(), www.clone()],
        "postie"
    );
    assert_eq!(cookies(&curl), [local, www], "curl");
    // wget ignores `#HttpOnly_` lines (comments to it) and sends Secure cookies over https
    // only.
    let wget_local = set(&["sid=s1", "persist=p1", "deep=dp", "eq=a=b c"]);
    let mut wget_www = wget_local.clone();
    wget_www.insert("dom=d1".into());
    assert_eq!(cookies(&wget), [wget_local, wget_www], "wget");
    // Python drops expiry 0 (expired to it) and sends Secure cookies over https only.
    let py_local = set(&["persist=p1", "ho=h1", "deep=dp", "eq=a=b c"]);
    let mut py_www = py_local.clone();
    py_www.insert("dom=d1".into());
    assert_eq!(cookies(&python), [py_local, py_www], "Python");
}

/// Python: load the jar with MozillaCookieJar.load() (defaults), GET argv[2] directly and
/// http://www.example.test/app/echo through the proxy argv[3].
const PY_LOAD: &str = r#"
import sys, urllib.request, http.cookiejar
jar = http.cookiejar.MozillaCookieJar()
jar.load(sys.argv[1])
proc = urllib.request.HTTPCookieProcessor(jar)
urllib.request.build_opener(urllib.request.ProxyHandler({}), proc).open(sys.argv[2]).read()
proxy = urllib.request.ProxyHandler({"http": sys.argv[3]})
urllib.request.build_opener(proxy, proc).open("http://www.example.test/app/echo").read()
"#;

#[test]
fn interop_postie_reads_the_jars_peers_write() {
    if !require_peer(
        "interop_postie_reads_the_jars_peers_write",
        "curl, wget and python3",
        peers_available(),
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // make_samples.sh runs its own server; give it a free port and our folder.
    let port = free_port();
    let samples = dir.path().join("samples");
    fs::create_dir(&samples).expect("mkdir");
    for f in ["make_samples.sh", "sample_server.py"] {
        fs::copy(fixture(f), samples.join(f)).expect("copy");
    }
    let out = Command::new("bash")
        .arg(samples.join("make_samples.sh"))
        .env("PORT", port.to_string())
        .output()
        .expect("bash runs");
    assert!(out.status.success(), "make_samples.sh: {}", text(&out).1);
    let find = |prefix: &str| -> PathBuf {
        fs::read_dir(&samples)
            .expect("ls")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".txt"))
            })
            .expect("the peer wrote its jar")
    };
    let host = |d: &str, items: &[(&str, &str, &str)]| -> BTreeSet<_> {
        items.iter().map(|(n, v, f)| tuple(d, n, v, f)).collect()
    };
    let www = "www.example.test";
    let ip = "127.0.0.1";
    // What each peer stored is documented in fixtures/cookies/README.md; postie must read
    // every cookie of every file, flags included.
    let mut curl = host(
        www,
        &[
            ("sid", "s1", "s"),
            ("persist", "p1", ""),
            ("ho", "h1", "H"),
            ("deep", "dp", ""),
            ("eq", "a=b c", ""),
        ],
    );
    curl.extend(host(
        ip,
        &[
            ("sid", "s1", "s"),
            ("persist", "p1", ""),
            ("ho", "h1", "H"),
            ("sec", "x1", "S"),
            ("deep", "dp", ""),
            ("eq", "a=b c", ""),
        ],
    ));
    curl.insert(tuple("example.test", "dom", "d1", "D"));
    assert_eq!(listed(&find("curl-")), curl, "curl -c");

    let common_www = [
        ("sid", "s1", "s"),
        ("persist", "p1", ""),
        ("ho", "h1", ""),
        ("sec", "x1", "S"),
        ("eq", "a=b c", ""),
    ];
    let mut wget = host(www, &common_www);
    wget.extend(host(ip, &common_www));
    assert_eq!(
        listed(&find("wget-")),
        wget,
        "wget --save-cookies (host:port domains)"
    );

    let mut python = host(www, &common_www);
    python.extend(host(ip, &common_www));
    python.insert(tuple(www, "deep", "dp", ""));
    python.insert(tuple(ip, "deep", "dp", ""));
    python.insert(tuple("example.test", "dom", "d1", "D"));
    assert_eq!(
        listed(&find("python-")),
        python,
        "Python save(ignore_discard=True)"
    );

    // And what postie then sends with each jar, the server checking.
    let server = SampleServer::start(dir.path());
    let app = server.direct("/app/echo");
    let sent_with = |jar: PathBuf| -> Vec<BTreeSet<String>> {
        let j = path_str(&jar);
        fetch_ok(&["-o", "/dev/null", "-b", j, &app]);
        fetch_ok(&["-o", "/dev/null", "-x", &server.proxy(), "-b", j, WWW_APP]);
        server.received().into_iter().map(|(_, _, c)| c).collect()
    };
    let all = ["sid=s1", "persist=p1", "ho=h1", "deep=dp", "eq=a=b c"];
    let mut local = set(&all);
    local.insert("sec=x1".into());
    let mut www_sent = set(&all);
    www_sent.insert("dom=d1".into());
    assert_eq!(
        sent_with(find("curl-")),
        [local.clone(), www_sent.clone()],
        "curl's jar"
    );
    // wget's host:port lines are used (curl cannot); Secure is never sent over plain http.
    assert_eq!(
        sent_with(find("wget-")),
        [
            set(&["sid=s1", "persist=p1", "ho=h1", "sec=x1", "eq=a=b c"]),
            set(&["sid=s1", "persist=p1", "ho=h1", "eq=a=b c"]),
        ],
        "wget's jar"
    );
    assert_eq!(
        sent_with(find("python-")),
        [local, www_sent],
        "Python's jar"
    );
}

// ---- with `postie fetch` against the in-process test server ----

#[path = "support/certs.rs"]
mod certs;
#[path = "support/cookies_proxy.rs"]
mod cookies_proxy;
#[path = "support/http_server.rs"]
mod http_server;

use cookies_proxy::TunnelProxy;

use http_server::{HttpServer, Request, Response};

/// `postie fetch -s ARGS`, asserting success; returns stdout.
fn fetch_ok(args: &[&str]) -> String {
    let out = run(postie().args(["fetch", "-s"]).args(args));
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "postie fetch {args:?}: {stderr}");
    stdout
}

fn cookie_of(req: &Request) -> BTreeSet<String> {
    req.header("Cookie")
        .unwrap_or_default()
        .split("; ")
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temp path")
}

#[test]
fn fetch_login_then_a_second_run_is_let_in() {
    let server = HttpServer::start(|req: &Request| match (req.method.as_str(), req.path()) {
        ("POST", "/login") if req.body_text() == "user=ann&pass=pw" => {
            Response::redirect(302, "/home")
                .header("Set-Cookie", "sid=abc123; Path=/; HttpOnly")
                .header("Set-Cookie", "theme=dark; Path=/; Max-Age=3600")
        }
        ("GET", "/home")
            if req
                .header("Cookie")
                .is_some_and(|c| c.contains("sid=abc123")) =>
        {
            Response::ok("welcome ann\n")
        }
        _ => Response::status(403),
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let jar = dir.path().join("jar.txt");
    let login = server.url("/login");
    let out = fetch_ok(&[
        "-f",
        "-L",
        "--jar",
        path_str(&jar),
        "-d",
        "user=ann&pass=pw",
        &login,
    ]);
    assert_eq!(out, "welcome ann\n");
    let saved = fs::read_to_string(&jar).expect("the jar was written");
    assert!(saved.starts_with(HEADER), "{saved}");
    assert!(
        saved.contains("\n#HttpOnly_127.0.0.1\tFALSE\t/\tFALSE\t0\tsid\tabc123\n"),
        "session cookie kept with expiry 0 and its HttpOnly flag: {saved}"
    );
    assert_eq!(
        fs::metadata(&jar).expect("jar").permissions().mode() & 0o777,
        0o600
    );

    let home = server.url("/home");
    assert_eq!(
        fetch_ok(&["-f", "--jar", path_str(&jar), &home]),
        "welcome ann\n"
    );
    let last = server.requests().pop().expect("a request");
    assert_eq!(cookie_of(&last), set(&["sid=abc123", "theme=dark"]));

    // --discard-session: the login does not survive into the file.
    fetch_ok(&["--jar", path_str(&jar), "--discard-session", &home]);
    let names: BTreeSet<String> = listed(&jar).into_iter().map(|t| t.1).collect();
    assert_eq!(names, set(&["theme"]));
    let out = run(postie().args(["fetch", "-s", "-f", "--jar", path_str(&jar), &home]));
    assert_eq!(out.status.code(), Some(22), "no longer let in");
}

/// Sets the attribute zoo on /set, deletes two cookies on /logout, answers 200 elsewhere.
fn attribute_server() -> HttpServer {
    HttpServer::start(|req: &Request| match req.path() {
        "/set" => [
            "hostonly=1; Path=/",
            "dom=1; Domain=example.test; Path=/",
            "sec=1; Secure; Path=/",
            "ho=1; HttpOnly; Path=/",
            "app=1; Path=/app",
            "short=1; Max-Age=3600; Path=/",
            "old=1; Expires=Thu, 01 Jan 2004 00:00:00 GMT; Path=/",
            "psl=1; Domain=test; Path=/",
            "other=1; Domain=other.test; Path=/",
        ]
        .into_iter()
        .fold(Response::ok("set\n"), |r, c| r.header("Set-Cookie", c)),
        "/logout" => Response::ok("bye\n")
            .header("Set-Cookie", "short=; Max-Age=0; Path=/")
            .header(
                "Set-Cookie",
                "hostonly=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/",
            ),
        _ => Response::ok("ok\n"),
    })
}

#[test]
fn fetch_keeps_cookie_attributes_through_a_proxy() {
    // Through the server as a proxy, the origin is http://www.example.test: a made-up,
    // non-loopback host, so Secure and Domain rules apply as on the internet.
    let server = attribute_server();
    let tunnel = TunnelProxy::start(server.addr());
    let proxy = tunnel.url();
    let dir = tempfile::tempdir().expect("tempdir");
    let jar = dir.path().join("jar.txt");
    let j = path_str(&jar);
    fetch_ok(&["-x", &proxy, "--jar", j, "http://www.example.test/set"]);
    let www = "www.example.test";
    assert_eq!(
        listed(&jar),
        [
            tuple(www, "hostonly", "1", "s"),
            tuple("example.test", "dom", "1", "Ds"),
            tuple(www, "ho", "1", "Hs"),
            tuple(www, "app", "1", "s"),
            tuple(www, "short", "1", ""),
        ]
        .into(),
        "Secure from plain http, expired, public-suffix and foreign-domain cookies refused"
    );
    let before = server.requests().len();
    fetch_ok(&[
        "-x",
        &proxy,
        "--jar",
        j,
        "http://www.example.test/app/page",
        "http://api.example.test/",
        "http://www.example.test/",
    ]);
    let sent: Vec<BTreeSet<String>> = server.requests()[before..].iter().map(cookie_of).collect();
    assert_eq!(
        sent,
        [
            set(&["app=1", "hostonly=1", "dom=1", "ho=1", "short=1"]),
            set(&["dom=1"]),
            set(&["hostonly=1", "dom=1", "ho=1", "short=1"]),
        ]
    );
    fetch_ok(&["-x", &proxy, "--jar", j, "http://www.example.test/logout"]);
    let names: BTreeSet<String> = listed(&jar).into_iter().map(|t| t.1).collect();
    assert_eq!(
        names,
        set(&["app", "dom", "ho"]),
        "Max-Age=0 and a past Expires delete"
    );
}

#[test]
fn fetch_sends_and_saves_cookies_of_every_redirect_hop() {
    let server = HttpServer::start(|req: &Request| match req.path() {
        "/a" => Response::redirect(302, "/b").header("Set-Cookie", "hop1=1; Path=/"),
        "/b" => Response::redirect(302, "/c").header("Set-Cookie", "hop2=2; Path=/"),
        _ => Response::ok("end\n"),
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let jar = dir.path().join("out.txt");
    fetch_ok(&["-L", "-c", path_str(&jar), &server.url("/a")]);
    let sent: Vec<BTreeSet<String>> = server.requests().iter().map(cookie_of).collect();
    assert_eq!(
        sent,
        [set(&[]), set(&["hop1=1"]), set(&["hop1=1", "hop2=2"])]
    );
    let names: BTreeSet<String> = listed(&jar).into_iter().map(|t| t.1).collect();
    assert_eq!(names, set(&["hop1", "hop2"]));
}

#[test]
fn fetch_b_literal_b_file_and_junk_session_cookies() {
    let server = HttpServer::start(|_: &Request| Response::ok("ok\n"));
    let dir = tempfile::tempdir().expect("tempdir");
    let jar = write_jar(
        dir.path(),
        "in.txt",
        &[
            "127.0.0.1\tFALSE\t/\tFALSE\t0\tsession\t1",
            "127.0.0.1\tFALSE\t/\tFALSE\t2110680753\tpersistent\t1",
            "other.example\tFALSE\t/\tFALSE\t0\telsewhere\t1",
        ],
    );
    let url = server.url("/");
    fetch_ok(&["-b", path_str(&jar), "-b", "lit=1; lit2=2", &url]);
    fetch_ok(&["-j", "-b", path_str(&jar), &url]);
    let sent: Vec<BTreeSet<String>> = server.requests().iter().map(cookie_of).collect();
    assert_eq!(
        sent,
        [
            set(&["session=1", "persistent=1", "lit=1", "lit2=2"]),
            set(&["persistent=1"]),
        ]
    );
    let out = run(postie()
        .args(["fetch", "-s", "-b"])
        .arg(dir.path().join("missing.txt"))
        .arg(&url));
    // Issue 19: a -b file that does not exist yet is an empty jar, as curl.
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    assert_eq!(server.requests().len(), 3);
    assert_eq!(server.requests()[2].header("Cookie"), None);
}

#[test]
fn fetch_runs_sharing_one_jar_lose_nothing() {
    let server = HttpServer::start(|req: &Request| {
        let n = req.query().unwrap_or("x").to_owned();
        Response::ok("set\n").header("Set-Cookie", &format!("c{n}=v; Path=/; Max-Age=3600"))
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let jar = write_jar(
        dir.path(),
        "shared.txt",
        &["127.0.0.1\tFALSE\t/\tFALSE\t2110680753\tbefore\t1"],
    );
    const N: usize = 8;
    let children: Vec<Child> = (0..N)
        .map(|i| {
            postie()
                .args(["fetch", "-s", "-o", "/dev/null", "--jar"])
                .arg(&jar)
                .arg(server.url(&format!("/set?{i}")))
                .spawn()
                .expect("spawn")
        })
        .collect();
    for child in children {
        assert!(child.wait_with_output().expect("wait").status.success());
    }
    let names: BTreeSet<String> = listed(&jar).into_iter().map(|t| t.1).collect();
    let mut expected: BTreeSet<String> = (0..N).map(|i| format!("c{i}")).collect();
    expected.insert("before".into());
    assert_eq!(names, expected);
}

// ---- issue 10: hostile cookies, nameless cookies, symlinks ----

/// One cookie_store JSON object (the form `postie cookies export` writes).
fn store_json(raw: &str, path: &str, domain: (&str, &str)) -> serde_json::Value {
    serde_json::json!({
        "raw_cookie": raw,
        "path": [path, true],
        "domain": { domain.0: domain.1 },
        "expires": "SessionEnd",
    })
}

#[test]
fn import_refuses_control_characters_public_suffixes_and_bad_prefixes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let jar = write_jar(
        dir.path(),
        "jar.txt",
        &["a.example\tFALSE\t/\tFALSE\t0\tkept\t1"],
    );
    let host = ("HostOnly", "a.example");
    let cookies = serde_json::Value::Array(vec![
        store_json("inj=v\tevil.example\tTRUE; Path=/", "/", host),
        store_json("tabpath=1; Path=/", "/x\tTRUE\t/", host),
        store_json("tabdomain=1; Path=/", "/", ("HostOnly", "a.example\tTRUE")),
        store_json("psl=1; Path=/", "/", ("Suffix", "co.uk")),
        store_json("__Host-x=1; Secure; Path=/", "/", ("Suffix", "a.example")),
        store_json("__Secure-y=1; Path=/", "/", host),
        store_json(&format!("big={}; Path=/", "v".repeat(5000)), "/", host),
        store_json("good=1; Path=/", "/", host),
    ]);
    let json = dir.path().join("in.json");
    fs::write(&json, cookies.to_string()).expect("write");
    let out = run(postie()
        .args(["cookies", "import", "--jar"])
        .arg(&jar)
        .arg(&json));
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for (name, why) in [
        ("inj", "a control character in its value"),
        ("tabpath", "a control character in its path"),
        ("tabdomain", "a control character in its domain"),
        ("psl", "a domain cookie for the public suffix co.uk"),
        ("__Host-x", "a __Host- cookie"),
        ("__Secure-y", "a __Secure- cookie without Secure"),
        ("big", "name and value of 5003 bytes, more than 4096"),
    ] {
        assert!(
            stderr.contains(&format!("in.json: cookie \"{name}\" for ")) && stderr.contains(why),
            "{name}: {stderr}"
        );
    }
    assert!(stderr.contains("7 cookies refused"), "{stderr}");
    let written = fs::read_to_string(&jar).expect("jar");
    assert_eq!(
        written.lines().filter(|l| l.contains('\t')).count(),
        2,
        "{written}"
    );
    assert_eq!(
        listed(&jar),
        [
            tuple("a.example", "good", "1", "s"),
            tuple("a.example", "kept", "1", "s")
        ]
        .into()
    );
}

/// A server puts TABs into a cookie's value and path (the only control character HTTP lets
/// through): the cookie is refused with a warning, the jar gets no altered or extra line.
#[test]
fn fetch_refuses_set_cookie_with_tabs_and_oversized_cookies() {
    let server = HttpServer::start(|_: &Request| {
        Response::ok("set\n")
            .header(
                "Set-Cookie",
                "inj=v\tevil.example\tTRUE\t/\tFALSE\t0\tx; Path=/",
            )
            .header("Set-Cookie", "tabpath=1; Path=/a\tTRUE")
            .header("Set-Cookie", "tabdomain=1; Domain=127.0.0.1\tTRUE; Path=/")
            .header("Set-Cookie", &format!("big={}; Path=/", "v".repeat(4094)))
            .header("Set-Cookie", &format!("fits={}; Path=/", "v".repeat(4092)))
            .header("Set-Cookie", "ok=1; Path=/")
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let jar = dir.path().join("jar.txt");
    let out = run(postie()
        .args(["fetch", "-s", "-o", "/dev/null", "--jar"])
        .arg(&jar)
        .arg(server.url("/set")));
    let (_, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("cookie \"inj\" for 127.0.0.1 refused: a control character in its value"),
        "{stderr}"
    );
    assert!(
        stderr
            .contains("cookie \"tabpath\" for 127.0.0.1 refused: a control character in its path"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "cookie \"tabdomain\" for 127.0.0.1 refused: a control character in its domain"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("cookie \"big\" for 127.0.0.1 refused: name and value of 4097 bytes"),
        "{stderr}"
    );
    let written = fs::read_to_string(&jar).expect("jar");
    let lines: Vec<&str> = written.lines().filter(|l| l.contains('\t')).collect();
    assert_eq!(lines.len(), 2, "{written}");
    assert!(
        lines.iter().all(|l| l.split('\t').count() == 7),
        "{written}"
    );
    let names: BTreeSet<String> = listed(&jar).into_iter().map(|t| t.1).collect();
    assert_eq!(names, set(&["fits", "ok"]));
}

/// A jar line with a NUL or CR in its value would make every request to the host fail: it
/// is skipped with FILE:LINE, and the other cookies go out.
#[test]
fn fetch_skips_jar_lines_with_control_characters_and_goes_on() {
    let server = HttpServer::start(|_: &Request| Response::ok("ok\n"));
    let dir = tempfile::tempdir().expect("tempdir");
    let jar = write_jar(
        dir.path(),
        "jar.txt",
        &[
            "127.0.0.1\tFALSE\t/\tFALSE\t0\tgood\t1",
            "127.0.0.1\tFALSE\t/\tFALSE\t0\tnul\ta\0b",
            "127.0.0.1\tFALSE\t/\tFALSE\t0\tcr\ta\rb",
        ],
    );
    let out = run(postie()
        .args(["fetch", "-s", "-b"])
        .arg(&jar)
        .arg(server.url("/")));
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout, "ok\n");
    let j = jar.display().to_string();
    for line in [3, 4] {
        assert!(
            stderr.contains(&format!(
                "{j}:{line}: control character in the cookie's value; line skipped"
            )),
            "{stderr}"
        );
    }
    assert_eq!(cookie_of(&server.single_request()), set(&["good=1"]));
}

/// Python's MozillaCookieJar writes a valueless cookie `eggs` as an empty name field and
/// the value `eggs`; postie sends it as Python and browsers do (`eggs`) and writes the line
/// back as it was.
#[test]
fn fetch_sends_and_keeps_a_cookie_with_an_empty_name() {
    let server = HttpServer::start(|_: &Request| Response::ok("ok\n").header("Set-Cookie", "n=v"));
    let dir = tempfile::tempdir().expect("tempdir");
    let line = "127.0.0.1\tFALSE\t/\tFALSE\t2110680753\t\teggs";
    let jar = write_jar(dir.path(), "jar.txt", &[line]);
    let out = run(postie()
        .args(["fetch", "-s", "-o", "/dev/null", "--jar"])
        .arg(&jar)
        .arg(server.url("/")));
    let (_, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.is_empty(), "no line skipped: {stderr}");
    assert_eq!(server.single_request().header("Cookie"), Some("eggs"));
    let written = fs::read_to_string(&jar).expect("jar");
    assert!(written.contains(&format!("\n{line}\n")), "{written}");
    assert!(written.contains("\t0\tn\tv\n"), "{written}");
}

/// A subdomain that sets hundreds of domain cookies cannot grow the site past 180 (as
/// browsers): the oldest go first (the jar's, then this run's in the order set), and a
/// login cookie set afterwards still gets in.
#[test]
fn fetch_keeps_a_site_at_180_cookies_evicting_the_oldest() {
    let server = HttpServer::start(|req: &Request| match req.path() {
        "/many" => {
            let base: usize = req.query().and_then(|q| q.parse().ok()).unwrap_or(0);
            (base..base + 100).fold(Response::ok("many\n"), |r, i| {
                r.header(
                    "Set-Cookie",
                    &format!("c{i}=v; Domain=example.test; Path=/"),
                )
            })
        }
        "/login" => Response::ok("in\n").header("Set-Cookie", "sid=1; Path=/"),
        _ => Response::ok("ok\n"),
    });
    let tunnel = TunnelProxy::start(server.addr());
    let proxy = tunnel.url();
    let dir = tempfile::tempdir().expect("tempdir");
    let old: Vec<String> = (0..10)
        .map(|i| format!("www.example.test\tFALSE\t/\tFALSE\t2110680753\told{i}\t1"))
        .chain(["other.test\tFALSE\t/\tFALSE\t2110680753\tother\t1".to_owned()])
        .collect();
    let jar = write_jar(
        dir.path(),
        "jar.txt",
        &old.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let j = path_str(&jar);
    fetch_ok(&[
        "-o",
        "/dev/null",
        "-x",
        &proxy,
        "--jar",
        j,
        "http://evil.example.test/many?0",
        "http://evil.example.test/many?100",
        "http://www.example.test/login",
        "http://www.example.test/",
    ]);
    let names: BTreeSet<String> = listed(&jar).into_iter().map(|t| t.1).collect();
    let mut expected: BTreeSet<String> = (21..200).map(|i| format!("c{i}")).collect();
    expected.insert("sid".into());
    expected.insert("other".into());
    assert_eq!(names, expected);
    let last = server.requests().pop().expect("a request");
    assert_eq!(cookie_of(&last).len(), 180);
}

#[test]
fn export_says_a_nameless_cookie_cannot_be_cookie_store_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let jar = write_jar(
        dir.path(),
        "jar.txt",
        &[
            "a.example\tFALSE\t/\tFALSE\t0\t\teggs",
            "a.example\tFALSE\t/\tFALSE\t0\tn\tv",
        ],
    );
    let out = run(postie().args(["cookies", "export", "--jar"]).arg(&jar));
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cookie without a name for a.example"),
        "{stderr}"
    );
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(json.as_array().map(Vec::len), Some(1));
    let (_, list_err) = cookies_ok(&["list"], &jar);
    assert!(list_err.is_empty(), "{list_err}");
}

/// `--jar` and `-c` naming a symbolic link update the file it points to (the link stays,
/// as with curl and wget), and take the lock beside that file.
#[test]
fn a_jar_that_is_a_symlink_is_updated_where_it_points() {
    let server = HttpServer::start(|_: &Request| Response::ok("ok\n").header("Set-Cookie", "n=v"));
    let dir = tempfile::tempdir().expect("tempdir");
    let real_dir = dir.path().join("dotfiles");
    fs::create_dir(&real_dir).expect("mkdir");
    let real = write_jar(
        &real_dir,
        "cookies.txt",
        &["127.0.0.1\tFALSE\t/\tFALSE\t0\tkept\t1"],
    );
    let link = dir.path().join("jar.txt");
    std::os::unix::fs::symlink("dotfiles/cookies.txt", &link).expect("symlink");
    let out_link = dir.path().join("out.txt");
    std::os::unix::fs::symlink("dotfiles/out-real.txt", &out_link).expect("symlink");
    fetch_ok(&[
        "-o",
        "/dev/null",
        "--jar",
        path_str(&link),
        "-c",
        path_str(&out_link),
        &server.url("/"),
    ]);
    for (l, target) in [(&link, &real), (&out_link, &real_dir.join("out-real.txt"))] {
        assert!(
            fs::symlink_metadata(l)
                .expect("lstat")
                .file_type()
                .is_symlink(),
            "{} is still a link",
            l.display()
        );
        let names: BTreeSet<String> = listed(target).into_iter().map(|t| t.1).collect();
        assert_eq!(names, set(&["kept", "n"]), "{}", target.display());
    }
    assert!(real_dir.join("cookies.txt.lock").exists());
    assert!(!dir.path().join("jar.txt.lock").exists());
    let stray: Vec<_> = fs::read_dir(&real_dir)
        .expect("ls")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(stray.is_empty());
}

/// A symbolic link planted at JAR.lock must not create or truncate what it points to.
#[test]
fn a_symlink_planted_at_the_lock_file_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let jar = write_jar(
        dir.path(),
        "jar.txt",
        &["a.example\tFALSE\t/\tFALSE\t0\tn\tv"],
    );
    let victim = dir.path().join("victim");
    std::os::unix::fs::symlink(&victim, dir.path().join("jar.txt.lock")).expect("symlink");
    let json = dir.path().join("in.json");
    fs::write(
        &json,
        serde_json::Value::Array(vec![store_json(
            "m=1; Path=/",
            "/",
            ("HostOnly", "a.example"),
        )])
        .to_string(),
    )
    .expect("write");
    let out = run(postie()
        .args(["cookies", "import", "--jar"])
        .arg(&jar)
        .arg(&json));
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(23), "{stderr}");
    assert!(
        stderr.contains("jar.txt.lock: cannot lock the cookie jar: is a symbolic link"),
        "{stderr}"
    );
    assert!(!victim.exists(), "the link's target was not created");
    fs::write(&victim, "precious").expect("write");
    let out = run(postie()
        .args(["cookies", "import", "--jar"])
        .arg(&jar)
        .arg(&json));
    assert_eq!(out.status.code(), Some(23));
    assert_eq!(fs::read_to_string(&victim).expect("victim"), "precious");
}

/// Python writes a valueless cookie (`eggs`, from `Set-Cookie: eggs`) with an empty name
/// field. What each client sends with such a jar, the server checking: Python `eggs`, curl
/// `eggs=` (its field splitter skips the empty field, so `eggs` becomes the name), wget
/// nothing (it skips the line); postie sends what Python (and browsers) send, and the jar
/// postie writes back reads the same in Python.
#[test]
fn interop_a_nameless_cookie_is_sent_as_python_sends_it() {
    if !require_peer(
        "interop_a_nameless_cookie_is_sent_as_python_sends_it",
        "curl, wget and python3",
        peers_available(),
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let server = SampleServer::start(dir.path());
    let app = server.direct("/app/echo");
    let py_jar = dir.path().join("python.txt");
    peer_ok(
        Command::new("python3")
            .arg("-c")
            .arg(PY_NAMELESS)
            .arg(&py_jar),
    );
    let written = fs::read_to_string(&py_jar).expect("Python's jar");
    assert!(
        written.contains("127.0.0.1\tFALSE\t/\tFALSE\t2110680753\t\teggs\n"),
        "{written}"
    );
    let j = path_str(&py_jar);
    let py_send = |jar: &str| {
        peer_ok(
            Command::new("python3")
                .arg("-c")
                .arg(PY_SEND)
                .args([jar, &app]),
        );
    };
    py_send(j);
    peer_ok(Command::new("curl").args(["-s", "-o", "/dev/null", "--noproxy", "*", "-b", j, &app]));
    peer_ok(Command::new("wget").args([
        "-q",
        "-O",
        "/dev/null",
        "--no-proxy",
        "--load-cookies",
        j,
        &app,
    ]));
    let copy = dir.path().join("postie.txt");
    fs::copy(&py_jar, &copy).expect("copy");
    fetch_ok(&["-o", "/dev/null", "--jar", path_str(&copy), &app]);
    py_send(path_str(&copy));
    let sent: Vec<BTreeSet<String>> = server.received().into_iter().map(|(_, _, c)| c).collect();
    assert_eq!(
        sent,
        [
            set(&["eggs", "n=v"]),
            set(&["eggs=", "n=v"]),
            set(&["n=v"]),
            set(&["eggs", "n=v"]),
            set(&["eggs", "n=v"]),
        ],
        "Python, curl, wget, postie, Python with the jar postie wrote"
    );
    let back = fs::read_to_string(&copy).expect("postie's jar");
    assert!(
        back.contains("\n127.0.0.1\tFALSE\t/\tFALSE\t2110680753\t\teggs\n"),
        "{back}"
    );
}

/// Python: a jar holding a valueless cookie `eggs` and a cookie `n=v` for 127.0.0.1, saved
/// to argv[1] by MozillaCookieJar.
const PY_NAMELESS: &str = r#"
import sys, http.cookiejar
jar = http.cookiejar.MozillaCookieJar()
for name, value in (("eggs", None), ("n", "v")):
    jar.set_cookie(http.cookiejar.Cookie(0, name, value, None, False, "127.0.0.1", False,
        False, "/", True, False, 2110680753, False, None, None, {}))
jar.save(sys.argv[1])
"#;

/// Python: load the jar argv[1] and GET argv[2] directly.
const PY_SEND: &str = r#"
import sys, urllib.request, http.cookiejar
jar = http.cookiejar.MozillaCookieJar()
jar.load(sys.argv[1])
proc = urllib.request.HTTPCookieProcessor(jar)
urllib.request.build_opener(urllib.request.ProxyHandler({}), proc).open(sys.argv[2]).read()
"#;
