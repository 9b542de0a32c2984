//! Capture files: reading pcap and pcapng streams (live capture joins here later).

pub mod reader;

pub use reader::{CaptureReader, Damage, Format, Frame, ReadError};
