//! hickory's [`DnsHandle`] over ravens's own upstream pool and answer cache, so that the
//! validator's chain fetches (DS, DNSKEY, and the NS probes hickory makes to find a zone
//! cut) go where every other query goes, are cached like them, and share their health.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use futures_util::stream::{self, Stream};
use hickory_net::NetError;
use hickory_net::runtime::TokioRuntimeProvider;
use hickory_net::xfer::DnsHandle;
use hickory_proto::op::{DnsRequest, DnsResponse};
use hickory_proto::serialize::binary::BinEncodable;

use crate::cache::{self, Cache};
use crate::route::SetId;
use crate::upstream::{Pool, Question};
use crate::wire;

/// Sends every question to `pool` with DO=1 and CD=1 (the validator wants the raw data and
/// its signatures), through `cache` under the key a DO+CD client's question would have.
#[derive(Clone)]
pub struct PoolHandle {
    pub pool: Arc<Pool>,
    pub cache: Arc<Cache>,
    pub set: SetId,
}

impl PoolHandle {
    /// The raw answer to a question: from the cache, else from the pool (then cached).
    pub async fn raw(&self, question: &Question) -> Result<Vec<u8>, NetError> {
        let mut key = [0u8; cache::KEY_MAX];
        let n = cache::make_key(&mut key, &question.name_wire, question.qtype, question.qclass, true, true, self.set);
        let mut out = Vec::new();
        if self.cache.get(&key[..n], Instant::now(), false, &mut out).is_some() {
            return Ok(out);
        }
        let reply = self.pool.resolve(question, true, true).await.map_err(|e| NetError::from(e.to_string()))?;
        self.cache.insert(&key[..n], &reply, Instant::now());
        Ok(reply)
    }
}

/// The question of a request, its name in lower-case wire form.
fn question_of(request: &DnsRequest) -> Option<Question> {
    let q = request.queries.first()?;
    let name_wire = q.name().to_lowercase().to_bytes().ok()?;
    Some(Question { name_wire, qtype: u16::from(q.query_type()), qclass: u16::from(q.query_class()) })
}

/// What the validator is shown of a reply: a positive answer without its authority and
/// additional sections (the NS RRset and glue a server may add), unless the authority
/// section holds NSEC, NSEC3 or SOA (a wildcard's proof). Each signed RRset there costs a
/// signature check and proves nothing the question needs; RFC 4035 §3.2.3 lets AD cover
/// only what is sent, and the client gets the same minimal answer. The cut is at the end
/// of the answer section, so no compression pointer (always backwards) can dangle.
pub fn minimal(reply: Vec<u8>) -> Vec<u8> {
    let count = |at: usize| usize::from(wire::read_u16(&reply, at).unwrap_or(0));
    let (an, ns, ar) = (count(6), count(8), count(10));
    if an == 0 || reply.get(3).is_none_or(|b| b & 0x0F != 0) || ns + ar == 0 {
        return reply;
    }
    let mut pos = wire::HEADER_LEN;
    for _ in 0..count(4) {
        match wire::skip_name(&reply, pos) {
            Ok(p) => pos = p + 4,
            Err(_) => return reply,
        }
    }
    let mut cut = 0;
    for i in 0..an + ns {
        let Ok((rr, next)) = wire::skip_record(&reply, pos) else { return reply };
        if i == an {
            cut = pos;
        }
        if i >= an && matches!(rr.rtype, TYPE_NSEC | TYPE_NSEC3 | wire::TYPE_SOA) {
            return reply;
        }
        pos = next;
    }
    if cut == 0 {
        cut = pos;
    }
    let mut out = reply;
    out.truncate(cut);
    out[8..12].fill(0);
    out
}

const TYPE_NSEC: u16 = 47;
const TYPE_NSEC3: u16 = 50;

impl DnsHandle for PoolHandle {
    type Response = Pin<Box<dyn Stream<Item = Result<DnsResponse, NetError>> + Send>>;
    type Runtime = TokioRuntimeProvider;

    fn send(&self, request: DnsRequest) -> Self::Response {
        let this = self.clone();
        Box::pin(stream::once(async move {
            let question = question_of(&request).ok_or_else(|| NetError::from("request without a question"))?;
            let reply = minimal(this.raw(&question).await?);
            DnsResponse::from_buffer(reply).map_err(|e| NetError::from(e.to_string()))
        }))
    }
}
