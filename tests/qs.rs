//! `postie qs`: parse_qs/parse_qsl and urlencode through the CLI.

#[path = "support/common.rs"]
mod common;

use common::{postie, run, run_with_stdin, text};

#[test]
fn parse_gives_parse_qs_objects_in_first_seen_order() {
    let out = run(postie().args(["qs", "parse", "b=2&a=1&b=%20x+y&c=", "z=%zz"]));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out).0,
        "{\"b\": [\"2\", \" x y\"], \"a\": [\"1\"]}\n{\"z\": [\"%zz\"]}\n"
    );
}

#[test]
fn parse_pairs_and_options() {
    let out = run(postie().args(["qs", "parse", "--pairs", "--keep-blank", "a=&b=1;c=2"]));
    assert_eq!(text(&out).0, "[[\"a\", \"\"], [\"b\", \"1;c=2\"]]\n");
    let out = run(postie().args(["qs", "parse", "--pairs", "--separator", ";", "a=1;b=2&c"]));
    assert_eq!(text(&out).0, "[[\"a\", \"1\"], [\"b\", \"2&c\"]]\n");
    let out = run(postie().args(["qs", "parse", "--encoding", "latin-1", "a=%E9"]));
    assert_eq!(text(&out).0, "{\"a\": [\"é\"]}\n");
    let out = run(postie().args(["qs", "parse", "--separator", "", "a=1"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out)
            .1
            .contains("Separator must be of type string or bytes.")
    );
}

#[test]
fn parse_errors_are_records_and_the_batch_goes_on() {
    let input = b"a=1&b\n\na=1&b=2&c=3\na=%ff\n";
    let out = run_with_stdin(
        postie().args([
            "qs",
            "parse",
            "--strict",
            "--max-fields",
            "2",
            "--errors",
            "strict",
        ]),
        input,
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out).0,
        "{\"query\": \"a=1&b\", \"error\": \"ValueError: bad query field: 'b'\"}\n\
         {}\n\
         {\"query\": \"a=1&b=2&c=3\", \"error\": \"ValueError: Max number of fields exceeded\"}\n\
         {\"query\": \"a=%ff\", \"error\": \"UnicodeDecodeError: 'utf-8' codec can't decode \
         byte 0xff in position 0: invalid start byte\"}\n"
    );
}

#[test]
fn encode_from_arguments_and_json_lines() {
    let out = run(postie().args(["qs", "encode", "a=1", "b=x y/z", "c"]));
    assert_eq!(text(&out).0, "a=1&b=x+y%2Fz&c=\n");
    let input = b"{\"k\": [\"1\", 2], \"t\": true, \"n\": null, \"f\": 1.5}\n\
                  [[\"a\", \"x y\"], [\"a\", \"/\"]]\n\
                  \n\
                  \"nope\"\n";
    let out = run_with_stdin(postie().args(["qs", "encode"]), input);
    assert_eq!(out.status.code(), Some(1));
    let (stdout, stderr) = text(&out);
    assert_eq!(
        stdout,
        "k=%5B%271%27%2C+2%5D&t=True&n=None&f=1.5\na=x+y&a=%2F\n\n\n"
    );
    assert!(
        stderr.contains("TypeError: not a valid non-string sequence"),
        "{stderr}"
    );
    let out = run_with_stdin(
        postie().args([
            "qs",
            "encode",
            "--doseq",
            "--quote-via",
            "quote",
            "--safe",
            "/",
        ]),
        b"{\"k\": [\"1 2\", \"/\"]}\n",
    );
    assert_eq!(text(&out).0, "k=1%202&k=/\n");
}

#[test]
fn parse_groups_many_pairs_like_parse_qs() {
    // Over the scan threshold: grouping goes through parse_qs's index; same shape of answer.
    let query: Vec<String> = (0..100).map(|i| format!("k{}={i}", i % 3)).collect();
    let out = run(postie().args(["qs", "parse", &query.join("&")]));
    let v: serde_json::Value = serde_json::from_str(text(&out).0.trim()).expect("JSON");
    let keys: Vec<&String> = v.as_object().expect("object").keys().collect();
    assert_eq!(keys.len(), 3);
    assert_eq!(v["k0"].as_array().expect("list").len(), 34);
    assert_eq!(v["k1"][0], "1");
    assert!(
        text(&out).0.starts_with("{\"k0\": [\"0\", \"3\""),
        "first-seen order"
    );
    // Under it: the scan path, same answer.
    let out = run(postie().args(["qs", "parse", "b=1&a=2&b=3&c=4&a=5"]));
    assert_eq!(
        text(&out).0,
        "{\"b\": [\"1\", \"3\"], \"a\": [\"2\", \"5\"], \"c\": [\"4\"]}\n"
    );
}
