//! TCP: connection tracking numbered like Wireshark's `tcp.stream`, per-packet analysis flags,
//! and per-direction stream reassembly.

pub mod reassembly;
pub mod tracker;

pub use reassembly::{Delivery, HalfStream};
pub use tracker::{Close, CloseHow, Conn, PacketInfo, StreamEvent, Tracker};
