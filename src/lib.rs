//! wirelab: a packet-level measurement toolkit — capture, TCP reassembly and protocol analysis.
//!
//! Data flows one way: capture file → [`capture::reader`] → [`decode`] → [`tcp`] reassembly →
//! [`analysis`] → [`render`] (terminal tables, JSON, follow output).

pub mod analysis;
pub mod capture;
pub mod client;
pub mod decode;
pub mod link;
pub mod proto;
pub mod render;
#[cfg(feature = "export")]
pub mod scenario;
pub mod server;
pub mod tcp;
