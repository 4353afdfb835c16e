//! `parse_qs`, `parse_qsl` and `urlencode`, ported from CPython 3.13.0.

use std::borrow::Cow;
use std::collections::HashMap;

use memchr::memchr_iter;

use super::codec::{Codec, Errors};
use super::pyrepr::repr;
use super::quote::{quote, quote_plus, unquote_plus};
use super::{PyError, PyErrorKind};

/// The keyword arguments of `parse_qs`/`parse_qsl`.
#[derive(Debug, Clone)]
pub struct QsOptions {
    pub keep_blank_values: bool,
    pub strict_parsing: bool,
    pub codec: Codec,
    pub errors: Errors,
    pub max_num_fields: Option<usize>,
    pub separator: String,
}

impl Default for QsOptions {
    fn default() -> Self {
        QsOptions {
            keep_blank_values: false,
            strict_parsing: false,
            codec: Codec::Utf8,
            errors: Errors::Replace,
            max_num_fields: None,
            separator: "&".to_owned(),
        }
    }
}

/// A decoded name or value: borrowed from the query when nothing needed decoding.
pub type Text<'a> = Cow<'a, str>;

/// `parse_qsl(qs, ...)`: the decoded name/value pairs in order.
pub fn parse_qsl<'a>(qs: &'a str, opts: &QsOptions) -> Result<Vec<(Text<'a>, Text<'a>)>, PyError> {
    let mut pairs = Vec::new();
    for_each_pair(qs, opts, |name, value| pairs.push((name, value)))?;
    Ok(pairs)
}

/// Past this many distinct names, `parse_qs` indexes them in a hash map.
const LINEAR_NAMES: usize = 16;

/// `parse_qs(qs, ...)`: names in first-seen order, each with all its values.
#[allow(clippy::type_complexity)]
pub fn parse_qs<'a>(
    qs: &'a str,
    opts: &QsOptions,
) -> Result<Vec<(Text<'a>, Vec<Text<'a>>)>, PyError> {
    let mut out: Vec<(Text<'a>, Vec<Text<'a>>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for_each_pair(qs, opts, |name, value| {
        let found = if out.len() <= LINEAR_NAMES {
            out.iter().position(|(k, _)| *k == name)
        } else {
            if index.is_empty() {
                index.extend(out.iter().enumerate().map(|(i, (k, _))| (k.to_string(), i)));
            }
            index.get(name.as_ref()).copied()
        };
        match found {
            Some(i) => out[i].1.push(value),
            None => {
                if !index.is_empty() {
                    index.insert(name.to_string(), out.len());
                }
                out.push((name, vec![value]));
            }
        }
    })?;
    Ok(out)
}

/// The loop of `parse_qsl`, handing each decoded pair to `f`.
pub fn for_each_pair<'a>(
    qs: &'a str,
    opts: &QsOptions,
    mut f: impl FnMut(Text<'a>, Text<'a>),
) -> Result<(), PyError> {
    let sep = opts.separator.as_str();
    if sep.is_empty() {
        return Err(PyError::value("Separator must be of type string or bytes."));
    }
    if qs.is_empty() {
        return Ok(());
    }
    if let Some(max) = opts.max_num_fields
        && max < 1 + qs.matches(sep).count()
    {
        return Err(PyError::value("Max number of fields exceeded"));
    }
    let mut field = |name_value: &'a str| -> Result<(), PyError> {
        if name_value.is_empty() && !opts.strict_parsing {
            return Ok(());
        }
        let (name, value, has_eq) = match name_value.bytes().position(|b| b == b'=') {
            Some(i) => (&name_value[..i], &name_value[i + 1..], true),
            None => (name_value, "", false),
        };
        if !has_eq && opts.strict_parsing {
            return Err(PyError::value(format!(
                "bad query field: {}",
                repr(name_value)
            )));
        }
        if !value.is_empty() || opts.keep_blank_values {
            let name = unquote_plus(name, opts.codec, opts.errors)?;
            let value = unquote_plus(value, opts.codec, opts.errors)?;
            f(name, value);
        }
        Ok(())
    };
    if let [b] = sep.as_bytes() {
        // A one-byte separator is ASCII, so every cut is at a char boundary.
        let mut start = 0;
        for i in memchr_iter(*b, qs.as_bytes()) {
            field(&qs[start..i])?;
            start = i + 1;
        }
        field(&qs[start..])
    } else {
        qs.split(sep).try_for_each(&mut field)
    }
}

/// The `quote_via` argument of `urlencode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuoteVia {
    Quote,
    QuotePlus,
}

/// A value of `urlencode`'s query, already turned into Python's `str()` form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QsValue {
    /// A str (or anything that is not a sequence: its `str()`).
    Str(String),
    /// A sequence: `str()` of each element, and `str()` of the whole (used without doseq).
    Seq { items: Vec<String>, as_str: String },
}

/// `urlencode(query, doseq, safe, encoding, errors, quote_via)`.
pub fn urlencode(
    query: &[(String, QsValue)],
    doseq: bool,
    safe: &str,
    codec: Codec,
    errors: Errors,
    via: QuoteVia,
) -> Result<String, PyError> {
    let q = |s: &str| match via {
        QuoteVia::Quote => quote(s, safe, codec, errors),
        QuoteVia::QuotePlus => quote_plus(s, safe, codec, errors),
    };
    let mut parts: Vec<String> = Vec::with_capacity(query.len());
    for (k, v) in query {
        let k = q(k)?;
        match v {
            QsValue::Str(s) => parts.push(format!("{k}={}", q(s)?)),
            QsValue::Seq { as_str, .. } if !doseq => parts.push(format!("{k}={}", q(as_str)?)),
            QsValue::Seq { items, .. } => {
                for item in items {
                    parts.push(format!("{k}={}", q(item)?));
                }
            }
        }
    }
    Ok(parts.join("&"))
}

/// The LookupError Python raises for an `errors=` handler it does not know.
pub fn unknown_errors_handler(name: &str) -> PyError {
    PyError {
        kind: PyErrorKind::LookupError,
        message: format!("unknown error handler name '{name}'"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_qsl_like_python() {
        let opts = QsOptions::default();
        assert_eq!(
            parse_qsl("a=1&b=&&c=%zz+x&a=2", &opts).expect("ok"),
            vec![
                ("a".into(), "1".into()),
                ("c".into(), "%zz x".into()),
                ("a".into(), "2".into())
            ]
        );
        let strict = QsOptions {
            strict_parsing: true,
            ..QsOptions::default()
        };
        assert_eq!(
            parse_qsl("a=1&b", &strict).expect_err("bad").message,
            "bad query field: 'b'"
        );
        let grouped = parse_qs("a=1&b=2&a=3", &opts).expect("ok");
        assert_eq!(grouped[0], ("a".into(), vec!["1".into(), "3".into()]));
    }
}
