//! The identity provider's replies, parsed (sans-I/O): token replies (RFC 6749 §5.1), error
//! replies (§5.2), device authorization replies (RFC 8628 §3.2). Bytes in, values or a typed
//! error out; the text a provider sends is made printable and bounded before it can reach a
//! message.

use serde_json::Value;

use crate::secret::Secret;

/// The longest piece of provider text (an `error_description`) shown to the user.
const MAX_TEXT: usize = 300;

/// A successful token reply.
#[derive(Debug, Clone)]
pub struct TokenReply {
    pub access_token: Secret,
    /// Absent when the provider keeps the old refresh token (Google).
    pub refresh_token: Option<Secret>,
    pub expires_in: Option<u64>,
    /// The scopes granted, when the provider says.
    pub scope: Option<String>,
}

/// A device authorization reply.
#[derive(Debug, Clone)]
pub struct DeviceReply {
    pub device_code: Secret,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    pub expires_in: u64,
    pub interval: Option<u64>,
}

/// An error reply: the `error` code and its description, both printable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError {
    pub error: String,
    pub description: Option<String>,
}

impl std::fmt::Display for ProviderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.description {
            Some(d) => write!(f, "{}: {d}", self.error),
            None => f.write_str(&self.error),
        }
    }
}

/// Why a reply could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyError {
    /// The provider answered with an error code.
    Provider(ProviderError),
    /// The reply is not what the protocol says (not JSON, a field missing...).
    Malformed(String),
}

/// Parses a token endpoint reply with HTTP `status`.
pub fn token_reply(status: u16, body: &[u8]) -> Result<TokenReply, ReplyError> {
    let value = json_object(status, body)?;
    let access_token = string_field(&value, "access_token")
        .ok_or_else(|| malformed(status, "no access_token in the token reply"))?;
    if let Some(kind) = string_field(&value, "token_type")
        && !kind.eq_ignore_ascii_case("bearer")
    {
        return Err(malformed(
            status,
            &format!("token_type {:?} is not Bearer", printable(&kind)),
        ));
    }
    Ok(TokenReply {
        access_token: Secret::new(access_token),
        refresh_token: string_field(&value, "refresh_token").map(Secret::new),
        expires_in: number_field(&value, "expires_in"),
        scope: string_field(&value, "scope").map(|s| printable(&s)),
    })
}

/// Parses a device authorization reply. Google names the URL `verification_url`.
pub fn device_reply(status: u16, body: &[u8]) -> Result<DeviceReply, ReplyError> {
    let value = json_object(status, body)?;
    let field = |name: &str| {
        string_field(&value, name)
            .ok_or_else(|| malformed(status, &format!("no {name} in the device reply")))
    };
    let verification_uri = string_field(&value, "verification_uri")
        .or_else(|| string_field(&value, "verification_url"))
        .ok_or_else(|| malformed(status, "no verification_uri in the device reply"))?;
    Ok(DeviceReply {
        device_code: Secret::new(field("device_code")?),
        user_code: printable(&field("user_code")?),
        verification_uri: printable(&verification_uri),
        verification_uri_complete: string_field(&value, "verification_uri_complete")
            .map(|s| printable(&s)),
        expires_in: number_field(&value, "expires_in").unwrap_or(600),
        interval: number_field(&value, "interval"),
    })
}

/// The body as a JSON object; an `error` member (or a non-2xx status) makes it an error.
fn json_object(status: u16, body: &[u8]) -> Result<Value, ReplyError> {
    let value: Value = serde_json::from_slice(body).map_err(|_| {
        malformed(
            status,
            &format!("the reply is not JSON: {:?}", printable_bytes(body)),
        )
    })?;
    if !value.is_object() {
        return Err(malformed(status, "the reply is not a JSON object"));
    }
    if let Some(error) = string_field(&value, "error") {
        return Err(ReplyError::Provider(ProviderError {
            error: printable(&error),
            description: string_field(&value, "error_description").map(|d| printable(&d)),
        }));
    }
    if !(200..300).contains(&status) {
        return Err(malformed(status, "an error status without an error code"));
    }
    Ok(value)
}

