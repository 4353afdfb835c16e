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
    let mut import = postie()
        .args(["cookies", "import", "--jar"])
        .arg(&jar)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    std::io::Write::write_all(&mut import.stdin.take().expect("stdin"), &export.stdout)
        .expect("feed");
    let out = import.wait_with_output().expect("import");
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

/// The jar postie writes for the interop tests: what a login on both hosts leaves.
fn postie_jar(dir: &Path) -> PathBuf {
    let src = write_jar(
        dir,
        "src.txt",
        &[
            "127.0.0.1\tFALSE\t/\tFALSE\t0\tsid\ts1",
            "127.0.0.1\tFALSE\t/\tFALSE\t2110680753\tpersist\tp1",
            "#HttpOnly_127.0.0.1\tFALSE\t/\tFALSE\t2110680753\tho\th1",
            "127.0.0.1\tFALSE\t/\tTRUE\t2110680753\tsec\tx1",
            "127.0.0.1\tFALSE\t/app\tFALSE\t2110680753\tdeep\tdp",
            "127.0.0.1\tFALSE\t/\tFALSE\t2110680753\teq\ta=b c",
            ".example.test\tTRUE\t/\tFALSE\t2110680753\tdom\td1",
            "www.example.test\tFALSE\t/\tFALSE\t2110680753\twww\tw1",
        ],
    );
    let json = dir.join("login.json");
    let out = run(postie()
        .args(["cookies", "export", "--jar"])
        .arg(&src)
        .arg("-o")
        .arg(&json));
    assert!(out.status.success());
    let jar = dir.join("postie-jar.txt");
    let out = run(postie()
        .args(["cookies", "import", "--jar"])
        .arg(&jar)
        .arg(&json));
    assert!(out.status.success());
    jar
}

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
    let jar = postie_jar(dir.path());
    let app = server.direct("/app/echo");

    let ok = |cmd: &mut Command| {
        let out = cmd.output().expect("peer runs");
        assert!(out.status.success(), "{cmd:?}: {}", text(&out).1);
    };
    ok(Command::new("curl")
        .args(["-s", "-o", "/dev/null", "--noproxy", "*", "-b"])
        .arg(&jar)
        .arg(&app));
    ok(Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-x", &server.proxy(), "-b"])
        .arg(&jar)
        .arg("http://www.example.test/echo"));
    let curl = server.received();

    ok(Command::new("wget")
        .args(["-q", "-O", "/dev/null", "--no-proxy", "--load-cookies"])
        .arg(&jar)
        .arg(&app));
    ok(Command::new("wget")
        .env("http_proxy", server.proxy())
        .args(["-q", "-O", "/dev/null", "--load-cookies"])
        .arg(&jar)
        .arg("http://www.example.test/echo"));
    let wget = server.received();

    ok(Command::new("python3")
        .arg("-c")
        .arg(PY_LOAD)
        .arg(&jar)
        .arg(&app)
        .arg(server.proxy()));
    let python = server.received();

    let direct_all = [
        "sid=s1",
        "persist=p1",
        "ho=h1",
        "sec=x1",
        "deep=dp",
        "eq=a=b c",
    ];
    assert_eq!(curl[0].2, set(&direct_all), "curl, 127.0.0.1");
    assert_eq!(
        curl[1].2,
        set(&["dom=d1", "www=w1"]),
        "curl, www.example.test"
    );
    // wget ignores `#HttpOnly_` lines (comments to it) and sends Secure cookies over https only.
    assert_eq!(
        wget[0].2,
        set(&["sid=s1", "persist=p1", "deep=dp", "eq=a=b c"]),
        "wget, 127.0.0.1"
    );
    assert_eq!(
        wget[1].2,
        set(&["dom=d1", "www=w1"]),
        "wget, www.example.test"
    );
    // Python drops expiry 0 (expired to it) and sends Secure cookies over https only.
    assert_eq!(
        python[0].2,
        set(&["persist=p1", "ho=h1", "deep=dp", "eq=a=b c"]),
        "Python, 127.0.0.1"
    );
    assert_eq!(
        python[1].2,
        set(&["dom=d1", "www=w1"]),
        "Python, www.example.test"
    );
}

/// Python: load the jar with MozillaCookieJar.load() (defaults), GET argv[2] directly and
/// http://www.example.test/echo through the proxy argv[3].
const PY_LOAD: &str = r#"
import sys, urllib.request, http.cookiejar
jar = http.cookiejar.MozillaCookieJar()
jar.load(sys.argv[1])
proc = urllib.request.HTTPCookieProcessor(jar)
urllib.request.build_opener(urllib.request.ProxyHandler({}), proc).open(sys.argv[2]).read()
proxy = urllib.request.ProxyHandler({"http": sys.argv[3]})
urllib.request.build_opener(proxy, proc).open("http://www.example.test/echo").read()
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
}
