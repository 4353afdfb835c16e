//! Internationalized domain names in mail (RFC 5890, RFC 6531 3.2): a domain written in
//! Unicode goes on the envelope and into headers as its A-labels (`xn--...`), which every
//! server and reader takes; only a non-ASCII local part then still needs SMTPUTF8. Pure.

use lettre::Address;
use lettre::message::Mailbox;

use super::SmtpError;

/// `address` with its domain as A-labels; an ASCII domain is left exactly as given.
pub fn ascii_domain(flag: &str, address: &Address) -> Result<Address, SmtpError> {
    let domain = address.domain();
    if domain.is_ascii() {
        return Ok(address.clone());
    }
    let ascii = ::idna::domain_to_ascii(domain).map_err(|_| {
        SmtpError::usage(
            flag,
            format!("{address}: {domain:?} is not a valid internationalized domain name"),
        )
    })?;
    Address::new(address.user(), &ascii)
        .map_err(|e| SmtpError::usage(flag, format!("{address}: {ascii}: {e}")))
}

/// [`ascii_domain`] on a mailbox, its display name kept.
pub fn ascii_mailbox(flag: &str, mailbox: Mailbox) -> Result<Mailbox, SmtpError> {
    let email = ascii_domain(flag, &mailbox.email)?;
    Ok(Mailbox::new(mailbox.name, email))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Address {
        s.parse().expect("address")
    }

    #[test]
    fn unicode_domains_become_a_labels() {
        let a = ascii_domain("--to", &addr("jörg@bücher.example")).expect("ok");
        assert_eq!(a.to_string(), "jörg@xn--bcher-kva.example");
        let a = ascii_domain("--to", &addr("info@例え.テスト")).expect("ok");
        assert_eq!(a.to_string(), "info@xn--r8jz45g.xn--zckzah");
        // ASCII (even upper case) and address literals are untouched.
        let a = ascii_domain("--to", &addr("x@Example.ORG")).expect("ok");
        assert_eq!(a.to_string(), "x@Example.ORG");
    }

    #[test]
    fn mailboxes_keep_their_names() {
        let m: Mailbox = "Jörg <j@bücher.example>".parse().expect("mailbox");
        let m = ascii_mailbox("--from", m).expect("ok");
        assert_eq!(m.name.as_deref(), Some("Jörg"));
        assert_eq!(m.email.to_string(), "j@xn--bcher-kva.example");
    }
}
