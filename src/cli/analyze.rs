//! `wirelab analyze`: one pass over a capture with the observers the flags ask for (export,
//! packet list, rows for the tables, progress bar), then the summary or the JSON document.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use wirelab::analysis::{self, Detail, Observed, Observer, Summary, CONTINUE};
use wirelab::render::packets::PacketList;
use wirelab::render::summary::{self, KeptRows, Limit};

use super::args::AnalyzeArgs;
use super::{analyze_input, open_capture, warn_damage};

/// Rows shown per table without `--all`.
const ROWS: usize = 50;

pub fn analyze(a: AnalyzeArgs) -> Result<u8> {
    let opened = open_capture(&a.file)?;
    let name = opened.name;
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let limit = (!a.all).then_some(Limit { rows: ROWS, more_hint: "use --all to show every row" });
    let mut obs = (
        exporter(a.export.as_deref())?,
        a.packets.then(|| PacketList::new(&mut out)).transpose()?,
        (!a.json).then(|| KeptRows::new(limit.map_or(usize::MAX, |l| l.rows))),
        Progress::new(opened.len, a.quiet),
    );
    // The terminal shows the first rows, or every row with --all; --json keeps the first
    // CONVERSATION_ROWS (the export gets every row as it becomes final).
    let conversation_rows = match (a.json, a.all) {
        (false, true) => Some(usize::MAX),
        (false, false) => Some(ROWS),
        (true, _) => None,
    };
    // Under --json (without --export or --packets) nobody reads a transaction's strings.
    let lean_transactions = a.json && a.export.is_none() && !a.packets;
    let threads = a.threads.map_or(0, usize::from);
    let opts = analysis::Options { no_packet_notes: !a.packets && a.export.is_none(), conversation_rows, lean_transactions, threads, ..Default::default() };
    let s = analyze_input(opened.input, &mut obs, &opts).with_context(|| format!("reading {name}"))?;
    let (export, _, kept, progress) = obs;
    finish_export(export, &s, a.export.as_deref())?;
    drop(progress);
    if a.json {
        serde_json::to_writer_pretty(&mut out, &analysis::Report::new(&name, &s))?;
        writeln!(out)?;
    } else {
        if a.packets {
            writeln!(out)?;
        }
        summary::render(&mut out, &name, &s, &kept.unwrap_or_default().rows(), limit)?;
    }
    out.flush()?;
    Ok(warn_damage(&s, &name))
}

/// The progress bar, for files over 32 MiB when not `--quiet`; cleared when dropped.
struct Progress(Option<ProgressBar>);

impl Progress {
    fn new(len: Option<u64>, quiet: bool) -> Self {
        let bar = len.filter(|&l| l > 32 << 20 && !quiet).and_then(|len| {
            let pb = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template("{spinner} analyzing {bar:30} {bytes}/{total_bytes} {msg} ({eta})").ok()?;
            pb.set_style(style.progress_chars("█▉ "));
            Some(pb)
        });
        Progress(bar)
    }
}

impl Observer for Progress {
    fn progress(&mut self, position: u64, packets: u64) -> Observed {
        if let Some(pb) = &self.0 {
            pb.set_position(position);
            pb.set_message(format!("{} packets", summary::thousands(packets)));
        }
        CONTINUE
    }
    fn wants_packets(&self) -> bool {
        false
    }
    fn detail(&mut self, _: u32) -> Detail {
        Detail::LEAST
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(pb) = &self.0 {
            pb.finish_and_clear();
        }
    }
}

#[cfg(feature = "export")]
fn exporter(dir: Option<&Path>) -> Result<Option<wirelab::render::export::Exporter>> {
    Ok(dir.map(wirelab::render::export::Exporter::new).transpose()?)
}

#[cfg(feature = "export")]
fn finish_export(x: Option<wirelab::render::export::Exporter>, s: &Summary, dir: Option<&Path>) -> Result<()> {
    if let (Some(x), Some(dir)) = (x, dir) {
        let n = x.finish(s)?;
        eprintln!(
            "wirelab: exported {} packets, {} connections, {} HTTP transactions, {} WebSocket frames and {} messages to {} (CSV and Parquet)",
            n.packets,
            n.connections,
            n.http,
            n.ws_frames,
            n.ws_messages,
            dir.display()
        );
    }
    Ok(())
}

/// Without the `export` feature, `--export` explains itself instead.
#[cfg(not(feature = "export"))]
fn exporter(dir: Option<&Path>) -> Result<Option<analysis::NoObserver>> {
    if dir.is_some() {
        anyhow::bail!("this wirelab was built without the `export` feature; rebuild with default features for --export");
    }
    Ok(None)
}

#[cfg(not(feature = "export"))]
fn finish_export(_: Option<analysis::NoObserver>, _: &Summary, _: Option<&Path>) -> Result<()> {
    Ok(())
}
