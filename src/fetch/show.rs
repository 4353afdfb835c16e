//! How requests and responses are shown: `-v` on stderr (secret header values masked) and
//! the header blocks of `-i`/`-I`.

use std::io::{self, Write};

use ureq::Body;
use ureq::http;

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

pub(super) fn header_list(resp: &http::Response<Body>) -> Vec<(String, String)> {
    resp.headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
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
    fn masks_secrets() {
        assert_eq!(
            mask("Authorization", "Basic dXNlcjpwYXNz"),
            "Basic (masked)"
        );
        assert_eq!(mask("Cookie", "a=1; b=2"), "a=(masked); b=(masked)");
        assert_eq!(mask("Accept", "*/*"), "*/*");
    }
}
