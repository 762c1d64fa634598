//! Format versions of what the nodes of a pair exchange (rolling upgrades, issue 10): golden
//! record encodings and a golden sealed datagram, written by a version and kept in
//! `tests/golden/`, must read back to exact values in every later version; and a peer on a
//! newer version whose records this one cannot read is skipped and counted, never misread.
//!
//! A golden file of the current format is written when missing and `RAVENS_WRITE_GOLDEN` is
//! set; files of older formats are never rewritten.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chitchat::transport::ChannelTransport;
use chitchat::{ChitchatConfig, ChitchatId, FailureDetectorConfig, spawn_chitchat};
use ravens_sync::record::RECORD_FORMAT;
use ravens_sync::seal::{FragHeader, Keyring};
use ravens_sync::{CancellationToken, Hlc, Record, RecordError, SealStats, SyncConfig, SyncNode};
use serde::{Deserialize, Serialize};

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name)
}

/// Writes `bytes` as the golden file `name` when asked to and it does not exist yet.
fn write_if_asked(name: &str, bytes: &[u8]) {
    let path = golden(name);
    if std::env::var_os("RAVENS_WRITE_GOLDEN").is_some() && !path.exists() {
        std::fs::write(path, bytes).unwrap();
    }
}

#[derive(Serialize, Deserialize)]
struct GoldenRecord {
    key: String,
    encoded: String,
}

/// The records of every golden record file: a JSON value, a site-config record (newlines and `|`
/// in the value), a binary value, an empty value and a tombstone.
fn expected_records() -> Vec<Record> {
    let json = r#"{"ip":"10.0.1.23","mac":"02:00:00:00:0a:17","client_id":null,"hostname":"laptop","expires_ms":1700000600000,"node":"node-a","key":"0001020000000a17","released":false}"#;
    vec![
        Record::new("l/lan/0001020000000a17", json.as_bytes().to_vec(), Hlc::new(1_700_000_000_000, 3), "node-a")
            .unwrap(),
        Record::new(
            "c/record/nas.lan A 10.0.0.5",
            b"name = \"nas.lan\"\ntype = \"A\"\nvalue = \"10.0.0.5|x\"\n".to_vec(),
            Hlc::new(1_700_000_000_001, 0),
            "node-b",
        )
        .unwrap(),
        Record::new("c/bin/x", vec![0, 0xff, b'|', b'\n', 0x80], Hlc::new(5, 9), "node_b.2").unwrap(),
        Record::new("r/node-a", Vec::new(), Hlc::new(7, 0), "node-a").unwrap(),
        Record::tombstone("c/record/old.lan A 10.0.0.9", Hlc::new(u64::MAX, u32::MAX), "node-b").unwrap(),
    ]
}

#[test]
fn golden_records_of_every_format_read_back_exactly() {
    let current: Vec<GoldenRecord> =
        expected_records().iter().map(|r| GoldenRecord { key: r.key.clone(), encoded: r.encode_value() }).collect();
    write_if_asked(&format!("records-{RECORD_FORMAT}.json"), &serde_json::to_vec_pretty(&current).unwrap());
    for format in 1..=RECORD_FORMAT {
        let bytes = std::fs::read(golden(&format!("records-{format}.json"))).unwrap();
        let file: Vec<GoldenRecord> = serde_json::from_slice(&bytes).unwrap();
        let read: Vec<Record> = file.iter().map(|g| Record::decode_value(&g.key, &g.encoded).unwrap()).collect();
        assert_eq!(read, expected_records(), "records-{format}.json");
    }
    // The current writer still writes the current golden file.
    let bytes = std::fs::read(golden(&format!("records-{RECORD_FORMAT}.json"))).unwrap();
    let file: Vec<GoldenRecord> = serde_json::from_slice(&bytes).unwrap();
    for (g, c) in file.iter().zip(&current) {
        assert_eq!(g.encoded, c.encoded, "the record encoding changed: add a format and a golden file, keep this one");
    }
}

#[test]
fn a_newer_record_format_is_refused_not_misread() {
    // A marked encoding whose rest is a valid format-1 record: it must not be read as one.
    assert_eq!(Record::decode_value("l/s/c", "v2|1.0|node-a|u{}"), Err(RecordError::NewerFormat(2)));
    assert_eq!(Record::decode_value("l/s/c", "v77|anything at all"), Err(RecordError::NewerFormat(77)));
    for bad in ["v1|1.0|a|u", "v0|1.0|a|u", "v|1.0|a|u", "v2", "v+2|x", "v99999999999|x", "vx|1.0|a|u"] {
        assert_eq!(Record::decode_value("k", bad), Err(RecordError::Malformed), "{bad:?}");
    }
    let err = RecordError::NewerFormat(2).to_string();
    assert!(err.contains("format 2") && err.contains(&format!("up to format {RECORD_FORMAT}")), "{err}");
}

