use super::*;

#[path = "../../../tests/support/uu_build.rs"]
mod build;
use build::{uuencode, yencode};

fn sample(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + len) as u8).collect()
}

#[test]
fn a_uuencoded_block_decodes_and_the_text_around_it_stays() {
    for len in [1, 2, 3, 44, 45, 46, 90, 1000] {
        let data = sample(len);
        let body = format!("Hi,\n{}Bye\n", uuencode("a b.bin", &data));
        let blocks = find_blocks(body.as_bytes());
        assert_eq!(blocks.len(), 1, "{len}");
        let b = &blocks[0];
        assert_eq!((b.name.as_str(), b.damaged), ("a b.bin", false));
        assert_eq!(b.data, data, "{len}");
        assert_eq!(&body[..b.start], "Hi,\n");
        assert_eq!(&body[b.end..], "Bye\n");
    }
}

#[test]
fn prose_that_starts_with_begin_is_text() {
    for body in [
        "begin here\nM abc\nend\n",
        "begin 644\nM\nend\n",
        "begin 644 name\nThanks for the file.\nend\n",
        "begin 9 name\nM86)C\nend\n",
        "xbegin 644 name\n#86)C\nend\n",
        "begin 644 name\n\n#86)C\nend\n",
        "=ybegin line=128 name=x\nabc\n=yend size=3\n",
        "=ybegin size=3\nabc\n=yend size=3\n",
    ] {
        assert_eq!(find_blocks(body.as_bytes()), [], "{body:?}");
    }
}

#[test]
fn a_damaged_uu_block_keeps_what_decodes() {
    let data = sample(100);
    let whole = uuencode("f", &data);
    // No `end`: the file is what the lines give, marked damaged.
    let cut = whole.replace("`\nend\n", "");
    let b = &find_blocks(cut.as_bytes())[0];
    assert!(b.damaged);
    assert_eq!(b.data, data);
    // A line that is not uuencode ends the block; the text after it stays text.
    let lines: Vec<&str> = whole.lines().collect();
    let broken = format!("{}\n{}\nsignature here\n", lines[0], lines[1]);
    let b = &find_blocks(broken.as_bytes())[0];
    assert!(b.damaged);
    assert_eq!(b.data, &data[..45]);
    assert_eq!(&broken[b.end..], "signature here\n");
}

#[test]
fn trailing_spaces_stripped_by_a_mailer_still_decode() {
    // After a whole first line, "A" and two zero bytes encode as `#00  ` with spaces for
    // the zero bits; a mailer that strips trailing white space leaves `#00`.
    let first = uuencode("z", &[7; 45]);
    let first = first.lines().nth(1).expect("a data line");
    let body = format!("begin 600 z\n{first}\n#00\n`\nend\n");
    let b = &find_blocks(body.as_bytes())[0];
    assert!(!b.damaged);
    assert_eq!(&b.data[45..], [0x41, 0, 0]);
}

#[test]
fn yenc_blocks_are_checked_against_their_size_and_crc() {
    let data = sample(1000);
    let mut body = b"Text\r\n".to_vec();
    body.extend_from_slice(&yencode("y.bin", &data));
    body.extend_from_slice(b"after\n");
    let b = &find_blocks(&body)[0];
    assert_eq!(
        (b.encoding, b.name.as_str(), b.damaged),
        (Encoding::Yenc, "y.bin", false)
    );
    assert_eq!(b.data, data);
    assert_eq!(&body[b.end..], b"after\n");
    // One byte changed: the CRC fails.
    let mut bad = yencode("y.bin", &data);
    bad[60] ^= 1;
    assert!(find_blocks(&bad)[0].damaged);
    // Cut before =yend: damaged.
    let whole = yencode("y.bin", &data);
    let cut = &whole[..whole.len() - 30];
    assert!(find_blocks(cut)[0].damaged);
}

#[test]
fn a_single_yenc_part_is_damaged_unless_it_is_the_whole_file() {
    let data = sample(10);
    let enc = yencode("p.bin", &data);
    let header_end = memchr::memchr(b'\n', &enc).expect("line") + 1;
    let payload = &enc[header_end..memchr::memmem::find(&enc, b"=yend").expect("end")];
    let crc = crc32fast::hash(&data);
    for (range, damaged) in [("begin=1 end=10", false), ("begin=1 end=5", true)] {
        let mut b = b"=ybegin part=1 line=128 size=10 name=p.bin\n=ypart ".to_vec();
        b.extend_from_slice(range.as_bytes());
        b.push(b'\n');
        b.extend_from_slice(payload);
        b.extend_from_slice(format!("=yend size=10 part=1 pcrc32={crc:08x}\n").as_bytes());
        assert_eq!(find_blocks(&b)[0].damaged, damaged, "{range}");
    }
}

#[test]
fn several_blocks_in_order_and_the_scan_is_bounded() {
    let body = format!("{}middle\n{}", uuencode("1", b"one"), uuencode("2", b"two"));
    let names: Vec<_> = find_blocks(body.as_bytes())
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(names, ["1", "2"]);
    let many = "begin 644 x\n!80``\nend\n".repeat(MAX_BLOCKS + 5);
    assert_eq!(find_blocks(many.as_bytes()).len(), MAX_BLOCKS);
}

#[test]
fn every_truncation_of_a_block_never_panics() {
    let mut body = uuencode("u", &sample(200)).into_bytes();
    body.extend_from_slice(&yencode("y", &sample(300)));
    for cut in 0..body.len() {
        for b in find_blocks(&body[..cut]) {
            assert!(b.start < b.end && b.end <= cut);
        }
    }
}
