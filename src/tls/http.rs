//! HTTPS for `postie fetch`: a ureq connector that does the TLS handshake with the shared
//! [`TlsClient`], so client certificates and pins are checked on the very connection the
//! request then uses (a pin checked on a separate connection would prove nothing).
//!
//! It uses ureq's `unversioned` transport API (a ureq upgrade may need this file adapted;
//! the rest of the HTTP code does not see it). `fetch`'s agent (src/fetch/probe.rs) chains it
//! after ureq's own connectors, in place of native-tls: SOCKS or CONNECT proxy, TCP, then TLS
//! for `https://`.

use std::fmt;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex, PoisonError};

use openssl::ssl::SslStream;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, Transport,
    TransportAdapter,
};

use super::{TlsClient, TlsError, TlsOptions};

/// Wraps a connection in TLS when the URL is `https://`.
#[derive(Debug)]
pub struct OpensslConnector {
    client: Mutex<Client>,
}

/// The TLS client, or the settings to build it from at the first `https://` connection.
#[derive(Debug)]
enum Client {
    Ready(Arc<TlsClient>),
    Later(TlsOptions),
}

impl OpensslConnector {
    /// The connector for an agent chain of its own (`fetch`'s timing probe builds one).
    pub fn new(client: TlsClient) -> OpensslConnector {
        OpensslConnector {
            client: Mutex::new(Client::Ready(Arc::new(client))),
        }
    }

    /// The connector for `options`: with the system's trust store and no client
    /// certificate, built lazily (loading the CA bundle costs more than a small request);
    /// with files given, at once, so a bad `--cacert` or `--cert` fails before any request.
    pub fn for_options(options: &TlsOptions) -> Result<OpensslConnector, TlsError> {
        if options.cacert.is_none() && options.client_cert.is_none() {
            Ok(OpensslConnector::lazy(options.clone()))
        } else {
            Ok(OpensslConnector::new(TlsClient::new(options)?))
        }
    }

    /// A connector that builds its client at the first `https://` connection. Loading the
    /// system's CA bundle parses every certificate in it (tens of milliseconds); a run that
    /// only fetches `http://` URLs should not pay for it. A failure to build is the first
    /// TLS connection's error (and is tried again on the next).
    pub fn lazy(options: TlsOptions) -> OpensslConnector {
        OpensslConnector {
            client: Mutex::new(Client::Later(options)),
        }
    }

    fn client(&self) -> Result<Arc<TlsClient>, TlsError> {
        let mut slot = self.client.lock().unwrap_or_else(PoisonError::into_inner);
        let client = match &*slot {
            Client::Ready(client) => return Ok(Arc::clone(client)),
            Client::Later(options) => Arc::new(TlsClient::new(options)?),
        };
        *slot = Client::Ready(Arc::clone(&client));
        Ok(client)
    }
}

/// The host name to verify: the URL's host without IPv6 brackets.
fn bare_host(details: &ConnectionDetails) -> String {
    let host = details.uri.host().unwrap_or("");
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned()
}

impl<In: Transport> Connector<In> for OpensslConnector {
    type Out = Either<In, OpensslTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let mut adapter = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        adapter.set_timeout(details.timeout);
        let host = bare_host(details);
        let tls_failure = |e| ureq::Error::Io(std::io::Error::other(TlsFailure(e)));
        let stream = self
            .client()
            .and_then(|client| client.connect(&host, adapter))
            .map_err(tls_failure)?;
        Ok(Some(Either::B(OpensslTransport {
            buffers: LazyBuffers::new(
                details.config.input_buffer_size(),
                details.config.output_buffer_size(),
            ),
            stream,
        })))
    }
}

/// A [`TlsError`] carried through ureq's error; `fetch` takes it back out with
/// [`into_tls_error`].
#[derive(Debug)]
struct TlsFailure(TlsError);

impl fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for TlsFailure {}

/// The handshake failure inside a ureq error, or the error back when it is something else.
pub fn into_tls_error(err: ureq::Error) -> Result<TlsError, ureq::Error> {
    match err {
        ureq::Error::Io(io) if io.get_ref().is_some_and(|e| e.is::<TlsFailure>()) => {
            let kind = io.kind();
            match io.into_inner().map(|inner| inner.downcast::<TlsFailure>()) {
                Some(Ok(failure)) => Ok(failure.0),
                _ => Err(ureq::Error::Io(std::io::Error::from(kind))),
            }
        }
        other => Err(other),
    }
}

/// An established TLS connection as a ureq transport.
pub struct OpensslTransport {
    buffers: LazyBuffers,
    stream: SslStream<TransportAdapter>,
}

impl fmt::Debug for OpensslTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpensslTransport").finish()
    }
}

impl Transport for OpensslTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = &self.buffers.output()[..amount];
        self.stream.write_all(output)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input)?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}
