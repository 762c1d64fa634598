//! DNSSEC validation (`dns.dnssec = "validate"`; docs/ARCHITECTURE.md §3).
//!
//! hickory's `DnssecDnsHandle` does the cryptography and the chain walk; it is wrapped
//! around [`handle::PoolHandle`], so every DS and DNSKEY it fetches goes through the same
//! upstream pool and answer cache as client queries (asked with DO=1, CD=1). ravens keeps
//! the upstream's own bytes and only reads hickory's per-record proofs: [`verdict`] turns
//! them into secure (AD), insecure (as is) or bogus (SERVFAIL + Extended DNS Error).
//!
//! Not validated: names under a negative trust anchor ([`Validation::applies`]: the
//! `local_domain`, the RFC 6303 private reverse zones, every `[[forward]]` zone not marked
//! `dnssec = true`, `dns.dnssec_nta`), clients' CD=1 queries, and everything while the system
//! clock reads earlier than the build date (no signature could be judged on such a clock).

mod amend;
pub mod anchor;
pub mod canned;
pub mod handle;
mod strip;
pub mod verdict;

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use hickory_net::dnssec::DnssecDnsHandle;
use hickory_net::xfer::{DnsHandle, FirstAnswer};
use hickory_net::{DnsError, NetError};
use hickory_proto::dnssec::{Proof, TrustAnchors};
use hickory_proto::op::{DnsRequestOptions, Query};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use hickory_proto::serialize::binary::BinDecodable;
use ravens_config::Config;
use serde::{Deserialize, Serialize};

use crate::cache::Cache;
use crate::route::SetId;
use crate::upstream::{Pool, Question, UpstreamError};
use anchor::Anchor;
use handle::PoolHandle;
pub use strip::strip_dnssec;
pub use verdict::Security;

/// The build date of this binary (Unix seconds): a clock earlier than this is wrong.
pub const BUILD_TIME: u64 = match u64::from_str_radix(env!("RAVENS_BUILD_UNIX"), 10) {
    Ok(t) => t,
    Err(_) => 0,
};

/// NSEC3 iterations above this make a denial insecure, not secure (RFC 9276 §3.2; the
/// figure unbound uses). hickory checks it before hashing, so no hard limit is needed.
pub const NSEC3_MAX_ITERATIONS: u16 = 150;

type Checker = DnssecDnsHandle<PoolHandle>;

/// A validated answer: the upstream's bytes, the verdict, and for a bogus one why.
#[derive(Debug)]
pub struct Judged {
    pub reply: Vec<u8>,
    pub security: Security,
    pub why: Option<String>,
}

/// Validation state and counters, for status and metrics.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct DnssecStatus {
    /// False while the system clock is before the build date: nothing is validated.
    pub clock_ok: bool,
    pub build_time: u64,
    pub secure: u64,
    pub insecure: u64,
    pub bogus: u64,
}

/// Everything validation needs for one config version (in `pipeline::State`).
pub struct Validation {
    /// Lower-case wire names of the negative trust anchors.
    nta: HashSet<Vec<u8>>,
    /// `None`: the built-in root anchor.
    anchors: Option<Vec<Anchor>>,
    not_before: u64,
    /// One checker per upstream set, made on first use (a DS anchor needs a fetch).
    checkers: Vec<tokio::sync::OnceCell<Checker>>,
    secure: AtomicU64,
    insecure: AtomicU64,
    bogus: AtomicU64,
    clock_bad: AtomicBool,
    /// The last bogus verdicts, newest last, for `dnsctl query` (at most [`RECENT_BOGUS`]).
    recent: parking_lot::Mutex<VecDeque<Bogus>>,
}

/// Bogus verdicts remembered for `dnsctl query`.
pub const RECENT_BOGUS: usize = 64;

/// One bogus verdict: the question, the EDE and why (RRset, key, time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bogus {
    /// Lower-case, no trailing dot.
    pub name: String,
    pub qtype: u16,
    pub ede: u16,
    pub why: String,
    /// Unix seconds.
    pub at: u64,
}

impl std::fmt::Debug for Validation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validation").field("nta", &self.nta.len()).finish()
    }
}

