//! wirelab: a packet-level measurement toolkit — capture, TCP reassembly and protocol analysis.
//!
//! # Layout
//!
//! Data flows one way, and no module knows its consumer:
//!
//! ```text
//! capture → decode → tcp → proto → analysis → render
//! ```
//!
//! - [`capture`]: frames in — pcap/pcapng files ([`capture::reader`]) and live libpcap
//!   captures written to pcapng ([`capture::live`]).
//! - [`decode`]: a frame's bytes → typed link/IP/TCP/UDP views, TCP options parsed once, and
//!   the anomaly kinds (pure, no I/O).
//! - [`tcp`]: segments → connections, Wireshark's per-packet analysis, and reassembled
//!   stream events.
//! - [`proto`]: stream bytes → HTTP/1.x transactions and WebSocket frames and messages.
//! - [`analysis`]: the one pass that drives the layers above over a capture, tells an
//!   [`analysis::Observer`] everything as it happens (an observer may stop or fail the pass),
//!   and ends in a [`analysis::Summary`].
//! - [`render`]: summaries, packet lists, follow output and CSV/Parquet exports, written into
//!   any `io::Write`; it knows no command-line flag.
//!
//! Beside that flow, the instruments that make traffic to measure:
//!
//! - [`server`]: the bundled HTTP, WebSocket and danmaku servers.
//! - [`client`]: the bundled clients (page fetch, WebSocket echo, danmaku load).
//! - [`scenario`]: TOML scenarios that start servers, a capture and clients, then run the
//!   analysis and check expectations.
//! - `link` (to come): emulated links between a scenario's clients and servers.
//!
//! The `wirelab` binary (`src/main.rs`, `src/cli/`) parses the command line and dispatches;
//! anyhow is used only there.

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
