//! `urljoin` and `urldefrag`, ported from CPython 3.13.0.

use super::PyError;
use super::split::{USES_NETLOC, urlparse, urlunparse};

/// Schemes `urljoin` resolves relative references for.
pub const USES_RELATIVE: &[&str] = &[
    "", "ftp", "http", "gopher", "nntp", "imap", "wais", "file", "https", "shttp", "mms",
    "prospero", "rtsp", "rtsps", "rtspu", "sftp", "svn", "svn+ssh", "ws", "wss",
];

/// `urljoin(base, url, allow_fragments)`. It mirrors CPython 3.13's `urllib.parse.urljoin`
/// statement by statement, so it keeps that function's shape (and length): a difference
/// from CPython is then a difference of one line.
pub fn urljoin(base: &str, url: &str, allow_fragments: bool) -> Result<String, PyError> {
    if base.is_empty() {
        return Ok(url.to_owned());
    }
    if url.is_empty() {
        return Ok(base.to_owned());
    }
    let b = urlparse(base, "", allow_fragments)?;
    let r = urlparse(url, &b.scheme, allow_fragments)?;
    let scheme = r.scheme.as_ref();
    if scheme != b.scheme || !USES_RELATIVE.contains(&scheme) {
        return Ok(url.to_owned());
    }
    let mut netloc = r.netloc.as_ref();
    if USES_NETLOC.contains(&scheme) {
        if !netloc.is_empty() {
            return Ok(urlunparse(
                scheme,
                netloc,
                &r.path,
                &r.params,
                &r.query,
                &r.fragment,
            ));
        }
        netloc = &b.netloc;
    }
    if r.path.is_empty() && r.params.is_empty() {
        let query = if r.query.is_empty() {
            &b.query
        } else {
            &r.query
        };
        return Ok(urlunparse(
            scheme,
            netloc,
            &b.path,
            &b.params,
            query,
            &r.fragment,
        ));
    }

    let mut base_parts: Vec<&str> = b.path.split('/').collect();
    if base_parts.last().is_some_and(|last| !last.is_empty()) {
        // The last item is not a directory, so it does not count in resolving the path.
        base_parts.pop();
    }
    let segments: Vec<&str> = if r.path.starts_with('/') {
        r.path.split('/').collect()
    } else {
        let mut segs = base_parts;
        segs.extend(r.path.split('/'));
        // Drop empty inner segments, which would make redundant slashes on re-joining.
        let n = segs.len();
        if n > 2 {
            let last = segs[n - 1];
            let mut kept: Vec<&str> = Vec::with_capacity(n);
            kept.push(segs[0]);
            kept.extend(segs[1..n - 1].iter().filter(|s| !s.is_empty()));
            kept.push(last);
            segs = kept;
        }
        segs
    };

    let mut resolved: Vec<&str> = Vec::with_capacity(segments.len());
    for seg in &segments {
        match *seg {
            ".." => {
                resolved.pop();
            }
            "." => {}
            s => resolved.push(s),
        }
    }
    if segments.last().is_some_and(|s| *s == "." || *s == "..") {
        resolved.push("");
    }
    let mut path = resolved.join("/");
    if path.is_empty() {
        path.push('/');
    }
    Ok(urlunparse(
        scheme,
        netloc,
        &path,
        &r.params,
        &r.query,
        &r.fragment,
    ))
}

/// `urldefrag(url)`: the URL without its fragment, and the fragment.
pub fn urldefrag(url: &str) -> Result<(String, String), PyError> {
    if !url.contains('#') {
        return Ok((url.to_owned(), String::new()));
    }
    let p = urlparse(url, "", true)?;
    let defrag = urlunparse(&p.scheme, &p.netloc, &p.path, &p.params, &p.query, "");
    Ok((defrag, p.fragment.into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3986_examples() {
        let base = "http://a/b/c/d;p?q";
        for (rel, want) in [
            ("g", "http://a/b/c/g"),
            ("../..", "http://a/"),
            ("../../../g", "http://a/g"),
            ("?y", "http://a/b/c/d;p?y"),
            ("#s", "http://a/b/c/d;p?q#s"),
            ("g;x?y#s", "http://a/b/c/g;x?y#s"),
            ("", "http://a/b/c/d;p?q"),
            (".", "http://a/b/c/"),
            ("//g", "http://g"),
        ] {
            assert_eq!(urljoin(base, rel, true).expect("join"), want, "{rel}");
        }
    }
}
