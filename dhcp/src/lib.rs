//! ravens-dhcp: the DHCPv4 server core.
//!
//! Data flows socket → decode (dhcproto) → subnet selection → lease state machine (no I/O,
//! takes `now`) → lease journal (fsync before ACK) → reply routing. Not yet built: this crate
//! currently holds only its documentation (see issue "DHCP for every VLAN").
