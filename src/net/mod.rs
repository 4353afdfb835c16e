//! The network layer under SMTP and POP3 (it knows neither protocol): the plain-or-TLS
//! [`Stream`] and its buffering ([`BufStream`]), TCP connect with timeouts and one deadline
//! over a whole connect phase ([`connect`]), the TLS handshake and the STARTTLS/STLS upgrade
//! with its check that no plaintext was buffered ([`upgrade`]), the classifier of I/O
//! errors ([`IoClass`]) and the server URL parser ([`ServerUrl`]).
//!
//! Each protocol turns these errors into its own kinds and messages, so `net` imports only
//! `crate::tls` (and nothing above it).

pub mod connect;
// In-memory streams for the unit tests and the fuzz targets (cargo-fuzz sets `fuzzing`).
#[cfg(any(test, fuzzing))]
pub mod memory;
pub mod server_url;
pub mod stream;
pub mod upgrade;

pub use connect::{ConnectError, IoClass, tcp_connect, within};
pub use server_url::{BadServerUrl, Family, ServerUrl};
pub use stream::{BufStream, Stream};
pub use upgrade::{UpgradeError, handshake, start_tls};
