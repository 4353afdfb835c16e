//! What ureq does not report about a connection, for `-w`: when the name was resolved, when
//! TCP and TLS were up, and the peer's address. A resolver and two connector marks wrap
//! ureq's own (the chain is ureq's default chain, SOCKS, CONNECT proxy, TCP, with postie's
//! OpenSSL client from `crate::tls::http` in place of native-tls).
//!
//! The peer's address comes from the TCP transport's `Debug` text (ureq exposes the socket
//! no other way); when that is not available, the first resolved address of the connection
//! is used, which is the one ureq tries first. Without a connection there is no address.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    ConnectProxyConnector, ConnectionDetails, Connector, NextTimeout, SocksConnector, TcpConnector,
    Transport,
};
use ureq::{Agent, Error};

/// The connection events of the current transfer.
#[derive(Debug, Clone, Default)]
pub(super) struct Events {
    pub resolved: Option<Instant>,
    pub connected: Option<Instant>,
    pub tls_done: Option<Instant>,
    /// The peer of the connection made in this transfer; none when none was made.
    pub remote: Option<SocketAddr>,
    /// The peer of every `host:port` connected to in this run: a reused connection makes
    /// no new one, and its peer is found here.
    pub peers: std::collections::HashMap<String, SocketAddr>,
    /// The first address of the last resolution (the one ureq tries first).
    first_resolved: Option<SocketAddr>,
}

/// Shared between the agent's resolver and connectors and the transfer loop.
#[derive(Debug, Clone, Default)]
pub(super) struct Probe(Arc<Mutex<Events>>);

impl Probe {
    fn update(&self, f: impl FnOnce(&mut Events)) {
        if let Ok(mut e) = self.0.lock() {
            f(&mut e);
        }
    }

    /// Forgets the timings of the previous transfer (the peer stays).
    pub(super) fn reset(&self) {
        self.update(|e| {
            e.resolved = None;
            e.connected = None;
            e.tls_done = None;
            e.remote = None;
        });
    }

