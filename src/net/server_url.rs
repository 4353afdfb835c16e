//! `--server` values: `smtp://`, `smtps://` (SMTP, a URL as the WHATWG parser reads it) and
//! `pop3://`, `pop3s://` or a bare `host[:port]` (POP3). The two families keep the rules
//! they always had, so a value accepted or refused before still is; each protocol wraps
//! [`BadServerUrl`] into its own usage error.

/// Which protocol's schemes are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `smtp://` (587, STARTTLS) or `smtps://` (465).
    Smtp,
    /// `pop3://` (110), `pop3s://` (995), or a bare `host[:port]` (110).
    Pop3,
}

/// Where to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl {
    /// The host name or address (an IPv6 address without its brackets).
    pub host: String,
    pub port: u16,
    /// `smtps://` or `pop3s://`: TLS from the first byte.
    pub implicit_tls: bool,
}

/// Why a `--server` value is not a server URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{why}")]
pub struct BadServerUrl {
    pub why: String,
}

fn bad(why: impl Into<String>) -> BadServerUrl {
    BadServerUrl { why: why.into() }
}

impl ServerUrl {
    pub fn parse(text: &str, family: Family) -> Result<ServerUrl, BadServerUrl> {
        match family {
            Family::Smtp => parse_smtp(text),
            Family::Pop3 => parse_pop3(text),
        }
    }
}

fn parse_smtp(value: &str) -> Result<ServerUrl, BadServerUrl> {
    let url = url::Url::parse(value)
        .map_err(|_| bad("expected smtp://HOST[:PORT] or smtps://HOST[:PORT]"))?;
    let implicit_tls = match url.scheme() {
        "smtp" => false,
        "smtps" => true,
        other => return Err(bad(format!("unsupported scheme {other:?} (smtp or smtps)"))),
    };
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad("no host"))?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    if !url.path().is_empty() && url.path() != "/" || url.query().is_some() {
        return Err(bad("a server URL has no path or query"));
    }
    let port = url.port().unwrap_or(if implicit_tls { 465 } else { 587 });
    Ok(ServerUrl {
        host,
        port,
        implicit_tls,
    })
}

fn parse_pop3(text: &str) -> Result<ServerUrl, BadServerUrl> {
    let (implicit_tls, rest) = if let Some(r) = text.strip_prefix("pop3s://") {
        (true, r)
    } else if let Some(r) = text.strip_prefix("pop3://") {
        (false, r)
    } else if text.contains("://") {
        return Err(bad("the scheme must be pop3:// or pop3s://"));
    } else {
        (false, text)
    };
    let rest = rest.trim_end_matches('/');
    let default_port = if implicit_tls { 995 } else { 110 };
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let end = v6.find(']').ok_or_else(|| bad("unclosed [ in the host"))?;
        let port = match v6[end + 1..].strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad("a bad port"))?,
            None => default_port,
        };
        (v6[..end].to_owned(), port)
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), p.parse().map_err(|_| bad("a bad port"))?),
            None => (rest.to_owned(), default_port),
        }
    };
    if host.is_empty() || host.contains(['/', '@', '?', '#']) {
        return Err(bad("no host name"));
    }
    Ok(ServerUrl {
        host,
        port,
        implicit_tls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(text: &str, family: Family) -> (String, u16, bool) {
        let s = ServerUrl::parse(text, family).expect(text);
        (s.host, s.port, s.implicit_tls)
    }

    #[test]
    fn smtp_urls() {
        let smtp = |t| parts(t, Family::Smtp);
        assert_eq!(
            smtp("smtps://mail.example"),
            ("mail.example".into(), 465, true)
        );
        assert_eq!(
            smtp("smtp://127.0.0.1:2525"),
            ("127.0.0.1".into(), 2525, false)
        );
        assert_eq!(smtp("smtp://[::1]"), ("::1".into(), 587, false));
        for (text, why) in [
            ("http://x", "unsupported scheme \"http\" (smtp or smtps)"),
            (
                "mail.example",
                "expected smtp://HOST[:PORT] or smtps://HOST[:PORT]",
            ),
            ("smtp://h/x", "a server URL has no path or query"),
            ("pop3://h", "unsupported scheme \"pop3\" (smtp or smtps)"),
        ] {
            let err = ServerUrl::parse(text, Family::Smtp).expect_err(text);
            assert_eq!(err.why, why, "{text}");
        }
    }

    #[test]
    fn pop3_urls() {
        let pop3 = |t| parts(t, Family::Pop3);
        assert_eq!(
            pop3("pop3s://mail.example.com"),
            ("mail.example.com".into(), 995, true)
        );
        assert_eq!(
            pop3("pop3://127.0.0.1:2110/"),
            ("127.0.0.1".into(), 2110, false)
        );
        assert_eq!(
            pop3("mail.example.com"),
            ("mail.example.com".into(), 110, false)
        );
        assert_eq!(pop3("pop3s://[::1]:1995"), ("::1".into(), 1995, true));
        for (text, why) in [
            ("imap://x", "the scheme must be pop3:// or pop3s://"),
            ("smtp://x", "the scheme must be pop3:// or pop3s://"),
            ("pop3://", "no host name"),
            ("pop3://h:99999", "a bad port"),
            ("pop3://u@h", "no host name"),
            ("pop3://[::1", "unclosed [ in the host"),
        ] {
            let err = ServerUrl::parse(text, Family::Pop3).expect_err(text);
            assert_eq!(err.why, why, "{text}");
        }
    }
}
