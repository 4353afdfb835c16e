//! The `postie send --batch` JSON Lines reader (src/smtp/batch.rs) and the composer it
//! feeds (src/smtp/compose.rs), in `--dry-run` mode (no connection).
//!
//! Input: a batch file. An `attach` field is removed before the batch runs (the composer
//! would read the named files: /dev/zero, /dev/stdin...). Invariants beyond "no panic":
//! - one JSON result line per non-blank input line, indexes 0, 1, 2... in order, and the
//!   summary counts agree with them;
//! - every message composed from a line has CRLF line ends only, no NUL, no header line
//!   over 998 octets, no Bcc header, and no header fields but the ones postie writes and
//!   the ones the line's `headers` names (a CR/LF in a header name must not add a field).
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use postie::smtp::{MessageSpec, batch, compose};
use serde_json::Value;

fn base() -> MessageSpec {
    MessageSpec {
        from: Some("Fuzz <fuzz@example.org>".to_owned()),
        to: vec!["rcpt@example.org".to_owned()],
        ..MessageSpec::default()
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Vec::with_capacity(data.len());
    let mut objects = Vec::new();
    for line in data.split_inclusive(|b| *b == b'\n') {
        match serde_json::from_slice::<Value>(line) {
            Ok(Value::Object(mut map)) => {
                let had_attach = map.remove("attach").is_some();
                if had_attach {
                    input.extend(serde_json::to_vec(&map).expect("JSON"));
                    input.push(b'\n');
                } else {
                    input.extend_from_slice(line);
                }
                objects.push(map);
            }
            _ => input.extend_from_slice(line),
        }
    }
    run_batch(&input);
    for map in &objects {
        composed(map);
    }
});

fn run_batch(input: &[u8]) {
    let mut out = Vec::new();
    let delivery = postie::smtp::Delivery::default();
    let Ok(summary) = batch::run(
        None,
        &base(),
        &delivery,
        &mut Cursor::new(input),
        "fuzz",
        &mut out,
    ) else {
        // Only a read error (invalid UTF-8) ends a batch.
        assert!(
            std::str::from_utf8(input).is_err(),
            "batch failed on UTF-8 input"
        );
        return;
    };
    let text = std::str::from_utf8(&out).expect("results are UTF-8");
    let results: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a result line is JSON"))
        .collect();
    let expected = String::from_utf8_lossy(input)
        .split_inclusive('\n')
        .filter(|l| !l.trim().is_empty())
        .count();
    assert_eq!(results.len(), expected, "one result per non-blank line");
    assert_eq!(summary.sent + summary.failed, results.len());
    let mut sent = 0;
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["index"], Value::from(i), "result {i}: {r}");
        sent += usize::from(r["ok"] == Value::Bool(true));
    }
    assert_eq!(sent, summary.sent);
}

fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    match v? {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(a) => a.iter().map(|x| x.as_str().map(str::to_owned)).collect(),
        _ => None,
    }
}

fn string(map: &serde_json::Map<String, Value>, key: &str) -> Option<String> {
    map.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// What the batch reader makes of a line (the fields it reads), composed.
fn composed(map: &serde_json::Map<String, Value>) {
    let mut spec = base();
    spec.to = strings(map.get("to")).unwrap_or(spec.to);
    spec.cc = strings(map.get("cc")).unwrap_or_default();
    spec.bcc = strings(map.get("bcc")).unwrap_or_default();
    spec.from = string(map, "from").or(spec.from);
    spec.reply_to = string(map, "reply_to");
    spec.subject = string(map, "subject");
    spec.body = string(map, "body");
    spec.html = string(map, "html");
    spec.envelope_from = string(map, "envelope_from");
    if let Some(Value::Object(h)) = map.get("headers") {
        spec.headers = h
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
            .collect();
    }
    let Ok(message) = compose(&spec) else {
        return;
    };
    check_message(&message.bytes, &spec.headers);
}

/// Header fields postie writes itself.
const OURS: [&str; 10] = [
    "from",
    "to",
    "cc",
    "reply-to",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
];

fn check_message(bytes: &[u8], given: &[(String, String)]) {
    assert!(!bytes.contains(&0), "NUL in the message");
    for (i, w) in bytes.windows(2).enumerate() {
        assert!(!(w[0] == b'\r' && w[1] != b'\n'), "bare CR at {i}");
        assert!(!(w[1] == b'\n' && w[0] != b'\r'), "bare LF at {}", i + 1);
    }
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header section");
    let head = String::from_utf8_lossy(&bytes[..end + 2]);
    for line in head.split("\r\n").filter(|l| !l.is_empty()) {
        assert!(line.len() <= 998, "a header line of {} octets", line.len());
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let name = line
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        assert_ne!(name, "bcc", "a Bcc header in {head:?}");
        let known = OURS.contains(&name.as_str())
            || given.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name));
        assert!(known, "header {name:?} in {head:?}, given {given:?}");
    }
}
