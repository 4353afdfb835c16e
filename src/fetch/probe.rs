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

#[derive(Debug)]
struct ProbeResolver {
    inner: DefaultResolver,
    probe: Probe,
}

impl Resolver for ProbeResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, Error> {
        let addrs = self.inner.resolve(uri, config, timeout)?;
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
