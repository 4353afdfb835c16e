//! Form POSTs for other engines (the OAuth2 identity provider of `postie oauth`): one
//! request over the same agent chain as `postie fetch` (postie's OpenSSL client with the
//! system trust store or `--cacert`, proxies chosen from the environment as curl chooses
//! them), no redirects, a bounded reply. The form often carries secrets (a refresh token, a
//! client secret): it is never logged, and errors name only the URL.

use std::io::Read;
use std::time::Duration;

use ureq::config::AutoHeaderValue;
use ureq::{Agent, http};

use super::error::from_ureq;
use super::probe::{self, Probe};
use super::proxy::ProxySettings;
use super::{FetchError, mask_url, urlencode_component};
use crate::secret::Secret;
use crate::tls::TlsOptions;
use crate::tls::http::OpensslConnector;

/// The largest reply read: token and device replies are a few hundred bytes.
const MAX_REPLY: u64 = 1 << 20;

/// A field's value: plain, or a secret that must not be logged.
#[derive(Debug, Clone)]
pub enum FormValue<'a> {
    Text(&'a str),
    Secret(&'a Secret),
}

impl FormValue<'_> {
    fn text(&self) -> &str {
        match self {
            FormValue::Text(t) => t,
            FormValue::Secret(s) => s.expose(),
        }
    }
}

/// A reply: status and body (at most 1 MiB).
#[derive(Debug, Clone)]
pub struct FormReply {
    pub status: u16,
    pub body: Vec<u8>,
}

/// An agent for small form POSTs.
#[derive(Debug)]
pub struct FormClient {
    agent: Agent,
    proxy: ProxySettings,
}

impl FormClient {
    /// A client with `tls` (its `cacert` and client certificate are read at once, so a bad
    /// file fails before any request) and `timeout` over each whole request.
    pub fn new(tls: &TlsOptions, timeout: Duration) -> Result<FormClient, FetchError> {
        let connector = OpensslConnector::for_options(tls)?;
        let config = Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .proxy(None)
            .user_agent(AutoHeaderValue::Provided(std::sync::Arc::new(format!(
                "postie/{}",
                env!("CARGO_PKG_VERSION")
            ))))
            .accept_encoding(AutoHeaderValue::None)
            .timeout_global(Some(timeout))
            .build();
        Ok(FormClient {
            agent: probe::agent(config, &Probe::default(), connector),
            proxy: ProxySettings::from_env(None, None),
        })
    }

    /// POSTs `fields` as `application/x-www-form-urlencoded` to `url`, asking for JSON.
    pub fn post(&self, url: &str, fields: &[(&str, FormValue)]) -> Result<FormReply, FetchError> {
        let bad = |why: String| FetchError::BadUrl {
            url: mask_url(url),
            why,
        };
        let parsed = url::Url::parse(url).map_err(|e| bad(format!("malformed URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(bad("not an http:// or https:// URL".into()));
        }
        let host = parsed.host_str().unwrap_or("").to_owned();
        let proxy = match self.proxy.for_url(&parsed) {
            Some(p) => Some(ureq::Proxy::new(p).map_err(|e| bad(format!("proxy: {e}")))?),
            None => None,
        };
        let request = http::Request::post(url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Accept", "application/json")
            .body(encode(fields))
            .map_err(|e| bad(e.to_string()))?;
        let request = self.agent.configure_request(request).proxy(proxy).build();
        let response = self
            .agent
            .run(request)
            .map_err(|e| from_ureq(url, &host, e))?;
        let status = response.status().as_u16();
        let mut body = Vec::new();
        response
            .into_body()
            .into_reader()
            .take(MAX_REPLY)
            .read_to_end(&mut body)
            .map_err(|e| FetchError::Partial {
                url: mask_url(url),
                why: e.to_string(),
            })?;
        Ok(FormReply { status, body })
    }
}

/// `name=value&...`, each part percent-encoded.
fn encode(fields: &[(&str, FormValue)]) -> String {
    fields
        .iter()
        .map(|(name, value)| {
            format!(
                "{}={}",
                urlencode_component(name.as_bytes()),
                urlencode_component(value.text().as_bytes())
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_percent_encoded() {
        let secret = Secret::new("a b&c=d");
        assert_eq!(
            encode(&[
                ("grant_type", FormValue::Text("refresh_token")),
                ("refresh_token", FormValue::Secret(&secret)),
                ("scope", FormValue::Text("https://mail.google.com/ x")),
            ]),
            "grant_type=refresh_token&refresh_token=a%20b%26c%3Dd&scope=https%3A%2F%2Fmail.google.com%2F%20x"
        );
    }

    #[test]
    fn only_http_urls_are_posted_to() {
        let client = FormClient::new(&TlsOptions::default(), Duration::from_secs(1)).expect("c");
        let err = client.post("ftp://x/y", &[]).expect_err("refused");
        assert!(matches!(err, FetchError::BadUrl { .. }), "{err}");
        let err = client.post("not a url", &[]).expect_err("refused");
        assert!(matches!(err, FetchError::BadUrl { .. }), "{err}");
    }
}
