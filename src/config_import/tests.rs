use std::path::Path;

use super::*;

fn parsed(text: &str) -> Vec<RcAccount> {
    parse(Path::new("rc"), text).expect("parses")
}

fn malformed(text: &str) -> (usize, String) {
    match parse(Path::new("rc"), text) {
        Err(RcError::Malformed { line, why, .. }) => (line, why),
        other => panic!("{text:?}: {other:?}"),
    }
}

fn values(a: &RcAccount) -> Vec<(&str, &str)> {
    a.effective()
        .into_iter()
        .map(|s| (s.key.as_str(), s.value.as_str()))
        .collect()
}

/// The example of msmtp(1), "EXAMPLES": defaults, two accounts, inheritance, a default alias.
const MSMTPRC: &str = "\
# Set default values for all following accounts.
defaults
auth           on
tls            on
tls_trust_file /etc/ssl/certs/ca-certificates.crt
logfile        ~/.msmtp.log

# Gmail
account        gmail
host           smtp.gmail.com
port           587
from           username@gmail.com
user           username
passwordeval   \"gpg --quiet --for-your-eyes-only --no-tty --decrypt ~/.msmtp-gmail.gpg\"

# A freemail service
account        freemail : gmail
host           smtp.freemail.example
from           joe_smith@freemail.example
password       \"with \\\"quotes\\\" and # hash\"

# Set a default account
account default : freemail
";

#[test]
fn the_msmtp_man_page_example() {
    let accounts = parsed(MSMTPRC);
    let names: Vec<&str> = accounts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["gmail", "freemail", "default"]);
    assert_eq!(
        values(&accounts[0]),
        [
            ("auth", "on"),
            ("tls", "on"),
            ("tls_trust_file", "/etc/ssl/certs/ca-certificates.crt"),
            ("logfile", "~/.msmtp.log"),
            ("host", "smtp.gmail.com"),
            ("port", "587"),
            ("from", "username@gmail.com"),
            ("user", "username"),
            (
                "passwordeval",
                "gpg --quiet --for-your-eyes-only --no-tty --decrypt ~/.msmtp-gmail.gpg"
            ),
        ]
    );
    let free = &accounts[1];
    assert_eq!(free.line, 17);
    assert_eq!(free.get("host").map(|s| s.line), Some(18));
    assert_eq!(free.get("port").map(|s| s.value.as_str()), Some("587"));
    assert_eq!(
        free.get("password").map(|s| s.value.as_str()),
        Some("with \"quotes\" and # hash")
    );
    assert_eq!(values(&accounts[2]), values(free));
}

#[test]
fn arguments_comments_quotes_and_blanks() {
    let text = "account a\n\
                \x20 user   spaced value   \n\
                host h # a comment\n\
                from x#y\n\
                passwordeval \"  kept  \"  # after\n\
                tls\n\
                \t# indented comment\n\
                domain \"\"\n\
                auth \"a\\\\b\"\n";
    let a = &parsed(text)[0];
    assert_eq!(
        values(a),
        [
            ("user", "spaced value"),
            ("host", "h"),
            ("from", "x#y"),
            ("passwordeval", "  kept  "),
            ("tls", ""),
            ("domain", ""),
            ("auth", "a\\b"),
        ]
    );
}

#[test]
fn malformed_lines_are_named_by_number_without_their_text() {
    assert_eq!(
        malformed("host x\n"),
        (1, "`host` before any `account` or `defaults` line".into())
    );
    assert_eq!(
        malformed("account a\npassword \"secret1\n"),
        (2, "a double quote is not closed".into())
    );
    assert_eq!(
        malformed("account a\n\npassword \"secret2\\"),
        (3, "a quoted argument ends in `\\`".into())
    );
    assert_eq!(
        malformed("account a\nuser=x\n"),
        (2, "a command is letters, digits and `_`".into())
    );
    assert_eq!(
        malformed("account a\naccount a\n"),
        (2, "account a is defined twice".into())
    );
    assert_eq!(
        malformed("account a : b\n"),
        (
            1,
            "account a inherits from \"b\", which is not defined before it".into()
        )
    );
    assert_eq!(
        malformed("defaults x\n"),
        (1, "`defaults` takes no argument".into())
    );
    assert_eq!(malformed("account\n"), (1, "`account` needs a name".into()));
    let err = parse(
        Path::new("/home/u/.msmtprc"),
        "account a\npassword \"s3cret\n",
    )
    .expect_err("bad");
    assert_eq!(
        err.to_string(),
        "/home/u/.msmtprc: line 2: a double quote is not closed"
    );
}

