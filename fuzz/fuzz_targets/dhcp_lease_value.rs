//! Replicated lease values on arbitrary bytes: never panics; a decoded value re-encodes and
//! decodes to itself, and the lax expiry reader of the lease rule agrees with it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ravens_dhcp::failover::{LeaseValue, lease_expiry_ms};

fuzz_target!(|data: &[u8]| {
    let expiry = lease_expiry_ms(data);
    let newer = LeaseValue::is_newer(data);
    let Some(v) = LeaseValue::decode(data) else { return };
    assert!(!newer, "a newer format is never decoded");
    assert_eq!(expiry, Some(v.expires_ms));
    let bytes = v.encode();
    assert_eq!(LeaseValue::decode(&bytes).as_ref(), Some(&v));
    assert_eq!(lease_expiry_ms(&bytes), Some(v.expires_ms));
});
