//! A Pi-hole built in the tests from the real formats: a gravity.db with Pi-hole's schema
//! (the columns of gravity.db.sql, version 16), the v5 Teleporter JSON dumps (`SELECT *` rows),
//! pihole.toml, setupVars.conf, dnsmasq files and a lease file. Rich enough for every mapping.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;

use rusqlite::Connection;
use serde_json::{Value, json};

/// A fixed "now" for lease expiry.
pub const NOW: u64 = 1_800_000_000;

/// Pi-hole's gravity tables (columns as in pi-hole's gravity.db.sql, schema version 16).
pub const SCHEMA: &str = r#"
CREATE TABLE "group" (id INTEGER PRIMARY KEY AUTOINCREMENT, enabled BOOLEAN NOT NULL DEFAULT 1,
  name TEXT UNIQUE NOT NULL, date_added INTEGER NOT NULL DEFAULT 0, date_modified INTEGER NOT NULL DEFAULT 0,
  description TEXT);
CREATE TABLE domainlist (id INTEGER PRIMARY KEY AUTOINCREMENT, type INTEGER NOT NULL DEFAULT 0,
  domain TEXT NOT NULL, enabled BOOLEAN NOT NULL DEFAULT 1, date_added INTEGER NOT NULL DEFAULT 0,
  date_modified INTEGER NOT NULL DEFAULT 0, comment TEXT, UNIQUE(domain, type));
CREATE TABLE adlist (id INTEGER PRIMARY KEY AUTOINCREMENT, address TEXT UNIQUE NOT NULL,
  enabled BOOLEAN NOT NULL DEFAULT 1, date_added INTEGER NOT NULL DEFAULT 0, date_modified INTEGER NOT NULL DEFAULT 0,
  comment TEXT, date_updated INTEGER, number INTEGER NOT NULL DEFAULT 0, invalid_domains INTEGER NOT NULL DEFAULT 0,
  status INTEGER NOT NULL DEFAULT 0, abp_entries INTEGER NOT NULL DEFAULT 0, type INTEGER NOT NULL DEFAULT 0);
CREATE TABLE adlist_by_group (adlist_id INTEGER NOT NULL REFERENCES adlist (id),
  group_id INTEGER NOT NULL REFERENCES "group" (id), PRIMARY KEY (adlist_id, group_id));
CREATE TABLE domainlist_by_group (domainlist_id INTEGER NOT NULL REFERENCES domainlist (id),
  group_id INTEGER NOT NULL REFERENCES "group" (id), PRIMARY KEY (domainlist_id, group_id));
CREATE TABLE client (id INTEGER PRIMARY KEY AUTOINCREMENT, ip TEXT NOT NULL UNIQUE,
  date_added INTEGER NOT NULL DEFAULT 0, date_modified INTEGER NOT NULL DEFAULT 0, comment TEXT);
CREATE TABLE client_by_group (client_id INTEGER NOT NULL REFERENCES client (id),
  group_id INTEGER NOT NULL REFERENCES "group" (id), PRIMARY KEY (client_id, group_id));
