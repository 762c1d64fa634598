//! The sealed chitchat transport: a chitchat [`Transport`] whose sockets seal every outgoing
//! message and open every incoming datagram (see [`crate::seal`]) over a tokio UDP socket.
//! Datagrams that fail to open are dropped and counted; they never reach chitchat.
//!
//! chitchat fills a message up to the UDP maximum, so a sealed one can exceed a datagram by the
//! seal's overhead; such messages go out as a few independently sealed fragments and are
//! reassembled here (bounded: a handful of partial messages, each kept ≤ 2 s).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use async_trait::async_trait;
use chitchat::transport::{Socket, Transport};
use chitchat::{ChitchatMessage, Deserializable, Serializable};
use tracing::debug;

use crate::seal::{FragHeader, Keyring, OVERHEAD, Reject, SealStats, Sealer};

/// Largest UDP payload over IPv4.
pub const MAX_DATAGRAM: usize = 65_507;
/// Plaintext bytes carried by one fragment.
const FRAG_PLAINTEXT: usize = MAX_DATAGRAM - OVERHEAD;
/// Partial messages kept at once.
const MAX_PARTIALS: usize = 8;
/// How long a partial message waits for its other fragments.
const PARTIAL_TTL: Duration = Duration::from_secs(2);

/// Milliseconds since the Unix epoch (0 if the clock is before 1970).
pub fn wall_ms() -> u64 {
    // Its own clock read: ravens-sync depends on none of the other ravens crates.
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Key material for a [`SealedTransport`].
#[derive(Clone)]
pub struct SealKeys {
    /// Current secret (file content).
    pub current: Vec<u8>,
    /// Previous secret, accepted for opening during a rotation.
    pub previous: Option<Vec<u8>>,
    /// Cluster name (HKDF info).
    pub cluster: String,
}

impl std::fmt::Debug for SealKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secrets.
        f.debug_struct("SealKeys").field("cluster", &self.cluster).finish_non_exhaustive()
    }
}

/// A chitchat transport that seals every datagram.
pub struct SealedTransport {
    keys: SealKeys,
    stats: Arc<SealStats>,
}

impl SealedTransport {
    /// A transport counting into `stats`.
    pub fn new(keys: SealKeys, stats: Arc<SealStats>) -> Self {
        Self { keys, stats }
    }
}

#[async_trait]
impl Transport for SealedTransport {
    async fn open(&self, listen_addr: SocketAddr) -> anyhow::Result<Box<dyn Socket>> {
        let socket = tokio::net::UdpSocket::bind(listen_addr)
            .await
            .with_context(|| format!("failed to bind {listen_addr}/UDP for gossip"))?;
        let k = &self.keys;
        let ring = Keyring::new(&k.current, k.previous.as_deref(), &k.cluster);
        Ok(Box::new(SealedSocket {
            socket,
            sealer: Sealer::new(ring, self.stats.clone()),
            stats: self.stats.clone(),
            buf: vec![0u8; MAX_DATAGRAM + 1],
            next_msg_id: rand::random(),
            partials: Reassembly::default(),
        }))
    }
}

struct SealedSocket {
    socket: tokio::net::UdpSocket,
    sealer: Sealer,
    stats: Arc<SealStats>,
    buf: Vec<u8>,
    next_msg_id: u32,
    partials: Reassembly,
}

#[async_trait]
impl Socket for SealedSocket {
    async fn send(&mut self, to: SocketAddr, msg: ChitchatMessage) -> anyhow::Result<()> {
        let plain = msg.serialize_to_vec();
        let chunks: Vec<&[u8]> =
            if plain.len() <= FRAG_PLAINTEXT { vec![&plain[..]] } else { plain.chunks(FRAG_PLAINTEXT).collect() };
        let count = u8::try_from(chunks.len()).context("gossip message too large to fragment")?;
        self.next_msg_id = self.next_msg_id.wrapping_add(1);
        let now = wall_ms();
        for (index, chunk) in chunks.into_iter().enumerate() {
            let frag = FragHeader { msg_id: self.next_msg_id, index: index as u8, count };
            let sealed = self.sealer.seal(chunk, frag, now);
            self.socket.send_to(&sealed, to).await.context("gossip send")?;
        }
        Ok(())
    }

