//! Output: terminal tables, the Wireshark-style packet list, follow-stream formats, charts, the
//! HTML report and CSV/Parquet exports.

#[cfg(feature = "export")]
pub mod export;
pub mod charts;
pub mod follow;
pub mod json;
pub mod packets;
pub mod report;
pub mod summary;
pub mod table;
