//! Which folder `BROWSER[:PROFILE]` means. A PROFILE with a `/` (or starting with `~` or
//! `.`) is a path: a profile folder, or the browser's whole folder (one with `profiles.ini`
//! or `Local State`), whose default profile is then taken. Otherwise it is a profile name
//! (Firefox: `Name=` in profiles.ini or the folder name; Chromium: the folder name such as
//! `Profile 1` or the name shown in the browser), looked up in the browser's usual folders.
//! No PROFILE: the default one (Firefox: the install's `Default=` in profiles.ini /
//! installs.ini, else the profile marked `Default=1`; Chromium: `Local State`'s
//! `profile.last_used`, else the first of `profile.last_active_profiles`, else `Default`).

use std::path::{Path, PathBuf};

use super::{Browser, BrowserError};

/// The profile folder for `browser` and `profile`.
pub fn locate(browser: Browser, profile: Option<&str>) -> Result<PathBuf, BrowserError> {
    if let Some(p) = profile.filter(|p| is_path(p)) {
        let path = expand_home(p)?;
        return match browser {
            Browser::Firefox if path.join("profiles.ini").is_file() => firefox_in_root(&path, None),
            Browser::Firefox => Ok(path),
            _ if path.join("Local State").is_file() => chromium_in_root(browser, &path, None),
            _ => Ok(path),
        };
    }
    match browser {
        Browser::Firefox => {
            let roots = firefox_roots()?;
            let root = roots
                .iter()
                .find(|r| r.join("profiles.ini").is_file())
                .ok_or_else(|| BrowserError::NoProfile {
                    browser: browser.name(),
                    path: roots[0].join("profiles.ini"),
                    why: "no profiles.ini (is Firefox installed for this user?)".into(),
                })?;
            firefox_in_root(root, profile)
        }
        _ => chromium_in_root(browser, &chromium_root(browser)?, profile),
    }
}

fn is_path(p: &str) -> bool {
    p.contains('/') || p.starts_with('~') || p.starts_with('.')
}

fn home() -> Result<PathBuf, BrowserError> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .ok_or(BrowserError::NoHome)
}

fn expand_home(p: &str) -> Result<PathBuf, BrowserError> {
    match p.strip_prefix("~/") {
        Some(rest) => Ok(home()?.join(rest)),
        None => Ok(PathBuf::from(p)),
    }
}

fn config_home() -> Result<PathBuf, BrowserError> {
    match std::env::var_os("XDG_CONFIG_HOME").filter(|h| !h.is_empty()) {
        Some(c) => Ok(PathBuf::from(c)),
        None => Ok(home()?.join(".config")),
    }
}

/// Where Firefox keeps profiles.ini: the classic folder, the XDG one, Snap's and Flatpak's.
fn firefox_roots() -> Result<Vec<PathBuf>, BrowserError> {
    let home = home()?;
    Ok(vec![
        home.join(".mozilla/firefox"),
        config_home()?.join("mozilla/firefox"),
        home.join("snap/firefox/common/.mozilla/firefox"),
        home.join(".var/app/org.mozilla.firefox/.mozilla/firefox"),
        home.join("Library/Application Support/Firefox"),
    ])
}

/// One `[section]` of an INI file with its `key=value` lines.
type Section = (String, Vec<(String, String)>);

/// A lenient INI reader (profiles.ini and installs.ini are simple).
pub fn parse_ini(text: &str) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            out.push((name.to_owned(), Vec::new()));
        } else if let (Some((k, v)), Some(last)) = (line.split_once('='), out.last_mut()) {
            last.1.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    out
}

fn get<'a>(section: &'a Section, key: &str) -> Option<&'a str> {
    section
        .1
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// A profile of profiles.ini: its folder, with `IsRelative=1` paths under `root`.
fn profile_dir(root: &Path, s: &Section) -> Option<PathBuf> {
    let path = get(s, "Path")?;
    Some(if get(s, "IsRelative") == Some("0") {
        PathBuf::from(path)
    } else {
        root.join(path)
    })
}

/// The Firefox profile `name` (or the default one) of the folder holding profiles.ini.
pub fn firefox_in_root(root: &Path, name: Option<&str>) -> Result<PathBuf, BrowserError> {
    let ini = root.join("profiles.ini");
    let read = |p: &Path| std::fs::read_to_string(p).map(|t| parse_ini(&t));
    let sections = read(&ini).map_err(|e| BrowserError::NoProfile {
        browser: "firefox",
        path: ini.clone(),
        why: e.to_string(),
    })?;
    let profiles: Vec<&Section> = sections
        .iter()
        .filter(|s| s.0.starts_with("Profile"))
        .collect();
    let found = match name {
        Some(name) => firefox_named(root, &profiles, name),
        None => {
            let installs = read(&root.join("installs.ini")).unwrap_or_default();
            firefox_default(root, &sections, &installs, &profiles)
        }
    };
    found.map_err(|why| BrowserError::NoProfile {
        browser: "firefox",
        path: ini.clone(),
        why,
    })
}

