//! `postie url get`'s template language (trurl-style): `{field}` for a urlparse field,
//! `{query:NAME}` / `{query-all:NAME}` for parse_qs values, `{{` for a literal brace.

use std::borrow::Cow;

use crate::cli::CliError;
use crate::urlparse::query::for_each_pair;
use crate::urlparse::{self, PyError, QsOptions, split};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    Literal(String),
    Field(&'static str),
    Query { name: String, all: bool },
}

const FIELDS: &[&str] = &[
    "url", "scheme", "netloc", "path", "params", "query", "fragment", "username", "password",
    "hostname", "port",
];

/// Parses a trurl-style template into pieces.
pub(crate) fn parse_template(t: &str) -> Result<Vec<Piece>, CliError> {
    let bad = |why: String| CliError::invalid("TEMPLATE", why);
    let mut pieces = Vec::new();
    let mut lit = String::new();
    let mut rest = t;
    while let Some(i) = rest.find('{') {
        lit.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('{') {
            lit.push('{');
            rest = r;
            continue;
        }
        let end = rest
            .find('}')
            .ok_or_else(|| bad(format!("unclosed '{{' in {t:?}")))?;
        let name = &rest[..end];
        rest = &rest[end + 1..];
        let piece = if let Some(q) = name.strip_prefix("query:") {
            Piece::Query {
                name: q.to_owned(),
                all: false,
            }
        } else if let Some(q) = name.strip_prefix("query-all:") {
            Piece::Query {
                name: q.to_owned(),
                all: true,
            }
        } else if let Some(f) = FIELDS.iter().find(|f| **f == name) {
            Piece::Field(f)
        } else {
            return Err(bad(format!(
                "unknown field {{{name}}} (known: {}, query:NAME, query-all:NAME)",
                FIELDS.join(", ")
            )));
        };
        if !lit.is_empty() {
            pieces.push(Piece::Literal(std::mem::take(&mut lit)));
        }
        pieces.push(piece);
    }
    lit.push_str(rest);
    if !lit.is_empty() {
        pieces.push(Piece::Literal(lit));
    }
    Ok(pieces)
}

/// Renders one URL (parsed as `urlparse(url, default_scheme, allow_fragments)`) through the
/// template; reading `{port}` may fail, as in Python.
pub(crate) fn render(
    pieces: &[Piece],
    url: &str,
    default_scheme: &str,
    allow_fragments: bool,
    out: &mut Vec<u8>,
) -> Result<(), PyError> {
    let p = urlparse::urlparse(url, default_scheme, allow_fragments)?;
    for piece in pieces {
        match piece {
            Piece::Literal(s) => out.extend_from_slice(s.as_bytes()),
            Piece::Field(f) => {
                let v: Cow<'_, str> = match *f {
                    "url" => Cow::Borrowed(url),
                    "scheme" => Cow::Borrowed(&p.scheme),
                    "netloc" => Cow::Borrowed(&p.netloc),
                    "path" => Cow::Borrowed(&p.path),
                    "params" => Cow::Borrowed(&p.params),
                    "query" => Cow::Borrowed(&p.query),
                    "fragment" => Cow::Borrowed(&p.fragment),
                    "username" => Cow::Borrowed(split::username(&p.netloc).unwrap_or("")),
                    "password" => Cow::Borrowed(split::password(&p.netloc).unwrap_or("")),
                    "hostname" => split::hostname(&p.netloc).unwrap_or_default(),
                    _ => split::port(&p.netloc)?
                        .map_or(Cow::Borrowed(""), |n| Cow::Owned(n.to_string())),
                };
                out.extend_from_slice(v.as_bytes());
            }
            Piece::Query { name, all } => query_values(&p.query, name, *all, out)?,
        }
    }
    out.push(b'\n');
    Ok(())
}

/// `parse_qs(query)[name][0]`, or all its values space-separated; nothing when absent.
fn query_values(query: &str, name: &str, all: bool, out: &mut Vec<u8>) -> Result<(), PyError> {
    let mut n = 0;
    for_each_pair(query, &QsOptions::default(), |k, v| {
        if k == name && (all || n == 0) {
            if n > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(v.as_bytes());
            n += 1;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_parse() {
        assert_eq!(
            parse_template("{{x} {hostname}:{query:a}").expect("valid"),
            vec![
                Piece::Literal("{x} ".into()),
                Piece::Field("hostname"),
                Piece::Literal(":".into()),
                Piece::Query {
                    name: "a".into(),
                    all: false
                }
            ]
        );
        assert!(parse_template("{nope}").is_err());
        assert!(parse_template("{host").is_err());
    }
}
