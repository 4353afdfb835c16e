//! Several in-process HTTP servers on 127.0.0.1, one port each: several hosts to a client
//! (its per-host limits key on scheme, name and port). Each host counts the requests it is
//! handling at once and keeps the highest count, and records when each request arrived.
//!
//! Include with `#[path = "support/http_hosts.rs"] mod http_hosts;` next to
//! `http_server.rs`.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::http_server::{HttpServer, Request, Response};

/// What one host saw.
#[derive(Debug, Default)]
pub struct HostStats {
    active: AtomicUsize,
    max: AtomicUsize,
    arrivals: Mutex<Vec<(Instant, String)>>,
}

impl HostStats {
    /// The most requests this host was handling at the same time.
    pub fn max_at_once(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }

    /// When each request arrived, with its path, in arrival order.
    pub fn arrivals(&self) -> Vec<(Instant, String)> {
        self.arrivals.lock().map(|a| a.clone()).unwrap_or_default()
    }
}

/// `count` hosts; `handler(host, request)` answers, after `hold` (so that requests that are
/// open at once overlap in the handler, where they are counted).
pub struct Hosts {
    pub servers: Vec<HttpServer>,
    pub stats: Vec<Arc<HostStats>>,
}

impl Hosts {
    pub fn start(
        count: usize,
        hold: Duration,
        handler: impl Fn(usize, &Request) -> Response + Send + Sync + 'static,
    ) -> Hosts {
        let handler = Arc::new(handler);
        let mut servers = Vec::new();
        let mut stats = Vec::new();
        for host in 0..count {
            let st = Arc::new(HostStats::default());
            let (st2, h) = (Arc::clone(&st), Arc::clone(&handler));
            servers.push(HttpServer::start(move |req: &Request| {
                if let Ok(mut a) = st2.arrivals.lock() {
                    a.push((Instant::now(), req.path().to_owned()));
                }
                let now = st2.active.fetch_add(1, Ordering::SeqCst) + 1;
                st2.max.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(hold);
                let resp = h(host, req);
                st2.active.fetch_sub(1, Ordering::SeqCst);
                resp
            }));
            stats.push(st);
        }
        Hosts { servers, stats }
    }

    pub fn url(&self, host: usize, path: &str) -> String {
        self.servers[host].url(path)
    }
}