/// A profile by `Name=` (exact, then ignoring case) or by folder name.
fn firefox_named(root: &Path, profiles: &[&Section], name: &str) -> Result<PathBuf, String> {
    let folder = |s: &Section| get(s, "Path").map(|p| p.rsplit('/').next().unwrap_or(p).to_owned());
    profiles
        .iter()
        .find(|s| get(s, "Name") == Some(name))
        .or_else(|| profiles.iter().find(|s| folder(s).as_deref() == Some(name)))
        .or_else(|| {
            profiles
                .iter()
                .find(|s| get(s, "Name").is_some_and(|n| n.eq_ignore_ascii_case(name)))
        })
        .and_then(|s| profile_dir(root, s))
        .ok_or_else(|| format!("no profile named {name:?} (names: {})", names(profiles)))
}

/// The install's default profile (profiles.ini `[Install…]`, then installs.ini), else the
/// one marked `Default=1`, else the only one.
fn firefox_default(
    root: &Path,
    sections: &[Section],
    installs: &[Section],
    profiles: &[&Section],
) -> Result<PathBuf, String> {
    let install_default = sections
        .iter()
        .filter(|s| s.0.starts_with("Install"))
        .chain(installs.iter())
        .find_map(|s| get(s, "Default"));
    if let Some(path) = install_default {
        return Ok(root.join(path));
    }
    profiles
        .iter()
        .find(|s| get(s, "Default") == Some("1"))
        .or_else(|| (profiles.len() == 1).then(|| &profiles[0]))
        .and_then(|s| profile_dir(root, s))
        .ok_or_else(|| format!("no default profile; name one (names: {})", names(profiles)))
}

fn names(profiles: &[&Section]) -> String {
    let n: Vec<&str> = profiles.iter().filter_map(|s| get(s, "Name")).collect();
    if n.is_empty() {
        "none".into()
    } else {
        n.join(", ")
    }
}

/// The folder of a Chromium-family browser: under ~/.config, or on macOS under
/// ~/Library/Application Support.
fn chromium_root(browser: Browser) -> Result<PathBuf, BrowserError> {
    let (linux, macos) = match browser {
        Browser::Chrome => ("google-chrome", "Google/Chrome"),
        Browser::Brave => ("BraveSoftware/Brave-Browser", "BraveSoftware/Brave-Browser"),
        Browser::Edge => ("microsoft-edge", "Microsoft Edge"),
        Browser::Vivaldi => ("vivaldi", "Vivaldi"),
        Browser::Opera => ("opera", "com.operasoftware.Opera"),
        Browser::Chromium | Browser::Firefox => ("chromium", "Chromium"),
    };
    if cfg!(target_os = "macos") {
        return Ok(home()?.join("Library/Application Support").join(macos));
    }
    Ok(config_home()?.join(linux))
}

/// The profile `name` (or the last used one) in a Chromium-family user-data folder.
pub fn chromium_in_root(
    browser: Browser,
    root: &Path,
    name: Option<&str>,
) -> Result<PathBuf, BrowserError> {
    let state_path = root.join("Local State");
    let state: serde_json::Value = std::fs::read_to_string(&state_path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let profile = &state["profile"];
    let folder = match name {
        Some(n) if root.join(n).is_dir() => n.to_owned(),
        Some(n) => profile["info_cache"]
            .as_object()
            .and_then(|m| m.iter().find(|(_, v)| v["name"].as_str() == Some(n)))
            .map(|(k, _)| k.clone())
            .ok_or_else(|| BrowserError::NoProfile {
                browser: browser.name(),
                path: root.join(n),
                why: "no such profile folder, and no profile with this name in Local State".into(),
            })?,
        None => profile["last_used"]
            .as_str()
            .or_else(|| profile["last_active_profiles"][0].as_str())
            .unwrap_or("Default")
            .to_owned(),
    };
    let dir = root.join(folder);
    // Opera keeps its one profile in the root folder itself.
    if !dir.is_dir() && (root.join("Cookies").is_file() || root.join("Network/Cookies").is_file()) {
        return Ok(root.to_owned());
    }
    if !dir.is_dir() {
        return Err(BrowserError::NoProfile {
            browser: browser.name(),
            path: dir,
            why: "no such folder (is the browser installed for this user?)".into(),
        });
    }
    Ok(dir)
}