fn malformed(status: u16, why: &str) -> ReplyError {
    ReplyError::Malformed(format!("HTTP {status}: {why}"))
}

fn string_field(value: &Value, name: &str) -> Option<String> {
    value
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// A number, or a number written as a string (some of Microsoft's endpoints do).
fn number_field(value: &Value, name: &str) -> Option<u64> {
    match value.get(name)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Provider text made safe to print: control characters escaped, at most [`MAX_TEXT`].
pub fn printable(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if out.len() >= MAX_TEXT {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

fn printable_bytes(bytes: &[u8]) -> String {
    printable(&String::from_utf8_lossy(
        &bytes[..bytes.len().min(MAX_TEXT)],
    ))
}

/// A token record's `scope` as a list.
pub fn split_scopes(scope: &str) -> Vec<String> {
    scope.split_whitespace().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_replies_with_and_without_rotation() {
        let got = token_reply(
            200,
            br#"{"access_token":"at1","token_type":"Bearer","expires_in":3599,"refresh_token":"rt2","scope":"a b"}"#,
        )
        .expect("ok");
        assert_eq!(got.access_token.expose(), "at1");
        assert_eq!(
            got.refresh_token.map(|s| s.expose().to_owned()).as_deref(),
            Some("rt2")
        );
        assert_eq!(got.expires_in, Some(3599));
        assert_eq!(got.scope.as_deref(), Some("a b"));
        let got = token_reply(200, br#"{"access_token":"at","expires_in":"3600"}"#).expect("ok");
        assert!(got.refresh_token.is_none());
        assert_eq!(got.expires_in, Some(3600));
    }

    #[test]
    fn error_replies_are_typed_and_printable() {
        let err = token_reply(
            400,
            b"{\"error\":\"invalid_grant\",\"error_description\":\"Token has been expired or revoked.\\u001b[31m\"}",
        )
        .expect_err("error");
        let ReplyError::Provider(e) = err else {
            panic!("a provider error: {err:?}")
        };
        assert_eq!(e.error, "invalid_grant");
        assert_eq!(
            e.to_string(),
            "invalid_grant: Token has been expired or revoked.\\u{1b}[31m"
        );
        assert!(matches!(
            token_reply(200, b"<html>"),
            Err(ReplyError::Malformed(_))
        ));
        assert!(matches!(
            token_reply(500, b"{}"),
            Err(ReplyError::Malformed(_))
        ));
        assert!(matches!(
            token_reply(200, br#"{"access_token":"x","token_type":"mac"}"#),
            Err(ReplyError::Malformed(_))
        ));
        assert!(matches!(
            token_reply(200, br#"{"token_type":"Bearer"}"#),
            Err(ReplyError::Malformed(_))
        ));
    }

    #[test]
    fn device_replies_of_rfc_8628_and_google() {
        let got = device_reply(
            200,
            br#"{"device_code":"GmRh","user_code":"WDJB-MJHT","verification_uri":"https://example.com/device","verification_uri_complete":"https://example.com/device?user_code=WDJB-MJHT","expires_in":1800,"interval":5}"#,
        )
        .expect("ok");
        assert_eq!(got.user_code, "WDJB-MJHT");
        assert_eq!(got.interval, Some(5));
        assert_eq!(got.expires_in, 1800);
        let got = device_reply(
            200,
            br#"{"device_code":"d","user_code":"u","verification_url":"https://www.google.com/device","expires_in":1800}"#,
        )
        .expect("google");
        assert_eq!(got.verification_uri, "https://www.google.com/device");
        assert_eq!(got.interval, None);
        assert!(device_reply(200, br#"{"user_code":"u"}"#).is_err());
    }

    #[test]
    fn long_text_is_cut() {
        let long = "x".repeat(10_000);
        assert!(printable(&long).len() < MAX_TEXT + 8);
    }
}
