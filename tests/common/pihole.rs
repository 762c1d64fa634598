//! A Pi-hole v6 Teleporter archive for the daemon tests, from the real formats: a gravity.db
//! with Pi-hole's schema (the import crate's test fixture, `crate::fixture`), pihole.toml and
//! dnsmasq's lease file. Included with `#[path]` by the tests that use it, beside the fixture.

use crate::fixture;

/// Pi-hole's groups: `Default` (id 0, every client not linked elsewhere) and `Kids`.
pub const GROUPS: &[(i64, &str)] = &[(0, "Default"), (1, "Kids")];

/// (id, client, group ids)
pub type Client<'a> = (i64, &'a str, &'a [i64]);
/// (id, type: 0 allow, 1 deny, 2 allow regex, 3 deny regex; domain; enabled; group ids)
pub type Domain<'a> = (i64, i64, &'a str, bool, &'a [i64]);

/// A gravity.db holding `clients` and `domains`.
pub fn gravity(clients: &[Client<'_>], domains: &[Domain<'_>]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gravity.db");
    let mut db = rusqlite::Connection::open(&path).unwrap();
    db.execute_batch(fixture::SCHEMA).unwrap();
    let tx = db.transaction().unwrap();
    for (id, name) in GROUPS {
        tx.execute("INSERT INTO \"group\" (id, name) VALUES (?1, ?2)", (id, name)).unwrap();
    }
    for (id, ip, groups) in clients {
        tx.execute("INSERT INTO client (id, ip) VALUES (?1, ?2)", (id, ip)).unwrap();
        for g in *groups {
            tx.execute("INSERT INTO client_by_group VALUES (?1, ?2)", (id, g)).unwrap();
        }
    }
    for (id, ty, domain, enabled, groups) in domains {
        let row = (id, ty, domain, i64::from(*enabled));
        tx.execute("INSERT INTO domainlist (id, type, domain, enabled) VALUES (?1, ?2, ?3, ?4)", row).unwrap();
        for g in *groups {
            tx.execute("INSERT INTO domainlist_by_group VALUES (?1, ?2)", (id, g)).unwrap();
        }
    }
    tx.commit().unwrap();
    drop(db);
    std::fs::read(path).unwrap()
}

/// A v6 Teleporter archive as FTL writes it.
pub fn v6_zip(gravity: Vec<u8>, toml: &str, leases: &str) -> Vec<u8> {
    fixture::zip(&[
        ("etc/pihole/pihole.toml".into(), toml.as_bytes().to_vec()),
        ("etc/pihole/gravity.db".into(), gravity),
        ("etc/pihole/dhcp.leases".into(), leases.as_bytes().to_vec()),
    ])
}

/// The current Unix time, for lease expiries.
pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}
