//! The pure parts of the browser login (authorization code with PKCE, RFC 7636, and a
//! loopback redirect, RFC 8252): the verifier and its S256 challenge, the random `state`, the
//! authorization URL, and the parse of the request the browser makes to the loopback
//! listener.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::provider::Provider;
use crate::secret::Secret;

/// A code verifier (43 characters from 32 random bytes, RFC 7636 §4.1) and its challenge.
#[derive(Debug, Clone)]
pub struct Pkce {
    pub verifier: Secret,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Result<Pkce, openssl::error::ErrorStack> {
        let verifier = random_text(32)?;
        let challenge = challenge_of(&verifier);
        Ok(Pkce {
            verifier: Secret::new(verifier),
            challenge,
        })
    }
}

/// `BASE64URL-NOPAD(SHA256(verifier))` (RFC 7636 §4.2, S256).
pub fn challenge_of(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// `n` random bytes from OpenSSL's CSPRNG, as base64url without padding.
pub fn random_text(n: usize) -> Result<String, openssl::error::ErrorStack> {
    let mut bytes = vec![0u8; n];
    openssl::rand::rand_bytes(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The URL the user's browser opens.
pub fn authorize_url(
    provider: &Provider,
    authorize: &str,
    redirect_uri: &str,
    state: &str,
    challenge: &str,
) -> Result<String, url::ParseError> {
    let mut url = url::Url::parse(authorize)?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", &provider.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", state)
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256");
        if !provider.scopes.is_empty() {
            q.append_pair("scope", &provider.scope_param());
        }
        for (k, v) in provider.extra_authorize_params() {
            q.append_pair(k, v);
        }
    }
    Ok(url.into())
}

/// What the browser brought to the loopback listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redirect {
    /// Not the redirect (a favicon, a probe): answer 404 and keep waiting.
    Other,
    /// The authorization code and the state it came with.
    Code { code: String, state: String },
    /// The provider (or the user) refused: `error`, its description, and the state.
    Refused {
        error: String,
        description: Option<String>,
        state: String,
    },
}

/// Parses the request head `GET /path?query HTTP/1.1` the browser sent to `path`.
pub fn parse_redirect(head: &[u8], path: &str) -> Redirect {
    let line = head.split(|b| *b == b'\n').next().unwrap_or(b"");
    let line = String::from_utf8_lossy(line);
    let mut words = line.split_whitespace();
    let (Some("GET"), Some(target)) = (words.next(), words.next()) else {
        return Redirect::Other;
    };
    let (target_path, query) = target.split_once('?').unwrap_or((target, ""));
    if target_path != path {
        return Redirect::Other;
    }
    let mut code = None;
    let mut state = String::new();
    let mut error = None;
    let mut description = None;
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        match &*k {
            "code" => code = Some(v.into_owned()),
            "state" => state = v.into_owned(),
            "error" => error = Some(super::wire::printable(&v)),
            "error_description" => description = Some(super::wire::printable(&v)),
            _ => {}
        }
    }
    match (error, code) {
        (Some(error), _) => Redirect::Refused {
            error,
            description,
            state,
        },
        (None, Some(code)) => Redirect::Code { code, state },
        (None, None) => Redirect::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::provider::{Endpoints, ProviderKind};

    #[test]
    fn s256_matches_rfc_7636_appendix_b() {
        assert_eq!(
            challenge_of("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let p = Pkce::new().expect("rand");
        assert_eq!(p.verifier.expose().len(), 43);
        assert_eq!(p.challenge, challenge_of(p.verifier.expose()));
        assert_ne!(
            random_text(16).expect("rand"),
            random_text(16).expect("rand")
        );
    }

    #[test]
    fn the_authorize_url_carries_every_parameter() {
        let provider = Provider {
            kind: ProviderKind::Google,
            endpoints: Endpoints::default(),
            client_id: "id 1".into(),
            client_secret: None,
            scopes: vec!["https://mail.google.com/".into()],
        };
        let url = authorize_url(
            &provider,
            "https://idp.test/auth?x=1",
            "http://127.0.0.1:5000/",
            "st",
            "ch",
        )
        .expect("url");
        assert_eq!(
            url,
            "https://idp.test/auth?x=1&response_type=code&client_id=id+1\
             &redirect_uri=http%3A%2F%2F127.0.0.1%3A5000%2F&state=st&code_challenge=ch\
             &code_challenge_method=S256&scope=https%3A%2F%2Fmail.google.com%2F\
             &access_type=offline&prompt=consent"
        );
    }

    #[test]
    fn redirects_are_parsed() {
        assert_eq!(
            parse_redirect(b"GET /?state=s%201&code=c%2Fx HTTP/1.1\r\nHost: x\r\n", "/"),
            Redirect::Code {
                code: "c/x".into(),
                state: "s 1".into()
            }
        );
        assert_eq!(
            parse_redirect(b"GET /favicon.ico HTTP/1.1\r\n", "/"),
            Redirect::Other
        );
        assert_eq!(
            parse_redirect(b"POST /?code=x HTTP/1.1\r\n", "/"),
            Redirect::Other
        );
        assert_eq!(parse_redirect(b"", "/"), Redirect::Other);
        assert!(matches!(
            parse_redirect(b"GET /?error=access_denied&state=s HTTP/1.1\r\n", "/"),
            Redirect::Refused { error, state, .. } if error == "access_denied" && state == "s"
        ));
    }
}