    async fn recv(&mut self) -> anyhow::Result<(SocketAddr, ChitchatMessage)> {
        loop {
            let (len, from) = match self.socket.recv_from(&mut self.buf).await {
                Ok(x) => x,
                // ICMP errors from an earlier send surface here on Linux; not fatal.
                Err(e) if is_transient(&e) => continue,
                Err(e) => return Err(e).context("gossip recv"),
            };
            let opened = match self.sealer.open(&self.buf[..len], wall_ms()) {
                Ok(o) => o,
                Err(why) => {
                    debug!(from = %from, reason = %why, "dropped gossip datagram");
                    continue;
                }
            };
            let Some(plain) = self.partials.add(from, opened.frag, opened.plaintext, Instant::now()) else {
                continue;
            };
            match ChitchatMessage::deserialize(&mut &plain[..]) {
                Ok(msg) => return Ok((from, msg)),
                Err(err) => {
                    // Authentic but undecodable: a peer on another chitchat version.
                    self.stats.reject(Reject::Malformed);
                    debug!(from = %from, err = %err, "undecodable gossip message");
                }
            }
        }
    }
}

fn is_transient(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), ConnectionRefused | ConnectionReset | OutOfMemory | Interrupted)
}

/// Fragments waiting for their siblings (sans-IO).
#[derive(Default)]
pub(crate) struct Reassembly {
    partials: Vec<Partial>,
}

struct Partial {
    from: SocketAddr,
    msg_id: u32,
    started: Instant,
    parts: Vec<Option<Vec<u8>>>,
}

impl Reassembly {
    /// Adds an opened fragment; returns the whole message once every fragment is in.
    pub(crate) fn add(&mut self, from: SocketAddr, frag: FragHeader, data: Vec<u8>, now: Instant) -> Option<Vec<u8>> {
        if frag.count == 1 {
            return Some(data);
        }
        self.partials.retain(|p| now.duration_since(p.started) < PARTIAL_TTL);
        let pos = self.partials.iter().position(|p| p.from == from && p.msg_id == frag.msg_id);
        let idx = match pos {
            Some(i) => i,
            None => {
                if self.partials.len() >= MAX_PARTIALS {
                    self.partials.remove(0);
                }
                let parts = vec![None; usize::from(frag.count)];
                self.partials.push(Partial { from, msg_id: frag.msg_id, started: now, parts });
                self.partials.len() - 1
            }
        };
        let p = &mut self.partials[idx];
        if p.parts.len() != usize::from(frag.count) {
            return None;
        }
        p.parts[usize::from(frag.index)] = Some(data);
        if p.parts.iter().any(Option::is_none) {
            return None;
        }
        let done = self.partials.remove(idx);
        Some(done.parts.into_iter().flatten().flatten().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reassembles_out_of_order_and_bounds_state() {
        let mut r = Reassembly::default();
        let from: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let now = Instant::now();
        let f = |i| FragHeader { msg_id: 9, index: i, count: 3 };
        assert_eq!(r.add(from, f(2), b"c".to_vec(), now), None);
        assert_eq!(r.add(from, f(0), b"a".to_vec(), now), None);
        assert_eq!(r.add(from, f(1), b"b".to_vec(), now).unwrap(), b"abc");
        assert!(r.partials.is_empty());
        for id in 0..100 {
            let h = FragHeader { msg_id: id, index: 0, count: 2 };
            r.add(from, h, vec![1], now);
        }
        assert_eq!(r.partials.len(), MAX_PARTIALS);
        r.add(from, FragHeader { msg_id: 500, index: 0, count: 2 }, vec![], now + PARTIAL_TTL);
        assert_eq!(r.partials.len(), 1, "expired partials dropped");
    }
}
