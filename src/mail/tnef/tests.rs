use super::*;

#[path = "../../../tests/support/tnef_build.rs"]
mod build;

/// A stream of two files: one with a long name, a MIME type and a UTC date; one with only
/// an 8.3 title; plus message-level attributes, which are skipped.
fn two_files() -> Vec<u8> {
    let mut s = build::stream();
    build::attr(&mut s, 1, 0x0001_8004, b"Subject\0");
    let time = 133_000_000_000_000_000u64.to_le_bytes();
    build::file(
        &mut s,
        Some("REPORT~1.PDF"),
        b"%PDF-1.4 data",
        &[
            build::prop_unicode(build::PR_ATTACH_LONG_FILENAME, "Quarterly report é.pdf"),
            build::prop_string(build::PR_ATTACH_MIME_TAG, "application/pdf"),
            build::prop_fixed(0x0040, build::PR_CREATION_TIME, &time),
        ],
    );
    build::file(&mut s, Some("NOTES.TXT"), b"plain notes\n", &[]);
    s
}

#[test]
fn files_come_with_long_names_types_and_dates() {
    let s = two_files();
    let c = read(&s).expect("a TNEF stream");
    assert_eq!(c.damage, None);
    assert_eq!(c.files.len(), 2);
    let f = &c.files[0];
    assert_eq!(f.name.as_deref(), Some("Quarterly report é.pdf"));
    assert_eq!(f.mime_type.as_deref(), Some("application/pdf"));
    assert_eq!(f.data, b"%PDF-1.4 data");
    assert_eq!(f.created.as_deref(), Some("2022-06-18T04:26:40Z"));
    assert!(!f.damaged);
    assert_eq!(c.files[1].name.as_deref(), Some("NOTES.TXT"));
    assert_eq!(c.files[1].data, b"plain notes\n");
}

#[test]
fn names_fall_back_from_long_to_short_to_display_name_to_none() {
    let mut s = build::stream();
    build::file(
        &mut s,
        None,
        b"a",
        &[build::prop_string(build::PR_ATTACH_FILENAME, "A.BIN")],
    );
    build::file(
        &mut s,
        None,
        b"b",
        &[build::prop_string(build::PR_DISPLAY_NAME, "Shown")],
    );
    build::file(&mut s, None, b"c", &[]);
    let c = read(&s).expect("TNEF");
    let names: Vec<_> = c.files.iter().map(|f| f.name.as_deref()).collect();
    assert_eq!(names, [Some("A.BIN"), Some("Shown"), None]);
}

#[test]
fn an_embedded_object_loses_its_interface_id_and_a_rendering_without_data_is_no_file() {
    let mut s = build::stream();
    let mut object = vec![0xaa; 16];
    object.extend_from_slice(b"inner bytes");
    build::file(
        &mut s,
        Some("OBJ.DAT"),
        b"placeholder",
        &[build::prop_bytes(
            0x000d,
            build::PR_ATTACH_DATA_OBJ,
            &object,
        )],
    );
    build::attr(&mut s, 2, 0x0006_9002, &[0; 14]);
    let c = read(&s).expect("TNEF");
    assert_eq!(c.files.len(), 1);
    assert_eq!(c.files[0].data, b"inner bytes");
}

#[test]
fn not_tnef_is_none() {
    assert_eq!(read(b""), None);
    assert_eq!(read(b"PK\x03\x04"), None);
    assert!(
        read(&build::stream())
            .expect("empty stream")
            .files
            .is_empty()
    );
}

#[test]
fn every_truncation_keeps_the_files_before_it_and_never_panics() {
    let s = two_files();
    let whole = read(&s).expect("TNEF");
    let mut damaged = 0;
    for cut in 4..s.len() {
        let c = read(&s[..cut]).expect("the signature is there");
        assert!(c.files.len() <= 2, "{cut}");
        for (got, want) in c.files.iter().zip(&whole.files) {
            assert!(
                want.data.starts_with(got.data) || got.data.is_empty(),
                "{cut}"
            );
        }
        // A cut between two attributes is a shorter stream; anywhere else, damage.
        match c.damage {
            None => {}
            Some(d) => {
                assert_eq!(d, TnefDamage::Truncated(cut), "{cut}");
                damaged += 1;
            }
        }
    }
    assert!(damaged > s.len() * 9 / 10, "{damaged} of {}", s.len());
}

#[test]
fn a_bad_checksum_marks_the_file_and_stops() {
    let mut s = build::stream();
    build::file(&mut s, Some("A.TXT"), b"abc", &[]);
    build::file(&mut s, Some("B.TXT"), b"def", &[]);
    // The first file's data checksum: the last two bytes of its attAttachData attribute.
    let at = memchr::memmem::find(&s, b"abc").expect("data") + 3;
    s[at] ^= 1;
    let c = read(&s).expect("TNEF");
    assert!(matches!(c.damage, Some(TnefDamage::Checksum(_))));
    assert_eq!(c.files.len(), 1);
    assert!(c.files[0].damaged);
    assert_eq!(c.files[0].data, b"abc");
}

