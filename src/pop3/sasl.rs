//! The encodings of the authentication methods: SASL PLAIN, LOGIN, CRAM-MD5 and XOAUTH2
//! (RFC 5034 over POP3), and APOP (RFC 1939 §7). Pure functions; the session sends them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};

use crate::secret::Secret;

/// An authentication method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Plain,
    Login,
    CramMd5,
    XOauth2,
    User,
    Apop,
}

impl Method {
    /// The SASL mechanism name, for SASL methods.
    pub fn mechanism(self) -> Option<&'static str> {
        match self {
            Method::Plain => Some("PLAIN"),
            Method::Login => Some("LOGIN"),
            Method::CramMd5 => Some("CRAM-MD5"),
            Method::XOauth2 => Some("XOAUTH2"),
            Method::User | Method::Apop => None,
        }
    }

    /// True when the method sends the password (or token) as it is: it needs TLS.
    pub fn is_cleartext(self) -> bool {
        !matches!(self, Method::CramMd5 | Method::Apop)
    }

    pub fn name(self) -> &'static str {
        match self {
            Method::User => "USER",
            Method::Apop => "APOP",
            m => m.mechanism().unwrap_or(""),
        }
    }

    pub fn parse(s: &str) -> Option<Method> {
        Some(match s.to_ascii_lowercase().as_str() {
            "plain" => Method::Plain,
            "login" => Method::Login,
            "cram-md5" => Method::CramMd5,
            "xoauth2" => Method::XOauth2,
            "user" => Method::User,
            "apop" => Method::Apop,
            _ => return None,
        })
    }
}

fn b64(bytes: &[u8]) -> Secret {
    Secret::new(B64.encode(bytes))
}

/// PLAIN (RFC 4616): base64 of `\0user\0password` (empty authorization identity).
pub fn plain(user: &str, password: &Secret) -> Secret {
    b64(format!("\0{user}\0{}", password.expose()).as_bytes())
}

/// LOGIN: the user name and the password, each base64 on its own line.
pub fn login_step(value: &str) -> Secret {
    b64(value.as_bytes())
}

/// CRAM-MD5 (RFC 2195): base64 of `user hex(HMAC-MD5(password, challenge))`.
pub fn cram_md5(user: &str, password: &Secret, challenge_b64: &str) -> Option<Secret> {
    let challenge = B64.decode(challenge_b64.trim()).ok()?;
    let mut mac = Hmac::<Md5>::new_from_slice(password.expose().as_bytes()).ok()?;
    mac.update(&challenge);
    let digest = hex(&mac.finalize().into_bytes());
    Some(b64(format!("{user} {digest}").as_bytes()))
}

/// XOAUTH2: base64 of `user=USER^Aauth=Bearer TOKEN^A^A`.
pub fn xoauth2(user: &str, token: &Secret) -> Secret {
    b64(format!("user={user}\x01auth=Bearer {}\x01\x01", token.expose()).as_bytes())
}

/// APOP: hex MD5 of the greeting's timestamp followed by the password.
pub fn apop_digest(timestamp: &str, password: &Secret) -> Secret {
    let mut h = Md5::new();
    h.update(timestamp.as_bytes());
    h.update(password.expose().as_bytes());
    Secret::new(hex(&h.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_encoding() {
        assert_eq!(
            plain("tim", &Secret::new("tanstaaftanstaaf")).expose(),
            "AHRpbQB0YW5zdGFhZnRhbnN0YWFm"
        );
    }

    #[test]
    fn login_encoding() {
        assert_eq!(login_step("bob").expose(), "Ym9i");
    }

    #[test]
    fn cram_md5_matches_rfc_2195() {
        // RFC 2195 §2's example.
        let got = cram_md5(
            "tim",
            &Secret::new("tanstaaftanstaaf"),
            "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+",
        )
        .expect("valid challenge");
        assert_eq!(
            got.expose(),
            "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"
        );
        assert!(cram_md5("tim", &Secret::new("x"), "!!not base64").is_none());
    }

    #[test]
    fn xoauth2_encoding() {
        let got = xoauth2(
            "someuser@example.com",
            &Secret::new("ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"),
        );
        assert_eq!(
            got.expose(),
            "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ=="
        );
    }

    #[test]
    fn apop_matches_rfc_1939() {
        let got = apop_digest(
            "<1896.697170952@dbc.mtview.ca.us>",
            &Secret::new("tanstaaf"),
        );
        assert_eq!(got.expose(), "c4c9334bac560ecc979e58001b3e22fb");
    }

    #[test]
    fn methods() {
        assert_eq!(Method::parse("CRAM-MD5"), Some(Method::CramMd5));
        assert!(Method::Plain.is_cleartext());
        assert!(Method::User.is_cleartext());
        assert!(!Method::CramMd5.is_cleartext());
        assert!(!Method::Apop.is_cleartext());
        assert_eq!(Method::parse("gssapi"), None);
    }
}
