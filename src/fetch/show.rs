//! How requests and responses are shown: `-v` on stderr (secret header values masked) and
//! the header blocks of `-i`/`-I`.

use std::io::{self, Write};

use ureq::Body;
use ureq::http;

/// Hides the password of every URL in `text` (`http://user:pass@host/` shows as
/// `http://user:***@host/`), for `-v`, error messages and `-w`. A text without `://` and
/// without spaces is taken as one URL without a scheme (`user:pass@host/x`).
pub fn mask_url(text: &str) -> String {
    let mut starts: Vec<usize> = text.match_indices("://").map(|(i, _)| i + 3).collect();
    if starts.is_empty() && !text.contains(char::is_whitespace) {
        starts.push(0);
    }
    let mut out = String::with_capacity(text.len());
    let mut done = 0;
    for start in starts {
        let rest = &text[start..];
        let end = rest
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace())
            .unwrap_or(rest.len());
        let authority = &rest[..end];
        let Some(at) = authority.rfind('@') else {
            continue;
        };
        let Some(colon) = authority[..at].find(':') else {
            continue;
        };
        out.push_str(&text[done..start + colon + 1]);
        out.push_str("***");
        done = start + at;
    }
    out.push_str(&text[done..]);
    out
}

/// Hides the secret part of a header value in `-v` output.
fn mask(name: &str, value: &str) -> String {
    match name.to_ascii_lowercase().as_str() {
        "authorization" | "proxy-authorization" => {
            let scheme = value.split_whitespace().next().unwrap_or("");
            format!("{scheme} (masked)")
        }
        "cookie" => value
            .split(';')
            .map(|pair| {
                let name = pair.split('=').next().unwrap_or("").trim();
                format!("{name}=(masked)")
            })
            .collect::<Vec<_>>()
            .join("; "),
        "set-cookie" => {
            let (pair, rest) = value.split_once(';').unwrap_or((value, ""));
            let name = pair.split('=').next().unwrap_or("").trim();
            if rest.is_empty() {
                format!("{name}=(masked)")
            } else {
                format!("{name}=(masked);{rest}")
            }
        }
        _ => value.to_owned(),
    }
}

pub(super) fn print_request(url: &url::Url, method: &str, headers: &[(String, String)]) {
    let mut target = url.path().to_owned();
    if let Some(q) = url.query() {
        target.push('?');
        target.push_str(q);
    }
    let mut text = format!("> {method} {target} HTTP/1.1\n");
    let host = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or("")),
        None => url.host_str().unwrap_or("").to_owned(),
    };
    text.push_str(&format!("> Host: {host}\n"));
    for (n, v) in headers {
        text.push_str(&format!("> {n}: {}\n", mask(n, v)));
    }
    text.push_str(">\n");
    let _ = io::stderr().write_all(text.as_bytes());
}

pub(super) fn status_line(resp: &http::Response<Body>) -> String {
    let status = resp.status();
    format!(
        "{:?} {} {}",
        resp.version(),
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    )
    .trim_end()
    .to_owned()
}

pub(super) fn print_response(resp: &http::Response<Body>) {
    let mut text = format!("< {}\n", status_line(resp));
    for (n, v) in header_list(resp) {
        text.push_str(&format!("< {n}: {}\n", mask(&n, &v)));
    }
    text.push_str("<\n");
    let _ = io::stderr().write_all(text.as_bytes());
}

/// Names whose usual spelling is not "capital after each dash".
const IRREGULAR_NAMES: [&str; 16] = [
    "ETag",
    "WWW-Authenticate",
    "Content-MD5",
    "Content-ID",
    "X-XSS-Protection",
    "X-UA-Compatible",
    "X-DNS-Prefetch-Control",
    "DNT",
    "TE",
    "DPR",
    "NEL",
    "P3P",
    "Sec-WebSocket-Accept",
    "Sec-WebSocket-Key",
    "Sec-WebSocket-Version",
    "X-WebKit-CSP",
];

/// The usual spelling of a header name: ureq (through the http crate) keeps names in lower
/// case and the server's own spelling is lost, so `-i`/`-I`/`-D`/`-v` print this canonical
/// form (`Content-Length`, `Set-Cookie`, `ETag`), never all lower-case.
pub(super) fn canonical_name(name: &str) -> String {
    if let Some(known) = IRREGULAR_NAMES
        .iter()
        .find(|k| k.eq_ignore_ascii_case(name))
    {
        return (*known).to_owned();
    }
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper {
            c.to_ascii_uppercase()
        } else {
            c.to_ascii_lowercase()
        });
        upper = c == '-';
    }
    out
}

pub(super) fn header_list(resp: &http::Response<Body>) -> Vec<(String, String)> {
    resp.headers()
        .iter()
        .map(|(n, v)| {
            (
                canonical_name(n.as_str()),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// The value of a response header, when it is text.
pub(super) fn header_value<'a>(resp: &'a http::Response<Body>, name: &str) -> Option<&'a str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The length of [`header_block`], without building it: `%{size_header}` counts every
/// response's, and a many-URL run would otherwise format each header block for nothing.
pub(super) fn header_block_len(resp: &http::Response<Body>) -> usize {
    let headers: usize = resp
        .headers()
        .iter()
        .map(|(n, v)| n.as_str().len() + 2 + String::from_utf8_lossy(v.as_bytes()).len() + 2)
        .sum();
    status_line(resp).len() + 2 + headers + 2
}

/// The status line and headers as `-i` prints them, with the blank line.
pub(super) fn header_block(resp: &http::Response<Body>) -> String {
    let mut head = format!("{}\r\n", status_line(resp));
    for (n, v) in header_list(resp) {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    head
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_block_length_is_the_length_of_the_block() {
        let resp = http::Response::builder()
            .status(404)
            .header("content-type", "text/html")
            .header(
                "x-odd",
                http::HeaderValue::from_bytes(b"caf\xe9").expect("value"),
            )
            .header("set-cookie", "a=1")
            .body(Body::builder().data(Vec::new()))
            .expect("response");
        assert_eq!(header_block_len(&resp), header_block(&resp).len());
        assert!(header_block_len(&resp) > 60);
    }

    #[test]
    fn masks_secrets() {
        assert_eq!(
            mask("Authorization", "Basic dXNlcjpwYXNz"),
            "Basic (masked)"
        );
        assert_eq!(mask("Cookie", "a=1; b=2"), "a=(masked); b=(masked)");
        assert_eq!(mask("Accept", "*/*"), "*/*");
    }

    #[test]
    fn header_names_are_canonical() {
        assert_eq!(canonical_name("content-length"), "Content-Length");
        assert_eq!(canonical_name("etag"), "ETag");
        assert_eq!(canonical_name("www-authenticate"), "WWW-Authenticate");
        assert_eq!(canonical_name("x-request-id"), "X-Request-Id");
    }

    #[test]
    fn url_passwords_are_masked() {
        assert_eq!(
            mask_url("http://u:p%40ss@h:8/x?a=b@c"),
            "http://u:***@h:8/x?a=b@c"
        );
        assert_eq!(
            mask_url("a http://u:p@h/ and https://v:q@i/y"),
            "a http://u:***@h/ and https://v:***@i/y"
        );
        assert_eq!(mask_url("u:secret@host/x"), "u:***@host/x");
        assert_eq!(
            mask_url("http://u@h/ no password"),
            "http://u@h/ no password"
        );
        assert_eq!(mask_url("http://h/x"), "http://h/x");
    }
}
