//! Captures: reading pcap and pcapng files, and live capture with libpcap into pcapng.

pub mod live;
pub mod reader;

pub use reader::{CaptureReader, Damage, Format, Frame, Mapped, ReadError};
