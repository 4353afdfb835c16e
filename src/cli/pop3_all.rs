//! `postie pop3 pull --all-accounts [--parallel N]`: every account with a POP3 server, from
//! postie's accounts file and then `~/.mpoprc` (an mpoprc account of the same name as a postie
//! one is left out), pulled one after the other or N at once. Each account keeps its own state
//! file and lock (the default state path is per store, server, port and user) and goes to its
//! `pop3_out` (mpop's `delivery`), else to `--out DIR`/NAME. One summary line per account, in
//! name order (postie's accounts, then mpoprc's in file order); the exit code is the worst
//! account's, as [`exit::worst`] ranks them.

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::cli::CliError;
use crate::cli::common::{MailProtocol, flavor};
use crate::cli::pop3::{self, Dest, PullArgs};
use crate::config::{self, Account, ConfigError};
use crate::config_import;
use crate::error::Error;
use crate::exit::{self, Exit};
use crate::pop3::printable;
use crate::pop3::sync::{self, Format};

/// One account to pull: its name and settings.
struct Job {
    name: String,
    account: Account,
}

fn invalid(flag: &str, why: impl Into<String>) -> Error {
    CliError::invalid(flag, why).into()
}

pub fn run(args: &PullArgs) -> Result<Exit, Error> {
    let c = &args.conn.conn;
    if c.server.is_some() || c.user.is_some() || c.account.is_some() {
        return Err(invalid(
            "--all-accounts",
            "each account gives its own server and user: leave out --server, --user and --account",
        ));
    }
    if args.limit == Some(0) {
        return Err(invalid("--limit", "must be at least 1"));
    }
    if args.parallel == 0 {
        return Err(invalid("--parallel", "must be at least 1"));
    }
    let jobs = jobs()?;
    if jobs.is_empty() {
        return Err(invalid(
            "--all-accounts",
            "no account with a POP3 server (pop3_server, or server = \"pop3[s]://...\") in the \
             accounts file or ~/.mpoprc",
        ));
    }
    // Prompts of accounts pulled at once would interleave: they need a password source.
    let prompt = args.parallel == 1;
    let results = run_parallel(&jobs, args.parallel, |job| pull_account(args, job, prompt));
    report(args, &jobs, &results)
}

/// Whether `account` names a POP3 server.
fn has_pop3_server(account: &Account) -> bool {
    let pop3_scheme = |url: &str| {
        let lower = url.to_ascii_lowercase();
        lower.starts_with("pop3://") || lower.starts_with("pop3s://")
    };
    account.pop3_server.is_some() || account.server.as_deref().is_some_and(pop3_scheme)
}

/// The accounts to pull: postie's, then mpoprc's not named in postie's file.
fn jobs() -> Result<Vec<Job>, Error> {
    let postie = match config::default_path() {
        Some(path) => match config::load_all_from(&path, "(--all-accounts)") {
            Err(ConfigError::Missing { .. }) => Default::default(),
            other => other?,
        },
        None => Default::default(),
    };
    for (name, account) in &postie {
        config::check_sources(name, account)?;
    }
    let flavor = flavor(MailProtocol::Pop3);
    let mpop = match config_import::default_path(flavor) {
        Some(path) => {
            let home = std::env::var_os("HOME").map(PathBuf::from);
            let all = config_import::all_accounts(flavor, &path, home.as_deref())?;
            let all = all.unwrap_or_default();
            all.into_iter().map(|(n, c)| (path.clone(), n, c)).collect()
        }
        None => Vec::new(),
    };
    // As `--account NAME` resolves: a postie account hides an mpoprc one of the same name.
    let postie_names: Vec<String> = postie.keys().cloned().collect();
    let mut jobs: Vec<Job> = postie
        .into_iter()
        .filter(|(_, a)| has_pop3_server(a))
        .map(|(name, account)| Job { name, account })
        .collect();
    for (path, name, converted) in mpop {
        if postie_names.contains(&name) || !has_pop3_server(&converted.account) {
            continue;
        }
        for w in &converted.warnings {
            eprintln!("postie: {}: {w}", path.display());
        }
        jobs.push(Job {
            name,
            account: converted.account,
        });
    }
    Ok(jobs)
}

/// Runs `f` on every item, at most `n` at once; the results in the items' order (a None
/// would mean an item was never run: the caller reports it rather than trusting the slot).
fn run_parallel<T: Sync, R: Send>(
    items: &[T],
    n: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<Option<R>> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new(items.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..n.min(items.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(item) = items.get(i) else { break };
                    let r = f(item);
                    if let Ok(mut all) = results.lock() {
                        all[i] = Some(r);
                    }
                }
            });
        }
    });
    results.into_inner().unwrap_or_else(|p| p.into_inner())
}

/// A path component for account `name` under `--out DIR`: refused when it could leave DIR.
fn sub_folder(name: &str) -> Option<&str> {
    let bad = name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']);
    (!bad).then_some(name)
}

