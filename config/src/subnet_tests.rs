use crate::tests::{err, parse_t};

const BASE: &str = "[[subnet]]\nname = \"iot\"\ncidr = \"10.0.20.0/24\"\n";

#[test]
fn full_subnet_parses_with_defaults() {
    let text = format!(
        "{BASE}pools = [\"10.0.20.100-10.0.20.199\", \"10.0.20.224/28\"]\nrouter = \"10.0.20.1\"\n\
         dns = [\"10.0.1.2\", \"10.0.1.3\"]\nntp = [\"10.0.1.2\"]\nmtu = 1400\ndomain_search = [\"lan\"]\n\
         [[subnet.route]]\nnetwork = \"10.9.0.0/16\"\ngateway = \"10.0.20.1\"\n\
         [[subnet.option]]\ncode = 66\ntext = \"tftp.lan\"\n[[subnet.option]]\ncode = 150\nip = [\"10.0.1.9\"]\n\
         [[subnet.reservation]]\nmac = \"aa:bb:cc:dd:ee:ff\"\nip = \"10.0.20.10\"\nhostname = \"thermostat\"\n\
         [[subnet.reservation.option]]\ncode = 252\nhex = \"00ff\"\n"
    );
    let c = parse_t(&text).unwrap();
    let s = &c.subnets[0];
    assert_eq!(s.pools.len(), 2);
    assert_eq!(s.pools[1].start, "10.0.20.224".parse::<std::net::Ipv4Addr>().unwrap());
    assert_eq!(s.lease_time.as_secs(), 43_200);
    assert_eq!(s.t1.as_secs(), 21_600);
    assert_eq!(s.t2.as_secs(), 37_800);
    assert_eq!(s.decline_quarantine.as_secs(), 86_400);
    assert_eq!(s.options[1].data, vec![10, 0, 1, 9]);
    assert_eq!(s.reservations[0].mac, Some([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]));
    assert_eq!(s.reservations[0].options[0].data, vec![0, 255]);
    assert_eq!(s.mtu, Some(1400));
}

#[test]
fn whole_subnet_cidr_pool_skips_network_and_broadcast() {
    let c = parse_t(&format!("{BASE}pools = [\"10.0.20.0/24\"]\n")).unwrap();
    assert_eq!(c.subnets[0].pools[0].len(), 254);
}

#[test]
fn pool_outside_subnet_is_rejected() {
    let e = err(&format!("{BASE}pools = [\"10.0.21.1-10.0.21.9\"]\n"));
    assert!(e.starts_with("t.toml:4:10: subnet.pools:") && e.contains("outside"), "{e}");
}

#[test]
fn overlapping_pools_are_rejected() {
    let e = err(&format!("{BASE}pools = [\"10.0.20.10-10.0.20.20\", \"10.0.20.16/28\"]\n"));
    assert!(e.contains("subnet.pools:") && e.contains("overlaps"), "{e}");
}

#[test]
fn reservation_checks() {
    let res = |extra: &str| format!("{BASE}[[subnet.reservation]]\n{extra}");
    assert!(err(&res("mac = \"aa:bb:cc:dd:ee:ff\"\nip = \"10.0.30.1\"\n")).contains("outside the subnet"));
    assert!(err(&res("ip = \"10.0.20.5\"\n")).contains("needs `mac` or `client_id`"));
    assert!(err(&res("mac = \"aa:bb\"\nip = \"10.0.20.5\"\n")).contains("not a MAC"));
    let twice = format!(
        "{}[[subnet.reservation]]\nmac = \"aa:bb:cc:dd:ee:00\"\nip = \"10.0.20.5\"\n",
        res("client_id = \"01:aa\"\nip = \"10.0.20.5\"\n")
    );
    let e = err(&twice);
    assert!(e.starts_with("t.toml:9:6: subnet.reservation.ip:") && e.contains("twice"), "{e}");
}

#[test]
fn duplicate_subnet_name_and_bad_times() {
    let e = err(&format!("{BASE}[[subnet]]\nname = \"iot\"\ncidr = \"10.0.21.0/24\"\n"));
    assert!(e.contains("subnet.name: duplicate"), "{e}");
    assert!(err(&format!("{BASE}lease_time = \"1h\"\nt1 = \"50m\"\nt2 = \"40m\"\n")).contains("t1 < t2"));
}

#[test]
fn raw_option_checks() {
    let e = err(&format!("{BASE}[[subnet.option]]\ncode = 54\nhex = \"00\"\n"));
    assert!(e.starts_with("t.toml:5:8: subnet.option.code:"), "{e}");
    assert!(err(&format!("{BASE}[[subnet.option]]\ncode = 66\n")).contains("exactly one"));
    assert!(err(&format!("{BASE}[[subnet.option]]\ncode = 66\nhex = \"0g\"\n")).contains("not hex"));
    let one_ip = parse_t(&format!("{BASE}[[subnet.option]]\ncode = 150\nip = \"10.0.1.9\"\n")).unwrap();
    assert_eq!(one_ip.subnets[0].options[0].data, vec![10, 0, 1, 9]);
}
