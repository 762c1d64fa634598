//! The miss (docs/ARCHITECTURE.md §3): a pending query resolved upstream, validated when
//! `dns.dnssec = "validate"`, cached with its verdict, and answered; and the prefetch that
//! refreshes a popular entry the same way.

use std::sync::Arc;
use std::time::Instant;

use super::{Pending, Resolver, State, Step};
use crate::cache::{self, Cache, Hit};
use crate::dnssec::{self, Applies, Judged, Security, Validation};
use crate::route::SetId;
use crate::stats::Outcome;
use crate::upstream::{Pool, Question, UpstreamError};
use crate::wire::{self, Query, rcode};

/// The AD bit of a reply's header.
const AD: u8 = 0x20;

impl Resolver {
    /// Resolves a pending query upstream. Always returns a reply: the answer, a stale
    /// answer, or SERVFAIL by the configured timeout (with an Extended DNS Error when the
    /// answer failed DNSSEC validation).
    pub async fn forward(&self, p: Box<Pending>) -> Vec<u8> {
        let Pending { msg, q, transport, group, client, set } = *p;
        let state = self.state.load_full();
        let ours = state.config.dns.edns_udp_size;
        let mut out = Vec::with_capacity(512);
        let mut key = [0u8; cache::KEY_MAX];
        // A reload in between may have renumbered the sets: the answer is then cached under
        // the set it was chosen for, which at worst is one entry the new config never reads.
        let klen =
            cache::make_key(&mut key, q.name_wire(), q.qtype, q.qclass, q.dnssec_ok(), q.checking_disabled(), set);
        let question = Question { name_wire: q.name_wire().to_vec(), qtype: q.qtype, qclass: q.qclass };
        let result = match Arc::clone(&self.inflight).try_acquire_owned() {
            Ok(_permit) => fetch(&state, &self.cache, set, &question, q.checking_disabled(), q.dnssec_ok()).await,
            Err(_) => Err(UpstreamError::Timeout),
        };
        let ms = ravens_config::clock::unix_ms;
        match result {
            Ok(Judged { reply, security: Security::Bogus(code), why }) => {
                let why = why.unwrap_or_else(|| Security::ede_text(code).to_string());
                tracing::info!(name = %q.name_text(), qtype = q.qtype, ede = code, %why, "DNSSEC bogus: SERVFAIL");
                self.cache.insert_checked(&key[..klen], &reply, Instant::now(), Security::Bogus(code));
                write_bogus(&msg, &q, code, &why, ours, &mut out);
                self.logged(ms(), &q, client, Outcome::Servfail, None, Step::Reply);
            }
            Ok(Judged { reply, security, .. }) => {
                self.cache.insert_checked(&key[..klen], &reply, Instant::now(), security);
                out = cache::strip_opt(&reply).unwrap_or(reply);
                if let Some(list) = self.cloaked(&state, group, &mut out, &msg, &q, transport, Instant::now()) {
                    self.logged(ms(), &q, client, Outcome::Blocked, Some(list), Step::Reply);
                    return out;
                }
                set_ad(&mut out, &q, security);
                self.finish_for_client(&mut out, &msg, &q, ours, transport);
                self.logged(ms(), &q, client, Outcome::Forwarded, None, Step::Reply);
            }
            Err(e) => {
                tracing::debug!(name = %q.name_text(), error = %e, "upstream resolution failed");
                let stale = if state.config.dns.serve_stale {
                    self.cache.get_checked(&key[..klen], Instant::now(), true, &mut out)
                } else {
                    None
                };
                match stale {
                    Some((Hit::Stale, security)) if !matches!(security, Security::Bogus(_)) => {
                        set_ad(&mut out, &q, security);
                        self.finish_for_client(&mut out, &msg, &q, ours, transport);
                        self.logged(ms(), &q, client, Outcome::Stale, None, Step::Reply);
                    }
                    _ => {
                        wire::reply_skeleton(&msg, &q, rcode::SERVFAIL, 0, ours, &mut out);
                        self.logged(ms(), &q, client, Outcome::Servfail, None, Step::Reply);
                    }
                }
            }
        }
        out
    }

    /// Refreshes a popular entry in the background, validated as the miss would be.
    pub(super) fn prefetch(&self, state: &Arc<State>, q: &Query, set: SetId, key: &[u8]) {
        let Some(handle) = &self.rt else { return };
        let question = Question { name_wire: q.name_wire().to_vec(), qtype: q.qtype, qclass: q.qclass };
        let key = key.to_vec();
        let (cd, dok, state, cache) =
            (q.checking_disabled(), q.dnssec_ok(), Arc::clone(state), Arc::clone(&self.cache));
        handle.spawn(async move {
            if let Ok(j) = fetch(&state, &cache, set, &question, cd, dok).await {
                cache.insert_checked(&key, &j.reply, Instant::now(), j.security);
            }
        });
    }
}

/// Asks the set's upstreams, through the validator when this question is validated: a
/// client's CD=1 is asked as the client asked, names under a negative trust anchor with CD=1,
/// any name while the clock is wrong with CD=0. A DO=0 client's validated answer loses its
/// DNSSEC records.
async fn fetch(
    state: &State,
    cache: &Arc<Cache>,
    set: SetId,
    question: &Question,
    cd: bool,
    dok: bool,
) -> Result<Judged, UpstreamError> {
    let pool: &Arc<Pool> = state.routes.pool(set);
    let validation: Option<&Arc<Validation>> = state.dnssec.as_ref().filter(|_| !cd);
    let Some(v) = validation else {
        let reply = pool.resolve(question, cd, dok).await?;
        return Ok(Judged { reply, security: Security::Unchecked, why: None });
    };
    match v.applies(&question.name_wire, ravens_config::clock::unix_secs()) {
        Applies::Validate => {}
        // A negative trust anchor asks with CD=1, so a validating upstream does not SERVFAIL
        // the zone either; a wrong clock is only ours, so the upstream may still validate.
        not => {
            let reply = pool.resolve(question, not == Applies::Nta, dok).await?;
            return Ok(Judged { reply, security: Security::Insecure, why: None });
        }
    }
    let mut j = v.resolve(set, pool, cache, question).await?;
    if !dok
        && !matches!(j.security, Security::Bogus(_))
        && let Some(stripped) = dnssec::strip_dnssec(&j.reply, question.qtype)
    {
        j.reply = stripped;
    }
    Ok(j)
}

/// AD=1 for a secure answer to a client that asked with DO or AD (RFC 6840 §5.7); cleared
/// for an answer validation did not vouch for; left as the upstream set it when validation
/// is off or the client set CD.
#[inline]
pub(super) fn set_ad(out: &mut [u8], q: &Query, security: Security) {
    let Some(b) = out.get_mut(3) else { return };
    match security {
        Security::Unchecked => {}
        Security::Secure if q.dnssec_ok() || q.flags & u16::from(AD) != 0 => *b |= AD,
        _ => *b &= !AD,
    }
}

/// SERVFAIL with Extended DNS Error `code` and `why` (RFC 8914), for a bogus answer.
pub(super) fn write_bogus(msg: &[u8], q: &Query, code: u16, why: &str, ours: u16, out: &mut Vec<u8>) {
    wire::reply_start(msg, q, rcode::SERVFAIL, 0, out);
    if q.edns.is_some() {
        wire::push_opt(out, ours, q.dnssec_ok(), Some((code, why)));
    }
}
