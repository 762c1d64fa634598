//! ravens-sync: gossip between the nodes of a ravens cluster.
//!
//! Each node publishes its leases and site-config records over chitchat with a sealed
//! (XChaCha20-Poly1305) transport; readers merge every node's entries by (HLC, node id).
//! Not yet built: this crate currently holds only its documentation (see issue "The redundant pair").
