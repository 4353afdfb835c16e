//! `postie qs`: parse_qs/parse_qsl to JSON Lines, and urlencode from arguments or JSON.
//!
//! The batch rules are `postie url`'s (see [`crate::cli::batch`]). JSON values given to
//! `qs encode` become the `str()` Python would take of the same value from `json.loads`
//! (`True`, `None`, `1.5`, `['a', 'b']`...), objects keep their key order.

use clap::{Args, Subcommand, ValueEnum};

use crate::cli::CliError;
use crate::cli::batch::{Batch, for_each_input, simple_batch};
use crate::cli::json_out::{json_error, json_str};
use crate::cli::url::CodecFlags;
use crate::error::Error;
use crate::exit::Exit;
use crate::urlparse::pyvalue::{Py, py_str, qs_value};
use crate::urlparse::{
    self, Errors, PyError, PyErrorKind, QsOptions, QsValue, QuoteVia, query::for_each_pair,
};

#[derive(Debug, Args)]
pub struct QsArgs {
    #[command(subcommand)]
    pub command: QsCommand,
}

#[derive(Debug, Subcommand)]
pub enum QsCommand {
    /// parse_qs (or parse_qsl with --pairs) each query; JSON Lines out.
    Parse(QsParseArgs),
    /// urlencode NAME=VALUE pairs, or each JSON object / list of pairs on stdin.
    Encode(QsEncodeArgs),
}

