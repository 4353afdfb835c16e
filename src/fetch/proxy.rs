//! Proxy choice as curl makes it: `-x` for every URL, else `http_proxy` for http:// (the
//! lower-case name only, as curl), `https_proxy`/`HTTPS_PROXY` for https://, then
//! `all_proxy`/`ALL_PROXY`; `--noproxy` (or `no_proxy`/`NO_PROXY`) lists hosts reached
//! directly. ureq's own choice (the first of ALL/HTTPS/HTTP for every scheme) is not used.

/// The proxy settings of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxySettings {
    /// `-x/--proxy`.
    pub explicit: Option<String>,
    pub http: Option<String>,
    pub https: Option<String>,
    pub all: Option<String>,
    /// `--noproxy`, else `no_proxy`/`NO_PROXY`: comma-separated hosts or domains; `*` = all.
    pub no_proxy: Option<String>,
}

fn env_first(names: &[&str]) -> Option<String> {
    names
        .iter()
        .filter_map(|n| std::env::var(n).ok())
        .find(|v| !v.trim().is_empty())
}

impl ProxySettings {
    /// Settings from the flags and the environment.
    pub fn from_env(explicit: Option<String>, noproxy: Option<String>) -> ProxySettings {
        ProxySettings {
            explicit: explicit.filter(|p| !p.is_empty()),
            http: env_first(&["http_proxy"]),
            https: env_first(&["https_proxy", "HTTPS_PROXY"]),
            all: env_first(&["all_proxy", "ALL_PROXY"]),
            no_proxy: noproxy.or_else(|| env_first(&["no_proxy", "NO_PROXY"])),
        }
    }

    /// The proxy for `url`, if any.
    pub fn for_url(&self, url: &url::Url) -> Option<&str> {
        let host = url.host_str().unwrap_or("");
        if self
            .no_proxy
            .as_deref()
            .is_some_and(|l| no_proxy_matches(l, host))
        {
            return None;
        }
        if let Some(p) = &self.explicit {
            return Some(p);
        }
        let by_scheme = match url.scheme() {
            "http" => self.http.as_deref(),
            "https" => self.https.as_deref(),
            _ => None,
        };
        by_scheme.or(self.all.as_deref())
    }
}

/// The proxy URL with `-U` credentials put in (percent-encoded), which ureq sends as
/// Proxy-Authorization; without them, the proxy as given.
pub fn with_user(proxy: &str, user: Option<&(String, crate::secret::Secret)>) -> String {
    let Some((name, password)) = user else {
        return proxy.to_owned();
    };
    let (scheme, rest) = proxy.split_once("://").unwrap_or(("http", proxy));
    // Credentials already in the proxy URL are replaced by -U's, as curl.
    let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    format!(
        "{scheme}://{}:{}@{host}",
        super::urlencode_component(name.as_bytes()),
        super::urlencode_component(password.expose().as_bytes())
    )
}

/// True when `host` is covered by the `no_proxy` list.
pub fn no_proxy_matches(list: &str, host: &str) -> bool {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    list.split(',').map(str::trim).any(|entry| {
        if entry == "*" {
            return true;
        }
        let entry = entry.trim_start_matches('.').to_ascii_lowercase();
        !entry.is_empty() && (host == entry || host.ends_with(&format!(".{entry}")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_user_goes_into_the_proxy_url_encoded() {
        let user = ("bob".to_owned(), crate::secret::Secret::new("p@ss:w"));
        assert_eq!(
            with_user("http://old:x@proxy:3128", Some(&user)),
            "http://bob:p%40ss%3Aw@proxy:3128"
        );
        assert_eq!(
            with_user("proxy:3128", Some(&user)),
            "http://bob:p%40ss%3Aw@proxy:3128"
        );
        assert_eq!(with_user("proxy:3128", None), "proxy:3128");
    }

    #[test]
    fn picks_by_scheme_like_curl() {
        let s = ProxySettings {
            explicit: None,
            http: Some("http://hp:1".into()),
            https: Some("http://sp:2".into()),
            all: Some("http://ap:3".into()),
            no_proxy: Some("example.org, .local".into()),
        };
        let u = |s: &str| url::Url::parse(s).expect("url");
        assert_eq!(s.for_url(&u("http://a.com/")), Some("http://hp:1"));
        assert_eq!(s.for_url(&u("https://a.com/")), Some("http://sp:2"));
        assert_eq!(s.for_url(&u("http://www.example.org/")), None);
        assert_eq!(s.for_url(&u("http://x.local/")), None);
        assert_eq!(s.for_url(&u("http://notexample.org/")), Some("http://hp:1"));
        let only_all = ProxySettings {
            all: Some("http://ap:3".into()),
            ..ProxySettings::default()
        };
        assert_eq!(only_all.for_url(&u("https://a.com/")), Some("http://ap:3"));
        assert!(no_proxy_matches("*", "anything"));
    }
}
