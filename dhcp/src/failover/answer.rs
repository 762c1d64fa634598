//! The "who answers" filter the core consults before it answers a DISCOVER or a broadcast
//! REQUEST (docs/ARCHITECTURE.md §7). What the filter says is the pair's policy
//! ([`super::buckets`], [`super::takeover`], installed by the daemon's cluster wiring); this
//! module only applies it to the right messages.

use std::sync::Arc;

use dhcproto::v4::MessageType;

use crate::machine::{Context, Core};
use crate::packet::Request;

/// Decides whether this node answers a client: called with the RFC 3074 hash input (option 61
/// when present, else chaddr) and the DHCP `secs` field.
#[derive(Clone)]
pub struct AnswerFilter(pub Arc<AnswerFn>);

/// The function behind an [`AnswerFilter`]: (client id or chaddr, `secs`) → answer?
pub type AnswerFn = dyn Fn(&[u8], u16) -> bool + Send + Sync;

impl std::fmt::Debug for AnswerFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AnswerFilter")
    }
}

impl Core {
    /// Whether the answer filter lets this node answer `req`. Only DISCOVER and broadcast
    /// REQUESTs (INIT-REBOOT, REBINDING) are load-balanced: a SELECTING REQUEST is decided by
    /// its server identifier, a unicast RENEWING REQUEST was sent to us on purpose, and
    /// RELEASE / DECLINE / INFORM change or reveal nothing another node would do differently.
    pub fn may_answer(&self, req: &Request, ctx: &Context<'_>) -> bool {
        let Some(filter) = &self.answer else { return true };
        let m = &req.msg;
        let broadcast = !m.giaddr().is_unspecified() || ctx.dst.is_unspecified() || ctx.dst.is_broadcast();
        let balanced = match req.msg_type {
            MessageType::Discover => true,
            MessageType::Request => req.server_id.is_none() && broadcast,
            _ => false,
        };
        if !balanced {
            return true;
        }
        let id = req.client_id.as_deref().unwrap_or(&req.chaddr);
        (filter.0)(id, m.secs())
    }
}