#[test]
fn defaults_apply_to_accounts_after_them_and_later_lines_win() {
    let text = "account early\nhost e\ndefaults\nport 2525\naccount late\nhost l\nport 26\n\
                defaults\nuser u\naccount last : early, late\n";
    let accounts = parsed(text);
    assert_eq!(values(&accounts[0]), [("host", "e")]);
    assert_eq!(values(&accounts[1]), [("host", "l"), ("port", "26")]);
    assert_eq!(
        values(&accounts[2]),
        [("host", "l"), ("port", "26"), ("user", "u")]
    );
    assert_eq!(accounts[2].get("port").map(|s| s.line), Some(7));
}

fn shown(c: &Converted) -> Vec<String> {
    c.warnings.iter().map(ToString::to_string).collect()
}

fn msmtp(text: &str, name: &str) -> Converted {
    let accounts = parsed(text);
    let a = accounts.iter().find(|a| a.name == name).expect("account");
    convert(Flavor::Msmtp, a, Some(Path::new("/home/u")))
}

fn mpop(text: &str) -> Converted {
    convert(Flavor::Mpop, &parsed(text)[0], Some(Path::new("/home/u")))
}

#[test]
fn msmtp_keys_map_and_unsupported_ones_are_named() {
    let c = msmtp(MSMTPRC, "gmail");
    let a = &c.account;
    assert_eq!(a.smtp_server.as_deref(), Some("smtp://smtp.gmail.com:587"));
    assert_eq!(a.tls, None, "tls on: postie's default, required");
    assert_eq!(
        a.cacert.as_deref(),
        Some(Path::new("/etc/ssl/certs/ca-certificates.crt"))
    );
    assert_eq!(a.from.as_deref(), Some("username@gmail.com"));
    assert_eq!(a.user.as_deref(), Some("username"));
    assert!(
        a.password_command
            .as_deref()
            .is_some_and(|c| c.starts_with("gpg "))
    );
    assert_eq!(a.log.as_deref(), Some(Path::new("/home/u/.msmtp.log")));
    assert!(shown(&c).is_empty(), "{:?}", shown(&c));

    let c = msmtp(MSMTPRC, "freemail");
    assert_eq!(
        shown(&c),
        ["line 20: password is ignored: passwordeval is used (postie takes one source)"]
    );
    assert!(c.account.password.is_none());
}

#[test]
fn msmtp_ports_tls_and_auth() {
    let c = msmtp("account a\nhost h\n", "a");
    assert_eq!(c.account.smtp_server.as_deref(), Some("smtp://h:25"));
    assert_eq!(
        c.account.tls.as_deref(),
        Some("none"),
        "msmtp: tls off by default"
    );
    let c = msmtp("account a\nhost h\ntls on\ntls_starttls off\n", "a");
    assert_eq!(c.account.smtp_server.as_deref(), Some("smtps://h:465"));
    assert_eq!(c.account.tls, None);
    let c = msmtp(
        "account a\nhost ::1\ntls\nport 2525\ndomain me.example\n",
        "a",
    );
    assert_eq!(c.account.smtp_server.as_deref(), Some("smtp://[::1]:2525"));
    assert_eq!(c.account.helo.as_deref(), Some("me.example"));
    let c = msmtp("account a\nhost h\nuser u\npassword p\nauth off\n", "a");
    assert!(c.account.user.is_none() && c.account.password.is_none());
    let c = msmtp("account a\nauth scram-sha-256\nport x\ntls maybe\n", "a");
    assert_eq!(
        shown(&c),
        [
            "line 2: auth scram-sha-256 is not supported by postie; the automatic choice is used",
            "line 3: port takes a port number; ignored",
            "line 4: tls takes on or off; ignored",
        ]
    );
    let c = msmtp(
        "account a\nauth XOAUTH2\ntls_certcheck off\ntimeout 30\n",
        "a",
    );
    assert_eq!(c.account.auth.as_deref(), Some("xoauth2"));
    assert_eq!(
        (c.account.insecure, c.account.timeout),
        (Some(true), Some(30))
    );
}