    pub(super) fn events(&self) -> Events {
        self.0.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

/// How long a name's addresses are reused, as curl's `--dns-cache-timeout` default.
const DNS_CACHE_FOR: std::time::Duration = std::time::Duration::from_secs(60);
/// The cache's size at which each new name first drops the expired ones.
const DNS_CACHE_PRUNE_AT: usize = 1024;

#[derive(Debug)]
struct ProbeResolver<R = DefaultResolver> {
    inner: R,
    probe: Probe,
    /// [`DNS_CACHE_FOR`] (shorter in tests).
    ttl: std::time::Duration,
    /// ureq resolves the name before it looks for a pooled connection, so without a cache
    /// every request of a run asks the system again (10,000 pages from `localhost`: 80,000
    /// system calls reading /etc/hosts, 1.4 x the time; from a name in the DNS, a query
    /// each). Keyed by scheme and authority as given (the addresses carry the scheme's port:
    /// `socks5://h` and `http://h` differ); the time is when they were looked up.
    cache: Mutex<std::collections::HashMap<String, (Instant, ResolvedSocketAddrs)>>,
}

impl<R: Resolver> ProbeResolver<R> {
    fn lookup(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, Error> {
        let key = format!(
            "{}://{}",
            uri.scheme_str().unwrap_or(""),
            uri.authority().map_or("", |a| a.as_str())
        )
        .to_ascii_lowercase();
        let now = Instant::now();
        let cached = |cache: &std::collections::HashMap<_, (Instant, ResolvedSocketAddrs)>| {
            cache
                .get(&key)
                .filter(|(at, _)| now.duration_since(*at) < self.ttl)
                .map(|(_, addrs)| addrs.clone())
        };
        if let Some(addrs) = self.cache.lock().ok().and_then(|c| cached(&c)) {
            return Ok(addrs);
        }
        let addrs = self.inner.resolve(uri, config, timeout)?;
        if let Ok(mut cache) = self.cache.lock() {
            // A list of many hosts: expired names go, so the cache holds about one minute's.
            if cache.len() >= DNS_CACHE_PRUNE_AT {
                cache.retain(|_, (at, _)| now.duration_since(*at) < self.ttl);
            }
            cache.insert(key, (now, addrs.clone()));
        }
        Ok(addrs)
    }
}

impl<R: Resolver> Resolver for ProbeResolver<R> {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, Error> {
        let addrs = self.lookup(uri, config, timeout)?;
        let now = Instant::now();
        let first = addrs.first().copied();
        self.probe.update(|e| {
            e.resolved = Some(now);
            e.first_resolved = first;
        });
        Ok(addrs)
    }
}

/// Notes the time a transport is ready: after TCP (`tls: false`) or after TLS.
#[derive(Debug)]
struct Mark {
    probe: Probe,
    tls: bool,
}

impl<In: Transport> Connector<In> for Mark {
    type Out = In;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<In>, Error> {
        if let Some(t) = &chained {
            let now = Instant::now();
            let https = details.uri.scheme_str() == Some("https");
            let peer = peer_from_debug(&format!("{t:?}"));
            let key = authority_key(details.uri);
            self.probe.update(|e| {
                if !self.tls {
                    e.connected = Some(now);
                    e.remote = peer.or(e.first_resolved);
                    if let Some(addr) = e.remote {
                        e.peers.insert(key, addr);
                    }
                } else if https {
                    e.tls_done = Some(now);
                }
            });
        }
        Ok(chained)
    }
}

/// `host:port` of a URI, the key of [`Events::peers`].
fn authority_key(uri: &Uri) -> String {
    let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
        Some("https") => 443,
        _ => 80,
    });
    format!("{}:{port}", uri.host().unwrap_or("").to_ascii_lowercase())
}

impl Events {
    /// The peer of this transfer: its new connection, else the kept-alive one to `url`.
    pub(super) fn peer_for(&self, url: &url::Url) -> Option<SocketAddr> {
        let key = format!(
            "{}:{}",
            url.host_str().unwrap_or("").to_ascii_lowercase(),
            url.port_or_known_default().unwrap_or(80)
        );
        self.remote.or_else(|| self.peers.get(&key).copied())
    }
}

/// `... addr: Some(127.0.0.1:8080) ...` → the address.
fn peer_from_debug(text: &str) -> Option<SocketAddr> {
    let start = text.find("addr: Some(")? + "addr: Some(".len();
    let end = text[start..].find(')')? + start;
    text[start..end].parse().ok()
}

/// An agent whose resolver and connector chain report to `probe`.
pub(super) fn agent(
    config: Config,
    probe: &Probe,
    tls: crate::tls::http::OpensslConnector,
) -> Agent {
    let connector = ()
        .chain(SocksConnector::default())
        .chain(ConnectProxyConnector::default())
        .chain(TcpConnector::default())
        .chain(Mark {
            probe: probe.clone(),
            tls: false,
        })
        .chain(tls)
        .chain(Mark {
            probe: probe.clone(),
            tls: true,
        })
        .chain(super::keepalive::ProbeOnce);
    let resolver = ProbeResolver {
        inner: DefaultResolver::default(),
        probe: probe.clone(),
        ttl: DNS_CACHE_FOR,
        cache: Mutex::default(),
    };
    Agent::with_parts(config, connector, resolver)
}

/// The local address the system uses to reach `remote` (a routing lookup through an
/// unconnected UDP socket: no packet is sent).
pub(super) fn local_ip_for(remote: SocketAddr) -> Option<std::net::IpAddr> {
    let bind = if remote.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let socket = std::net::UdpSocket::bind(bind).ok()?;
    socket.connect(remote).ok()?;
    socket.local_addr().ok().map(|a| a.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts the lookups that reach it; every name is 127.0.0.1.
    #[derive(Debug, Default)]
    struct Counting(std::sync::atomic::AtomicUsize);

    impl Resolver for Counting {
        fn resolve(
            &self,
            uri: &Uri,
            _: &Config,
            _: NextTimeout,
        ) -> Result<ResolvedSocketAddrs, Error> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            // As ureq's resolver: the scheme's default port when the URI names none.
            let default = match uri.scheme_str() {
                Some("socks5") => 1080,
                _ => 80,
            };
            let mut addrs = self.empty();
            addrs.push(SocketAddr::from((
                [127, 0, 0, 1],
                uri.port_u16().unwrap_or(default),
            )));
            Ok(addrs)
        }
    }

    #[test]
    fn a_name_is_looked_up_once_per_host_and_port_until_the_cache_expires() {
        let resolver = ProbeResolver {
            inner: Counting::default(),
            probe: Probe::default(),
            ttl: std::time::Duration::from_millis(200),
            cache: Mutex::default(),
        };
        let config = Config::default();
        let resolve = |u: &str| {
            let uri: Uri = u.parse().expect("uri");
            resolver
                .resolve(&uri, &config, NextTimeout::default())
                .expect("resolve")
        };
        let lookups = || resolver.inner.0.load(std::sync::atomic::Ordering::SeqCst);
        let first = resolve("http://example.test:8080/a");
        assert_eq!(resolve("http://EXAMPLE.test:8080/b"), first);
        assert_eq!(lookups(), 1, "the second request used the cache");
        assert!(
            resolver.probe.events().resolved.is_some(),
            "-w still sees a lookup"
        );
        resolve("http://example.test:8081/");
        resolve("http://other.test:8080/");
        assert_eq!(lookups(), 3, "another port or host is its own entry");
        // The addresses carry the scheme's default port: a SOCKS proxy's name (1080) and
        // the same name over http (80) must not share them.
        let socks = resolve("socks5://example.test");
        let http = resolve("http://example.test/");
        assert_eq!(lookups(), 5, "another scheme is its own entry");
        assert_ne!(socks, http);
        std::thread::sleep(std::time::Duration::from_millis(250));
        resolve("http://example.test:8080/a");
        assert_eq!(lookups(), 6, "an expired entry is looked up again");
    }

    #[test]
    fn a_list_of_many_hosts_does_not_grow_the_cache_past_its_live_names() {
        let resolver = ProbeResolver {
            inner: Counting::default(),
            probe: Probe::default(),
            ttl: std::time::Duration::ZERO,
            cache: Mutex::default(),
        };
        let config = Config::default();
        for i in 0..3 * DNS_CACHE_PRUNE_AT {
            let uri: Uri = format!("http://h{i}.test/").parse().expect("uri");
            resolver
                .resolve(&uri, &config, NextTimeout::default())
                .expect("resolve");
        }
        let held = resolver.cache.lock().expect("cache").len();
        assert!(held <= DNS_CACHE_PRUNE_AT, "{held} names held");
    }

    #[test]
    fn peer_is_read_from_the_transport_debug_text() {
        assert_eq!(
            peer_from_debug("A(TcpTransport { addr: Some(127.0.0.1:8080) })"),
            "127.0.0.1:8080".parse().ok()
        );
        assert_eq!(
            peer_from_debug("TcpTransport { addr: Some([::1]:443) }"),
            "[::1]:443".parse().ok()
        );
        assert_eq!(peer_from_debug("TcpTransport { addr: None }"), None);
    }
}
