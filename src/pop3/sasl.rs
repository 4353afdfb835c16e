//! The encodings of the authentication methods: SASL PLAIN, LOGIN, CRAM-MD5, XOAUTH2 and
//! OAUTHBEARER (RFC 5034 over POP3, RFC 7628), and APOP (RFC 1939 §7). Pure functions; the
//! session sends them. `smtp::transport` takes the OAuth ones from here too: the SASL
//! payloads are the same in both protocols.

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
    /// RFC 7628: an OAuth 2.0 bearer token (the password is the access token).
    OAuthBearer,
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
            Method::OAuthBearer => Some("OAUTHBEARER"),
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
            "oauthbearer" => Method::OAuthBearer,
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

/// OAUTHBEARER (RFC 7628 §3.1): base64 of the client response
/// `n,a=USER,^Ahost=HOST^Aport=PORT^Aauth=Bearer TOKEN^A^A` (`port=` left out when unknown).
/// The GS2 header carries the user as authorization identity, which Dovecot 2.3 requires;
/// `,` and `=` in it become `=2C` and `=3D` (RFC 5801 §4), and an empty user is left out
/// (an empty `a=` is not valid).
pub fn oauthbearer(user: &str, host: &str, port: Option<u16>, token: &Secret) -> Secret {
    let authzid = if user.is_empty() {
        String::new()
    } else {
        format!("a={}", user.replace('=', "=3D").replace(',', "=2C"))
    };
    let port = port.map(|p| format!("port={p}\x01")).unwrap_or_default();
    b64(format!(
        "n,{authzid},\x01host={host}\x01{port}auth=Bearer {}\x01\x01",
        token.expose()
    )
    .as_bytes())
}

/// What the client answers when the server sends its error as a challenge, to get the final
/// failure reply: OAUTHBEARER a single %x01 (RFC 7628 §3.2.3), XOAUTH2 an empty line.
pub fn oauth_error_answer(method: Method) -> Secret {
    match method {
        Method::OAuthBearer => b64(b"\x01"),
        _ => Secret::new(""),
    }
}

/// The most of a server's OAuth error that is shown.
pub const OAUTH_ERROR_MAX: usize = 200;

/// The server's OAuth error challenge (base64 of a JSON object such as
/// `{"status":"invalid_token"}`) as text to show: decoded, control characters escaped,
/// at most [`OAUTH_ERROR_MAX`] characters, the token (should a server echo it) redacted.
/// None when the challenge is empty or not base64.
pub fn oauth_error(challenge_b64: &str, token: &Secret) -> Option<String> {
    let bytes = B64.decode(challenge_b64.trim()).ok()?;
    let mut text = String::from_utf8_lossy(&bytes).trim().to_owned();
    if text.is_empty() {
        return None;
    }
    if !token.is_empty() {
        text = text.replace(token.expose(), "(redacted)");
    }
    let shown = crate::pop3::printable(&text);
    Some(match shown.char_indices().nth(OAUTH_ERROR_MAX) {
        Some((cut, _)) => format!("{}...", &shown[..cut]),
        None => shown.into_owned(),
    })
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
    fn oauthbearer_matches_rfc_7628() {
        // RFC 7628 §4.1's example (IMAP on port 143), byte for byte.
        let token = Secret::new("vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg==");
        let got = oauthbearer("user@example.com", "server.example.com", Some(143), &token);
        assert_eq!(
            got.expose(),
            "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2c9PQEB"
        );
    }

    fn decoded(s: &Secret) -> Vec<u8> {
        B64.decode(s.expose()).expect("base64")
    }

    #[test]
    fn oauthbearer_escapes_the_authzid_and_leaves_out_what_is_unknown() {
        let t = Secret::new("tok");
        assert_eq!(
            decoded(&oauthbearer("a,b=c", "h", None, &t)),
            b"n,a=a=2Cb=3Dc,\x01host=h\x01auth=Bearer tok\x01\x01"
        );
        assert_eq!(
            decoded(&oauthbearer("", "h", Some(995), &t)),
            b"n,,\x01host=h\x01port=995\x01auth=Bearer tok\x01\x01"
        );
    }

    #[test]
    fn oauth_error_answers() {
        assert_eq!(oauth_error_answer(Method::OAuthBearer).expose(), "AQ==");
        assert_eq!(decoded(&oauth_error_answer(Method::OAuthBearer)), b"\x01");
        assert_eq!(oauth_error_answer(Method::XOauth2).expose(), "");
    }

    #[test]
    fn oauth_errors_are_decoded_escaped_bounded_and_never_show_the_token() {
        let t = Secret::new("s3cr3t-token");
        // RFC 7628 §4.3's error challenge.
        let rfc = "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJleGFtcGxlX3Njb3BlIiwib3BlbmlkLWNvbmZpZ3VyYXRpb24iOiJodHRwczovL2V4YW1wbGUuY29tLy53ZWxsLWtub3duL29wZW5pZC1jb25maWd1cmF0aW9uIn0=";
        assert_eq!(
            oauth_error(rfc, &t).as_deref(),
            Some(
                r#"{"status":"invalid_token","scope":"example_scope","openid-configuration":"https://example.com/.well-known/openid-configuration"}"#
            )
        );
        let b = |s: &str| B64.encode(s);
        assert_eq!(
            oauth_error(&b("{\"status\":\"401\"}\x1b[2J"), &t).as_deref(),
            Some("{\"status\":\"401\"}\\x1b[2J")
        );
        assert_eq!(
            oauth_error(&b("echo s3cr3t-token"), &t).as_deref(),
            Some("echo (redacted)")
        );
        let long = oauth_error(&b(&"x".repeat(5000)), &t).expect("text");
        assert_eq!(long, format!("{}...", "x".repeat(OAUTH_ERROR_MAX)));
        assert_eq!(oauth_error("", &t), None);
        assert_eq!(oauth_error("!!not base64", &t), None);
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
        assert_eq!(Method::parse("OAuthBearer"), Some(Method::OAuthBearer));
        assert_eq!(Method::OAuthBearer.name(), "OAUTHBEARER");
        assert!(Method::OAuthBearer.is_cleartext());
        assert!(Method::XOauth2.is_cleartext());
    }
}