#[derive(Serialize, Deserialize)]
struct GoldenDatagram {
    secret: String,
    cluster: String,
    sent_ms: u64,
    msg_id: u32,
    index: u8,
    count: u8,
    plaintext: String,
    datagram_hex: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn the_golden_sealed_datagram_opens() {
    // Sealed datagram format 1 (the header's version byte); a later one gets its own file.
    let name = "datagram-1.json";
    let (secret, cluster, sent_ms) = ("golden secret for tests only", "home", 1_700_000_000_000);
    let frag = FragHeader { msg_id: 0x0102_0304, index: 1, count: 3 };
    let plaintext = "chitchat bytes | any";
    let sealed = Keyring::new(secret.as_bytes(), None, cluster).seal(plaintext.as_bytes(), frag, sent_ms);
    let fresh = GoldenDatagram {
        secret: secret.into(),
        cluster: cluster.into(),
        sent_ms,
        msg_id: frag.msg_id,
        index: frag.index,
        count: frag.count,
        plaintext: plaintext.into(),
        datagram_hex: hex(&sealed),
    };
    write_if_asked(name, &serde_json::to_vec_pretty(&fresh).unwrap());
    let g: GoldenDatagram = serde_json::from_slice(&std::fs::read(golden(name)).unwrap()).unwrap();
    let mut ring = Keyring::new(g.secret.as_bytes(), None, &g.cluster);
    let opened = ring.open(&unhex(&g.datagram_hex), g.sent_ms + 1_000).unwrap();
    assert_eq!(opened.frag, FragHeader { msg_id: g.msg_id, index: g.index, count: g.count });
    assert_eq!(opened.plaintext, g.plaintext.as_bytes());
    // The nonce is random, so only the header before it is compared with a fresh seal.
    assert_eq!(hex(&sealed[..16]), g.datagram_hex[..32], "the sealed header changed: add a golden file");
}

/// A bare chitchat node standing in for a peer on a later version: it writes one record this
/// version reads and one in a newer format.
async fn newer_version_peer(
    transport: &ChannelTransport,
    me: SocketAddr,
    seed: SocketAddr,
) -> chitchat::ChitchatHandle {
    let cfg = ChitchatConfig {
        chitchat_id: ChitchatId::new("newer", 1, me),
        cluster_id: "formats".into(),
        gossip_interval: Duration::from_millis(50),
        listen_addr: me,
        seed_nodes: vec![seed.to_string()],
        failure_detector_config: FailureDetectorConfig::default(),
        marked_for_deletion_grace_period: Duration::from_secs(3600),
        catchup_callback: None,
        extra_liveness_predicate: None,
    };
    let readable = Record::new("l/s/old", b"{}".to_vec(), Hlc::new(1_000, 0), "newer").unwrap();
    let keys = vec![
        ("l/s/new".to_owned(), "v2|2000.0|newer|u{\"expires_ms\":1}".to_owned()),
        ("l/s/old".to_owned(), readable.encode_value()),
    ];
    spawn_chitchat(cfg, keys, transport).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_from_a_newer_version_are_skipped_and_counted() {
    let transport = ChannelTransport::with_mtu(65_507);
    let (a, b): (SocketAddr, SocketAddr) = (([127, 0, 0, 1], 42_001).into(), ([127, 0, 0, 1], 42_002).into());
    let cancel = CancellationToken::new();
    let mut cfg = SyncConfig::new("node", "formats", a, "unused".into());
    cfg.seeds = vec![b.to_string()];
    cfg.gossip_interval = Duration::from_millis(50);
    let (node, _events) =
        SyncNode::start_with_transport(cfg, &transport, Arc::new(SealStats::default()), cancel.clone()).await.unwrap();
    let _peer = newer_version_peer(&transport, b, a).await;
    let mut seen = false;
    for _ in 0..500 {
        if node.get("l/s/old").is_some() && node.stats().newer_records > 0 {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(seen, "the readable record and the newer one both arrive: {:?}", node.stats());
    assert_eq!(node.get("l/s/new"), None, "not misread as a format-1 record");
    assert_eq!(node.stats().newer_records, 1);
    assert_eq!(node.stats().bad_records, 0, "a newer format is not a bad record");
    cancel.cancel();
}
