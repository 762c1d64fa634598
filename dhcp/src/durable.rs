//! Grants whose journal record could not be written. The core binds a lease when it grants it,
//! before the record is durable, so a retransmitted REQUEST or another client already finds the
//! address taken; the driver sends the ACK only once the record is durable. When the write
//! fails (a full disk) no ACK goes out, and the driver hands the grant's [`Undo`] to
//! [`Core::unjournaled`]: the address gets back the lease it had before the grant (durable, or
//! not bound), so a lease that was never ACKed neither shows in the lease list nor holds its
//! address for the lease time.
//!
//! Grants are numbered process-wide ([`Lease::seq`]), so an undo only touches the lease its own
//! grant wrote. A retransmission can be granted again while the first grant is still being
//! written; its undo then holds the first grant's lease as the one before. An undo whose lease
//! has moved on leaves what its grant replaced in [`Orphans`], where a later undo that would
//! restore the undone grant's lease finds what to restore instead.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::lease::{Lease, LeaseState};
use crate::machine::Core;

/// Kept undos at most; one forgotten only leaves a lease bound until it expires.
const MAX_ORPHANS: usize = 1024;

static NEXT_SEQ: AtomicU64 = AtomicU64::new(1);

/// A new grant number, unique in the process (cores are rebuilt on reload; numbers are not).
pub(crate) fn next_seq() -> u64 {
    NEXT_SEQ.fetch_add(1, Ordering::Relaxed)
}

/// How to take back one grant.
#[derive(Debug)]
pub struct Undo {
    pub(crate) seq: u64,
    pub(crate) subnet: usize,
    pub(crate) ip: Ipv4Addr,
    /// The address's lease before the grant (moved here, not copied).
    pub(crate) prev: Option<Lease>,
}

/// Undone grants whose lease had moved on: what each had replaced, by grant number.
#[derive(Debug, Default)]
pub struct Orphans(HashMap<u64, Option<Lease>>);

impl Core {
    /// The record of `undo`'s grant could not be written and no ACK went out: unless the
    /// lease has moved on since (a release, an import, a rebuild, a later grant), the address
    /// goes back to the lease it had before.
    pub fn unjournaled(&mut self, undo: Undo, now: u64) {
        let Some(s) = self.subnets.get_mut(undo.subnet) else { return };
        let ours = s.leases.get(&undo.ip).is_some_and(|l| l.seq == undo.seq && l.state == LeaseState::Bound);
        if !ours {
            if self.orphans.0.len() >= MAX_ORPHANS {
                self.orphans.0.clear();
            }
            self.orphans.0.insert(undo.seq, undo.prev);
            return;
        }
        // The lease before may itself be a grant that was undone already: restore its own.
        let mut prev = undo.prev;
        while let Some(p) = prev.as_ref().filter(|p| p.seq != 0)
            && let Some(older) = self.orphans.0.remove(&p.seq)
        {
            prev = older;
        }
        s.unbind(undo.ip, prev, now);
    }
}

#[cfg(test)]
#[path = "durable_tests.rs"]
mod tests;
