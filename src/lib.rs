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
//! - [`capture`]: frames in — pcap/pcapng files ([`capture::reader`]), a second reader in
//!   step with the first over a mapped file ([`capture::tandem`]), and live libpcap captures
//!   written to pcapng ([`capture::live`]).
//! - [`decode`]: a frame's bytes → typed link/IP/TCP/UDP views, TCP options parsed once, and
//!   the anomaly kinds (pure, no I/O).
//! - [`tcp`]: segments → connections, Wireshark's per-packet analysis, and reassembled
//!   stream events.
//! - [`proto`]: stream bytes → HTTP/1.x transactions and WebSocket frames and messages.
//! - [`analysis`]: the one pass that drives the layers above over a capture, tells an
//!   [`analysis::Observer`] everything as it happens (an observer may stop or fail the pass),
//!   and ends in a [`analysis::Summary`]. Decoding and the stateful stages are separate, so
//!   when the observer looks at no packet they run on two threads with the same result.
//! - [`render`]: summaries, packet lists, follow output, CSV/Parquet exports, charts
//!   (`render::charts`) and the HTML report (`render::report`), written into any `io::Write`
//!   or file; it knows no command-line flag.
//!
//! Beside that flow, the instruments that make traffic to measure:
//!
//! - [`server`]: the bundled HTTP, WebSocket and danmaku servers.
//! - [`client`]: the bundled clients (page fetch, WebSocket echo, danmaku load).
//! - [`link`]: an emulated link (RTT, rate, loss) between two network namespaces, and the
//!   response-time models of page loads.
//! - [`scenario`]: TOML scenarios run as stages (plan → network → bind → capture → serve →
//!   steps → drain → analyze → check → write): servers, a capture and clients on loopback or
//!   over an emulated link, then the same analysis, the expectations, and the report.
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
