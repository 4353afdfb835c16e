//! The flags that read a browser's cookie store: `--from-browser` (`postie cookies list`,
//! `postie cookies import`) and `--cookies-from-browser` (`postie fetch`). The reading is
//! [`crate::cookies::browser`]'s; this file turns the flags into its request.

use std::collections::HashSet;

use crate::cookies::browser::{self, BrowserRequest};
use crate::cookies::jar::{self, Key};
use crate::cookies::{CookieOptions, CookieSource, Record};
use crate::error::Error;

/// `postie cookies list|import --from-browser`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FromBrowserArgs {
    /// Take the cookies of a browser profile (read-only, expired ones dropped):
    /// BROWSER[:PROFILE], BROWSER one of firefox, chromium, chrome, brave, edge, vivaldi,
    /// opera; PROFILE a profile name or folder (default: the browser's default profile).
    #[arg(long, value_name = "BROWSER[:PROFILE]")]
    pub from_browser: Option<String>,
    /// Firefox: read this container's cookies (name or number) instead of those outside
    /// containers.
    #[arg(long, value_name = "NAME", requires = "from_browser")]
    pub container: Option<String>,
    /// Chromium-family: a shell command that prints the keyring password (for `v11`
    /// values), instead of asking secret-tool or kwallet-query.
    #[arg(long, value_name = "CMD", requires = "from_browser")]
    pub keyring_password_command: Option<String>,
}

impl FromBrowserArgs {
    /// The browser's cookies, if `--from-browser` was given.
    pub fn read(&self) -> Result<Option<Vec<Record>>, Error> {
        let Some(spec) = &self.from_browser else {
            return Ok(None);
        };
        let mut request = BrowserRequest::parse(spec)?;
        if self.container.is_some() {
            request.container.clone_from(&self.container);
        }
        request
            .keyring_password_command
            .clone_from(&self.keyring_password_command);
        Ok(Some(browser::read(&request)?))
    }
}

/// `postie fetch --cookies-from-browser`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FetchFromBrowserArgs {
    /// Also send the cookies of a browser profile, read once at the start (read-only):
    /// BROWSER[:PROFILE][::CONTAINER]. `-b` cookies win over them; `-c`/`--jar` save them.
    #[arg(long, value_name = "BROWSER[:PROFILE]")]
    pub cookies_from_browser: Option<String>,
    /// Chromium-family: a shell command that prints the keyring password (for `v11`
    /// values), instead of asking secret-tool or kwallet-query.
    #[arg(long, value_name = "CMD", requires = "cookies_from_browser")]
    pub keyring_password_command: Option<String>,
}

/// Reads the browser's cookies (when asked) into an unnamed temporary jar and puts it first
/// among the `-b` sources; the browser's cookies that a `-b` source also has are left out,
/// so the `-b` ones are sent. The jar can be read as long as the returned file is open.
pub fn attach(
    args: &FetchFromBrowserArgs,
    options: &mut CookieOptions,
) -> Result<Option<std::fs::File>, Error> {
    let from = FromBrowserArgs {
        from_browser: args.cookies_from_browser.clone(),
        container: None,
        keyring_password_command: args.keyring_password_command.clone(),
    };
    let Some(mut records) = from.read()? else {
        return Ok(None);
    };
    let (keys, names) = b_cookies(&options.sources)?;
    records.retain(|r| !keys.contains(&r.key()) && !names.contains(&r.name));
    let (file, path) = browser::temp_jar(&records)?;
    options.sources.insert(0, CookieSource::File(path));
    Ok(Some(file))
}

/// What the `-b` sources hold: the (domain, path, name) of their file cookies and the names
/// of their literal cookies. The browser's cookies with these go, so that the `-b` ones are
/// the ones sent (stdin is not read here: it can be read only once).
fn b_cookies(sources: &[CookieSource]) -> Result<(HashSet<Key>, HashSet<String>), Error> {
    let (mut keys, mut names) = (HashSet::new(), HashSet::new());
    for source in sources {
        match source {
            CookieSource::File(p) if p.as_os_str().is_empty() || jar::is_stdio(p) => {}
            CookieSource::File(p) => {
                let records = jar::read_file(p, false)?.unwrap_or_default();
                keys.extend(records.iter().map(Record::key));
            }
            CookieSource::Literal(s) => names.extend(
                s.split(';')
                    .filter_map(|pair| pair.split_once('='))
                    .map(|(n, _)| n.trim().to_owned()),
            ),
        }
    }
    Ok((keys, names))
}
