//! Which files `postie unpack --type/--name` writes (pure). As `mshow -x msg PATTERN...`
//! does, every pattern is tried against every file and a file any of them matches is taken
//! (the patterns are or-ed, `--type` and `--name` alike); no pattern takes every file.
//!
//! `--type` matches the MIME type, case-insensitively (`image/*`, `application/pdf`,
//! `*/*`); `--name` matches the name the sender gave (decoded, before it is made safe) with
//! fnmatch(3) rules, case-sensitively as mshow does: `*`, `?`, `[abc]`, `[a-z]`, `[!x]`,
//! `\` quoting the next character. A file with no name never matches a `--name` pattern.

/// The `--type` and `--name` patterns of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// MIME type patterns, lower-case.
    pub types: Vec<String>,
    /// File name patterns.
    pub names: Vec<String>,
}

impl Selection {
    pub fn new(types: Vec<String>, names: Vec<String>) -> Selection {
        Selection {
            types: types
                .iter()
                .map(|t| t.trim().to_ascii_lowercase())
                .collect(),
            names,
        }
    }

    /// True when no pattern was given: every file is taken.
    pub fn is_all(&self) -> bool {
        self.types.is_empty() && self.names.is_empty()
    }

    /// Whether a file of `mime_type` named `name` by its sender is taken.
    pub fn takes(&self, mime_type: &str, name: Option<&str>) -> bool {
        if self.is_all() {
            return true;
        }
        let mime = mime_type.to_ascii_lowercase();
        self.types.iter().any(|t| fnmatch(t, &mime))
            || name.is_some_and(|n| self.names.iter().any(|p| fnmatch(p, n)))
    }
}

/// fnmatch(3) without flags: `*` and `?` match any character (`/` included), `[...]` a
/// set, `\` quotes. Iterative with one back-track point, so the cost is at most
/// pattern × text, whatever the pattern.
pub fn fnmatch(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        let step = match p.get(pi) {
            Some('*') => {
                star = Some((pi + 1, ti));
                pi += 1;
                continue;
            }
            Some('?') => Some(1),
            Some('[') => match_set(&p[pi..], t[ti]).unwrap_or(('[' == t[ti]).then_some(1)),
            Some('\\') if pi + 1 < p.len() => (p[pi + 1] == t[ti]).then_some(2),
            Some(&c) => (c == t[ti]).then_some(1),
            None => None,
        };
        match (step, star) {
            (Some(len), _) => {
                pi += len;
                ti += 1;
            }
            (None, Some((sp, st))) => {
                pi = sp;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            (None, None) => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Matches `c` against the set at the start of `p` (`p[0] == '['`): `Some(length of the
/// set)` when it matches, `None` when not; the outer `None` when the set has no closing
/// `]` (the `[` then stands for itself).
fn match_set(p: &[char], c: char) -> Option<Option<usize>> {
    let mut i = 1;
    let negate = matches!(p.get(i), Some('!' | '^'));
    if negate {
        i += 1;
    }
    let mut found = false;
    let mut first = true;
    loop {
        let lo = *p.get(i)?;
        if lo == ']' && !first {
            break;
        }
        first = false;
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&hi| hi != ']') {
            found |= (lo..=p[i + 2]).contains(&c);
            i += 3;
        } else {
            found |= lo == c;
            i += 1;
        }
    }
    Some((found != negate).then_some(i + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnmatch_as_the_c_library() {
        assert!(fnmatch("*.pdf", "report.pdf"));
        assert!(!fnmatch("*.pdf", "report.PDF"));
        assert!(fnmatch("*", ""));
        assert!(fnmatch("a*b*c", "aXXbYYc"));
        assert!(!fnmatch("a*b*c", "aXXbYY"));
        assert!(fnmatch("?.txt", "a.txt"));
        assert!(!fnmatch("?.txt", "ab.txt"));
        assert!(fnmatch("[ab]*", "b1"));
        assert!(!fnmatch("[!ab]*", "b1"));
        assert!(fnmatch("[a-c].x", "c.x"));
        assert!(fnmatch("[]]", "]"));
        assert!(fnmatch("\\*", "*"));
        assert!(fnmatch("a[b", "a[b"));
        assert!(!fnmatch("\\*", "a"));
        assert!(fnmatch("image/*", "image/png"));
        assert!(fnmatch("*/x", "a/b/x"));
        assert!(fnmatch("é*", "état.pdf"));
    }

    #[test]
    fn a_pathological_pattern_is_not_exponential() {
        let text = "a".repeat(2000);
        let pattern = format!("{}b", "*a".repeat(50));
        assert!(!fnmatch(&pattern, &text));
    }

    #[test]
    fn patterns_are_ored_and_none_takes_all() {
        let none = Selection::default();
        assert!(none.takes("text/plain", None));
        let s = Selection::new(vec!["Image/*".into()], vec!["*.pdf".into()]);
        assert!(s.takes("image/png", None));
        assert!(s.takes("IMAGE/JPEG", Some("x")));
        assert!(s.takes("application/octet-stream", Some("a.pdf")));
        assert!(!s.takes("application/pdf", Some("a.PDF")));
        assert!(!s.takes("application/pdf", None));
    }
}