CREATE TABLE info (property TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO info VALUES('version','16');
"#;

/// (id, enabled, name, description)
pub const GROUPS: &[(i64, i64, &str, &str)] =
    &[(0, 1, "Default", "The default group"), (1, 1, "Kids", "children"), (2, 1, "IoT", ""), (3, 0, "Old", "")];
/// (id, ip, groups)
pub const CLIENTS: &[(i64, &str, &[i64])] = &[
    (1, "192.168.1.50", &[0, 1]),
    (2, "AA:BB:CC:DD:EE:02", &[2]),
    (3, "10.0.5.0/24", &[1]),
    (4, "laptop", &[1]),
    (5, ":eth1", &[2]),
    (6, "192.168.1.60", &[0]),
    (7, "TV", &[2]),
];
/// (id, address, enabled, type, groups)
pub const ADLISTS: &[(i64, &str, i64, i64, &[i64])] = &[
    (1, "https://lists.example/hosts.txt", 1, 0, &[0, 1]),
    (2, "https://lists.example/off.txt", 0, 0, &[0]),
    (3, "https://allow.example/list.txt", 1, 1, &[0]),
    (4, "file:///etc/pihole/local.list", 1, 0, &[0]),
];
/// (id, type, domain, enabled, groups)
pub const DOMAINS: &[(i64, i64, &str, i64, &[i64])] = &[
    (1, 1, "ads.example.com", 1, &[0]),
    (2, 1, "disabled.example.com", 0, &[0]),
    (3, 0, "good.example.com", 1, &[0, 1]),
    (4, 3, r"^track[0-9]+\.example\.net$", 1, &[1]),
    (5, 3, r"(^|\.)doubleclick\.net$;querytype=AAAA", 1, &[0]),
    (6, 2, r"^cdn\.allowed\.", 1, &[0]),
    (7, 3, r"(ab)\1", 1, &[0]),
    (8, 1, "orphan.example", 1, &[]),
    (9, 1, "old.example", 1, &[3]),
    (10, 1, "good.example.com", 1, &[0]),
];

/// A gravity.db at `path` with the fixture rows.
pub fn gravity_db(path: &Path) {
    let db = Connection::open(path).unwrap();
    db.execute_batch(SCHEMA).unwrap();
    for (id, en, name, desc) in GROUPS {
        db.execute(
            "INSERT INTO \"group\" (id, enabled, name, description) VALUES (?1, ?2, ?3, ?4)",
            (id, en, name, desc),
        )
        .unwrap();
    }
    for (id, ip, groups) in CLIENTS {
        db.execute("INSERT INTO client (id, ip) VALUES (?1, ?2)", (id, ip)).unwrap();
        for g in *groups {
            db.execute("INSERT INTO client_by_group VALUES (?1, ?2)", (id, g)).unwrap();
        }
    }
    for (id, addr, en, ty, groups) in ADLISTS {
        db.execute("INSERT INTO adlist (id, address, enabled, type) VALUES (?1, ?2, ?3, ?4)", (id, addr, en, ty))
            .unwrap();
        for g in *groups {
            db.execute("INSERT INTO adlist_by_group VALUES (?1, ?2)", (id, g)).unwrap();
        }
    }
    for (id, ty, domain, en, groups) in DOMAINS {
        db.execute("INSERT INTO domainlist (id, type, domain, enabled) VALUES (?1, ?2, ?3, ?4)", (id, ty, domain, en))
            .unwrap();
        for g in *groups {
            db.execute("INSERT INTO domainlist_by_group VALUES (?1, ?2)", (id, g)).unwrap();
        }
    }
}

pub fn gravity_bytes() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("gravity.db");
    gravity_db(&p);
    std::fs::read(p).unwrap()
}

pub const PIHOLE_TOML: &str = r#"
[dns]
upstreams = ["9.9.9.9", "149.112.112.112#53", "127.0.0.1#5335", "dns.example"]
hosts = ["192.168.1.10 nas.lan", "192.168.1.11 printer.lan printer"]
cnameRecords = ["files.lan,nas.lan", "media.lan,nas.lan,300"]
domain = "lan"
revServers = ["true,192.168.1.0/24,192.168.1.1,lan"]
[dns.blocking]
active = true
mode = "NULL"
[dhcp]
active = true
start = "192.168.1.100"
end = "192.168.1.199"
router = "192.168.1.1"
netmask = "255.255.255.0"
leaseTime = "24h"
hosts = ["aa:bb:cc:dd:ee:01,192.168.1.10,nas", "AA:BB:CC:DD:EE:03,id:*,192.168.1.20,tv,infinite", "aa:bb:cc:dd:ee:09,set:red,192.168.1.30"]
"#;

pub const SETUP_VARS: &str = "PIHOLE_INTERFACE=eth0\nPIHOLE_DNS_1=9.9.9.9\nPIHOLE_DNS_2=149.112.112.112\n\
PIHOLE_DOMAIN=lan\nDHCP_ACTIVE=true\nDHCP_START=192.168.1.100\nDHCP_END=192.168.1.199\n\
DHCP_ROUTER=192.168.1.1\nDHCP_LEASETIME=24\nREV_SERVER=true\nREV_SERVER_CIDR=192.168.1.0/24\n\
REV_SERVER_TARGET=192.168.1.1\nREV_SERVER_DOMAIN=lan\nBLOCKING_ENABLED=true\n";

