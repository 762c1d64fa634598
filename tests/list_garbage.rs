//! Lists that are not lists, through the real ravensd (issue 3): a 1 GB file of garbage, a
//! binary file and an empty file, beside a good list in the same config. Each gets a clear
//! report (lines, entries, rejected, the first rejected lines printable), the daemon keeps
//! answering and blocking from the good list, and its peak RSS stays bounded: the reader
//! streams, lines are capped, and nothing is sized from a file's length beyond a limit.

mod common;

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use common::client::{self, query};
use common::daemon::Daemon;
use common::upstream::TestUpstream;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};

const GIB: usize = 1 << 30;
const CHUNK: usize = 1 << 20;
/// Peak RSS allowed for the daemon, lists and all.
const MAX_PEAK_KIB: u64 = 200 * 1024;

/// `len` bytes of splitmix64 output: random enough, no crate, reproducible.
fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    (0..len.div_ceil(8) as u64)
        .flat_map(|i| {
            let mut z = seed.wrapping_add(i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)).to_le_bytes()
        })
        .take(len)
        .collect()
}

/// Writes `GIB` bytes of garbage: 1 MiB of random bytes (a newline every 256 bytes on
/// average), a run of long lines, printable junk, a few valid names, with every chunk
/// perturbed by its index so no two are alike. Quick to write: one chunk is generated.
fn write_garbage(path: &Path) {
    let mut chunk = random_bytes(CHUNK, 0x5EED);
    // The last 64 KiB: printable junk of names, dots and list syntax. No `/`: a line `/a/`
    // is a regex rule blocking every name with an `a`, as it should, and this test wants
    // names to resolve.
    let tail = CHUNK - (64 << 10);
    for b in &mut chunk[tail..] {
        *b = b" .a-z#|^$@_*\n0:9"[usize::from(*b % 16)];
    }
    // 100 KiB without a newline: an over-long line in every chunk.
    for b in &mut chunk[1000..1000 + (100 << 10)] {
        if *b == b'\n' {
            *b = b'x';
        }
    }
    let mut f = std::io::BufWriter::with_capacity(CHUNK, std::fs::File::create(path).unwrap());
    for i in 0..GIB / CHUNK {
        // Two names that are valid per chunk index (so the engine gets some entries).
        chunk[(i * 8191) % tail..][..8].copy_from_slice(&(i as u64).to_le_bytes());
        let name = format!("\ngarbage{}.test\n0.0.0.0 g{i}.test\n", i % 7);
        let at = 200_000;
        chunk[at..at + name.len()].copy_from_slice(name.as_bytes());
        f.write_all(&chunk).unwrap();
    }
    f.flush().unwrap();
    assert_eq!(std::fs::metadata(path).unwrap().len(), GIB as u64);
}

fn vm_hwm_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = s.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM in /proc/PID/status");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn report<'a>(status: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    status["lists"].as_array().unwrap().iter().find(|l| l["name"] == name).unwrap_or_else(|| panic!("{name}"))
}

fn u(v: &serde_json::Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("{key} in {v}"))
}

fn a(d: &Daemon, name: &str) -> Message {
    client::udp(d.dns, &query(name, RecordType::A, Some(1232)))
}

fn is_blocked(m: &Message) -> bool {
    m.answers.iter().any(|r| matches!(&r.data, RData::A(a) if a.0.is_unspecified()))
}