#[test]
fn hostile_lengths_and_counts_are_damage_not_allocations() {
    // An attribute claiming 4 GiB.
    let mut s = build::stream();
    s.extend_from_slice(&[2, 0x0f, 0x80, 0x06, 0x00, 0xff, 0xff, 0xff, 0xff]);
    assert_eq!(
        read(&s).expect("TNEF").damage,
        Some(TnefDamage::Truncated(s.len()))
    );
    // A property list claiming 2^32-1 properties, and a value count far past the end.
    for list in [
        vec![0xff, 0xff, 0xff, 0xff],
        [
            &1u32.to_le_bytes()[..],
            &[0x02, 0x01, 0x01, 0x37],
            &[0xff; 4],
        ]
        .concat(),
        [
            &1u32.to_le_bytes()[..],
            &[0x03, 0x10, 0x00, 0x30],
            &[0xff; 4],
        ]
        .concat(),
    ] {
        let mut s = build::stream();
        build::attr(&mut s, 2, 0x0006_9002, &[0; 14]);
        build::attr(&mut s, 2, 0x0006_9005, &list);
        assert!(matches!(
            read(&s).expect("TNEF").damage,
            Some(TnefDamage::Truncated(_))
        ));
    }
    // An undefined property type.
    let mut s = build::stream();
    build::attr(
        &mut s,
        2,
        0x0006_9005,
        &[1, 0, 0, 0, 0x99, 0x00, 0x01, 0x30],
    );
    assert_eq!(
        read(&s).expect("TNEF").damage,
        Some(TnefDamage::PropertyType(0x99))
    );
}

#[test]
fn tnef_parts_by_type_or_by_name_with_a_generic_type() {
    assert!(is_tnef_part("application/ms-tnef", None));
    assert!(is_tnef_part("application/vnd.ms-tnef", Some("x")));
    assert!(is_tnef_part(
        "application/octet-stream",
        Some("WINMAIL.DAT")
    ));
    assert!(is_tnef_part("text/plain", Some("win.dat")));
    assert!(!is_tnef_part("application/pdf", Some("winmail.dat")));
    assert!(!is_tnef_part("application/octet-stream", Some("mail.dat")));
}

#[test]
fn local_dates_have_no_zone() {
    let d: Vec<u8> = [2000u16, 2, 11, 15, 51, 34, 5]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    assert_eq!(trp_date(&d).as_deref(), Some("2000-02-11T15:51:34"));
    assert_eq!(trp_date(&d[..10]), None);
    assert_eq!(trp_date(&[0; 14]), None);
}

/// The example of MS-OXRTFCP 3.1.1 (compressed RTF, with a back reference).
const SPEC_EXAMPLE: [u8; 51] = [
    0x2d, 0x00, 0x00, 0x00, 0x2b, 0x00, 0x00, 0x00, 0x4c, 0x5a, 0x46, 0x75, 0xf1, 0xc5, 0xc7, 0xa7,
    0x03, 0x00, 0x0a, 0x00, 0x72, 0x63, 0x70, 0x67, 0x31, 0x32, 0x35, 0x42, 0x32, 0x0a, 0xf3, 0x20,
    0x68, 0x65, 0x6c, 0x09, 0x00, 0x20, 0x62, 0x77, 0x05, 0xb0, 0x6c, 0x64, 0x7d, 0x0a, 0x80, 0x0f,
    0xa0, 0x00, 0x00,
];

#[test]
fn compressed_rtf_as_the_specification_shows_it() {
    assert_eq!(RTF_PREBUF.len(), 207);
    let rtf = decompress_rtf(&SPEC_EXAMPLE).expect("LZFu");
    assert_eq!(rtf, b"{\\rtf1\\ansi\\ansicpg1252\\pard hello world}\r\n");
    // Stored (MELA) RTF is the bytes after the header, up to the raw size.
    let mut stored = vec![0, 0, 0, 0, 3, 0, 0, 0];
    stored.extend_from_slice(b"MELA\0\0\0\0{x}tail");
    assert_eq!(decompress_rtf(&stored), Ok(b"{x}".to_vec()));
    assert_eq!(decompress_rtf(b"short"), Err(TnefDamage::Rtf));
    assert_eq!(decompress_rtf(&[0; 20]), Err(TnefDamage::Rtf));
}

#[test]
fn every_truncation_of_compressed_rtf_never_panics_and_gives_a_prefix() {
    let whole = decompress_rtf(&SPEC_EXAMPLE).expect("LZFu");
    for cut in 0..SPEC_EXAMPLE.len() {
        if let Ok(part) = decompress_rtf(&SPEC_EXAMPLE[..cut]) {
            assert!(whole.starts_with(&part), "{cut}");
        }
    }
}

#[test]
fn the_message_rtf_body_is_found_among_the_message_properties() {
    let mut s = build::stream();
    let props = build::props(&[build::prop_bytes(0x0102, 0x1009, &SPEC_EXAMPLE)]);
    build::attr(&mut s, 1, 0x0006_9003, &props);
    build::file(&mut s, Some("A.TXT"), b"a", &[]);
    let c = read(&s).expect("TNEF");
    assert_eq!(c.rtf_compressed, Some(&SPEC_EXAMPLE[..]));
    assert_eq!(c.files.len(), 1);
}
