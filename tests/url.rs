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
use std::process::{Command, Output, Stdio};

use common::{postie, run, text};

fn with_stdin(cmd: &mut Command, input: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("postie starts");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input).expect("write stdin");
    drop(stdin);
    child.wait_with_output().expect("postie runs")
}

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
    let out = with_stdin(postie().args(["url", "parse", "--json"]), input);
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
    let out = with_stdin(postie().args(["url", "parse"]), b"http://[::1\nhttp://b/\n");
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
    let out = with_stdin(
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
    let out = with_stdin(postie().args(["url", "unparse"]), &parsed.stdout);
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
