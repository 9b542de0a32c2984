//! The command line's functions, one per subcommand (grouped by family), and what they share:
//! exit codes, opening an input, a tokio runtime, and recognising a closed stdout.

pub mod analyze;
pub mod args;
pub mod capture;
pub mod clients;
pub mod follow;
pub mod link;
pub mod report;
pub mod scenario;
pub mod serve;

use std::fs::File;
use std::io;
use std::path::Path;

use anyhow::{Context, Result};

use wirelab::analysis::{self, AnalysisError, Observer, ObserverError, Summary};
use wirelab::capture::{CaptureReader, ReadError};

/// Exit codes scripts can rely on.
pub mod exit {
    /// Analysis complete.
    pub const OK: u8 = 0;
    /// A scenario expectation failed (or the run was interrupted).
    #[cfg_attr(not(feature = "export"), allow(dead_code))]
    pub const FAILED: u8 = 1;
    /// Bad usage, unreadable input, or a file that is not a capture.
    pub const USAGE: u8 = 2;
    /// The capture is damaged: everything before the damage was analyzed and printed.
    pub const DAMAGED: u8 = 3;
}

/// Whether `e` is, somewhere in its chain, a write to a closed pipe (`wirelab ... | head`):
/// the reader has all it wants, which is not an error.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        let kind = if let Some(e) = c.downcast_ref::<io::Error>() {
            Some(e.kind())
        } else if let Some(e) = c.downcast_ref::<AnalysisError>() {
            e.io().map(io::Error::kind)
        } else if let Some(e) = c.downcast_ref::<ObserverError>() {
            e.io().map(io::Error::kind)
        } else if let Some(e) = c.downcast_ref::<serde_json::Error>() {
            e.io_error_kind()
        } else {
            None
        };
        kind == Some(io::ErrorKind::BrokenPipe)
    })
}

/// Either kind of capture input: a mapped file or standard input.
pub enum Input {
    File(CaptureReader<File>),
    Stdin(CaptureReader<io::Stdin>),
}

/// A capture input, named for messages.
pub struct Opened {
    pub input: Input,
    /// The file's size (None for standard input).
    pub len: Option<u64>,
    pub name: String,
}

/// Opens `path` (`-` is standard input) as a capture.
pub fn open_capture(path: &Path) -> Result<Opened> {
    let stdin = path.as_os_str() == "-";
    let name = if stdin { "<stdin>".to_string() } else { path.display().to_string() };
    let bad = |e: ReadError| match e {
        ReadError::NotACapture(why) => anyhow::anyhow!("{name}: not a capture file ({why})"),
        ReadError::Io(e) => anyhow::anyhow!("{name}: {e}"),
    };
    if stdin {
        let input = Input::Stdin(CaptureReader::new(io::stdin()).map_err(bad)?);
        return Ok(Opened { input, len: None, name });
    }
    let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let len = f.metadata().ok().map(|m| m.len());
    Ok(Opened { input: Input::File(CaptureReader::open_file(f).map_err(bad)?), len, name })
}

/// Runs the analysis pass on either kind of input.
pub fn analyze_input(input: Input, obs: &mut impl Observer, opts: &analysis::Options) -> Result<Summary, AnalysisError> {
    match input {
        Input::File(r) => analysis::analyze_with(r, obs, opts),
        Input::Stdin(r) => analysis::analyze_with(r, obs, opts),
    }
}

/// Warns about a damaged capture; the exit code that says whether it was.
pub fn warn_damage(s: &Summary, name: &str) -> u8 {
    match &s.capture.damage {
        Some(d) => {
            eprintln!(
                "wirelab: warning: {name} is damaged at byte offset {}: {}. Analyzed the {} packets before it.",
                d.offset, d.reason, s.capture.packets
            );
            exit::DAMAGED
        }
        None => exit::OK,
    }
}

/// A tokio runtime: 1 thread = current-thread, 0 = one worker per core.
pub fn runtime(threads: usize) -> Result<tokio::runtime::Runtime> {
    let rt = if threads == 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()?
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        if threads > 1 {
            b.worker_threads(threads);
        }
        b.enable_all().build()?
    };
    Ok(rt)
}
