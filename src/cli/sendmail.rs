//! The sendmail command line, hand-written because callers (cron, mailx, mutt, git, logwatch)
//! pass options in sendmail's getopt style that clap cannot take: clustered flags (`-ti`),
//! values glued on (`-fADDR`, `-FCronDaemon`, `-oi`), and `-o*` options of any name. What
//! msmtp accepts as a sendmail is accepted; what means nothing to postie is accepted and
//! ignored (each with its reason, printed under `-v`); anything else is an error naming it
//! (exit 64, EX_USAGE, as sendmail). Pure: strings in, [`SendmailArgs`] or an error out.

use std::ffi::OsString;
use std::path::Path;

/// What a sendmail command line asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendmailArgs {
    /// `-t`: recipients from the To, Cc and Bcc fields too.
    pub read_recipients: bool,
    /// `-f ADDR` / `-r ADDR`: the envelope sender.
    pub envelope_from: Option<String>,
    /// `-F NAME`: the name for a From field postie adds.
    pub full_name: Option<String>,
    /// `-a NAME` / `--account NAME` (msmtp's): the account.
    pub account: Option<String>,
    /// `-v`.
    pub verbose: bool,
    /// The bare arguments.
    pub recipients: Vec<String>,
    /// Options accepted and ignored: the option as given, and why.
    pub ignored: Vec<(String, &'static str)>,
}

/// A sendmail command line postie cannot honour: the option and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{option}: {why}")]
pub struct SendmailUsage {
    pub option: String,
    pub why: String,
}

/// True when the program was started under the name `sendmail` (a symlink).
pub fn invoked_as_sendmail(argv0: Option<&OsString>) -> bool {
    argv0
        .and_then(|a| Path::new(a).file_name())
        .is_some_and(|name| name == "sendmail")
}

/// Options that take a value (glued on or the next argument), and flags postie ignores.
const IGNORED_FLAGS: &[(char, &str)] = &[
    (
        'i',
        "a line of one dot never ends the message: postie reads to the end of input",
    ),
    ('n', "postie has no aliases database to skip"),
    (
        'm',
        "every recipient given gets the message, the sender included",
    ),
    (
        'U',
        "the initial user submission flag has no meaning for SMTP submission",
    ),
];

/// Parses the arguments after the program name.
pub fn parse<S: AsRef<str>>(args: &[S]) -> Result<SendmailArgs, SendmailUsage> {
    let mut out = SendmailArgs::default();
    let mut rest = args.iter().map(AsRef::as_ref);
    while let Some(arg) = rest.next() {
        if arg == "--" {
            out.recipients.extend(rest.by_ref().map(str::to_owned));
            break;
        }
        if let Some(long) = arg.strip_prefix("--") {
            long_option(&mut out, long, &mut rest)?;
        } else if arg.len() > 1 && arg.starts_with('-') {
            cluster(&mut out, arg, &mut rest)?;
        } else {
            out.recipients.push(arg.to_owned());
        }
    }
    Ok(out)
}

fn long_option<'a>(
    out: &mut SendmailArgs,
    long: &str,
    rest: &mut impl Iterator<Item = &'a str>,
) -> Result<(), SendmailUsage> {
    let (name, glued) = match long.split_once('=') {
        Some((name, value)) => (name, Some(value)),
        None => (long, None),
    };
    match name {
        "account" => {
            let value = glued.or_else(|| rest.next());
            out.account = Some(needs_value("--account", value)?.to_owned());
        }
        "read-recipients" if glued.is_none() => out.read_recipients = true,
        _ => {
            return Err(usage(
                &format!("--{long}"),
                "unknown option (sendmail mode takes -t, -i, -f, -F, -r, -o*, -b m, -v, -a and --account)",
            ));
        }
    }
    Ok(())
}

/// One `-xyz` argument: flags may be clustered; an option with a value takes the rest of
/// the argument, else the next one.
fn cluster<'a>(
    out: &mut SendmailArgs,
    arg: &str,
    rest: &mut impl Iterator<Item = &'a str>,
) -> Result<(), SendmailUsage> {
    for (i, c) in arg.char_indices().skip(1) {
        let glued = &arg[i + c.len_utf8()..];
        let mut value = |what: &str| -> Result<String, SendmailUsage> {
            let v = if glued.is_empty() {
                rest.next()
            } else {
                Some(glued)
            };
            Ok(needs_value(what, v)?.to_owned())
        };
        match c {
            't' => out.read_recipients = true,
            'v' => out.verbose = true,
            'f' | 'r' => out.envelope_from = Some(value(&format!("-{c}"))?),
            'F' => out.full_name = Some(value("-F")?),
            'a' => out.account = Some(value("-a")?),
            'o' => {
                let option = value("-o")?;
                out.ignored.push((format!("-o{option}"), o_reason(&option)));
            }
            'b' => match value("-b")?.as_str() {
                "m" => {}
                mode => {
                    return Err(usage(
                        &format!("-b{mode}"),
                        "only -bm (read a message and deliver it, the default) is supported",
                    ));
                }
            },
            'B' | 'h' | 'L' | 'O' => {
                let v = value(&format!("-{c}"))?;
                out.ignored.push((format!("-{c} {v}"), valued_reason(c)));
            }
            _ => match IGNORED_FLAGS.iter().find(|(f, _)| *f == c) {
                Some((_, why)) => out.ignored.push((format!("-{c}"), why)),
                None => return Err(usage(&format!("-{c}"), "unknown option")),
            },
        }
        if matches!(c, 'f' | 'r' | 'F' | 'a' | 'o' | 'b' | 'B' | 'h' | 'L' | 'O') {
            // The rest of the argument was this option's value.
            break;
        }
    }
    Ok(())
}