/// Why a name is or is not validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applies {
    Validate,
    /// Under a negative trust anchor.
    Nta,
    /// The clock is before the build date.
    Clock,
}

impl Validation {
    /// `sets`: the number of upstream sets. Reads the trust anchor file.
    pub fn new(c: &Config, sets: usize) -> Result<Self, String> {
        let d = &c.dns.dnssec;
        let anchors = d.trust_anchor_file.as_deref().map(anchor::read).transpose()?;
        let mut names: Vec<String> = vec![c.dns.local_domain.clone()];
        names.extend(crate::zone::private_reverse_zones());
        names.extend(c.forwards.iter().filter(|f| !f.dnssec).flat_map(|f| f.zones.iter().cloned()));
        names.extend(d.nta.iter().cloned());
        let nta = names.iter().filter_map(|n| crate::wire::name_from_text(n)).collect();
        Ok(Validation {
            nta,
            anchors,
            not_before: BUILD_TIME,
            checkers: (0..sets).map(|_| tokio::sync::OnceCell::new()).collect(),
            secure: AtomicU64::new(0),
            insecure: AtomicU64::new(0),
            bogus: AtomicU64::new(0),
            clock_bad: AtomicBool::new(false),
            recent: parking_lot::Mutex::new(VecDeque::new()),
        })
    }

    /// The clock rule with another build date (tests).
    pub fn with_not_before(mut self, t: u64) -> Self {
        self.not_before = t;
        self
    }

    /// Whether a forwarded (CD=0) question for `name_wire` (lower case) is validated at
    /// `now_unix`. A clock before the build date is logged loudly once per change.
    pub fn applies(&self, name_wire: &[u8], now_unix: u64) -> Applies {
        let bad = now_unix < self.not_before;
        if self.clock_bad.swap(bad, Ordering::Relaxed) != bad {
            if bad {
                tracing::error!(
                    now = now_unix,
                    build_time = self.not_before,
                    "the system clock is before this binary's build date: DNSSEC validation is suspended, answers are served unvalidated until the clock is set"
                );
            } else {
                tracing::warn!("the system clock is sane again: DNSSEC validation resumes");
            }
        }
        if bad {
            return Applies::Clock;
        }
        let mut at = 0;
        while at < name_wire.len() {
            if self.nta.contains(&name_wire[at..]) {
                return Applies::Nta;
            }
            let len = usize::from(name_wire[at]);
            if len == 0 {
                break;
            }
            at += 1 + len;
        }
        Applies::Validate
    }

