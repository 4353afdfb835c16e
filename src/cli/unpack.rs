//! `postie unpack`: flags, validation into [`UnpackOptions`], the per-input loop that reports
//! each failure and goes on, `--json` and `--list` output.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::cli::CliError;
use crate::cli::common::InnerFileArgs;
use crate::error::Error;
use crate::exit::{Exit, code};
use crate::mail::select::Selection;
use crate::mail::template::Template;
use crate::mail::{self, MailError, UnpackOptions, inputs, parse, save};

/// Turn messages (.eml, mbox, Maildir, `-` for stdin) into their text and attachments.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Each message gets a folder under DIR named from its date and subject, holding body.txt, body.html, message.json and its attachments under safe names."
)]
pub struct UnpackArgs {
    /// Message files, mbox files, Maildir folders, folders of .eml files, or `-` for one
    /// message on stdin.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// The folder to write into (created 0700 if missing).
    #[arg(
        short = 'o',
        long = "out",
        value_name = "DIR",
        required_unless_present_any = ["list", "to_stdout"]
    )]
    pub out: Option<PathBuf>,
    /// Show the tree of parts (type, size, name) without writing anything.
    #[arg(short = 'l', long, conflicts_with_all = ["out", "flat", "only_attachments"])]
    pub list: bool,
    /// Write all attachments straight into DIR (no per-message folder, no body or message.json).
    #[arg(long)]
    pub flat: bool,
    /// Write only attachments (no body.txt, body.html, message.json).
    #[arg(long)]
    pub only_attachments: bool,
    /// Skip inline images (Content-Disposition: inline or a Content-ID).
    #[arg(long)]
    pub no_inline: bool,
    /// Also save inline text parts beyond the first text and HTML body.
    #[arg(long)]
    pub include_text_parts: bool,
    /// Unpack nested messages into subfolders (the default).
    #[arg(long, overrides_with = "no_recursive")]
    pub recursive: bool,
    /// Save nested messages as .eml only.
    #[arg(long, overrides_with = "recursive")]
    pub no_recursive: bool,
    /// How many levels of nested messages to unpack.
    #[arg(long, value_name = "N", default_value_t = mail::DEFAULT_MAX_DEPTH)]
    pub max_depth: usize,
    /// Save at most N parts per message, nested messages included; the rest is skipped
    /// and the message reported as failed.
    #[arg(long, value_name = "N", default_value_t = mail::DEFAULT_MAX_PARTS)]
    pub max_parts: usize,
    /// Write at most SIZE bytes of parts per message, nested messages included (K, M, G
    /// suffixes allowed); the rest is skipped and the message reported as failed.
    #[arg(long, value_name = "SIZE", default_value = "1G", value_parser = parse_bytes)]
    pub max_bytes: u64,
    #[command(flatten)]
    pub inner: InnerFileArgs,
    /// Write only the files of this MIME type (`application/pdf`, `image/*`); repeatable.
    /// A file any --type or --name takes is written.
    #[arg(long = "type", value_name = "TYPE")]
    pub types: Vec<String>,
    /// Write only the files whose name (as the sender gave it) matches this fnmatch
    /// pattern (`*.pdf`; case-sensitive); repeatable.
    #[arg(long = "name", value_name = "PATTERN")]
    pub names: Vec<String>,
    /// Write the one selected file to stdout (an error when the selection is not one file).
    #[arg(long, conflicts_with_all = ["out", "list", "json", "flat", "only_attachments",
        "headers", "overwrite", "folder_template", "file_template"])]
    pub to_stdout: bool,
    /// Every header of the message in message.json, in order (`headers`).
    #[arg(long)]
    pub headers: bool,
    /// Replace files and reuse folders that exist from an earlier run (munpack -f); what
    /// this run writes twice still gets ` (1)`.
    #[arg(long)]
    pub overwrite: bool,
    /// Name message folders from {date} {day} {subject} {from} {message_id}.
    #[arg(long, value_name = "TEMPLATE")]
    pub folder_template: Option<String>,
    /// Name saved files from {name} {date} {day} {subject} {from} {message_id}.
    #[arg(long, value_name = "TEMPLATE")]
    pub file_template: Option<String>,
    /// One JSON object per message on stdout (as message.json; JSON Lines).
    #[arg(long)]
    pub json: bool,
}

