//! Output: terminal tables, the Wireshark-style packet list, follow-stream formats, and
//! CSV/Parquet exports.

#[cfg(feature = "export")]
pub mod export;
pub mod follow;
pub mod json;
pub mod packets;
pub mod summary;
pub mod table;
