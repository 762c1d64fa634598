//! The zone `test.` the test upstream serves, and how it answers a query (see the table in
//! the parent module).

use super::*;

pub(super) fn name(s: &str) -> Name {
    let mut n = Name::from_ascii(s).unwrap_or_else(|e| panic!("bad DNS name {s:?}: {e}"));
    n.set_fqdn(true);
    n
}

pub(super) fn key(n: &Name) -> String {
    let mut s = n.to_lowercase().to_ascii();
    if !s.ends_with('.') {
        s.push('.');
    }
    s
}

pub(super) fn zone_apex() -> Name {
    name("test.")
}

/// The `hNNNNN.test` address of load name `i`.
pub fn load_name_ip(i: u32) -> Ipv4Addr {
    Ipv4Addr::new(198, 18, ((i / 250) % 256) as u8, (i % 250 + 1) as u8)
}

pub(super) fn initial_zone() -> HashMap<String, Vec<Record>> {
    let mut z: HashMap<String, Vec<Record>> = HashMap::new();
    let mut add = |owner: &str, ttl: u32, data: RData| {
        let n = name(owner);
        z.entry(key(&n)).or_default().push(Record::from_rdata(n, ttl, data));
    };
    add("test.", 300, RData::NS(NS(name("ns.test."))));
    add("ns.test.", 300, RData::A(A(Ipv4Addr::LOCALHOST)));
    add("a.test.", 300, RData::A(A(Ipv4Addr::new(192, 0, 2, 1))));
    add("multi.test.", 300, RData::A(A(Ipv4Addr::new(192, 0, 2, 2))));
    add("multi.test.", 300, RData::A(A(Ipv4Addr::new(192, 0, 2, 3))));
    add("v6.test.", 300, RData::AAAA(AAAA(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1))));
    add("txt.test.", 300, RData::TXT(TXT::new(vec!["hello world".to_string()])));
    add("mx.test.", 300, RData::MX(MX::new(10, name("mail.test."))));
    add("mail.test.", 300, RData::A(A(Ipv4Addr::new(192, 0, 2, 25))));
    add("srv.test.", 300, RData::SRV(SRV::new(10, 5, 5060, name("a.test."))));
    add("cname.test.", 300, RData::CNAME(CNAME(name("a.test."))));
    add("short.test.", 2, RData::A(A(Ipv4Addr::new(192, 0, 2, 9))));
    for i in 0..24 {
        let text = format!("{i:02}-{}", "x".repeat(97));
        add("big.test.", 300, RData::TXT(TXT::new(vec![text])));
    }
    z
}

pub(super) fn soa_record() -> Record {
    Record::from_rdata(
        zone_apex(),
        SOA_TTL,
        RData::SOA(SOA::new(name("ns.test."), name("hostmaster.test."), 1, 3600, 600, 86400, SOA_TTL)),
    )
}

/// `hNNNNN.test.` with NNNNN < 10000 -> its index.
pub(super) fn load_index(k: &str) -> Option<u32> {
    let digits = k.strip_prefix('h')?.strip_suffix(".test.")?;
    if digits.len() != 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|i| *i < LOAD_NAMES)
}

impl Shared {
    pub(super) fn lookup(&self, n: &Name) -> Option<Vec<Record>> {
        let k = key(n);
        if k == "test." {
            let mut v = self.zone.lock().unwrap().get(&k).cloned().unwrap_or_default();
            v.push(self.soa.clone());
            return Some(v);
        }
        if let Some(v) = self.zone.lock().unwrap().get(&k) {
            return Some(v.clone());
        }
        load_index(&k).map(|i| vec![Record::from_rdata(n.clone(), 86400, RData::A(A(load_name_ip(i))))])
    }

    /// Fills answers/authorities and the rcode for one question.
    pub(super) fn resolve(&self, q: &Query, resp: &mut Message) {
        let apex = zone_apex();
        // Outside `test.` only the names a test gave records (a forward zone's PTRs) exist.
        if !apex.zone_of(q.name()) && !self.zone.lock().unwrap().contains_key(&key(q.name())) {
            resp.metadata.response_code = ResponseCode::Refused;
            resp.metadata.authoritative = false;
            return;
        }
        let qtype = q.query_type();
        let mut current = q.name().clone();
        for hop in 0..8 {
            let Some(rrs) = self.lookup(&current) else {
                resp.metadata.response_code = ResponseCode::NXDomain;
                resp.authorities.push(self.soa.clone());
                return;
            };
            let matching: Vec<Record> = rrs
                .iter()
                .filter(|r| qtype == RecordType::ANY || r.record_type() == qtype)
                .map(|r| {
                    // owner as asked (case and all), as servers do
                    let mut r = r.clone();
                    r.name = current.clone();
                    r
                })
                .collect();
            if !matching.is_empty() {
                resp.answers.extend(matching);
                return;
            }
            let cname = rrs.iter().find_map(|r| match &r.data {
                RData::CNAME(c) => Some((r.clone(), c.0.clone())),
                _ => None,
            });
            match cname {
                Some((mut rec, target)) if hop < 7 => {
                    rec.name = current.clone();
                    resp.answers.push(rec);
                    if !apex.zone_of(&target) {
                        return;
                    }
                    current = target;
                }
                _ => {
                    resp.authorities.push(self.soa.clone());
                    return;
                }
            }
        }
    }