pub const CUSTOM_LIST: &str = "192.168.1.10 nas.lan\n192.168.1.11 printer.lan\n";
pub const CNAME_CONF: &str = "cname=files.lan,nas.lan\ncname=media.lan,nas.lan,300\n";
pub const STATIC_DHCP: &str =
    "dhcp-host=AA:BB:CC:DD:EE:01,192.168.1.10,nas\ndhcp-host=aa:bb:cc:dd:ee:03,192.168.1.20,tv\n";
pub const HOSTS: &str =
    "127.0.0.1 localhost\n127.0.1.1 pihole\n::1 ip6-localhost ip6-loopback\n192.168.1.12 router.lan\n";

/// dnsmasq's lease file: an active lease with hostname and client-id, one without either,
/// an infinite one, an expired one, a broken line, the DUID line and a DHCPv6 lease.
pub fn leases() -> String {
    format!(
        "{} aa:bb:cc:dd:ee:01 192.168.1.10 nas 01:aa:bb:cc:dd:ee:01\n{} aa:bb:cc:dd:ee:05 192.168.1.105 * *\n\
         0 aa:bb:cc:dd:ee:06 192.168.1.106 phone *\n{} aa:bb:cc:dd:ee:07 192.168.1.107 old *\nnot a lease\n\
         duid 00:01:00:01:2c:5d:1a:2b:aa:bb:cc:dd:ee:ff\n{} 12345 fd00::5 host6 00:01:00:01\n",
        NOW + 3600,
        NOW + 7200,
        NOW - 10,
        NOW + 3600
    )
}

fn rows<const N: usize>(cols: [&str; N], vals: impl Iterator<Item = [Value; N]>) -> Vec<u8> {
    let rows: Vec<Value> = vals.map(|v| Value::Object(cols.iter().map(|c| c.to_string()).zip(v).collect())).collect();
    serde_json::to_vec(&rows).unwrap()
}

type Links = Vec<(i64, i64)>;

fn flat<'a>(v: impl Iterator<Item = (i64, &'a [i64])>) -> Links {
    v.flat_map(|(id, gs)| gs.iter().map(move |g| (id, *g))).collect()
}

fn link(col: &str, items: Links) -> Vec<u8> {
    rows([col, "group_id"], items.into_iter().map(|(a, g)| [json!(a), json!(g)]))
}

/// The v5 Teleporter JSON dumps (v5's adlist has no `type` column, so no allow lists).
pub fn v5_json() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let dcols = ["id", "type", "domain", "enabled", "date_added", "date_modified", "comment"];
    for (file, ty) in [
        ("whitelist.exact.json", 0),
        ("blacklist.exact.json", 1),
        ("whitelist.regex.json", 2),
        ("blacklist.regex.json", 3),
    ] {
        let it = DOMAINS.iter().filter(move |r| r.1 == ty);
        let it = it.map(|r| [json!(r.0), json!(r.1), json!(r.2), json!(r.3), json!(1), json!(1), Value::Null]);
        out.push((file.to_string(), rows(dcols, it)));
    }
    let acols = [
        "id",
        "address",
        "enabled",
        "date_added",
        "date_modified",
        "comment",
        "date_updated",
        "number",
        "invalid_domains",
        "status",
    ];
    let v5_lists = || ADLISTS.iter().filter(|a| a.3 == 0);
    let it = v5_lists().map(|a| {
        [json!(a.0), json!(a.1), json!(a.2), json!(1), json!(1), json!("c"), Value::Null, json!(0), json!(0), json!(1)]
    });
    out.push(("adlist.json".into(), rows(acols, it)));
    let gcols = ["id", "enabled", "name", "date_added", "date_modified", "description"];
    let it = GROUPS.iter().map(|x| [json!(x.0), json!(x.1), json!(x.2), json!(1), json!(1), json!(x.3)]);
    out.push(("group.json".into(), rows(gcols, it)));
    let ccols = ["id", "ip", "date_added", "date_modified", "comment"];
    out.push((
        "client.json".into(),
        rows(ccols, CLIENTS.iter().map(|x| [json!(x.0), json!(x.1), json!(1), json!(1), Value::Null])),
    ));
    out.push(("client_by_group.json".into(), link("client_id", flat(CLIENTS.iter().map(|c| (c.0, c.2))))));
    out.push(("adlist_by_group.json".into(), link("adlist_id", flat(v5_lists().map(|a| (a.0, a.4))))));
    out.push(("domainlist_by_group.json".into(), link("domainlist_id", flat(DOMAINS.iter().map(|d| (d.0, d.4))))));
    out
}

