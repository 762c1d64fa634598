//! A [`DnsHandle`] answering from a fixed set of messages, each under its own question: the
//! validator run without a network, for the fuzz target (`fuzz/fuzz_targets/dns_dnssec.rs`)
//! and the bench (`dns/benches/dnssec.rs`), cut as the pool's answers are
//! ([`super::handle::minimal`]).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::stream::{self, Stream};
use hickory_net::NetError;
use hickory_net::runtime::TokioRuntimeProvider;
use hickory_net::xfer::DnsHandle;
use hickory_proto::op::{DnsRequest, DnsResponse};
use hickory_proto::serialize::binary::BinEncodable;

/// (lower-case wire name, qtype) → response bytes.
type Answers = HashMap<(Vec<u8>, u16), Vec<u8>>;

#[derive(Clone, Default)]
pub struct Canned {
    answers: Arc<Answers>,
}

impl Canned {
    /// Keys every message that parses by its first question; the first of a question wins.
    pub fn new(messages: &[Vec<u8>]) -> Self {
        let mut answers = Answers::new();
        for m in messages {
            let Some(key) = crate::wire::parse_query(m).ok().map(|q| (q.name_wire().to_vec(), q.qtype)) else {
                continue;
            };
            answers.entry(key).or_insert_with(|| m.clone());
        }
        Canned { answers: Arc::new(answers) }
    }

    pub fn len(&self) -> usize {
        self.answers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.answers.is_empty()
    }
}

impl DnsHandle for Canned {
    type Response = Pin<Box<dyn Stream<Item = Result<DnsResponse, NetError>> + Send>>;
    type Runtime = TokioRuntimeProvider;

    fn send(&self, request: DnsRequest) -> Self::Response {
        let key = request
            .queries
            .first()
            .and_then(|q| Some((q.name().to_lowercase().to_bytes().ok()?, u16::from(q.query_type()))));
        let found = key.and_then(|k| self.answers.get(&k).cloned());
        let result = match found {
            Some(bytes) => {
                DnsResponse::from_buffer(super::handle::minimal(bytes)).map_err(|e| NetError::from(e.to_string()))
            }
            None => Err(NetError::from("no canned answer")),
        };
        Box::pin(stream::once(async move { result }))
    }
}
