//! Output: terminal tables, the Wireshark-style packet list, and follow-stream formats.

pub mod follow;
pub mod packets;
pub mod summary;
pub mod table;
