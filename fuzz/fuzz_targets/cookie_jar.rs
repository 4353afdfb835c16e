//! The Netscape cookies.txt reader (src/cookies/netscape.rs).
//!
//! Input: a jar file's bytes (read as the jar reads them: UTF-8, invalid bytes replaced).
//! Invariants beyond "no panic":
//! - the whole-file reader (with its fast path for lines in curl's exact form) gives the
//!   same cookies and the same skipped lines as reading line by line with `parse_line`;
//! - what was read, written back in curl's form, reads back the same (no line is lost,
//!   added or changed by a round trip through the jar).
#![no_main]

use libfuzzer_sys::fuzz_target;
use postie::cookies::netscape::{self, Line};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parsed = netscape::parse(&text);

    // Line by line, as `str::lines` splits.
    let mut records = Vec::new();
    let mut skipped = Vec::new();
    for (i, line) in text.lines().enumerate() {
        match netscape::parse_line(line) {
            Ok(Some(r)) => records.push(r),
            Ok(None) => {}
            Err(e) => skipped.push((i + 1, e)),
        }
    }
    assert_eq!(
        parsed.records, records,
        "whole-file and line-by-line readers differ"
    );
    assert_eq!(parsed.skipped, skipped, "skipped lines differ");

    let mut out = Vec::new();
    let lines: Vec<&dyn Line> = records.iter().map(|r| r as &dyn Line).collect();
    netscape::write(&mut out, lines).expect("writing to memory");
    let written = String::from_utf8(out).expect("the jar writer writes UTF-8");
    let again = netscape::parse(&written);
    assert!(
        again.skipped.is_empty(),
        "written lines skipped: {:?}",
        again.skipped
    );
    assert_eq!(
        again.records, records,
        "write then read changed the cookies"
    );
});
