//! Golden cases for the urllib.parse port: fixtures/url/golden/<folder>/cases.jsonl, written
//! by fixtures/url/generate.py with CPython 3.13 as the oracle. Every field and every error is
//! compared; each folder must have run at least one case.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use postie::urlparse::{
    self, Codec, Errors, PyError, QsOptions, QsValue, QuoteVia, pyrepr::repr, split,
};
use serde_json::{Value, json};

pub fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/url/golden")
}

fn err(e: &PyError) -> Value {
    json!({ "error": e.to_string() })
}

fn out<T: Into<Value>>(r: Result<T, PyError>) -> Value {
    match r {
        Ok(v) => json!({ "out": v.into() }),
        Err(e) => err(&e),
    }
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

fn codec_opts(opts: &Value, default_errors: Errors) -> Result<(Codec, Errors), PyError> {
    let codec = match opts["encoding"].as_str() {
        Some(name) => Codec::lookup(name)?,
        None => Codec::Utf8,
    };
    let errors = opts["errors"].as_str().map_or(default_errors, |e| {
        Errors::lookup(e).expect("fixture handler")
    });
    Ok((codec, errors))
}

/// The record the generator wrote for one split case, recomputed by postie.
fn split_case(case: &Value) -> Value {
    let (url, scheme, frag) = (
        s(case, "url"),
        s(case, "scheme"),
        case["frag"] == json!(true),
    );
    let mut rec = json!({ "url": url, "scheme": scheme, "frag": frag });
    let sr = match urlparse::urlsplit(url, scheme, frag) {
        Ok(sr) => sr,
        Err(e) => {
            rec["error"] = json!(e.to_string());
            return rec;
        }
    };
    let p = urlparse::urlparse(url, scheme, frag).expect("urlparse agrees with urlsplit");
    rec["split"] = json!([sr.scheme, sr.netloc, sr.path, sr.query, sr.fragment]);
    rec["geturl"] = json!(sr.geturl());
    rec["parse"] = json!([p.scheme, p.netloc, p.path, p.params, p.query, p.fragment]);
    rec["unparse"] = json!(p.geturl());
    rec["username"] = json!(split::username(&sr.netloc));
    rec["password"] = json!(split::password(&sr.netloc));
    rec["hostname"] = json!(split::hostname(&sr.netloc));
    match split::port(&sr.netloc) {
        Ok(port) => rec["port"] = json!(port),
        Err(e) => rec["port_error"] = json!(e.to_string()),
    }
    // The one-pass attributes (what `url parse` prints) agree with the separate ones.
    let attrs = split::attributes(&sr.netloc);
    assert_eq!(
        (attrs.username, attrs.password, attrs.hostname, attrs.port),
        (
            split::username(&sr.netloc),
            split::password(&sr.netloc),
            split::hostname(&sr.netloc),
            split::port(&sr.netloc)
        ),
        "attributes({:?})",
        sr.netloc
    );
    rec
}

fn defrag_case(case: &Value) -> Value {
    let url = s(case, "url");
    let mut rec = json!({ "url": url });
    let r = urlparse::urldefrag(url).map(|(u, f)| json!([u, f]));
    merge(&mut rec, out(r));
    rec
}

fn join_case(case: &Value) -> Value {
    let (base, url, frag) = (s(case, "base"), s(case, "url"), case["frag"] == json!(true));
    let mut rec = json!({ "base": base, "url": url, "frag": frag });
    merge(&mut rec, out(urlparse::urljoin(base, url, frag)));
    rec
}

fn qs_options(opts: &Value) -> Result<QsOptions, PyError> {
    let (codec, errors) = codec_opts(opts, Errors::Replace)?;
    Ok(QsOptions {
        keep_blank_values: opts["keep_blank_values"] == json!(true),
        strict_parsing: opts["strict_parsing"] == json!(true),
        codec,
        errors,
        max_num_fields: opts["max_num_fields"]
            .as_u64()
            .map(|n| usize::try_from(n).expect("small")),
        separator: opts["separator"].as_str().unwrap_or("&").to_owned(),
    })
}

fn qs_case(case: &Value) -> Value {
    let (q, opts) = (s(case, "qs"), &case["opts"]);
    let mut rec = json!({ "qs": q, "opts": opts });
    let (qsl, qs_dict) = match qs_options(opts) {
        Ok(o) => (
            out(urlparse::parse_qsl(q, &o).map(|v| json!(v))),
            out(urlparse::parse_qs(q, &o).map(|v| json!(v))),
        ),
        Err(e) => (err(&e), err(&e)),
    };
    rec["qsl"] = qsl;
    rec["qs_dict"] = qs_dict;
    rec
}

fn quote_case(case: &Value) -> Value {
    let (t, opts) = (s(case, "text"), &case["opts"]);
    let mut rec = json!({ "text": t, "opts": opts });
    let run = |plus: bool| -> Value {
        let (codec, errors) = match codec_opts(opts, Errors::Strict) {
            Ok(c) => c,
            Err(e) => return err(&e),
        };
        let safe = opts["safe"].as_str().unwrap_or(if plus { "" } else { "/" });
        if plus {
            out(urlparse::quote_plus(t, safe, codec, errors))
        } else {
            out(urlparse::quote(t, safe, codec, errors))
        }
    };
    rec["quote"] = run(false);
    rec["quote_plus"] = run(true);
    rec
}

fn unquote_case(case: &Value) -> Value {
    let (t, opts) = (s(case, "text"), &case["opts"]);
    let mut rec = json!({ "text": t, "opts": opts });
    let run = |plus: bool| -> Value {
        let (codec, errors) = match codec_opts(opts, Errors::Replace) {
            Ok(c) => c,
            Err(e) => return err(&e),
        };
        let r = if plus {
            urlparse::unquote_plus(t, codec, errors)
        } else {
            urlparse::unquote(t, codec, errors)
        };
        out(r.map(|c| c.into_owned()))
    };
    rec["unquote"] = run(false);
    rec["unquote_plus"] = run(true);
    rec
}

/// Python's `str()` of a list of str: what urlencode uses for a sequence without doseq.
fn py_list_str(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|i| repr(i)).collect();
    format!("[{}]", inner.join(", "))
}

