//! Captures: reading pcap and pcapng files, and live capture with libpcap into pcapng.

pub mod live;
pub mod reader;
pub mod tandem;

pub use reader::{CaptureReader, Damage, Format, Frame, Mapped, ReadError};
pub use tandem::Tandem;
