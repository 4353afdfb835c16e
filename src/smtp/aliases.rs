//! msmtp's aliases file (the `aliases = PATH` account key): lines `local: addr, addr`,
//! `#` comments, and a `default: addr` for every local name not listed. A recipient without
//! an `@` (cron's `root`, a `-t` message's `To: root`) is replaced by its addresses; one
//! with an `@` is never touched. Not recursive, as msmtp's. Pure: text in, lookups out.

use std::collections::BTreeMap;

/// A parsed aliases file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aliases {
    /// Local name (lower case) to its addresses.
    map: BTreeMap<String, Vec<String>>,
}

/// A line that is not `name: addresses`: its number (from 1) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {why}")]
pub struct AliasesError {
    pub line: usize,
    pub why: &'static str,
}

impl Aliases {
    /// Parses the text of an aliases file.
    pub fn parse(text: &str) -> Result<Aliases, AliasesError> {
        let mut map = BTreeMap::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let error = |why| AliasesError { line: i + 1, why };
            let (name, list) = line.split_once(':').ok_or(error("no colon"))?;
            let name = name.trim();
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err(error("the alias is empty or has blanks"));
            }
            let addresses: Vec<String> = list
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_owned)
                .collect();
            if addresses.is_empty() {
                return Err(error("no address after the colon"));
            }
            map.insert(name.to_ascii_lowercase(), addresses);
        }
        Ok(Aliases { map })
    }

    /// The addresses for `recipient`: its alias (any case), else `default`'s, for a local
    /// name; None for an address with an `@`, or a local name with neither.
    pub fn expand(&self, recipient: &str) -> Option<&[String]> {
        if recipient.contains('@') {
            return None;
        }
        self.map
            .get(&recipient.to_ascii_lowercase())
            .or_else(|| self.map.get("default"))
            .map(Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msmtp_examples() {
        let text = "# Example aliases file\n\n\
                    # Send root to Joe and Jane\n\
                    root: joe_smith@example.com, jane_chang@example.com\n\
                    \n\
                    # Send cron to Mark\n\
                    cron: mark_jones@example.com   # trailing comment\n\
                    \n\
                    # Send everything else to admin\n\
                    default: admin@domain.example\n";
        let a = Aliases::parse(text).expect("parses");
        assert_eq!(
            a.expand("Root").expect("root"),
            ["joe_smith@example.com", "jane_chang@example.com"]
        );
        assert_eq!(a.expand("cron").expect("cron"), ["mark_jones@example.com"]);
        assert_eq!(
            a.expand("nobody").expect("default"),
            ["admin@domain.example"]
        );
        assert_eq!(a.expand("x@example.org"), None);
        let no_default = Aliases::parse("root: r@example.org\n").expect("parses");
        assert_eq!(no_default.expand("nobody"), None);
    }

    #[test]
    fn bad_lines_are_named() {
        assert_eq!(
            Aliases::parse("root: a@b\nwhat\n").expect_err("no colon"),
            AliasesError {
                line: 2,
                why: "no colon"
            }
        );
        assert_eq!(Aliases::parse("root:\n").expect_err("empty").line, 1);
        assert_eq!(Aliases::parse("a b: x@y\n").expect_err("blank").line, 1);
    }
}
