//! DHCP hot paths: decode + handle of DISCOVER and of REQUEST, allocation in a 64k-address pool
//! holding 50k leases, and lease journal appends (with and without fdatasync, groups of 1 and 64).

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use ravens_dhcp::dhcproto::v4::{DhcpOption, Message, MessageType, Opcode, OptionCode};
use ravens_dhcp::dhcproto::{Encodable, Encoder};
use ravens_dhcp::journal::{Journal, JournalOptions};
use ravens_dhcp::lease::{Lease, LeaseState};
use ravens_dhcp::packet::ClientKey;
use ravens_dhcp::{Action, Context, Core, Slice, packet};

const CONF: &str = r#"
[node]
name = "a"
[[subnet]]
name = "big"
cidr = "10.100.0.0/16"
pools = ["10.100.0.1-10.100.255.254"]
router = "10.100.0.1"
dns = ["10.0.1.2", "10.0.1.3"]
"#;
const GIADDR: Ipv4Addr = Ipv4Addr::new(10, 100, 0, 1);
const SID: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const NOW: u64 = 1_000_000;

fn mac(n: u32) -> [u8; 6] {
    let b = n.to_be_bytes();
    [2, 0, b[0], b[1], b[2], b[3]]
}

fn packet(kind: MessageType, n: u32, opts: Vec<DhcpOption>) -> Vec<u8> {
    let mut m =
        Message::new_with_id(n, Ipv4Addr::UNSPECIFIED, Ipv4Addr::UNSPECIFIED, Ipv4Addr::UNSPECIFIED, GIADDR, &mac(n));
    m.set_opcode(Opcode::BootRequest);
    m.opts_mut().insert(DhcpOption::MessageType(kind));
    m.opts_mut().insert(DhcpOption::ParameterRequestList(vec![
        OptionCode::SubnetMask,
        OptionCode::Router,
        OptionCode::DomainNameServer,
        OptionCode::DomainName,
    ]));
    for o in opts {
        m.opts_mut().insert(o);
    }
    let mut b = Vec::new();
    m.encode(&mut Encoder::new(&mut b)).unwrap();
    b
}

fn core_with(leases: u32) -> Core {
    let cfg = ravens_config::parse_with(CONF, "bench", &String::new).unwrap();
    let records: Vec<Lease> = (0..leases).map(bound).collect();
    Core::new(&cfg, Slice::WHOLE, &records, NOW)
}

fn bound(i: u32) -> Lease {
    Lease {
        state: LeaseState::Bound,
        seq: 0,
        subnet: "big".into(),
        ip: Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 100, 0, 2)) + i),
        expires: NOW + 3600,
        key: ClientKey([&[1u8, 1][..], &mac(1_000_000 + i)].concat().into()),
        mac: mac(1_000_000 + i).to_vec(),
        client_id: None,
        hostname: Some(format!("host{i}")),
        node: "a".into(),
    }
}

fn ctx() -> Context<'static> {
    Context { dst: SID, iface_addrs: &[], direct: false }
}

fn bench_handle(c: &mut Criterion) {
    let n = 10_000u32;
    let discovers: Vec<Vec<u8>> = (0..n).map(|i| packet(MessageType::Discover, i, vec![])).collect();
    let mut core = core_with(50_000);
    let mut i = 0usize;
    c.bench_function("dhcp/decode+handle DISCOVER (64k pool, 50k leases)", |b| {
        b.iter(|| {
            i = (i + 1) % discovers.len();
            black_box(core.handle(&discovers[i], &ctx(), NOW))
        })
    });
    let requests: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let ip = match core.handle(&discovers[i as usize], &ctx(), NOW) {
                Action::Send(o) => {
                    packet::decode(&o.bytes).map(|_| ()).ok().map(|_| o.bytes[16..20].try_into().unwrap())
                }
                _ => None,
            };
            let ip: [u8; 4] = ip.unwrap_or([0; 4]);
            let opts = vec![DhcpOption::ServerIdentifier(SID), DhcpOption::RequestedIpAddress(ip.into())];
            packet(MessageType::Request, i, opts)
        })
        .collect();
    c.bench_function("dhcp/decode+handle REQUEST → ACK (64k pool, 50k leases)", |b| {
        b.iter(|| {
            i = (i + 1) % requests.len();
            black_box(core.handle(&requests[i], &ctx(), NOW))
        })
    });
    let d = &discovers[0];
    c.bench_function("dhcp/decode DISCOVER", |b| b.iter(|| black_box(packet::decode(black_box(d)))));
}

fn bench_alloc(c: &mut Criterion) {
    let mut core = core_with(50_000);
    let req = packet::decode(&packet(MessageType::Discover, 7_777_777, vec![])).unwrap();
    let s = core.subnet_mut(0).unwrap();
    c.bench_function("dhcp/allocate LRU free address (64k pool, 50k leases)", |b| {
        b.iter(|| {
            let ip = s.choose(&req, None, NOW).unwrap();
            s.pool.put(black_box(ip));
        })
    });
}

fn bench_journal(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("ravens-dhcp-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (sync, group) in [(false, 1u32), (false, 64), (true, 1), (true, 64)] {
        let opts = JournalOptions { sync, compact_min_bytes: 64 << 20 };
        let (j, _) = Journal::open(&dir.join(format!("{sync}-{group}")), opts).unwrap();
        let name = format!("dhcp/journal append, fsync={sync}, group of {group} (per record)");
        c.bench_function(&name, |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for it in 0..iters.div_ceil(u64::from(group)) {
                    let (tx, rx) = mpsc::channel();
                    for k in 0..group {
                        let tx = tx.clone();
                        j.append(
                            &bound((it as u32).wrapping_mul(64).wrapping_add(k) % 60_000),
                            Some(Box::new(move |ok| {
                                let _ = tx.send(ok);
                            })),
                        );
                    }
                    for _ in 0..group {
                        let _ = rx.recv_timeout(Duration::from_secs(10));
                    }
                }
                start.elapsed()
            })
        });
        drop(j);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench_handle, bench_alloc, bench_journal);
criterion_main!(benches);