/// The validated command.
#[derive(Debug)]
struct Config {
    inputs: Vec<PathBuf>,
    out: Option<PathBuf>,
    options: UnpackOptions,
    json: bool,
    to_stdout: bool,
    /// What the run's messages share (`--overwrite`'s record, `--to-stdout`'s pick).
    run: save::Run,
}

/// A byte count: digits with an optional K, M or G (binary multiples).
fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let shift = match t[split..].to_ascii_uppercase().as_str() {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        _ => return Err(format!("{text:?}: a number with an optional K, M or G")),
    };
    t[..split]
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| format!("{text:?}: a number with an optional K, M or G"))
}

fn validate(args: UnpackArgs) -> Result<Config, CliError> {
    if args.inputs.iter().filter(|p| p.as_os_str() == "-").count() > 1 {
        return Err(CliError::invalid("INPUT", "`-` (stdin) may be given once"));
    }
    if args.max_parts == 0 || args.max_bytes == 0 {
        return Err(CliError::invalid(
            "--max-parts/--max-bytes",
            "must be at least 1",
        ));
    }
    if args.max_depth > 64 {
        return Err(CliError::invalid("--max-depth", "at most 64"));
    }
    if let Some(bad) = args.types.iter().find(|t| !t.contains('/')) {
        return Err(CliError::invalid(
            "--type",
            format!("{bad:?}: a MIME type or pattern such as image/* or application/pdf"),
        ));
    }
    let template = |text: &Option<String>, flag: &str, for_files: bool| {
        text.as_deref()
            .map(|t| Template::parse(t, for_files))
            .transpose()
            .map_err(|why| CliError::invalid(flag, why))
    };
    let folder_template = template(&args.folder_template, "--folder-template", false)?;
    let file_template = template(&args.file_template, "--file-template", true)?;
    Ok(Config {
        inputs: args.inputs,
        out: if args.list { None } else { args.out },
        options: UnpackOptions {
            flat: args.flat,
            only_attachments: args.only_attachments,
            no_inline: args.no_inline,
            include_text_parts: args.include_text_parts,
            recursive: !args.no_recursive,
            max_depth: args.max_depth,
            max_parts: args.max_parts,
            max_bytes: args.max_bytes,
            select: Selection::new(args.types, args.names),
            all_headers: args.headers,
            overwrite: args.overwrite,
            folder_template,
            file_template,
            ..args.inner.options()
        },
        json: args.json,
        to_stdout: args.to_stdout,
        run: if args.to_stdout {
            save::Run::to_stdout()
        } else {
            save::Run::default()
        },
    })
}

pub fn run(args: UnpackArgs) -> Result<Exit, Error> {
    let config = validate(args)?;
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut worst: u8 = code::OK;
    let mut note = |e: &MailError| {
        if e.is_warning() {
            eprintln!("postie: warning: {e}");
            return;
        }
        eprintln!("postie: {e}");
        if worst == code::OK {
            worst = e.exit_code();
        }
    };
    if let Some(dir) = &config.out
        && let Err(source) = crate::fsutil::create_private_dir_all(dir)
    {
        return Err(MailError::Write {
            path: dir.clone(),
            source,
        }
        .into());
    }
    let mut output_error: Option<io::Error> = None;
    for input in &config.inputs {
        let result = inputs::for_each_message(input, |label, raw| {
            if output_error.is_some() {
                return;
            }
            if let Err(e) = handle_one(raw, &label, &config, &mut out, &mut note) {
                output_error = Some(e);
            }
        });
        if let Err(e) = result {
            note(&e);
        }
        if output_error.is_some() {
            break;
        }
    }
    if config.to_stdout && output_error.is_none() {
        match write_picked(config.run.into_picked(), &mut out) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => note(&e),
            Err(e) => output_error = Some(e),
        }
    }
    let flushed = out.flush();
    if let Some(e) = output_error.or(flushed.err()) {
        return Err(Error::output("stdout", e));
    }
    Ok(if worst == code::OK {
        Exit::SUCCESS
    } else {
        Exit::SOME_FAILED
    })
}

