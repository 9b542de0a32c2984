//! `wirelab report`: one self-contained, offline HTML file (and optional PNGs) from a capture or a scenario run folder.
//!
//! Inputs are only what is stable: the exported tables (`packets`, `connections`, `http`,
//! `ws_frames`, `ws_messages` as Parquet, see README) and, for a run folder, `summary.json`
//! read through [`runinfo::RunInfo`]. From a capture, the analysis runs once with export into the
//! output folder first.

pub mod runinfo;
#[cfg(feature = "export")]
mod build;
#[cfg(feature = "export")]
pub mod stats;

#[cfg(feature = "export")]
pub use build::{build, ReportError, ReportOutput, ReportRequest};
pub use runinfo::{ab_table, lesson, AbTable, RunInfo, StepInfo};
