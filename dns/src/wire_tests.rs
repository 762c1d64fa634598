use super::*;

fn q(name: &str, qtype: u16, edns: Option<(u16, bool)>) -> Vec<u8> {
    build_query(0x1234, &name_from_text(name).unwrap(), qtype, 1, false, edns)
}

#[test]
fn parses_question_and_folds_case() {
    let mut msg = q("WwW.Example.COM", 1, None);
    msg[13] = b'W';
    let p = parse_query(&msg).unwrap();
    assert_eq!(p.id, 0x1234);
    assert_eq!(p.name_text(), "www.example.com");
    assert_eq!((p.qtype, p.qclass), (1, 1));
    assert_eq!(p.question_end, msg.len());
    assert!(p.edns.is_none());
    assert_eq!(p.max_udp_size(1232), 512);
}

#[test]
fn parses_edns() {
    let msg = q("a.test", 28, Some((4096, true)));
    let p = parse_query(&msg).unwrap();
    assert_eq!(p.edns, Some(Edns { udp_size: 4096, version: 0, dnssec_ok: true }));
    assert_eq!(p.max_udp_size(1232), 1232);
    let msg = q("a.test", 28, Some((100, false)));
    assert_eq!(parse_query(&msg).unwrap().max_udp_size(1232), 512);
}

#[test]
fn rejects_malformed_without_panicking() {
    let good = q("a.b.c", 1, Some((1232, false)));
    for cut in 0..good.len() {
        let _ = parse_query(&good[..cut]);
    }
    let mut looped = good.clone();
    looped[12] = 0xC0;
    looped[13] = 12;
    assert_eq!(parse_query(&looped).unwrap_err(), WireError::BadName);
    let mut two = good.clone();
    two[5] = 2;
    assert_eq!(parse_query(&two).unwrap_err(), WireError::QuestionCount);
    let mut lying = good;
    lying[7] = 9; // ANCOUNT lies
    assert!(parse_query(&lying).is_err());
}

#[test]
fn read_name_follows_pointers_and_stops_loops() {
    let mut msg = q("a.example", 1, None);
    let at = msg.len();
    msg.extend_from_slice(&[3, b'W', b'w', b'W', 0xC0, 12]);
    let mut out = Vec::new();
    read_name(&msg, at, &mut out).unwrap();
    assert_eq!(name_to_text(&out), "www.a.example");
    let loop_at = msg.len();
    msg.extend_from_slice(&[0xC0, loop_at as u8]);
    assert_eq!(read_name(&msg, loop_at, &mut out).unwrap_err(), WireError::PointerLoop);
}

#[test]
fn skeleton_reply_copies_question_and_opt() {
    let msg = q("a.test", 1, Some((1232, true)));
    let p = parse_query(&msg).unwrap();
    let mut out = Vec::new();
    reply_skeleton(&msg, &p, rcode::REFUSED, 0, 1232, &mut out);
    let parsed = hickory_proto::op::Message::from_vec(&out).unwrap();
    assert_eq!(parsed.metadata.id, 0x1234);
    assert_eq!(parsed.metadata.response_code, hickory_proto::op::ResponseCode::Refused);
    assert!(parsed.edns.as_ref().unwrap().flags().dnssec_ok);
    assert_eq!(parsed.queries.len(), 1);
}

#[test]
fn ede_option_is_well_formed() {
    let msg = q("ads.test", 1, Some((1232, false)));
    let p = parse_query(&msg).unwrap();
    let mut out = Vec::new();
    reply_skeleton(&msg, &p, rcode::NOERROR, 0, 1232, &mut out);
    out.truncate(p.question_end);
    out[10..12].copy_from_slice(&[0, 0]);
    push_opt(&mut out, 1232, false, Some((15, "Blocked (ads)")));
    let parsed = hickory_proto::op::Message::from_vec(&out).unwrap();
    assert!(parsed.edns.is_some());
}

#[test]
fn issue_10_names_are_shown_as_dig_writes_them() {
    // What `dig` prints for the question `a\.b\027c\\d\"e\(f\)g\;h\@i\$j\032k\127l\200m~n.test`.
    let label = b"a.b\x1bc\\d\"e(f)g;h@i$j k\x7fl\xc8m~n";
    let mut wire = vec![label.len() as u8];
    wire.extend_from_slice(label);
    wire.extend_from_slice(b"\x04test\x00");
    assert_eq!(name_to_text(&wire), r#"a\.b\027c\\d\"e\(f\)g\;h\@i\$j\032k\127l\200m~n.test"#);
    assert_eq!(name_to_text(b"\x01\x00\x00"), r"\000");
    assert_eq!(name_to_text(b"\x00"), ".", "the root");
    assert_eq!(name_to_text(b"\x03abc\x05de"), "abc.de", "a name cut short shows what is there");
    let mut buf = String::from("old");
    write_name_text(b"\x01a\x00", &mut buf);
    assert_eq!(buf, "a");
}

#[test]
fn issue_10_two_opt_records_are_malformed() {
    let mut msg = q("a.test", 1, Some((1232, false)));
    let opt = msg[msg.len() - 11..].to_vec();
    msg.extend_from_slice(&opt);
    msg[11] = 2;
    assert_eq!(parse_query(&msg).unwrap_err(), WireError::DuplicateOpt);
    let mut one = q("a.test", 1, Some((1232, false)));
    one.extend_from_slice(&[0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0]); // + an A record at the root
    one[11] = 2;
    assert!(parse_query(&one).unwrap().edns.is_some(), "one OPT among other records is fine");
}

#[test]
fn issue_10_printable_escapes_control_characters_only() {
    assert!(matches!(printable("plain ünïcode.example"), std::borrow::Cow::Borrowed(_)));
    assert_eq!(printable("a\x1b[2Jb\0c\u{9b}d\ne"), r"a\027[2Jb\000c\194\155d\010e");
}
