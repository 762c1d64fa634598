//! Listeners: UDP on dedicated threads (one SO_REUSEPORT socket each, cache hits answered
//! inline with blocking syscalls, the cheapest path the kernel offers) and TCP on tokio.

pub mod limit;
pub mod tcp;
pub mod udp;
