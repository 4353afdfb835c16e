//! Running `postie pop3` in the POP3 test files: against the in-process server
//! (`pop3_server.rs`, plaintext allowed) or Dovecot (`pop3_dovecot.rs`), and reading what it
//! printed. A file that includes this includes `common`, `pop3_server` and `pop3_dovecot` too.
#![allow(dead_code)]

use std::process::{Command, Output};

use crate::common::{postie, text};
use crate::pop3_dovecot;
use crate::pop3_server::{FakePop3, PASS, USER};

/// `postie pop3 SUB` against the fake server, plaintext allowed.
pub fn fake_cmd(server: &FakePop3, sub: &str) -> Command {
    let mut cmd = postie();
    cmd.args(["pop3", sub, "--server", &server.url(), "--user", USER])
        .args(["--tls", "none", "--allow-insecure-auth"])
        .args(["--password-env", "POP_PW"])
        .env("POP_PW", PASS);
    cmd
}

/// `postie pop3 SUB` against Dovecot at `url`, its CA trusted.
pub fn dovecot_cmd(d: &pop3_dovecot::Dovecot, sub: &str, url: &str) -> Command {
    let mut cmd = postie();
    cmd.args(["pop3", sub, "--server", url, "--user", pop3_dovecot::USER])
        .arg("--cacert")
        .arg(d.ca())
        .args(["--password-env", "POP_PW"])
        .env("POP_PW", pop3_dovecot::PASS);
    cmd
}

pub fn assert_code(out: &Output, code: i32) {
    let (o, e) = text(out);
    assert_eq!(out.status.code(), Some(code), "stdout: {o}\nstderr: {e}");
}

/// Each stdout line as JSON.
pub fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    text(out)
        .0
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}
