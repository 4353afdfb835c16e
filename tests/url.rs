//! `postie url`: the golden corpus against the engine, the CLI, and the interop check that the
//! fixtures still match CPython 3.13.

#[path = "support/common.rs"]
mod common;
#[path = "support/url_golden.rs"]
mod url_golden;

#[test]
fn golden_corpus_matches_cpython() {
    let (failures, counts) = url_golden::run_all(&url_golden::golden_dir(), 30);
    for (folder, n) in &counts {
        assert!(*n > 0, "golden folder {folder} ran no case");
    }
    let shown: Vec<&String> = failures.iter().filter(|f| !f.is_empty()).collect();
    assert!(
        failures.is_empty(),
        "{} golden mismatches (first {}):\n{}",
        failures.len(),
        shown.len(),
        shown
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

use std::io::Write;
use std::process::{Command, Stdio};

use common::{postie, run, run_with_stdin, text};

#[test]
fn parse_prints_fields_and_attributes() {
    let out = run(postie().args(["url", "parse", "HTTP://User:Pw@Example.COM:8080/a;p?q=1#f"]));
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        stdout,
        "scheme: http\nnetloc: User:Pw@Example.COM:8080\npath: /a\nparams: p\nquery: q=1\n\
         fragment: f\nusername: User\npassword: Pw\nhostname: example.com\nport: 8080\n"
    );
}

#[test]
fn parse_json_split_and_options() {
    let out = run(postie().args([
        "url",
        "parse",
        "--json",
        "--split",
        "--default-scheme",
        "https",
        "--no-fragments",
        "//h/p;x?a#b",
    ]));
    assert_eq!(
        text(&out).0,
        "{\"scheme\": \"https\", \"netloc\": \"h\", \"path\": \"/p;x\", \"query\": \"a#b\", \
         \"fragment\": \"\", \"username\": null, \"password\": null, \"hostname\": \"h\", \
         \"port\": null}\n"
    );
}

#[test]
fn stdin_batch_keeps_order_empty_lines_crs_and_reports_errors() {
    let input = b"http://a/b\n\nhttp://[::1]x/\r\nhttp://h:99999/\nhttp://ok/\xff\nhttp://last";
    let out = run_with_stdin(postie().args(["url", "parse", "--json"]), input);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "a failed URL makes exit 1");
    assert!(
        stderr.is_empty(),
        "JSON mode reports in the records: {stderr}"
    );
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 6, "one record per input line: {stdout}");
    assert_eq!(lines[0]["path"], "/b");
    assert_eq!(lines[1]["path"], "", "an empty line is an empty URL");
    assert_eq!(
        lines[2]["url"], "http://[::1]x/\r",
        "the CR stays in the URL"
    );
    assert_eq!(lines[2]["error"], "ValueError: Invalid IPv6 URL");
    assert_eq!(lines[3]["netloc"], "h:99999");
    assert_eq!(lines[3]["port"], serde_json::Value::Null);
    assert_eq!(lines[3]["error"], "ValueError: Port out of range 0-65535");
    assert_eq!(
        lines[4]["error"],
        "UnicodeDecodeError: 'utf-8' codec can't decode byte 0xff in position 10: invalid start byte"
    );
    assert_eq!(lines[5]["netloc"], "last");
}

#[test]
fn text_mode_reports_failures_on_stderr_and_goes_on() {
    let out = run_with_stdin(postie().args(["url", "parse"]), b"http://[::1\nhttp://b/\n");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr,
        "postie: url parse: 'http://[::1': ValueError: Invalid IPv6 URL\n"
    );
    assert!(stdout.starts_with("error: ValueError: Invalid IPv6 URL\n\nscheme: http\n"));
}

