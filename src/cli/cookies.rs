//! `postie cookies`: show what a jar holds (`list`), and convert between a Netscape jar and
//! `cookie_store`'s JSON (`export`, `import`). The file work is the cookie module's
//! ([`crate::cookies::jar`]); this file holds the flags, the filter and the output forms.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde::Serialize;
use time::OffsetDateTime;
use time::macros::format_description;

use crate::cookies::jar::{self, Changes};
use crate::cookies::netscape::Line;
use crate::cookies::{CookieError, Record};
use crate::error::Error;
use crate::exit::Exit;

#[derive(Debug, clap::Args)]
pub struct CookiesArgs {
    #[command(subcommand)]
    pub command: CookiesCommand,
}

#[derive(Debug, Subcommand)]
pub enum CookiesCommand {
    /// Show the cookies a jar holds (values masked unless --show-values).
    List(ListArgs),
    /// Write a jar as cookie_store JSON (the format of Rust's cookie_store crate).
    Export(ExportArgs),
    /// Read cookie_store JSON, or a browser's cookies (--from-browser), and merge them into a
    /// jar (created if missing).
    Import(ImportArgs),
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// The Netscape cookies.txt file to read.
    #[arg(long, value_name = "FILE", required_unless_present = "from_browser")]
    #[arg(conflicts_with = "from_browser")]
    pub jar: Option<PathBuf>,
    #[command(flatten)]
    pub browser: super::browser_cookies::FromBrowserArgs,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Only cookies of this domain: cookies set for it or its subdomains, and domain cookies
    /// that would be sent to it.
    #[arg(long, value_name = "DOMAIN")]
    pub domain: Option<String>,
    /// Show cookie values (they are session secrets: masked by default).
    #[arg(long)]
    pub show_values: bool,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The Netscape cookies.txt file to read.
    #[arg(long, value_name = "FILE")]
    pub jar: PathBuf,
    /// Write the JSON here (atomically, mode 0600) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The Netscape cookies.txt file to merge into (locked, written atomically, mode 0600).
    /// With --from-browser it may be left out: the jar then goes to stdout.
    #[arg(long, short = 'o', visible_alias = "output", value_name = "FILE")]
    #[arg(required_unless_present = "from_browser")]
    pub jar: Option<PathBuf>,
    #[command(flatten)]
    pub browser: super::browser_cookies::FromBrowserArgs,
    /// With --from-browser: only the cookies of this domain (as `list --domain`).
    #[arg(long, value_name = "DOMAIN", requires = "from_browser")]
    pub domain: Option<String>,
    /// cookie_store JSON: an array of cookies, or one cookie per line; `-` is stdin.
    #[arg(value_name = "JSON", default_value = "-")]
    pub input: PathBuf,
}

pub fn run(args: CookiesArgs) -> Result<Exit, Error> {
    match args.command {
        CookiesCommand::List(a) => list(a),
        CookiesCommand::Export(a) => export(a),
        CookiesCommand::Import(a) => import(a),
    }
}

/// The unexpired cookies of an existing jar, sorted by domain, path, name.
fn read_jar(path: &Path) -> Result<Vec<Record>, CookieError> {
    let now = jar::now();
    let mut records: Vec<Record> = jar::read_file(path, true)?
        .ok_or_else(|| CookieError::Missing {
            path: path.to_owned(),
        })?
        .into_iter()
        .filter(|r| !r.is_expired_at(now))
        .collect();
    records.sort_by(|a, b| (&a.domain, &a.path, &a.name).cmp(&(&b.domain, &b.path, &b.name)));
    Ok(records)
}

/// `--domain D`: the cookie belongs to D or a subdomain of D, or is a domain cookie sent to D.
fn in_domain(r: &Record, d: &str) -> bool {
    let sub_of = |host: &str, parent: &str| {
        host == parent
            || host
                .strip_suffix(parent)
                .is_some_and(|rest| rest.ends_with('.'))
    };
    sub_of(&r.domain, d) || (r.include_subdomains && sub_of(d, &r.domain))
}

/// A `--domain` argument as [`in_domain`] takes it.
fn domain_arg(d: Option<&str>) -> Option<String> {
    d.map(|d| d.trim().trim_start_matches('.').to_ascii_lowercase())
}