#[derive(Debug, Args)]
pub struct QsParseArgs {
    /// Query strings; one per line from stdin when none are given.
    pub queries: Vec<String>,
    /// parse_qsl's list of [name, value] pairs instead of parse_qs's object of lists.
    #[arg(long)]
    pub pairs: bool,
    /// keep_blank_values=True.
    #[arg(long)]
    pub keep_blank: bool,
    /// strict_parsing=True.
    #[arg(long)]
    pub strict: bool,
    /// max_num_fields=N.
    #[arg(long, value_name = "N")]
    pub max_fields: Option<usize>,
    /// separator= (default `&`).
    #[arg(long, value_name = "C", default_value = "&")]
    pub separator: String,
    #[command(flatten)]
    pub codec: CodecFlags,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QuoteViaArg {
    #[value(name = "quote_plus")]
    QuotePlus,
    #[value(name = "quote")]
    Quote,
}

#[derive(Debug, Args)]
pub struct QsEncodeArgs {
    /// NAME=VALUE pairs (a bare NAME has an empty value); without them, each stdin line is a
    /// JSON object or a list of [name, value] pairs.
    pub pairs: Vec<String>,
    /// doseq=True: a list value gives one NAME=VALUE per element.
    #[arg(long)]
    pub doseq: bool,
    /// Characters not to quote (default none).
    #[arg(long, value_name = "S", default_value = "")]
    pub safe: String,
    /// quote_via=quote or quote_plus (default).
    #[arg(long, value_enum, default_value = "quote_plus")]
    pub quote_via: QuoteViaArg,
    #[command(flatten)]
    pub codec: CodecFlags,
}

pub fn run(args: QsArgs) -> Result<Exit, Error> {
    match args.command {
        QsCommand::Parse(a) => parse(&a),
        QsCommand::Encode(a) => encode(&a),
    }
}

fn parse_options(a: &QsParseArgs) -> Result<QsOptions, CliError> {
    if a.separator.is_empty() {
        return Err(CliError::invalid(
            "--separator",
            "Separator must be of type string or bytes.",
        ));
    }
    let (codec, errors) = a.codec.resolve(Errors::Replace)?;
    Ok(QsOptions {
        keep_blank_values: a.keep_blank,
        strict_parsing: a.strict,
        codec,
        errors,
        max_num_fields: a.max_fields,
        separator: a.separator.clone(),
    })
}

fn parse(a: &QsParseArgs) -> Result<Exit, Error> {
    let opts = parse_options(a)?;
    let mut batch = Batch::new("qs parse");
    for_each_input(&a.queries, &mut batch, |batch, input, raw| {
        let mark = batch.buf.len();
        let r = input.and_then(|q| {
            if a.pairs {
                pairs_json(q, &opts, &mut batch.buf)
            } else {
                dict_json(q, &opts, &mut batch.buf)
            }
        });
        if let Err(e) = r {
            batch.buf.truncate(mark);
            batch.count_failure();
            json_error(&mut batch.buf, "query", raw, &e);
        }
        Ok(())
    })?;
    batch.finish()
}

fn pairs_json(q: &str, opts: &QsOptions, buf: &mut Vec<u8>) -> Result<(), PyError> {
    buf.push(b'[');
    let mut first = true;
    for_each_pair(q, opts, |k, v| {
        if !first {
            buf.extend_from_slice(b", ");
        }
        first = false;
        buf.push(b'[');
        json_str(buf, &k);
        buf.extend_from_slice(b", ");
        json_str(buf, &v);
        buf.push(b']');
    })?;
    buf.extend_from_slice(b"]\n");
    Ok(())
}

/// Past this many pairs, grouping goes through `parse_qs`'s index instead of pair scans.
const SCAN_PAIRS: usize = 32;

fn dict_json(q: &str, opts: &QsOptions, buf: &mut Vec<u8>) -> Result<(), PyError> {
    let pairs = urlparse::parse_qsl(q, opts)?;
    if pairs.len() > SCAN_PAIRS {
        let grouped = urlparse::parse_qs(q, opts)?;
        let groups = grouped
            .iter()
            .map(|(k, vs)| (k.as_ref(), vs.iter().map(AsRef::as_ref)));
        write_groups(buf, groups);
        return Ok(());
    }
    // Few pairs (the common case): group by scanning, without allocating per name.
    let groups = pairs.iter().enumerate().filter_map(|(i, (k, _))| {
        let first_seen = !pairs[..i].iter().any(|(k2, _)| k2 == k);
        let values = pairs[i..]
            .iter()
            .filter(move |(k2, _)| k2 == k)
            .map(|(_, v)| v.as_ref());
        first_seen.then_some((k.as_ref(), values))
    });
    write_groups(buf, groups);
    Ok(())
}

/// Writes `{"name": ["value", ...], ...}` and a newline.
fn write_groups<'a, I, J>(buf: &mut Vec<u8>, groups: I)
where
    I: Iterator<Item = (&'a str, J)>,
    J: Iterator<Item = &'a str>,
{
    buf.push(b'{');
    for (i, (k, values)) in groups.enumerate() {
        if i > 0 {
            buf.extend_from_slice(b", ");
        }
        json_str(buf, k);
        buf.extend_from_slice(b": [");
        for (j, v) in values.enumerate() {
            if j > 0 {
                buf.extend_from_slice(b", ");
            }
            json_str(buf, v);
        }
        buf.push(b']');
    }
    buf.extend_from_slice(b"}\n");
}

// ---------------------------------------------------------------------------------------------
// qs encode

fn type_error() -> PyError {
    PyError {
        kind: PyErrorKind::TypeError,
        message: "not a valid non-string sequence or mapping object (give a JSON object or a \
                  list of [name, value] pairs)"
            .to_owned(),
    }
}

/// One stdin line (a JSON object or list of pairs) as urlencode's query.
fn query_from_json(line: &str) -> Result<Vec<(String, QsValue)>, PyError> {
    if line.trim().is_empty() {
        return Ok(Vec::new());
    }
    let v: Py =
        serde_json::from_str(line).map_err(|e| PyError::value(format!("invalid JSON: {e}")))?;
    match v {
        Py::Dict(items) => Ok(items
            .iter()
            .map(|(k, v)| (k.clone(), qs_value(v)))
            .collect()),
        Py::List(items) => items
            .iter()
            .map(|p| match p {
                Py::List(kv) if kv.len() == 2 => Ok((py_str(&kv[0]), qs_value(&kv[1]))),
                _ => Err(type_error()),
            })
            .collect(),
        _ => Err(type_error()),
    }
}

fn encode(a: &QsEncodeArgs) -> Result<Exit, Error> {
    let (codec, errors) = a.codec.resolve(Errors::Strict)?;
    let via = match a.quote_via {
        QuoteViaArg::Quote => QuoteVia::Quote,
        QuoteViaArg::QuotePlus => QuoteVia::QuotePlus,
    };
    let enc =
        |q: &[(String, QsValue)]| urlparse::urlencode(q, a.doseq, &a.safe, codec, errors, via);
    if !a.pairs.is_empty() {
        let mut batch = Batch::new("qs encode");
        let query: Vec<(String, QsValue)> = a
            .pairs
            .iter()
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_owned(), QsValue::Str(v.to_owned()))
            })
            .collect();
        match enc(&query) {
            Ok(s) => batch.write(format!("{s}\n").as_bytes())?,
            Err(e) => {
                batch.report(&a.pairs.join(" "), &e);
                batch.write(b"\n")?;
            }
        }
        return batch.finish();
    }
    simple_batch("qs encode", &[], |line| enc(&query_from_json(line)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_values_become_python_str() {
        let q = query_from_json(r#"{"b": 1, "a": [true, null, "x"], "b": 2.0}"#).expect("json");
        assert_eq!(q[0], ("b".into(), QsValue::Str("2.0".into())));
        assert_eq!(
            q[1],
            (
                "a".into(),
                QsValue::Seq {
                    items: vec!["True".into(), "None".into(), "x".into()],
                    as_str: "[True, None, 'x']".into()
                }
            )
        );
        assert!(query_from_json("\"str\"").is_err());
    }
}