#[test]
fn get_renders_templates_one_line_per_url() {
    let input = b"https://u@Example.com:8443/p?x=1&x=%20two&y=#frag\n\nhttp://h:port/\n";
    let out = run_with_stdin(
        postie().args([
            "url",
            "get",
            "{{{scheme}} {hostname}:{port} [{query:x}] [{query-all:x}] [{query:y}] {username}",
        ]),
        input,
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(
        stdout,
        "{https} example.com:8443 [1] [1  two] [] u\n{} : [] [] [] \n\n"
    );
    assert_eq!(
        stderr,
        "postie: url get: 'http://h:port/': ValueError: Port could not be cast to integer value as 'port'\n"
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn get_rejects_unknown_fields_as_usage_errors() {
    let out = run(postie().args(["url", "get", "{host}", "http://h/"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out)
            .1
            .starts_with("postie: TEMPLATE: unknown field {host}")
    );
}

#[test]
fn unparse_join_defrag_quote_unquote() {
    let parsed = run(postie().args(["url", "parse", "--json", "http://h/a;p?q#f", "mailto:x@y"]));
    let out = run_with_stdin(postie().args(["url", "unparse"]), &parsed.stdout);
    assert_eq!(text(&out).0, "http://h/a;p?q#f\nmailto:x@y\n");
    let out = run(postie().args(["url", "unparse", "--scheme", "http", "--path", "/x"]));
    assert_eq!(text(&out).0, "http:///x\n");

    let out = run(postie().args(["url", "join", "http://a/b/c/d;p?q", "../g", "?y", "//x/"]));
    assert_eq!(
        text(&out).0,
        "http://a/b/g\nhttp://a/b/c/d;p?y\nhttp://x/\n"
    );

    let out = run(postie().args(["url", "defrag", "--json", "http://a/b#c", "x"]));
    assert_eq!(
        text(&out).0,
        "{\"url\": \"http://a/b\", \"fragment\": \"c\"}\n{\"url\": \"x\", \"fragment\": \"\"}\n"
    );

    let out = run(postie().args(["url", "quote", "a b/é"]));
    assert_eq!(text(&out).0, "a%20b/%C3%A9\n");
    let out = run(postie().args(["url", "quote", "--plus", "--safe", "/", "a b/c+"]));
    assert_eq!(text(&out).0, "a+b/c%2B\n");
    let out = run(postie().args(["url", "quote", "--encoding", "latin-1", "é€"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains(
        "UnicodeEncodeError: 'latin-1' codec can't encode character '\\u20ac' in position 1"
    ));
    let out = run(postie().args(["url", "quote", "--encoding", "koi8-r", "x"]));
    assert_eq!(out.status.code(), Some(2));

    let out = run(postie().args(["url", "unquote", "--plus", "a+b%C3%A9%zz"]));
    assert_eq!(text(&out).0, "a bé%zz\n");
    let out = run(postie().args(["url", "unquote", "--encoding", "latin-1", "%E9"]));
    assert_eq!(text(&out).0, "é\n");
}

#[test]
fn closed_stdout_is_a_clean_exit() {
    let mut input = Vec::new();
    for i in 0..200_000 {
        input.extend_from_slice(format!("http://h{i}.example/p?q={i}\n").as_bytes());
    }
    let mut child = postie()
        .args(["url", "get", "{hostname}"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("postie starts");
    let mut stdin = child.stdin.take().expect("stdin");
    drop(child.stdout.take());
    let _ = stdin.write_all(&input);
    drop(stdin);
    let out = child.wait_with_output().expect("postie runs");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
}

// ---------------------------------------------------------------------------------------------
// Interop with CPython 3.13 (POSTIE_INTEROP=1) and property tests.

use std::path::Path;

/// A command running CPython 3.13: `PYENV_VERSION=3.13.0 python3` (the issue's oracle), else
/// `python3.13` on PATH, else pyenv's own 3.13 install (3.13.0 first) when the shims are not
/// on PATH. None when none of them is a 3.13.
fn cpython313() -> Option<Command> {
    let pyenv_root = std::env::var_os("PYENV_ROOT")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".pyenv")))
        .unwrap_or_else(|| "/root/.pyenv".into());
    let mut installed: Vec<std::path::PathBuf> = std::fs::read_dir(pyenv_root.join("versions"))
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with("3.13"))
                .map(|e| e.path().join("bin/python3"))
                .collect()
        })
        .unwrap_or_default();
    installed.sort_by_key(|p| !p.to_string_lossy().contains("/3.13.0/"));
    let mut candidates: Vec<(std::ffi::OsString, bool)> =
        vec![("python3".into(), true), ("python3.13".into(), false)];
    candidates.extend(installed.into_iter().map(|p| (p.into_os_string(), false)));
    candidates.into_iter().find_map(|(prog, pyenv_env)| {
        let make = || {
            let mut c = Command::new(&prog);
            if pyenv_env {
                c.env("PYENV_VERSION", "3.13.0");
            }
            c.env("PYTHONIOENCODING", "utf-8").env("PYTHONUTF8", "1");
            c
        };
        let out = make()
            .args(["-c", "import sys; print(sys.version_info[:2] == (3, 13))"])
            .output()
            .ok()?;
        (String::from_utf8_lossy(&out.stdout).trim() == "True").then(make)
    })
}

fn generator() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/url/generate.py")
}

#[test]
fn interop_fixtures_match_live_cpython() {
    let python = cpython313();
    if !common::require_peer(
        "interop_fixtures_match_live_cpython",
        "CPython 3.13",
        python.is_some(),
    ) {
        return;
    }
    let mut python = python.expect("checked");
    let dir = tempfile::tempdir().expect("temp dir");
    let out = python
        .arg(generator())
        .arg(dir.path())
        .output()
        .expect("generator runs");
    assert!(out.status.success(), "{}", text(&out).1);
    for folder in url_golden::FOLDERS {
        let rel = Path::new(folder).join("cases.jsonl");
        let live = std::fs::read(dir.path().join(&rel)).expect("live fixture");
        let committed = std::fs::read(url_golden::golden_dir().join(&rel)).expect("fixture");
        assert!(
            live == committed,
            "fixtures/url/golden/{folder} differs from what CPython 3.13 writes now: \
             re-run fixtures/url/generate.py"
        );
    }
    // And postie agrees with the live output, case by case.
    let (failures, _) = url_golden::run_all(dir.path(), 10);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Deterministic tricky strings: URL delimiters, controls, brackets, digits, `%`, `+`,
/// non-ASCII (NFKC-expanding and case-changing characters among them).
fn random_inputs(n: usize) -> Vec<String> {
    const PIECES: &[&str] = &[
        "http",
        "HTTPS",
        "ftp",
        "file",
        "mailto",
        "tel",
        ":",
        "//",
        "/",
        "?",
        "#",
        ";",
        "@",
        "[",
        "]",
        "::1",
        "v1.x",
        "%",
        "%2",
        "%41",
        "%zz",
        "+",
        "=",
        "&",
        " ",
        "\t",
        "\r",
        "\n",
        "\0",
        "\x1f",
        "\x7f",
        "a",
        "B",
        "0",
        "65536",
        "é",
        "É",
        "\u{2100}",
        "\u{ff0f}",
        "\u{ff03}",
        "\u{0130}",
        "ß",
        "Σ",
        "\u{fe58}",
        "\u{1f600}",
        "\u{200b}",
        ".",
        "..",
        "%E2%82%AC",
        "%ff",
        "127.0.0.1",
        "fe80::1%eth0",
    ];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..n)
        .map(|_| {
            let len = next() % 12;
            (0..len)
                .map(|_| PIECES[usize::try_from(next() % PIECES.len() as u64).expect("small")])
                .collect()
        })
        .collect()
}

#[test]
fn interop_random_inputs_match_cpython() {
    let python = cpython313();
    if !common::require_peer(
        "interop_random_inputs_match_cpython",
        "CPython 3.13",
        python.is_some(),
    ) {
        return;
    }
    let inputs = random_inputs(10_000);
    let mut stdin = Vec::new();
    for s in &inputs {
        stdin.extend_from_slice(serde_json::to_string(s).expect("json").as_bytes());
        stdin.push(b'\n');
    }
    let mut python = python.expect("checked");
    let out = run_with_stdin(python.arg(generator()).arg("--oracle"), &stdin);
    assert!(out.status.success(), "{}", text(&out).1);
    let mut n = 0;
    for line in String::from_utf8(out.stdout).expect("utf-8").lines() {
        let rec: serde_json::Value = serde_json::from_str(line).expect("oracle JSON");
        let folder = rec[0].as_str().expect("folder");
        let got = url_golden::recompute(folder, &rec[1]);
        assert_eq!(got, rec[1], "postie differs from CPython 3.13");
        n += 1;
    }
    assert_eq!(n, inputs.len() * 6, "every input was checked");
}

mod props {
    use postie::urlparse::{self, Codec, Errors, QsOptions, split};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// No input panics any function, and what Python guarantees of a successful split holds:
        /// no tab/CR/LF in any field, a lowercase scheme, and urlunsplit's result re-splits.
        #[test]
        fn no_panics_and_split_invariants(
            s in "[a-zA-Z0-9:/?#\\[\\]@%+&=;. \t\r\n\x00é\u{2100}\u{ff0f}Σ-]{0,40}",
            base in "(http://a/b/c|ftp:x|)[a-z/.;?#]{0,8}",
        ) {
            if let Ok(r) = urlparse::urlsplit(&s, "", true) {
                for f in [&r.scheme, &r.netloc, &r.path, &r.query, &r.fragment] {
                    prop_assert!(!f.contains(['\t', '\r', '\n']));
                }
                prop_assert!(!r.scheme.bytes().any(|b| b.is_ascii_uppercase()));
                let _ = split::port(&r.netloc);
                let _ = split::hostname(&r.netloc);
                let again = r.geturl();
                let _ = urlparse::urlsplit(&again, "", true);
            }
            let _ = urlparse::urlparse(&s, "https", false);
            let _ = urlparse::urljoin(&base, &s, true);
            let _ = urlparse::urldefrag(&s);
            let _ = urlparse::parse_qsl(&s, &QsOptions { strict_parsing: true, ..QsOptions::default() });
            for codec in [Codec::Utf8, Codec::Latin1, Codec::Ascii, Codec::Cp1252] {
                for errors in [Errors::Strict, Errors::Replace, Errors::Ignore] {
                    let _ = urlparse::quote(&s, "/", codec, errors);
                    let _ = urlparse::unquote_plus(&s, codec, errors);
                }
            }
        }

        /// unquote(quote(x)) == x for any text (UTF-8 round trip).
        #[test]
        fn quote_round_trips(s in "\\PC{0,30}") {
            let q = urlparse::quote(&s, "", Codec::Utf8, Errors::Strict).expect("utf-8 encodes all");
            prop_assert!(q.is_ascii());
            prop_assert_eq!(urlparse::unquote(&q, Codec::Utf8, Errors::Strict).expect("valid"), s);
        }
    }
}

#[test]
fn lines_longer_than_the_read_buffer_and_a_missing_final_newline() {
    let long = format!("http://h/{}", "a".repeat(700_000));
    let input = format!("http://x/\n{long}\nhttp://y/?q=1");
    let out = run_with_stdin(
        postie().args(["url", "get", "{hostname} {path}"]),
        input.as_bytes(),
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0], "x /");
    assert_eq!(lines[1].len(), "h /".len() + 700_000);
    assert_eq!(lines[2], "y /");
}

#[test]
fn json_output_escapes_quotes_backslashes_and_controls() {
    let out = run(postie().args(["url", "parse", "--json", "http://h/a\"b\\c\u{1}d?é"]));
    let v: serde_json::Value = serde_json::from_str(text(&out).0.trim()).expect("valid JSON");
    assert_eq!(v["path"], "/a\"b\\c\u{1}d");
    assert_eq!(v["query"], "é");
    let out = run(postie().args(["url", "parse", "--json", "--default-scheme", "x\"y", "//h"]));
    let v: serde_json::Value = serde_json::from_str(text(&out).0.trim()).expect("valid JSON");
    assert_eq!(v["scheme"], "x\"y");
}