/// Where `job` delivers: `--mda`, else its `pop3_mda`, else its `pop3_out` in its
/// `pop3_format`, else `--out DIR`/NAME in `--format`.
fn destination(args: &PullArgs, job: &Job) -> Result<Dest, Error> {
    if let Some(cmd) = args.mda.as_ref().or(job.account.pop3_mda.as_ref()) {
        return Ok(Dest::Mda(cmd.clone()));
    }
    if let Some(out) = &job.account.pop3_out {
        let format = pop3::format_of(None, &job.account)?;
        return Ok(Dest::Store(out.clone(), format));
    }
    let Some(dir) = &args.out else {
        return Err(invalid(
            "--out",
            format!(
                "account {} has no pop3_out: give --out DIR (its messages then go to DIR/{})",
                job.name, job.name
            ),
        ));
    };
    let sub = sub_folder(&job.name).ok_or_else(|| {
        invalid(
            "--out",
            format!("account {:?} is not a folder name", job.name),
        )
    })?;
    let format = args.format.map_or(Format::Maildir, pop3::format);
    Ok(Dest::Store(dir.join(sub), format))
}

/// One account's pull: messages' problems on stderr and their JSON lines on stdout, each
/// with the account's name (one line at a time, as other accounts may be writing too).
fn pull_account(args: &PullArgs, job: &Job, prompt: bool) -> Result<sync::Summary, Error> {
    let mut s = pop3::settings_for(&args.conn, Some(&job.name), &job.account)?;
    s.lookup.allow_prompt = prompt;
    let dest = destination(args, job)?;
    let mut opts = pop3::pull_options(args, &s, dest)?;
    opts.progress = false;
    let mut session = pop3::open(&s)?;
    let mut write_failure = None;
    let summary = sync::pull(&mut session, &opts, &mut |o| {
        if let Some(e) = &o.error {
            let (uidl, e) = (printable(&o.uidl), printable(e));
            eprintln!("postie: {}: message {} ({uidl}): {e}", job.name, o.number);
        }
        if args.json && write_failure.is_none() {
            let mut v = serde_json::to_value(o).unwrap_or_default();
            v["account"] = job.name.clone().into();
            if let Err(e) = writeln!(io::stdout().lock(), "{v}") {
                write_failure = Some(e);
            }
        }
    })?;
    match write_failure {
        Some(e) => Err(Error::output("stdout", e)),
        None => Ok(summary),
    }
}

/// An account's exit code: its error's, else 1 when some messages failed.
fn code_of(result: &Option<Result<sync::Summary, Error>>) -> u8 {
    match result {
        Some(Ok(sum)) => pop3::summary_exit(sum).code(),
        Some(Err(e)) => e.exit_code(),
        None => exit::code::FAILED,
    }
}

/// The summary: a line per account on stderr (unless `--silent`), or with `--json` one
/// object on stdout; the worst exit code.
fn report(
    args: &PullArgs,
    jobs: &[Job],
    results: &[Option<Result<sync::Summary, Error>>],
) -> Result<Exit, Error> {
    let worst = exit::worst(results.iter().map(code_of));
    let mut lines = Vec::new();
    for (job, result) in jobs.iter().zip(results) {
        let code = code_of(result);
        let (text, mut v) = match result {
            Some(Ok(sum)) => (pop3::summary_text(sum), pop3::summary_json(sum)),
            Some(Err(e)) => (e.to_string(), serde_json::json!({"error": e.to_string()})),
            None => (
                "stopped unexpectedly".into(),
                serde_json::json!({"error": "stopped"}),
            ),
        };
        v["account"] = job.name.clone().into();
        v["exit"] = code.into();
        if !args.json && !args.silent {
            let tail = if code == 0 {
                String::new()
            } else {
                format!(" (exit {code})")
            };
            eprintln!("postie: {}: {text}{tail}", job.name);
        }
        lines.push(v);
    }
    if args.json {
        let all = serde_json::json!({"accounts": lines, "exit": worst});
        writeln!(io::stdout().lock(), "{all}").map_err(|e| Error::output("stdout", e))?;
    }
    Ok(Exit::with_code(worst))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pop3_servers_are_told_by_key_or_scheme() {
        let with = |server: Option<&str>, pop3: Option<&str>| Account {
            server: server.map(str::to_owned),
            pop3_server: pop3.map(str::to_owned),
            ..Account::default()
        };
        assert!(has_pop3_server(&with(None, Some("x://y"))));
        assert!(has_pop3_server(&with(Some("POP3S://h"), None)));
        assert!(has_pop3_server(&with(Some("pop3://h"), None)));
        assert!(!has_pop3_server(&with(Some("smtps://h"), None)));
        assert!(!has_pop3_server(&with(None, None)));
    }

    #[test]
    fn account_names_that_would_leave_the_folder_are_refused() {
        assert_eq!(sub_folder("work"), Some("work"));
        assert_eq!(sub_folder("my box"), Some("my box"));
        for bad in ["", ".", "..", "a/b", "../x", "a\0"] {
            assert_eq!(sub_folder(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn parallel_results_keep_the_items_order() {
        let items: Vec<u64> = (0..20).collect();
        let out = run_parallel(&items, 3, |i| {
            std::thread::sleep(std::time::Duration::from_millis(20 - i));
            i * 2
        });
        let want: Vec<Option<u64>> = items.iter().map(|i| Some(i * 2)).collect();
        assert_eq!(out, want);
        assert_eq!(run_parallel(&items[..1], 8, |i| *i), vec![Some(0)]);
    }
}