#[test]
fn garbage_binary_and_empty_lists() {
    let up = TestUpstream::start_background("127.0.0.1".parse().unwrap());
    up.set_a("allowed.test", "192.0.2.9".parse().unwrap(), 60);
    let lists = tempfile::tempdir().unwrap();
    let dir = lists.path().to_path_buf();
    let t = Instant::now();
    write_garbage(&dir.join("garbage.txt"));
    let wrote = t.elapsed();
    // A real binary: the first 16 MiB of the daemon's own executable.
    let exe = std::fs::read(env!("CARGO_BIN_EXE_ravensd")).unwrap();
    std::fs::write(dir.join("binary.bin"), &exe[..exe.len().min(16 << 20)]).unwrap();
    drop(exe);
    std::fs::write(dir.join("empty.txt"), "").unwrap();
    std::fs::write(dir.join("good.txt"), "blocked.test\nthis line is junk\n||blocked-tree.test^\n").unwrap();
    let list = |name: &str, file: &str| {
        format!("\n[[list]]\nname = \"{name}\"\npath = \"{}\"\ngroups = [\"default\"]\n", dir.join(file).display())
    };
    let mut body = format!("[dns]\nupstreams = [\"{}\"]\nupstream_timeout = \"1s\"\n", up.udp_url());
    body += &(list("good", "good.txt") + &list("binary", "binary.bin") + &list("empty", "empty.txt"));
    // The lists live in their own temp dir: allow it (node.list_dirs, issue 10 defect 8).
    let node_extra = format!("list_dirs = [\"{}\"]", lists.path().display());
    let d = Daemon::start_full("127.0.0.1", &node_extra, &body);
    assert!(d.wait_log("lists compiled", Duration::from_secs(60)), "{}", d.log());

    // The garbage comes in by a config reload, as an edit would: a debug build reads the
    // gigabyte for longer than a daemon may take to start, and queries go on meanwhile.
    let config = std::fs::read_to_string(&d.config_path).unwrap();
    std::fs::write(&d.config_path, config + &list("garbage", "garbage.txt")).unwrap();
    let t = Instant::now();
    d.signal("HUP");
    let mut answered = 0;
    while !d.log().contains("lists compiled") || d.log().matches("lists compiled").count() < 2 {
        assert!(t.elapsed() < Duration::from_secs(600), "no compile with the garbage list:\n{}", d.log());
        assert!(is_blocked(&a(&d, "blocked.test.")), "blocking goes on while the garbage is read");
        answered += 1;
        std::thread::sleep(Duration::from_millis(200));
    }
    let compiled = t.elapsed();
    let peak = vm_hwm_kib(d.pid());
    eprintln!(
        "list_garbage: wrote 1 GiB in {wrote:?}; ravensd read the lists in {compiled:?} ({answered} queries answered \
         meanwhile); VmHWM {peak} KiB"
    );

    // The daemon answers, forwards, and blocks from the good list.
    let m = a(&d, "allowed.test.");
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(!is_blocked(&m) && !m.answers.is_empty(), "{m:?}");
    assert!(is_blocked(&a(&d, "blocked.test.")));
    assert!(is_blocked(&a(&d, "x.blocked-tree.test.")));
    assert!(is_blocked(&a(&d, "g5.test.")), "an entry in the garbage still counts");

    let s = d.status();
    for name in ["good", "garbage", "binary", "empty"] {
        eprintln!("list_garbage: {}", report(&s, name));
    }
    let good = report(&s, "good");
    assert_eq!((u(good, "lines"), u(good, "entries"), u(good, "rejected")), (3, 2, 1), "{good}");

    let garbage = report(&s, "garbage");
    let lines = u(garbage, "lines");
    // About one newline in 256 random bytes, plus the printable tail's: millions of lines.
    assert!(lines > 4_000_000, "{garbage}");
    assert!(u(garbage, "rejected") > lines / 2, "{garbage}");
    // The garbage's entries: the two per chunk, and whatever the printable junk made.
    assert!(u(garbage, "entries") >= 2048 && u(garbage, "entries") < lines / 10, "{garbage}");
    assert!(garbage["last_error"].is_null(), "{garbage}");

    let binary = report(&s, "binary");
    assert!(u(binary, "lines") > 1000 && u(binary, "rejected") > 0, "{binary}");
    assert!(u(binary, "entries") < u(binary, "lines") / 10, "{binary}");

    let empty = report(&s, "empty");
    assert_eq!((u(empty, "lines"), u(empty, "entries"), u(empty, "rejected")), (0, 0, 0), "{empty}");
    assert!(empty["last_error"].is_null(), "{empty}");

    // The reports keep a few rejected lines, short, with no raw control characters.
    for l in [garbage, binary] {
        let kept = l["first_rejected"].as_array().unwrap();
        assert!(!kept.is_empty() && kept.len() <= 5, "{l}");
        for r in kept {
            let text = r["text"].as_str().unwrap();
            assert!(text.chars().count() <= 120 && !text.chars().any(char::is_control), "{text:?}");
            assert!(r["line"].as_u64().is_some_and(|n| n > 0), "{r}");
            assert!(!r["reason"].as_str().unwrap().is_empty(), "{r}");
        }
    }
    // The binary file's report says why: NUL bytes or not UTF-8.
    let reasons: Vec<&str> =
        binary["first_rejected"].as_array().unwrap().iter().map(|r| r["reason"].as_str().unwrap()).collect();
    assert!(reasons.iter().any(|w| w.contains("NUL") || w.contains("UTF-8")), "{reasons:?}");
    let (code, out, _) = d.dnsctl(&["lists"]);
    assert_eq!(code, 0);
    assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "dnsctl lists prints raw control characters");
    assert!(out.contains("rejected line"), "{out}");

    assert!(peak < MAX_PEAK_KIB, "ravensd peak RSS {peak} KiB with a 1 GiB garbage list (limit {MAX_PEAK_KIB})");
    drop(d);
    drop(lists);
    assert!(!dir.exists(), "the 1 GiB file is deleted");
}
