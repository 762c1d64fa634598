//! What every TCP listener of the daemon (DNS and the admin API) shares: a cap on
//! connections in total and per client address, and an accept loop that backs off when the
//! process is out of file descriptors instead of spinning on the error.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long an accept loop sleeps after running out of descriptors (or kernel memory): the
/// pending connection stays in the backlog, and retrying at once would only spin a core.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// Warnings about a flood repeat at most this often (they would flood the log themselves).
pub const WARN_EVERY: Duration = Duration::from_secs(60);

/// Connections admitted at once: in total and from any one client address.
#[derive(Debug)]
pub struct ConnLimits {
    total: Arc<Semaphore>,
    per_client: usize,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// All slots are taken.
    Full,
    /// This client address holds its share already.
    ClientFull,
}

/// One admitted connection's slot; dropping it frees the slot.
#[derive(Debug)]
pub struct Slot {
    _total: OwnedSemaphorePermit,
    ip: IpAddr,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl ConnLimits {
    /// `total` and `per_client` are raised to at least 1.
    pub fn new(total: usize, per_client: usize) -> ConnLimits {
        ConnLimits {
            total: Arc::new(Semaphore::new(total.max(1))),
            per_client: per_client.max(1),
            open: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Takes a slot for a connection from `ip`, or says why there is none (never waits:
    /// a connection over the cap is closed at once rather than queued).
    pub fn admit(&self, ip: IpAddr) -> Result<Slot, Refused> {
        let mut open = self.open.lock();
        let held = open.get(&ip).copied().unwrap_or(0);
        if held >= self.per_client {
            return Err(Refused::ClientFull);
        }
        let permit = Arc::clone(&self.total).try_acquire_owned().map_err(|_| Refused::Full)?;
        open.insert(ip, held + 1);
        Ok(Slot { _total: permit, ip, open: Arc::clone(&self.open) })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.lock();
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Warnings that would repeat for every connection of a flood pass at most once in `every`.
#[derive(Debug)]
pub struct Throttle {
    every: Duration,
    last: Option<Instant>,
}

impl Throttle {
    pub const fn new(every: Duration) -> Throttle {
        Throttle { every, last: None }
    }

    /// True at most once per period: then warn, else log at debug.
    pub fn ready(&mut self) -> bool {
        let now = Instant::now();
        if self.last.is_some_and(|t| now.duration_since(t) < self.every) {
            return false;
        }
        self.last = Some(now);
        true
    }
}

/// A listener whose accept survives running out of descriptors.
#[derive(Debug)]
pub struct Acceptor {
    listener: TcpListener,
    what: &'static str,
    warn: Throttle,
}

impl Acceptor {
    /// `what` names the listener in the log.
    pub fn new(listener: TcpListener, what: &'static str) -> Acceptor {
        Acceptor { listener, what, warn: Throttle::new(WARN_EVERY) }
    }

    /// The next connection. Out of descriptors (EMFILE, ENFILE) or kernel memory, it sleeps
    /// [`ACCEPT_BACKOFF`] between tries (warning once a minute); errors about the one
    /// connection (reset before it was accepted, ...) are skipped.
    pub async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            match self.listener.accept().await {
                Ok(a) => return a,
                Err(e) if is_resource_shortage(&e) => {
                    if self.warn.ready() {
                        tracing::warn!(
                            listener = self.what,
                            "cannot accept connections: {e}; retrying every 100 ms (logged once a minute)"
                        );
                    } else {
                        tracing::debug!(listener = self.what, "cannot accept connections: {e}");
                    }
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
                Err(e) => tracing::debug!(listener = self.what, "accept failed: {e}"),
            }
        }
    }
}

fn is_resource_shortage(e: &io::Error) -> bool {
    use nix::errno::Errno;
    matches!(
        e.raw_os_error().map(Errno::from_raw),
        Some(Errno::EMFILE | Errno::ENFILE | Errno::ENOBUFS | Errno::ENOMEM)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_total_and_per_client() {
        let limits = ConnLimits::new(3, 2);
        let (a, b) = (IpAddr::from([127, 0, 0, 1]), IpAddr::from([127, 0, 0, 2]));
        let a1 = limits.admit(a).unwrap();
        let _a2 = limits.admit(a).unwrap();
        assert_eq!(limits.admit(a).unwrap_err(), Refused::ClientFull);
        let _b1 = limits.admit(b).unwrap();
        assert_eq!(limits.admit(b).unwrap_err(), Refused::Full);
        drop(a1);
        let _b2 = limits.admit(b).unwrap();
        assert_eq!(limits.admit(b).unwrap_err(), Refused::ClientFull);
        assert!(limits.open.lock().values().all(|&n| n <= 2));
    }

    #[test]
    fn freed_slots_leave_no_entry() {
        let limits = ConnLimits::new(4, 4);
        let ip = IpAddr::from([10, 0, 0, 1]);
        drop(limits.admit(ip).unwrap());
        assert!(limits.open.lock().is_empty());
    }

    #[test]
    fn throttle_passes_once_per_period() {
        let mut t = Throttle::new(Duration::from_secs(3600));
        assert!(t.ready());
        assert!(!t.ready());
        let mut always = Throttle::new(Duration::ZERO);
        assert!(always.ready() && always.ready());
    }
}
