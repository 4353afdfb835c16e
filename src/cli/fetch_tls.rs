//! The flags of `postie fetch` for stalled transfers (`--idle-timeout`, `-Y`, `-y`) and
//! client TLS (`--cert`, `--key`, `--pinnedpubkey`, `--show-cert`), kept apart from the
//! rest of its flags.

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::CliError;
use crate::cli::common::ClientTlsArgs;
use crate::config::Account;
use crate::error::Error;
use crate::fetch::{DEFAULT_SPEED_TIME, StallLimits};
use crate::tls::TlsOptions;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct FetchTlsStallArgs {
    /// Give up (exit 28) when no data arrives for this long; 0 turns it off.
    #[arg(long, value_name = "SECONDS", default_value_t = 300.0)]
    pub idle_timeout: f64,
    /// Give up (exit 28) when slower than BYTES per second for --speed-time.
    #[arg(short = 'Y', long, value_name = "BYTES")]
    pub speed_limit: Option<u64>,
    /// How long the transfer may stay below --speed-limit (default 30).
    #[arg(short = 'y', long, value_name = "SECONDS")]
    pub speed_time: Option<u64>,
    /// Print each https:// server's certificate chain (subjects, issuers, expiry, the pin
    /// for --pinnedpubkey) instead of fetching.
    #[arg(long)]
    pub show_cert: bool,
    #[command(flatten)]
    pub client: ClientTlsArgs,
}

impl FetchTlsStallArgs {
    pub fn stall(&self) -> Result<StallLimits, CliError> {
        let idle = Duration::try_from_secs_f64(self.idle_timeout)
            .map_err(|e| CliError::invalid("--idle-timeout", e.to_string()))?;
        let speed_time = match self.speed_time {
            Some(0) => return Err(CliError::invalid("--speed-time", "must be at least 1")),
            Some(s) => Duration::from_secs(s),
            None => DEFAULT_SPEED_TIME,
        };
        // As curl: -y alone means a limit of 1 byte per second.
        let speed_limit = match (self.speed_limit, self.speed_time) {
            (Some(0), _) => None,
            (Some(n), _) => Some(n),
            (None, Some(_)) => Some(1),
            (None, None) => None,
        };
        Ok(StallLimits {
            idle: (!idle.is_zero()).then_some(idle),
            speed_limit,
            speed_time,
        })
    }

    pub fn tls(&self, cacert: Option<PathBuf>, insecure: bool) -> Result<TlsOptions, Error> {
        let mut opts = TlsOptions {
            cacert,
            insecure,
            ..TlsOptions::default()
        };
        self.client.apply(&Account::default(), &mut opts)?;
        Ok(opts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stall_flags_follow_curl_defaults() {
        let args = |limit, time, idle| FetchTlsStallArgs {
            speed_limit: limit,
            speed_time: time,
            idle_timeout: idle,
            ..FetchTlsStallArgs::default()
        };
        let s = args(Some(100), None, 300.0).stall().expect("ok");
        assert_eq!(
            (s.speed_limit, s.speed_time),
            (Some(100), DEFAULT_SPEED_TIME)
        );
        assert_eq!(s.idle, Some(Duration::from_secs(300)));
        let s = args(None, Some(5), 0.0).stall().expect("ok");
        assert_eq!(
            (s.speed_limit, s.speed_time, s.idle),
            (Some(1), Duration::from_secs(5), None)
        );
        assert!(args(None, Some(0), 1.0).stall().is_err());
        assert!(args(None, None, -1.0).stall().is_err());
    }
}
