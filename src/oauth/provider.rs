//! Who issues the tokens: the endpoints of Google, Microsoft (per tenant) or a custom
//! identity provider, the default scopes per provider and per use, and the client
//! registration the user made. Pure data; no I/O.

use crate::secret::Secret;

/// The identity provider kinds an account can name with `oauth_provider`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    Google,
    Microsoft,
    Custom,
}

impl ProviderKind {
    pub fn parse(text: &str) -> Option<ProviderKind> {
        match text.to_ascii_lowercase().as_str() {
            "google" | "gmail" => Some(ProviderKind::Google),
            "microsoft" | "outlook" | "office365" => Some(ProviderKind::Microsoft),
            "custom" => Some(ProviderKind::Custom),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ProviderKind::Google => "google",
            ProviderKind::Microsoft => "microsoft",
            ProviderKind::Custom => "custom",
        }
    }
}

/// What the account's mail is for: decides the default scopes (Microsoft grants SMTP and
/// POP3 separately).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Uses {
    pub smtp: bool,
    pub pop3: bool,
}

/// The provider's endpoints. `device` and `revoke` are optional: not every provider has
/// them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Endpoints {
    pub authorize: Option<String>,
    pub token: String,
    pub device: Option<String>,
    pub revoke: Option<String>,
}

/// The endpoints a provider kind has by default (`tenant`: Microsoft's, else `common`).
/// None for `custom`, whose endpoints the account must give.
pub fn default_endpoints(kind: ProviderKind, tenant: Option<&str>) -> Option<Endpoints> {
    match kind {
        ProviderKind::Google => Some(Endpoints {
            authorize: Some("https://accounts.google.com/o/oauth2/v2/auth".into()),
            token: "https://oauth2.googleapis.com/token".into(),
            device: Some("https://oauth2.googleapis.com/device/code".into()),
            revoke: Some("https://oauth2.googleapis.com/revoke".into()),
        }),
        ProviderKind::Microsoft => {
            let base = format!(
                "https://login.microsoftonline.com/{}/oauth2/v2.0",
                tenant.unwrap_or("common")
            );
            Some(Endpoints {
                authorize: Some(format!("{base}/authorize")),
                token: format!("{base}/token"),
                device: Some(format!("{base}/devicecode")),
                // Microsoft's identity platform has no revocation endpoint for these tokens.
                revoke: None,
            })
        }
        ProviderKind::Custom => None,
    }
}

/// The default scopes of a provider kind for what the account is used for.
pub fn default_scopes(kind: ProviderKind, uses: Uses) -> Vec<String> {
    match kind {
        ProviderKind::Google => vec!["https://mail.google.com/".into()],
        ProviderKind::Microsoft => {
            // An account whose use is unknown gets both, so one login serves both commands.
            let both = uses.smtp == uses.pop3;
            let mut scopes = Vec::new();
            if uses.smtp || both {
                scopes.push("https://outlook.office.com/SMTP.Send".into());
            }
            if uses.pop3 || both {
                scopes.push("https://outlook.office.com/POP.AccessAsUser.All".into());
            }
            scopes.push("offline_access".into());
            scopes
        }
        ProviderKind::Custom => Vec::new(),
    }
}

/// Everything needed to talk to the provider for one account.
#[derive(Debug, Clone)]
pub struct Provider {
    pub kind: ProviderKind,
    pub endpoints: Endpoints,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    pub scopes: Vec<String>,
}

impl Provider {
    /// The scopes as the `scope` parameter: space-separated (RFC 6749 §3.3).
    pub fn scope_param(&self) -> String {
        self.scopes.join(" ")
    }

    /// Google issues a refresh token to the authorization-code flow only when asked for
    /// offline access, and again on a later login only with a consent prompt.
    pub fn extra_authorize_params(&self) -> &'static [(&'static str, &'static str)] {
        match self.kind {
            ProviderKind::Google => &[("access_type", "offline"), ("prompt", "consent")],
            ProviderKind::Microsoft | ProviderKind::Custom => &[],
        }
    }

    /// Google's device flow does not grant the Gmail scope: its login defaults to the
    /// browser. The others default to the device flow, which works over ssh.
    pub fn prefers_browser(&self) -> bool {
        self.kind == ProviderKind::Google
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn microsoft_scopes_follow_the_account_s_use() {
        let smtp = default_scopes(
            ProviderKind::Microsoft,
            Uses {
                smtp: true,
                pop3: false,
            },
        );
        assert_eq!(
            smtp,
            ["https://outlook.office.com/SMTP.Send", "offline_access"]
        );
        let pop3 = default_scopes(
            ProviderKind::Microsoft,
            Uses {
                smtp: false,
                pop3: true,
            },
        );
        assert_eq!(
            pop3,
            [
                "https://outlook.office.com/POP.AccessAsUser.All",
                "offline_access"
            ]
        );
        assert_eq!(
            default_scopes(ProviderKind::Microsoft, Uses::default()).len(),
            3
        );
        assert_eq!(
            default_scopes(ProviderKind::Google, Uses::default()),
            ["https://mail.google.com/"]
        );
    }

    #[test]
    fn microsoft_endpoints_name_the_tenant() {
        let e = default_endpoints(ProviderKind::Microsoft, Some("contoso.onmicrosoft.com"))
            .expect("known");
        assert_eq!(
            e.token,
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        let e = default_endpoints(ProviderKind::Microsoft, None).expect("known");
        assert!(e.token.contains("/common/"));
        assert!(default_endpoints(ProviderKind::Custom, None).is_none());
        assert_eq!(ProviderKind::parse("Google"), Some(ProviderKind::Google));
        assert_eq!(ProviderKind::parse("yahoo"), None);
    }
}
