//! `wirelab report`: one self-contained, offline HTML file (and optional PNGs) from a capture or a scenario run folder.
//!
//! Inputs are only what is stable: for a run folder, the exported tables (`packets`,
//! `connections`, `http`, `ws_messages` as Parquet, see README) and `summary.json` read through
//! [`runinfo::RunInfo`]; for a capture, one analysis pass whose observer keeps only what the
//! report draws. Both become one reduced [`input::ChartInput`] that the chart code reads.

pub mod runinfo;
#[cfg(feature = "export")]
mod build;
#[cfg(feature = "export")]
mod collect;
#[cfg(feature = "export")]
pub mod input;
#[cfg(feature = "export")]
pub mod stats;

#[cfg(feature = "export")]
pub use build::{build, ReportError, ReportOutput, ReportRequest};
pub use runinfo::{ab_table, lesson, AbTable, RunInfo, StepInfo};