/// Why an `-oX` option is ignored.
fn o_reason(option: &str) -> &'static str {
    match option {
        "i" => "a line of one dot never ends the message: postie reads to the end of input",
        "em" | "ee" | "ep" | "eq" | "ew" => {
            "errors are reported on stderr and by the exit code, not mailed back"
        }
        "di" | "db" | "dq" | "dd" | "dbackground" | "dinteractive" => {
            "postie always delivers at once, in the foreground"
        }
        _ => "a sendmail configuration option, meaningless for SMTP submission",
    }
}

fn valued_reason(c: char) -> &'static str {
    match c {
        'B' => "the body type is decided from the content (BODY=8BITMIME for 8-bit bytes)",
        'h' => "the hop count is the servers' business",
        'L' => "postie logs under its own name",
        _ => "a sendmail configuration option, meaningless for SMTP submission",
    }
}

fn needs_value<'a>(option: &str, value: Option<&'a str>) -> Result<&'a str, SendmailUsage> {
    value.ok_or_else(|| usage(option, "needs a value"))
}

fn usage(option: &str, why: &str) -> SendmailUsage {
    SendmailUsage {
        option: option.to_owned(),
        why: why.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(args: &[&str]) -> SendmailArgs {
        parse(args).expect("parses")
    }

    #[test]
    fn what_cron_mutt_git_and_mailx_pass() {
        // Debian cron: sendmail -FCronDaemon -i -B8BITMIME -oem user
        let a = ok(&[
            "-FCronDaemon",
            "-i",
            "-B8BITMIME",
            "-oem",
            "user@example.org",
        ]);
        assert_eq!(a.full_name.as_deref(), Some("CronDaemon"));
        assert_eq!(a.recipients, ["user@example.org"]);
        let ignored: Vec<&str> = a.ignored.iter().map(|(o, _)| o.as_str()).collect();
        assert_eq!(ignored, ["-i", "-B 8BITMIME", "-oem"]);
        // The classic: sendmail -t -oi -f ADDR
        let a = ok(&["-t", "-oi", "-f", "me@example.org"]);
        assert!(a.read_recipients);
        assert_eq!(a.envelope_from.as_deref(), Some("me@example.org"));
        assert!(a.recipients.is_empty());
        // git send-email: sendmail -i -f from -- rcpt...
        let a = ok(&[
            "-i",
            "-fme@example.org",
            "--",
            "-odd@example.org",
            "b@example.org",
        ]);
        assert_eq!(a.envelope_from.as_deref(), Some("me@example.org"));
        assert_eq!(a.recipients, ["-odd@example.org", "b@example.org"]);
    }

    #[test]
    fn clusters_values_and_accounts() {
        let a = ok(&[
            "-tiv",
            "-rsender@x.org",
            "-a",
            "work",
            "-bm",
            "-odi",
            "x@y.org",
        ]);
        assert!(a.read_recipients && a.verbose);
        assert_eq!(a.envelope_from.as_deref(), Some("sender@x.org"));
        assert_eq!(a.account.as_deref(), Some("work"));
        assert_eq!(a.recipients, ["x@y.org"]);
        // A value option ends its cluster: -tf takes the next argument as the sender.
        let a = ok(&["-tf", "s@x.org", "--account=home"]);
        assert!(a.read_recipients);
        assert_eq!(a.envelope_from.as_deref(), Some("s@x.org"));
        assert_eq!(a.account.as_deref(), Some("home"));
        assert_eq!(ok(&["--account", "w"]).account.as_deref(), Some("w"));
        // An empty sender (bounces) is a value, and "-" alone is an argument.
        assert_eq!(ok(&["-f", ""]).envelope_from.as_deref(), Some(""));
        assert_eq!(ok(&["-"]).recipients, ["-"]);
    }

    #[test]
    fn unknown_options_are_named() {
        let err = parse(&["-t", "-X", "log"]).expect_err("unknown");
        assert_eq!(err.option, "-X");
        assert_eq!(parse(&["-tq"]).expect_err("unknown").option, "-q");
        assert_eq!(parse(&["-bp"]).expect_err("mode").option, "-bp");
        assert_eq!(parse(&["--to=x"]).expect_err("long").option, "--to=x");
        assert_eq!(parse(&["-f"]).expect_err("value").why, "needs a value");
        assert!(parse(&["-N", "never"]).is_err());
    }

    #[test]
    fn the_program_name_decides() {
        let name = |s: &str| invoked_as_sendmail(Some(&OsString::from(s)));
        assert!(name("/usr/sbin/sendmail") && name("sendmail"));
        assert!(!name("/usr/bin/postie") && !name("sendmail.postie"));
        assert!(!invoked_as_sendmail(None));
    }
}