/// A tar.gz of `(name, bytes)` entries, names written raw (so tests can write hostile ones).
pub fn tar_gz(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut b = tar::Builder::new(gz);
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        b.append(&h, data.as_slice()).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap()
}

/// A zip of `(name, bytes)` entries, deflated as FTL writes them.
pub fn zip(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        z.start_file(name.as_str(), opts).unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap().into_inner()
}

/// A v5 Teleporter archive's entries, as AdminLTE's teleporter.php writes them.
pub fn v5_entries() -> Vec<(String, Vec<u8>)> {
    let mut e = v5_json();
    for (n, t) in [
        ("setupVars.conf", SETUP_VARS.to_string()),
        ("pihole-FTL.conf", "BLOCKINGMODE=NULL\n".to_string()),
        ("custom.list", CUSTOM_LIST.to_string()),
        ("dhcp.leases", leases()),
        ("etc/hosts", HOSTS.to_string()),
        ("dnsmasq.d/01-pihole.conf", "addn-hosts=/etc/pihole/local.list\n".to_string()),
        ("dnsmasq.d/04-pihole-static-dhcp.conf", STATIC_DHCP.to_string()),
        ("dnsmasq.d/05-pihole-custom-cname.conf", CNAME_CONF.to_string()),
        ("dnsmasq.d/99-user.conf", "address=/blocked.example/0.0.0.0\n".to_string()),
    ] {
        e.push((n.to_string(), t.into_bytes()));
    }
    e
}

/// A v6 Teleporter archive's entries, as FTL's teleporter.c writes them.
pub fn v6_entries() -> Vec<(String, Vec<u8>)> {
    vec![
        ("etc/pihole/pihole.toml".into(), PIHOLE_TOML.as_bytes().to_vec()),
        ("etc/hosts".into(), HOSTS.as_bytes().to_vec()),
        ("etc/pihole/dhcp.leases".into(), leases().into_bytes()),
        ("etc/pihole/gravity.db".into(), gravity_bytes()),
        ("etc/pihole/pihole-FTL.db".into(), b"SQLite format 3\0not read".to_vec()),
    ]
}

/// A Pi-hole host's /etc: `pihole/` (gravity.db, pihole.toml, dhcp.leases), `dnsmasq.d/`, `hosts`.
pub fn pihole_dir(root: &Path) -> std::path::PathBuf {
    let ph = root.join("pihole");
    std::fs::create_dir_all(&ph).unwrap();
    std::fs::create_dir_all(root.join("dnsmasq.d")).unwrap();
    gravity_db(&ph.join("gravity.db"));
    std::fs::write(ph.join("pihole.toml"), PIHOLE_TOML).unwrap();
    std::fs::write(ph.join("dhcp.leases"), leases()).unwrap();
    std::fs::write(root.join("hosts"), HOSTS).unwrap();
    std::fs::write(root.join("dnsmasq.d/99-user.conf"), "server=/corp.example/10.9.0.1\n").unwrap();
    ph
}

/// The ravens config the import is merged into.
pub const BASE: &str = "# a ravens node\n[node]\nname = \"a\"\n\n[dns]\nupstreams = [\"udp://1.1.1.1\"]\n";