/// mpop(1)'s example account.
#[test]
fn mpop_keys_delivery_and_keep() {
    let c = mpop(
        "defaults\ntls on\n\naccount example\nhost pop.example.com\nuser joe\n\
         passwordeval \"pass show mail\"\ndelivery maildir ~/Mail/example\nkeep off\n\
         uidls_file ~/.mpop_uidls/%U_at_%H\nonly_new on\n",
    );
    let a = &c.account;
    assert_eq!(a.pop3_server.as_deref(), Some("pop3://pop.example.com:110"));
    assert_eq!(a.tls, None);
    assert_eq!(
        a.pop3_out.as_deref(),
        Some(Path::new("/home/u/Mail/example"))
    );
    assert_eq!(a.pop3_format.as_deref(), Some("maildir"));
    assert_eq!(
        shown(&c),
        [
            "line 9: keep off is not applied: postie keeps messages on the server unless \
             `pop3 pull --delete` is given",
            "line 10: uidls_file is not supported by postie; ignored",
            "line 11: only_new is not supported by postie; ignored",
        ]
    );
    let c = mpop("account a\nhost h\ntls_starttls off\ndelivery mbox /var/mail/u\nauth apop\n");
    assert_eq!(c.account.pop3_server.as_deref(), Some("pop3s://h:995"));
    assert_eq!(c.account.pop3_format.as_deref(), Some("mbox"));
    assert_eq!(c.account.auth.as_deref(), Some("apop"));
    let c =
        mpop("account a\nhost h\ntls off\ndelivery mda \"/usr/bin/procmail -f '%F' -d $USER\"\n");
    assert_eq!(c.account.pop3_server.as_deref(), Some("pop3://h:110"));
    assert_eq!(c.account.tls.as_deref(), Some("none"));
    assert_eq!(
        c.account.pop3_mda.as_deref(),
        Some("/usr/bin/procmail -f '%F' -d $USER"),
        "as mpop --pretend shows it"
    );
    assert!(shown(&c).is_empty(), "{:?}", shown(&c));
    let c = mpop("account a\nhost h\ndelivery mda maildrop\ndelivery maildir ~/M\n");
    assert_eq!(c.account.pop3_mda, None, "the last delivery wins");
    assert_eq!(c.account.pop3_format.as_deref(), Some("maildir"));
    let c = mpop("account a\nhost h\ndelivery exchange c:\\x\n");
    assert_eq!(
        shown(&c),
        [
            "line 3: delivery exchange is not supported by postie (maildir, mbox and mda are); \
          give pop3 pull --out"
        ]
    );
}

#[test]
fn rendered_toml_has_no_password_and_reads_back() {
    let c = mpop(
        "account \"my box\"\nhost pop.example.com\nuser joe\npassword hunter2\n\
         tls_trust_file ~/ca.pem\ntimeout 20\nlogfile x\n",
    );
    let text = render("my box", &c);
    assert_eq!(
        text,
        "[account.\"my box\"]\n\
         # not imported: line 7: logfile is not supported by postie; ignored\n\
         pop3_server = \"pop3://pop.example.com:110\"\n\
         user = \"joe\"\n\
         cacert = \"/home/u/ca.pem\"\n\
         timeout = 20\n\
         # password: not imported (a plain password does not belong in config.toml);\n\
         # give password_command = \"pass show ...\" or password_env = \"VAR\" instead\n"
    );
    let table: toml::Table = toml::from_str(&text).expect("valid TOML");
    assert!(table["account"].get("my box").is_some());
}

#[test]
fn merging_replaces_only_the_named_accounts_and_keeps_comments() {
    let existing = "# my accounts\n[account.work]\nuser = \"w\"\n\n# home box\n\
                    [account.\"home\"]\nuser = \"old\"\n[account.other]\nuser = \"o\"\n";
    assert_eq!(
        account_names(existing),
        Some(vec![
            "home".to_owned(),
            "other".to_owned(),
            "work".to_owned()
        ])
    );
    let merged = merge(
        existing,
        "[account.home]\nuser = \"new\"\n",
        &["home".into()],
    )
    .expect("merged");
    assert_eq!(
        merged,
        "# my accounts\n[account.work]\nuser = \"w\"\n\n# home box\n\
         [account.other]\nuser = \"o\"\n\n[account.home]\nuser = \"new\"\n"
    );
    let err = merge(existing, "[account.home]\nuser = \"x\"\n", &[]).expect_err("twice");
    assert_eq!(err, "the merged file would not be valid TOML");
    assert_eq!(
        merge("", "[account.a]\n", &[]).as_deref(),
        Ok("[account.a]\n")
    );
}

/// msmtp's system-mail keys (issue 20): aliases, logfile, syslog and set_from_header become
/// postie's `aliases`, `log`, `syslog` and `from_policy`.
#[test]
fn msmtp_system_mail_keys_are_mapped() {
    let c = msmtp(
        "account default\nhost mx.example\nfrom me@example.org\naliases ~/aliases\n\
         logfile /var/log/msmtp.log\nsyslog LOG_MAIL\nset_from_header on\n",
        "default",
    );
    assert!(shown(&c).is_empty(), "{:?}", shown(&c));
    let a = &c.account;
    assert_eq!(a.aliases.as_deref(), Some(Path::new("/home/u/aliases")));
    assert_eq!(a.log.as_deref(), Some(Path::new("/var/log/msmtp.log")));
    assert_eq!(a.syslog, Some(true));
    assert_eq!(a.from_policy.as_deref(), Some("account"));
    let text = render("default", &c);
    for line in [
        "from_policy = \"account\"\n",
        "aliases = \"/home/u/aliases\"\n",
        "log = \"/var/log/msmtp.log\"\n",
        "syslog = true\n",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
    let c = msmtp(
        "account a\nhost h\nsyslog off\nset_from_header maybe\n",
        "a",
    );
    assert_eq!(c.account.syslog, Some(false));
    assert_eq!(shown(&c).len(), 1, "{:?}", shown(&c));
}