    /// Builds the answer to one wire query, or `None` to send nothing. Over UDP (`udp`),
    /// answers over 512 bytes, or over the query's EDNS payload size, are truncated (TC=1).
    pub(super) fn answer(&self, query: &[u8], transport: Transport, udp: bool) -> Option<Vec<u8>> {
        if self.stopped.load(Ordering::SeqCst) {
            return None;
        }
        self.counts[transport as usize].fetch_add(1, Ordering::Relaxed);
        let req = match Message::from_vec(query) {
            Ok(m) => m,
            Err(_) => {
                if query.len() < 12 {
                    return None;
                }
                // FORMERR with the ID and opcode copied
                let mut out = query[..12].to_vec();
                out[2] = (out[2] & 0x78) | 0x80;
                out[3] = 1;
                out[4..12].fill(0);
                return Some(out);
            }
        };
        if req.metadata.message_type != MessageType::Query {
            return None;
        }
        {
            let mut log = self.log.lock().unwrap();
            if log.len() >= LOG_CAP {
                log.pop_front();
            }
            let q = req.queries.first();
            log.push_back(Received {
                transport,
                id: req.metadata.id,
                name: q.map(|q| q.name().to_ascii()).unwrap_or_default(),
                qtype: q.map(|q| q.query_type()).unwrap_or(RecordType::Unknown(0)),
                edns_payload: req.edns.as_ref().map(|e| e.max_payload()),
                dnssec_ok: req.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok),
                recursion_desired: req.metadata.recursion_desired,
            });
        }
        let mode = *self.mode.lock().unwrap();
        if mode == Mode::Drop {
            return None;
        }
        let mut resp = Message::response(req.metadata.id, req.metadata.op_code);
        resp.metadata.authoritative = true;
        resp.metadata.recursion_desired = req.metadata.recursion_desired;
        resp.metadata.checking_disabled = req.metadata.checking_disabled;
        resp.queries = req.queries.clone();
        if req.edns.is_some() {
            let mut e = Edns::new();
            e.set_max_payload(1232);
            resp.set_edns(e);
        }
        if req.metadata.op_code != OpCode::Query {
            resp.metadata.response_code = ResponseCode::NotImp;
        } else if req.queries.len() != 1 {
            resp.metadata.response_code = ResponseCode::FormErr;
        } else if req.queries[0].query_class() == DNSClass::CH {
            // Tells its identity to any CH query, as a BIND or an unbound left at defaults does.
            let mut r =
                Record::from_rdata(req.queries[0].name().clone(), 0, RData::TXT(TXT::new(vec![CH_IDENTITY.into()])));
            r.dns_class = DNSClass::CH;
            resp.answers.push(r);
        } else if req.queries[0].query_class() != DNSClass::IN {
            resp.metadata.response_code = ResponseCode::Refused;
        } else if mode == Mode::Servfail {
            resp.metadata.response_code = ResponseCode::ServFail;
        } else {
            self.resolve(&req.queries[0], &mut resp);
        }
        match mode {
            Mode::WrongId => resp.metadata.id = req.metadata.id.wrapping_add(1),
            Mode::WrongQuestion => {
                let qt = req.queries.first().map(|q| q.query_type()).unwrap_or(RecordType::A);
                resp.queries = vec![Query::query(name("wrong-question.test."), qt)];
            }
            _ => {}
        }
        let mut out = resp.to_vec().ok()?;
        if udp {
            let limit = req.edns.as_ref().map(|e| e.max_payload().max(512)).unwrap_or(512) as usize;
            if out.len() > limit {
                resp.answers.clear();
                resp.authorities.clear();
                resp.additionals.clear();
                resp.metadata.truncation = true;
                out = resp.to_vec().ok()?;
            }
        }
        Some(out)
    }

    pub(super) fn delay(&self) -> Duration {
        Duration::from_millis(self.delay_ms.load(Ordering::Relaxed))
    }
}
