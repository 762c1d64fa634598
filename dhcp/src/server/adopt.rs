//! [`DhcpHandle::adopt`]: leases another DHCP server granted, bound by `Core::adopt` and
//! journaled here like grants (docs/ARCHITECTURE.md §5).

use std::sync::Arc;

use parking_lot::Mutex;

use super::DhcpHandle;
use crate::adopt::{Adopted, Foreign, Outcomes};
use crate::counters::C;
use crate::lease::unix_now;

impl DhcpHandle {
    /// Takes over leases another DHCP server granted (`Core::adopt`) as this node's own:
    /// each is journaled like a grant, and once durable its event goes out (DNS name, and in a
    /// cluster the replication to the peers). Resolves when every record is durable, with one
    /// outcome per lease; a failed journal write takes its lease back and skips it.
    pub async fn adopt(&self, leases: &[Foreign]) -> Vec<Adopted> {
        let now = unix_now();
        let outcomes: Outcomes = Arc::new(Mutex::new(Vec::with_capacity(leases.len())));
        {
            let mut core = self.inner.core.lock();
            for (i, f) in leases.iter().enumerate() {
                let grant = match core.adopt(f, now) {
                    Ok(Some(g)) => g,
                    Ok(None) => {
                        outcomes.lock().push(Adopted::Unchanged);
                        continue;
                    }
                    Err(why) => {
                        outcomes.lock().push(Adopted::Skipped(why));
                        continue;
                    }
                };
                outcomes.lock().push(Adopted::Added);
                let (me, out) = (self.inner.clone(), outcomes.clone());
                let (event, undo) = (grant.event, grant.undo);
                let done = Box::new(move |ok: bool| {
                    if ok {
                        me.emit(event);
                        return;
                    }
                    me.counters.inc(C::JournalErrors);
                    me.core.lock().unjournaled(undo, unix_now());
                    out.lock()[i] = Adopted::Skipped("the lease journal could not be written".into());
                });
                self.inner.journal.append(&grant.record, Some(done));
            }
        }
        self.flush().await;
        outcomes.lock().clone()
    }
}