    /// How a question for `name_wire` is treated now, in words, for `dnsctl query`.
    pub fn treatment(&self, name_wire: &[u8]) -> &'static str {
        match self.applies(name_wire, ravens_config::clock::unix_secs()) {
            Applies::Validate => "validated",
            Applies::Nta => "not validated: under a negative trust anchor",
            Applies::Clock => "not validated: the system clock is before the build date",
        }
    }

    /// The latest bogus verdicts for `name` (lower case, no trailing dot), newest first.
    pub fn bogus_for(&self, name: &str) -> Vec<Bogus> {
        self.recent.lock().iter().rev().filter(|b| b.name == name).cloned().collect()
    }

    fn note_bogus(&self, question: &Question, judged: &Judged) {
        let (Security::Bogus(ede), Some(why)) = (judged.security, &judged.why) else { return };
        let name = crate::wire::name_to_text(&question.name_wire);
        let b = Bogus { name, qtype: question.qtype, ede, why: why.clone(), at: ravens_config::clock::unix_secs() };
        let mut recent = self.recent.lock();
        if recent.len() >= RECENT_BOGUS {
            recent.pop_front();
        }
        recent.push_back(b);
    }

    pub fn status(&self) -> DnssecStatus {
        DnssecStatus {
            // From the clock itself, not the last query: a node without queries says it too.
            clock_ok: ravens_config::clock::unix_secs() >= self.not_before,
            build_time: self.not_before,
            secure: self.secure.load(Ordering::Relaxed),
            insecure: self.insecure.load(Ordering::Relaxed),
            bogus: self.bogus.load(Ordering::Relaxed),
        }
    }

    async fn checker(&self, set: SetId, pool: &Arc<Pool>, cache: &Arc<Cache>) -> Result<&Checker, String> {
        let cell = self.checkers.get(usize::from(set)).ok_or("no such upstream set")?;
        cell.get_or_try_init(|| async {
            let handle = PoolHandle { pool: Arc::clone(pool), cache: Arc::clone(cache), set };
            let anchors = match &self.anchors {
                None => TrustAnchors::default(),
                Some(a) => anchor::trust_anchors(a, &handle).await?,
            };
            Ok::<_, String>(checker(handle, anchors))
        })
        .await
    }

    /// Resolves `question` through set `set` and validates the answer.
    pub async fn resolve(
        &self,
        set: SetId,
        pool: &Arc<Pool>,
        cache: &Arc<Cache>,
        question: &Question,
    ) -> Result<Judged, UpstreamError> {
        let checker = match self.checker(set, pool, cache).await {
            Ok(c) => c,
            Err(why) => {
                // The anchor's keys could not be had: nothing can be proven.
                self.bogus.fetch_add(1, Ordering::Relaxed);
                let why = format!("trust anchor: {why}");
                let security = Security::Bogus(verdict::ede::DNSKEY_MISSING);
                let judged = Judged { reply: Vec::new(), security, why: Some(why) };
                self.note_bogus(question, &judged);
                return Ok(judged);
            }
        };
        let judged = judge(checker, question).await?;
        self.note_bogus(question, &judged);
        let counter = match judged.security {
            Security::Secure => &self.secure,
            Security::Bogus(_) => &self.bogus,
            _ => &self.insecure,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Ok(judged)
    }
}

/// A validator over any [`DnsHandle`] (the pool's in the daemon; canned answers in the
/// fuzz target and the bench) with the anchors and limits ravens uses.
pub fn checker<H: DnsHandle>(handle: H, anchors: TrustAnchors) -> DnssecDnsHandle<H> {
    DnssecDnsHandle::with_trust_anchor(handle, Arc::new(anchors))
        .nsec3_iteration_limits(Some(NSEC3_MAX_ITERATIONS), Some(u16::MAX))
}

/// Validates the answer to `question` through `checker`: the upstream's bytes and the verdict.
pub async fn judge<H: DnsHandle>(checker: &DnssecDnsHandle<H>, question: &Question) -> Result<Judged, UpstreamError> {
    let name = Name::from_bytes(&question.name_wire).map_err(|e| UpstreamError::Validation(e.to_string()))?;
    let mut query = Query::query(name, RecordType::from(question.qtype));
    query.set_query_class(DNSClass::from(question.qclass));
    let mut options = DnsRequestOptions::default();
    options.edns_set_dnssec_ok = true;
    let now = ravens_config::clock::unix_secs() as u32;
    Ok(match checker.lookup(query.clone(), options).first_answer().await {
        Ok(resp) => match verdict::verdict(&resp) {
            Security::Bogus(_) => {
                let (code, why) = verdict::explain(&resp, &query, checker, now).await;
                Judged { reply: resp.into_buffer(), security: Security::Bogus(code), why: Some(why) }
            }
            Security::Secure if amend::opt_out_insecure(&resp, &query) => {
                Judged { reply: resp.into_buffer(), security: Security::Insecure, why: None }
            }
            security => Judged { reply: resp.into_buffer(), security, why: None },
        },
        Err(NetError::Dns(DnsError::Nsec { response, .. })) if amend::nsec_wildcard_secure(&response, &query) => {
            Judged { reply: response.into_buffer(), security: Security::Secure, why: None }
        }
        Err(NetError::Dns(DnsError::Nsec { response, proof, .. })) => {
            if proof == Proof::Bogus {
                let (code, why) = verdict::explain(&response, &query, checker, now).await;
                Judged { reply: response.into_buffer(), security: Security::Bogus(code), why: Some(why) }
            } else {
                Judged { reply: response.into_buffer(), security: Security::Insecure, why: None }
            }
        }
        Err(e) => return Err(UpstreamError::Validation(e.to_string())),
    })
}

#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;
