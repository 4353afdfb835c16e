//! `postie fetch --show-cert URL`: the certificate chain each server presents, with the
//! pin to give `--pinnedpubkey`, so a pin can be set up without openssl commands.

use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::{FetchConfig, FetchError};
use crate::exit::Exit;
use crate::tls::{CertInfo, TlsClient};

/// Prints every URL's chain on stdout; the exit code is that of the last failure.
pub fn show_certs(config: &FetchConfig) -> Result<Exit, FetchError> {
    let client = TlsClient::new(&config.tls)?;
    let mut last_failure = None;
    for job in &config.jobs {
        match chain_of(&client, config, &job.url) {
            Ok(text) => {
                let mut out = std::io::stdout().lock();
                out.write_all(text.as_bytes())
                    .and_then(|()| out.flush())
                    .map_err(|e| FetchError::write("stdout", e))?;
            }
            Err(err) => {
                eprintln!("postie: {err}");
                last_failure = Some(err.exit_code());
            }
        }
    }
    Ok(last_failure.map_or(Exit::SUCCESS, Exit::with_code))
}

fn chain_of(client: &TlsClient, config: &FetchConfig, raw: &str) -> Result<String, FetchError> {
    let bad = |why: &str| FetchError::BadUrl {
        url: raw.to_owned(),
        why: why.to_owned(),
    };
    let url = url::Url::parse(raw).map_err(|e| bad(&format!("malformed URL: {e}")))?;
    if url.scheme() != "https" {
        return Err(bad("--show-cert needs an https:// URL"));
    }
    let host = url.host_str().ok_or_else(|| bad("no host in URL"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = url.port_or_known_default().unwrap_or(443);
    let timeout = config.connect_timeout.unwrap_or(Duration::from_secs(30));
    let connect_err = |why: String| FetchError::Connect {
        url: raw.to_owned(),
        why,
    };
    let addr = (host, port)
        .to_socket_addrs()
        .map_err(|_| FetchError::Resolve {
            url: raw.to_owned(),
            host: host.to_owned(),
        })?
        .next()
        .ok_or_else(|| connect_err("no address".into()))?;
    let tcp = TcpStream::connect_timeout(&addr, timeout).map_err(|e| connect_err(e.to_string()))?;
    let _ = tcp.set_read_timeout(Some(timeout));
    let _ = tcp.set_write_timeout(Some(timeout));
    let (chain, problem) = client
        .inspect(host, tcp)
        .map_err(|source| FetchError::Tls {
            url: raw.to_owned(),
            source,
        })?;
    Ok(render(raw, &chain, problem.as_deref()))
}

/// The report: one block per certificate, leaf first, then the verdict and the pin.
fn render(url: &str, chain: &[CertInfo], problem: Option<&str>) -> String {
    let mut out = format!("{url}\n");
    for (i, cert) in chain.iter().enumerate() {
        out.push_str(&format!(
            "{i} subject: {}\n  issuer: {}\n  expires: {}\n  pin: {}\n  sha256 fingerprint: {}\n",
            cert.subject, cert.issuer, cert.not_after, cert.pin, cert.fingerprint
        ));
    }
    match problem {
        None => out.push_str("verify: ok\n"),
        Some(why) => out.push_str(&format!("verify: FAILED ({why})\n")),
    }
    if let Some(leaf) = chain.first() {
        out.push_str(&format!("--pinnedpubkey '{}'\n", leaf.pin));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_names_each_certificate_and_the_leaf_pin() {
        let cert = |cn: &str, pin: &str| CertInfo {
            subject: format!("CN={cn}"),
            issuer: "CN=ca".into(),
            not_after: "Dec  5 10:00:00 2026 GMT".into(),
            pin: pin.into(),
            fingerprint: "AB:CD".into(),
        };
        let text = render(
            "https://x/",
            &[cert("x", "sha256//AAA="), cert("ca", "sha256//BBB=")],
            None,
        );
        assert!(
            text.contains(
                "0 subject: CN=x\n  issuer: CN=ca\n  expires: Dec  5 10:00:00 2026 GMT\n"
            )
        );
        assert!(text.contains("1 subject: CN=ca\n"));
        assert!(
            text.ends_with("verify: ok\n--pinnedpubkey 'sha256//AAA='\n"),
            "{text}"
        );
        let text = render("https://x/", &[], Some("self-signed certificate"));
        assert!(text.ends_with("verify: FAILED (self-signed certificate)\n"));
    }
}
