//! From hickory's per-record proofs to one verdict for the answer, and for a bogus one the
//! Extended DNS Error (RFC 8914) that fits and a line saying why (which RRset, key, time).

use hickory_net::NetError;
use hickory_net::xfer::{DnsHandle, FirstAnswer};
use hickory_proto::dnssec::Proof;
use hickory_proto::dnssec::rdata::{DNSSECRData, RRSIG};
use hickory_proto::op::{DnsRequestOptions, Message, Query};
use hickory_proto::rr::{Name, RData, Record, RecordType};

/// RFC 8914 codes used here.
pub mod ede {
    pub const BOGUS: u16 = 6;
    pub const SIGNATURE_EXPIRED: u16 = 7;
    pub const SIGNATURE_NOT_YET_VALID: u16 = 8;
    pub const DNSKEY_MISSING: u16 = 9;
    pub const RRSIGS_MISSING: u16 = 10;
    pub const NSEC_MISSING: u16 = 12;
}

/// What validation found; kept with the cache entry (as one byte, [`Security::to_byte`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Not validated: validation is off, or the client set CD.
    Unchecked,
    Secure,
    /// Not validated on purpose (a negative trust anchor, the clock) or proven insecure.
    Insecure,
    /// Failed validation: the Extended DNS Error code.
    Bogus(u16),
}

impl Security {
    pub fn to_byte(self) -> u8 {
        match self {
            Security::Unchecked => 0,
            Security::Secure => 1,
            Security::Insecure => 2,
            Security::Bogus(code) => 0x80 | (code as u8 & 0x7F),
        }
    }

    pub fn from_byte(b: u8) -> Self {
        match b {
            1 => Security::Secure,
            2 => Security::Insecure,
            b if b & 0x80 != 0 => Security::Bogus(u16::from(b & 0x7F)),
            _ => Security::Unchecked,
        }
    }

    /// The short text of an EDE code, for a cached bogus answer (the details were logged
    /// when it was validated).
    pub fn ede_text(code: u16) -> &'static str {
        match code {
            ede::SIGNATURE_EXPIRED => "DNSSEC signature expired",
            ede::SIGNATURE_NOT_YET_VALID => "DNSSEC signature not yet valid",
            ede::DNSKEY_MISSING => "DNSKEY missing",
            ede::RRSIGS_MISSING => "RRSIGs missing",
            ede::NSEC_MISSING => "NSEC missing",
            _ => "DNSSEC bogus",
        }
    }
}

/// The verdict on a validated message: secure only when every record of the answer and
/// authority sections is (the additional section is never vouched for, as RFC 4035 §3.2.3).
pub fn verdict(msg: &Message) -> Security {
    let mut all_secure = true;
    let mut any = false;
    for r in msg.answers.iter().chain(&msg.authorities).filter(|r| r.record_type() != RecordType::RRSIG) {
        any = true;
        match r.proof {
            Proof::Bogus => return Security::Bogus(ede::BOGUS),
            Proof::Secure => {}
            _ => all_secure = false,
        }
    }
    if any && all_secure { Security::Secure } else { Security::Insecure }
}

/// Why `msg` (with a bogus verdict, or a failed denial proof) is bogus: the EDE code and a
/// line naming the RRset, the key and the time. `handle` looks the signer's keys up again
/// (a validation cache hit) to tell a missing DNSKEY from a signature that does not verify.
pub async fn explain<H: DnsHandle>(msg: &Message, query: &Query, handle: &H, now: u32) -> (u16, String) {
    let bogus = msg
        .answers
        .iter()
        .chain(&msg.authorities)
        .find(|r| r.record_type() != RecordType::RRSIG && r.proof == Proof::Bogus);
    let Some(bogus) = bogus else {
        let has_denial =
            msg.authorities.iter().any(|r| matches!(r.record_type(), RecordType::NSEC | RecordType::NSEC3));
        return if has_denial {
            (
                ede::BOGUS,
                format!("denial of existence of {} {} not proven by its NSEC/NSEC3", query.name(), query.query_type()),
            )
        } else {
            (
                ede::NSEC_MISSING,
                format!("no NSEC/NSEC3 proves that {} {} does not exist", query.name(), query.query_type()),
            )
        };
    };
    let (name, rtype) = (&bogus.name, bogus.record_type());
    let sigs = rrsigs(msg, name, rtype);
    if sigs.is_empty() {
        return (ede::RRSIGS_MISSING, format!("{name} {rtype} has no RRSIG"));
    }
    let rel = |t: u32| t.wrapping_sub(now) as i32;
    if sigs.iter().all(|s| rel(s.input().sig_expiration.get()) < 0) {
        let s = sigs[0].input();
        let why =
            format!("{name} {rtype}: RRSIG by key {} expired at {} (now {now})", s.key_tag, s.sig_expiration.get());
        return (ede::SIGNATURE_EXPIRED, why);
    }
    if sigs.iter().all(|s| rel(s.input().sig_inception.get()) > 0) {
        let s = sigs[0].input();
        let why =
            format!("{name} {rtype}: RRSIG by key {} valid from {} (now {now})", s.key_tag, s.sig_inception.get());
        return (ede::SIGNATURE_NOT_YET_VALID, why);
    }
    let s = sigs[0].input();
    if !has_secure_key(handle, &s.signer_name, &sigs).await {
        let why = format!("{name} {rtype}: no secure DNSKEY of {} with key tag {}", s.signer_name, s.key_tag);
        return (ede::DNSKEY_MISSING, why);
    }
    (ede::BOGUS, format!("{name} {rtype}: RRSIG by key {} of {} does not verify", s.key_tag, s.signer_name))
}

fn rrsigs<'a>(msg: &'a Message, name: &Name, rtype: RecordType) -> Vec<&'a RRSIG> {
    msg.answers
        .iter()
        .chain(&msg.authorities)
        .filter(|r| &r.name == name)
        .filter_map(|r: &Record| match &r.data {
            RData::DNSSEC(DNSSECRData::RRSIG(sig)) if sig.input().type_covered == rtype => Some(sig),
            _ => None,
        })
        .collect()
}

/// Whether the validated DNSKEY RRset of `signer` holds a secure key with the tag of one
/// of `sigs`.
async fn has_secure_key<H: DnsHandle>(handle: &H, signer: &Name, sigs: &[&RRSIG]) -> bool {
    let q = Query::query(signer.clone(), RecordType::DNSKEY);
    let keys: Result<_, NetError> = handle.lookup(q, DnsRequestOptions::default()).first_answer().await;
    let Ok(keys) = keys else { return false };
    keys.answers.iter().any(|r| match &r.data {
        RData::DNSSEC(DNSSECRData::DNSKEY(k)) if r.proof == Proof::Secure => {
            k.calculate_key_tag().is_ok_and(|tag| sigs.iter().any(|s| s.input().key_tag == tag))
        }
        _ => false,
    })
}
