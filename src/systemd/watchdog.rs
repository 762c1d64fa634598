//! The systemd watchdog: `WATCHDOG=1` is sent only while every serving loop makes progress,
//! so systemd restarts a hung ravensd, not only a dead one.
//!
//! Progress without a cost on the hot path: each DNS listener thread stores a heartbeat (its
//! count of returned `recvmmsg` calls, one relaxed store per batch) and the DHCP loop counts
//! its wake-ups. An idle loop sleeps in its receive call with an empty socket queue, which is
//! fine: it is not hung, and waking it on a timer would cost every wait a kernel timer. A loop
//! is stuck when a datagram was already waiting in its socket at one check (a `MSG_PEEK`
//! from here, the datagram stays for the loop) and its heartbeat has not moved by the next
//! one. The check also runs on the tokio runtime, so a runtime that no longer runs tasks (the
//! TCP listener, forwarded queries, the admin API) stops the pings too.

use std::os::fd::AsFd;
use std::time::Duration;

use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;

/// One serving loop the watchdog watches.
pub struct Loop {
    name: String,
    /// Its heartbeat, then whether a datagram waits unread in its socket (in that order:
    /// see [`Tracker::check`]).
    read: Box<dyn Fn() -> (u64, bool) + Send + Sync>,
}

impl std::fmt::Debug for Loop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loop").field("name", &self.name).finish_non_exhaustive()
    }
}

impl Loop {
    /// A DNS UDP listener thread.
    pub fn dns(name: String, probe: ravens_dns::server::udp::Probe) -> Loop {
        Loop {
            name,
            read: Box::new(move || {
                let beats = probe.beats.load(std::sync::atomic::Ordering::Relaxed);
                (beats, waiting(&*probe.sock))
            }),
        }
    }

    /// The DHCP receive loop.
    pub fn dhcp(handle: ravens_dhcp::DhcpHandle) -> Loop {
        Loop {
            name: "dhcp".into(),
            read: Box::new(move || {
                let (beats, sock) = handle.progress();
                (beats, waiting(sock))
            }),
        }
    }
}

/// The loops of a running daemon: each DNS listener thread, and the DHCP loop if it runs.
pub fn loops(dns: Vec<ravens_dns::server::udp::Probe>, dhcp: Option<&ravens_dhcp::DhcpHandle>) -> Vec<Loop> {
    let dns = dns.into_iter().enumerate().map(|(i, probe)| {
        let addr = probe.sock.local_addr().map_or_else(|_| "?".into(), |a| a.to_string());
        Loop::dns(format!("dns-udp {addr} #{i}"), probe)
    });
    dns.chain(dhcp.cloned().map(Loop::dhcp)).collect()
}

/// Whether a datagram is queued on `sock`, without taking it and without blocking.
pub fn waiting(sock: impl AsFd) -> bool {
    let mut byte = [std::mem::MaybeUninit::<u8>::uninit(); 1];
    let flags = libc::MSG_PEEK | libc::MSG_DONTWAIT | libc::MSG_TRUNC;
    // Ok(0) is an empty datagram: waiting all the same. An error (nothing queued, or a
    // pending ICMP error) is not a datagram.
    socket2::SockRef::from(&sock).recv_with_flags(&mut byte, flags).is_ok()
}

/// The stall rule over successive readings of the loops.
#[derive(Debug, Default)]
pub struct Tracker {
    last: Vec<Option<(u64, bool)>>,
}

impl Tracker {
    /// Takes this check's `(heartbeat, waiting)` of each loop and returns the indices of the
    /// stuck ones: a datagram was waiting at the previous check and the heartbeat has not
    /// moved since. The heartbeat is read before the queue, so a datagram seen waiting came
    /// after that heartbeat value, and an unchanged heartbeat means nobody took it.
    pub fn check(&mut self, now: &[(u64, bool)]) -> Vec<usize> {
        self.last.resize(now.len(), None);
        let stuck = now
            .iter()
            .zip(&self.last)
            .enumerate()
            .filter(|(_, (n, l))| matches!(l, Some((beats, true)) if *beats == n.0))
            .map(|(i, _)| i)
            .collect();
        self.last = now.iter().copied().map(Some).collect();
        stuck
    }
}

/// Checks the loops four times per watchdog `timeout` and pings after each check that finds
/// none stuck: a stuck loop is found within half the timeout and systemd acts at the timeout.
pub async fn run(timeout: Duration, loops: Vec<Loop>, cancel: CancellationToken) {
    let mut tick = tokio::time::interval((timeout / 4).max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tracker = Tracker::default();
    let mut was_stuck = false;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let readings: Vec<_> = loops.iter().map(|l| (l.read)()).collect();
        let stuck = tracker.check(&readings);
        if stuck.is_empty() {
            if was_stuck {
                tracing::warn!("serving loops make progress again: watchdog pings resume");
                was_stuck = false;
            }
            if let Err(e) = sd_notify::notify(&[NotifyState::Watchdog]) {
                tracing::warn!("watchdog ping failed: {e}");
            }
        } else if !was_stuck {
            let names: Vec<&str> = stuck.iter().map(|&i| loops[i].name.as_str()).collect();
            tracing::error!(
                loops = %names.join(","),
                "serving loop stuck (datagrams wait, none taken): withholding the watchdog ping"
            );
            was_stuck = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Tracker;

    #[test]
    fn idle_loops_are_not_stuck() {
        let mut t = Tracker::default();
        assert!(t.check(&[(5, false), (7, false)]).is_empty());
        assert!(t.check(&[(5, false), (7, false)]).is_empty());
    }

    #[test]
    fn a_loop_that_takes_what_waits_is_not_stuck() {
        let mut t = Tracker::default();
        assert!(t.check(&[(5, true)]).is_empty());
        assert!(t.check(&[(6, true)]).is_empty());
        assert!(t.check(&[(9, false)]).is_empty());
    }

    #[test]
    fn waiting_with_no_heartbeat_is_stuck_and_recovers() {
        let mut t = Tracker::default();
        assert!(t.check(&[(5, false), (1, true)]).is_empty());
        assert_eq!(t.check(&[(6, false), (1, true)]), vec![1]);
        assert_eq!(t.check(&[(6, false), (1, true)]), vec![1]);
        assert!(t.check(&[(6, false), (2, false)]).is_empty());
    }
}