/// Unpacks or lists one message (or notes why it could not be read).
fn handle_one(
    raw: Result<&[u8], MailError>,
    label: &str,
    config: &Config,
    out: &mut impl Write,
    note: &mut impl FnMut(&MailError),
) -> io::Result<()> {
    let raw = match raw {
        Ok(raw) => raw,
        Err(e) => {
            note(&e);
            return Ok(());
        }
    };
    match &config.out {
        Some(dir) => unpack_one(raw, label, dir, config, out, note),
        // --to-stdout writes no file: the folder is never used.
        None if config.to_stdout => unpack_one(raw, label, Path::new("."), config, out, note),
        None => list_one(raw, label, config.json, &config.options, out, note),
    }
}

/// Writes the one file a `--to-stdout` run picked; the inner `Err` when it picked none or
/// more than one (nothing is written then).
fn write_picked(picked: save::Picked, out: &mut impl Write) -> io::Result<Result<(), MailError>> {
    if let (1, Some(bytes)) = (picked.count, &picked.first) {
        out.write_all(bytes)?;
        return Ok(Ok(()));
    }
    let mut names = picked
        .names
        .iter()
        .map(|n| n.escape_debug().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    if picked.count > picked.names.len() {
        names.push_str(", ...");
    }
    let names = if names.is_empty() {
        String::new()
    } else {
        format!(" ({names})")
    };
    Ok(Err(MailError::NotOne {
        count: picked.count,
        names,
    }))
}

fn unpack_one(
    raw: &[u8],
    label: &str,
    dir: &Path,
    config: &Config,
    out: &mut impl Write,
    note: &mut impl FnMut(&MailError),
) -> io::Result<()> {
    match save::unpack_message_in(raw, label, dir, &config.options, &config.run) {
        Ok((info, failures)) => {
            failures.iter().for_each(&mut *note);
            if config.json {
                serde_json::to_writer(&mut *out, &info).map_err(io::Error::other)?;
                out.write_all(b"\n")?;
            }
        }
        Err(e) => note(&e),
    }
    Ok(())
}

fn list_one(
    raw: &[u8],
    label: &str,
    json: bool,
    options: &UnpackOptions,
    out: &mut impl Write,
    note: &mut impl FnMut(&MailError),
) -> io::Result<()> {
    let Some(msg) = parse::parse(raw) else {
        note(&MailError::Parse {
            source_name: label.to_owned(),
            why: "no message headers found".to_owned(),
        });
        return Ok(());
    };
    let mut nodes = parse::outline(&msg, options);
    if !options.select.is_all() {
        // What the selection writes: the files it takes, where they sit in the tree.
        nodes.retain(|n| n.file && options.select.takes(&n.mime_type, n.name.as_deref()));
    }
    if json {
        let line = serde_json::json!({ "source": label, "parts": nodes });
        serde_json::to_writer(&mut *out, &line).map_err(io::Error::other)?;
        return out.write_all(b"\n");
    }
    writeln!(out, "{label}")?;
    for node in nodes {
        let indent = "  ".repeat(node.depth + 1);
        write!(out, "{indent}{}", node.mime_type)?;
        if !node.mime_type.starts_with("multipart/") {
            write!(out, "  {} B", node.size)?;
        }
        if let Some(name) = &node.name {
            write!(out, "  {}", serde_json::Value::String(name.clone()))?;
        }
        if let Some(encoding) = node.encoding {
            write!(out, "  ({encoding})")?;
        }
        writeln!(out)?;
    }
    Ok(())
}
