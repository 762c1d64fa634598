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

impl DnsHandle for PoolHandle {
    type Response = Pin<Box<dyn Stream<Item = Result<DnsResponse, NetError>> + Send>>;
    type Runtime = TokioRuntimeProvider;

    fn send(&self, request: DnsRequest) -> Self::Response {
        let this = self.clone();
        Box::pin(stream::once(async move {
            let question = question_of(&request).ok_or_else(|| NetError::from("request without a question"))?;
            let reply = this.raw(&question).await?;
            DnsResponse::from_buffer(reply).map_err(|e| NetError::from(e.to_string()))
        }))
    }
}