#[derive(Debug, Serialize)]
struct JsonCookie<'a> {
    domain: &'a str,
    include_subdomains: bool,
    path: &'a str,
    name: &'a str,
    /// `null` when masked.
    value: Option<&'a str>,
    secure: bool,
    http_only: bool,
    session: bool,
    expires: Option<i64>,
    expires_at: Option<String>,
}

fn date(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second]"
            ))
            .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}

fn flags(r: &Record) -> String {
    let f: Vec<&str> = [
        (r.include_subdomains, "subdomains"),
        (r.secure, "secure"),
        (r.http_only, "httponly"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect();
    if f.is_empty() {
        "-".into()
    } else {
        f.join(",")
    }
}

const MASK: &str = "***";

fn list(args: ListArgs) -> Result<Exit, Error> {
    let domain = domain_arg(args.domain.as_deref());
    let records = match (args.browser.read()?, &args.jar) {
        (Some(records), _) => records,
        (None, jar) => read_jar(jar.as_deref().unwrap_or(Path::new("-")))?,
    };
    let records: Vec<Record> = records
        .into_iter()
        .filter(|r| domain.as_deref().is_none_or(|d| in_domain(r, d)))
        .collect();
    let mut out = BufWriter::new(io::stdout().lock());
    let written = if args.json {
        write_json_lines(&mut out, &records, args.show_values)
    } else {
        write_table(&mut out, &records, args.show_values)
    };
    written
        .and_then(|()| out.flush())
        .map_err(|e| Error::output("stdout", e))?;
    Ok(Exit::SUCCESS)
}

fn write_json_lines(out: &mut impl Write, records: &[Record], show: bool) -> io::Result<()> {
    for r in records {
        let j = JsonCookie {
            domain: &r.domain,
            include_subdomains: r.include_subdomains,
            path: &r.path,
            name: &r.name,
            value: show.then_some(r.value.as_str()),
            secure: r.secure,
            http_only: r.http_only,
            session: r.expires.is_none(),
            expires: r.expires,
            expires_at: r.expires.map(|e| date(e).replace(' ', "T") + "Z"),
        };
        serde_json::to_writer(&mut *out, &j)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

fn write_table(out: &mut impl Write, records: &[Record], show: bool) -> io::Result<()> {
    let rows: Vec<[String; 6]> = records
        .iter()
        .map(|r| {
            [
                format!(
                    "{}{}",
                    if r.include_subdomains { "." } else { "" },
                    r.domain
                ),
                r.path.clone(),
                r.name.clone(),
                if show { r.value.clone() } else { MASK.into() },
                r.expires.map_or_else(|| "session".into(), date),
                flags(r),
            ]
        })
        .collect();
    let header = ["DOMAIN", "PATH", "NAME", "VALUE", "EXPIRES (UTC)", "FLAGS"].map(String::from);
    let mut widths = [0usize; 6];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

fn export(args: ExportArgs) -> Result<Exit, Error> {
    let records = read_jar(&args.jar)?;
    // cookie_store JSON holds a cookie as its `Set-Cookie` text, which cannot have an empty
    // name (the cookie crate refuses `=eggs` when reading it back): say so, skip it.
    let (nameless, named): (Vec<&Record>, Vec<&Record>) =
        records.iter().partition(|r| r.name.is_empty());
    for r in &nameless {
        eprintln!(
            "postie: warning: {}: the cookie without a name for {} cannot be written as cookie_store JSON; skipped",
            args.jar.display(),
            r.domain
        );
    }
    let cookies: Vec<cookie_store::Cookie<'static>> =
        named.into_iter().filter_map(jar::to_cookie).collect();
    let mut json = serde_json::to_vec_pretty(&cookies).map_err(|e| CookieError::Format {
        path: args.jar.clone(),
        why: e.to_string(),
    })?;
    json.push(b'\n');
    match &args.output {
        None => {
            let mut out = io::stdout().lock();
            out.write_all(&json)
                .and_then(|()| out.flush())
                .map_err(|e| Error::output("stdout", e))?;
        }
        Some(path) => crate::fsutil::write_atomic(path, &json, crate::fsutil::PRIVATE)
            .map_err(|e| CookieError::write(path, e))?,
    }
    Ok(Exit::from_all_ok(nameless.is_empty()))
}

/// cookie_store JSON: the array `cookie_store::serde::json` writes, or the older form with
/// one cookie object per line.
fn parse_json(path: &Path, text: &str) -> Result<Vec<cookie_store::Cookie<'static>>, CookieError> {
    let format = |why: String| CookieError::Format {
        path: path.to_owned(),
        why,
    };
    // serde's messages quote the string it could not read: a cookie, value included.
    let why = |e: serde_json::Error| crate::config::without_values(&e.to_string());
    if text.trim_start().starts_with('[') {
        return serde_json::from_str(text)
            .map_err(|e| format(format!("not cookie_store JSON: {}", why(e))));
    }
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .map_err(|e| format(format!("line {}: not cookie_store JSON: {}", i + 1, why(e))))
        })
        .collect()
}

fn import(args: ImportArgs) -> Result<Exit, Error> {
    if let Some(mut records) = args.browser.read()? {
        if let Some(d) = domain_arg(args.domain.as_deref()) {
            records.retain(|r| in_domain(r, &d));
        }
        let source = args.browser.from_browser.clone().unwrap_or_default();
        return import_records(
            records,
            args.jar.as_deref().unwrap_or(Path::new("-")),
            &source,
        );
    }
    let mut text = String::new();
    let read = if jar::is_stdio(&args.input) {
        io::stdin().lock().read_to_string(&mut text)
    } else {
        File::open(&args.input).and_then(|f| BufReader::new(f).read_to_string(&mut text))
    };
    read.map_err(|e| CookieError::read(&args.input, e))?;
    let cookies = parse_json(&args.input, &text)?;
    let records = cookies.iter().filter_map(jar::to_record).collect();
    let source = args.input.display().to_string();
    import_records(
        records,
        args.jar.as_deref().unwrap_or(Path::new("-")),
        &source,
    )
}

/// Merges `records` (the unexpired ones) into the jar `path` (`-`: write them to stdout);
/// a cookie a server could not have set is refused with a warning naming `source`.
fn import_records(records: Vec<Record>, path: &Path, source: &str) -> Result<Exit, Error> {
    let now = jar::now();
    let mut changes = Changes::new();
    let mut refused = 0;
    for r in records {
        // The rules for cookies from a server hold for imported ones too: nothing that
        // would alter a jar line or break requests, no public-suffix domain, the prefixes.
        if let Some(why) = jar::refusal(&r) {
            jar::warn_refused(source, &r.name, &r.domain, &why);
            refused += 1;
        } else if !r.is_expired_at(now) {
            changes.insert(r.key(), Some(r));
        }
    }
    let count = changes.len();
    let lock = (!jar::is_stdio(path))
        .then(|| jar::lock(path))
        .transpose()?;
    let disk = match lock {
        Some(_) => jar::read_file(path, true)?.unwrap_or_default(),
        None => Vec::new(),
    };
    let merged = jar::merge(disk, [], &changes, now);
    let lines: Vec<&dyn Line> = merged.iter().map(|r| r as &dyn Line).collect();
    jar::save(path, &lines)?;
    drop(lock);
    eprintln!(
        "postie: imported {count} cookie{} into {}",
        if count == 1 { "" } else { "s" },
        if jar::is_stdio(path) {
            "stdout".into()
        } else {
            path.display().to_string()
        }
    );
    if refused > 0 {
        eprintln!(
            "postie: {source}: {refused} cookie{} refused",
            if refused == 1 { "" } else { "s" }
        );
    }
    Ok(Exit::from_all_ok(refused == 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(domain: &str, sub: bool) -> Record {
        Record {
            include_subdomains: sub,
            ..Record::new(domain, "n", "v")
        }
    }

    #[test]
    fn domain_filter() {
        assert!(in_domain(&rec("example.com", false), "example.com"));
        assert!(in_domain(&rec("www.example.com", false), "example.com"));
        assert!(!in_domain(&rec("badexample.com", false), "example.com"));
        assert!(in_domain(&rec("example.com", true), "www.example.com"));
        assert!(!in_domain(&rec("example.com", false), "www.example.com"));
    }

    #[test]
    fn table_masks_values_and_aligns() {
        let mut r = rec("example.com", true);
        r.secure = true;
        r.expires = Some(2_110_680_753);
        let mut out = Vec::new();
        write_table(&mut out, &[r.clone()], false).expect("write");
        let text = String::from_utf8(out).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[1],
            ".example.com  /     n     ***    2036-11-19 04:12:33  subdomains,secure"
        );
        let mut out = Vec::new();
        write_json_lines(&mut out, &[r], true).expect("write");
        let v: serde_json::Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(v["value"], "v");
        assert_eq!(v["expires_at"], "2036-11-19T04:12:33Z");
    }
}
