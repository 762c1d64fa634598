//! Shared helpers of the integration tests.
#![allow(dead_code)]

pub mod browser;
pub mod child;
pub mod client;
pub mod daemon;
pub mod dhcp;
pub mod edits;
pub mod http;
pub mod upstream;
pub mod wait;