fn encode_case(case: &Value) -> Value {
    let (pairs, opts) = (&case["pairs"], &case["opts"]);
    let mut rec = json!({ "pairs": pairs, "opts": opts });
    let query: Vec<(String, QsValue)> = pairs
        .as_array()
        .expect("pairs")
        .iter()
        .map(|p| {
            let k = p[0].as_str().expect("key").to_owned();
            let v = match &p[1] {
                Value::Array(items) => {
                    let items: Vec<String> = items
                        .iter()
                        .map(|i| i.as_str().expect("str").to_owned())
                        .collect();
                    QsValue::Seq {
                        as_str: py_list_str(&items),
                        items,
                    }
                }
                v => QsValue::Str(v.as_str().expect("str").to_owned()),
            };
            (k, v)
        })
        .collect();
    let r = codec_opts(opts, Errors::Strict).and_then(|(codec, errors)| {
        let via = if opts["quote_via"] == json!("quote") {
            QuoteVia::Quote
        } else {
            QuoteVia::QuotePlus
        };
        urlparse::urlencode(
            &query,
            opts["doseq"] == json!(true),
            opts["safe"].as_str().unwrap_or(""),
            codec,
            errors,
            via,
        )
    });
    merge(&mut rec, out(r));
    rec
}

fn merge(rec: &mut Value, extra: Value) {
    if let (Some(r), Value::Object(e)) = (rec.as_object_mut(), extra) {
        r.extend(e);
    }
}

/// Recomputes one case of `folder` with postie.
pub fn recompute(folder: &str, case: &Value) -> Value {
    match folder {
        "split" => split_case(case),
        "defrag" => defrag_case(case),
        "join" => join_case(case),
        "qs" => qs_case(case),
        "quote" => quote_case(case),
        "unquote" => unquote_case(case),
        "encode" => encode_case(case),
        other => panic!("unknown golden folder {other}"),
    }
}

pub const FOLDERS: &[&str] = &[
    "split", "defrag", "join", "qs", "quote", "unquote", "encode",
];

/// Runs every case of every folder under `dir`; returns the failures (at most `max_report`
/// described) and the count per folder.
pub fn run_all(dir: &Path, max_report: usize) -> (Vec<String>, Vec<(String, usize)>) {
    let mut failures = Vec::new();
    let mut counts = Vec::new();
    for folder in FOLDERS {
        let path = dir.join(folder).join("cases.jsonl");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let mut n = 0;
        for (i, line) in text.lines().enumerate() {
            let want: Value = serde_json::from_str(line).expect("fixture line is JSON");
            let got = recompute(folder, &want);
            n += 1;
            if got != want {
                if failures.len() < max_report {
                    failures.push(format!("{folder}:{}:\n  want {want}\n  got  {got}", i + 1));
                } else {
                    failures.push(String::new());
                }
            }
        }
        counts.push(((*folder).to_owned(), n));
    }
    (failures, counts)
}
