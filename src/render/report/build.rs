//! Builds the report: reads the tables and summary, computes the chart data, renders charts and the minijinja template.

use std::io::Read;
use std::path::{Path, PathBuf};

use polars::prelude::{DataFrame, PolarsError};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::collect::Collector;
use super::input::{ChartInput, ConnSums, CONN_COLS, HTTP_COLS, MSG_COLS, TABLE_ROWS};
use super::runinfo::{ab_table, lesson, AbTable, RunInfo, StepInfo, WireInfo};
use super::stats;
use crate::analysis;
use crate::render::charts::{CdfData, CdfSeries, Chart, ChartError, GroupBars, Panel};

static TEMPLATE: &str = include_str!("report.html.j2");

/// What to build: `input` is a capture file or a run folder.
#[derive(Debug, Clone, Default)]
pub struct ReportRequest {
    pub input: PathBuf,
    /// Another run folder (or capture) shown side by side.
    pub compare: Option<PathBuf>,
    /// Where report.html (and the PNGs) go. Default: the run folder itself, or
    /// `reports/<capture name>-report/` for a capture. (A capture's tables are not written:
    /// `wirelab analyze CAPTURE --export DIR` writes them.)
    pub out: Option<PathBuf>,
    /// Also write every chart as a 1280×720 PNG.
    pub png: bool,
    /// The TCP stream for the flow and time-sequence graphs (default: the first ones / the busiest).
    pub stream: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct ReportOutput {
    pub html: PathBuf,
    pub pngs: Vec<PathBuf>,
    pub lesson: Option<String>,
    pub ab: AbTable,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0}: neither a capture file nor a run folder with exported tables")]
    NotAnInput(PathBuf),
    #[error("analysing {path}: {msg}")]
    Analysis { path: PathBuf, msg: String },
    #[error("reading the {table} table: {source}")]
    Table { table: &'static str, source: PolarsError },
    #[error("{path}: summary.json: {source}")]
    Summary { path: PathBuf, source: serde_json::Error },
    #[error(transparent)]
    Chart(#[from] ChartError),
    #[error("rendering the HTML template: {0}")]
    Template(#[from] minijinja::Error),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
    move |source| ReportError::Io { path: path.to_path_buf(), source }
}

fn tab(table: &'static str) -> impl FnOnce(PolarsError) -> ReportError {
    move |source| ReportError::Table { table, source }
}

/// One analysis pass over a capture that keeps only what the report draws; the capture's
/// SHA-256 (with `hash`) is computed on another thread meanwhile, from the pages the pass
/// maps (a [`Tandem`](crate::capture::Tandem)) when the capture is a mapped file.
fn collect(capture: &Path, stream: Option<u32>, hash: bool) -> Result<(ChartInput, Option<String>), ReportError> {
    let err = |msg: String| ReportError::Analysis { path: capture.to_path_buf(), msg };
    let f = std::fs::File::open(capture).map_err(io(capture))?;
    let mut reader = crate::capture::CaptureReader::open_file(f).map_err(|e| err(e.to_string()))?;
    let tandem = if hash { reader.tandem() } else { None };
    std::thread::scope(|scope| {
        let sha = hash.then(|| {
            scope.spawn(move || match tandem {
                Some(t) => {
                    let mut h = Sha256::new();
                    t.for_each_chunk(|c| h.update(c));
                    Ok(hex(&h.finalize()))
                }
                None => sha256(capture),
            })
        });
        let input = (|| {
            let mut c = Collector::new(stream);
            // Notes: the Info column and the HTTP/WebSocket protocol of a packet come from them.
            let opts = analysis::Options { no_packet_notes: false, ..Default::default() };
            let s = analysis::analyze_with(reader, &mut c, &opts).map_err(|e| err(e.to_string()))?;
            c.finish(&s).map_err(tab("packets"))
        })();
        let sha = match sha.map(|h| h.join()) {
            Some(Ok(r)) => Some(r?),
            Some(Err(p)) => std::panic::resume_unwind(p),
            None => None,
        };
        Ok((input?, sha))
    })
}

/// One run (or analysed capture): what its charts and tables need, its summary and capture file.
struct Run {
    name: String,
    info: RunInfo,
    capture: Option<PathBuf>,
    /// The capture's SHA-256, computed during the pass (for a capture input).
    sha: Option<String>,
    input: ChartInput,
}

fn is_capture_name(p: &Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()), Some("pcap" | "pcapng" | "cap"))
}

fn load(input: &Path, stream: Option<u32>, hash: bool) -> Result<Run, ReportError> {
    let name_of = |input: &Path| input.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "capture".into());
    if input.is_file() {
        let (data, sha) = collect(input, stream, hash)?;
        return Ok(Run { name: name_of(input), info: RunInfo::default(), capture: Some(input.to_path_buf()), sha, input: data });
    }
    if !input.is_dir() {
        return Err(ReportError::NotAnInput(input.to_path_buf()));
    }
    let dir = input.to_path_buf();
    let summary = dir.join("summary.json");
    let mut info: RunInfo = match std::fs::read(&summary) {
        Ok(b) => serde_json::from_slice(&b).map_err(|source| ReportError::Summary { path: summary.clone(), source })?,
        Err(_) => RunInfo::default(),
    };
    info.order_from_scenario(&dir);
    let capture = {
        let named = info.capture.as_ref().map(|c| PathBuf::from(&c.file)).filter(|p| !p.as_os_str().is_empty());
        let named = named.and_then(|p| [p.clone(), dir.join(p.file_name().unwrap_or_default())].into_iter().find(|c| c.is_file()));
        named.or_else(|| std::fs::read_dir(&dir).ok()?.flatten().map(|e| e.path()).find(|p| is_capture_name(p)))
    };
    let packets = stats::read(&dir, "packets", stats::packet_columns()).map_err(tab("packets"))?;
    if packets.is_none() && !dir.join("summary.json").exists() {
        return Err(ReportError::NotAnInput(input.to_path_buf()));
    }
    let conns = stats::read(&dir, "connections", &CONN_COLS).map_err(tab("connections"))?;
    let http = stats::read(&dir, "http", &HTTP_COLS).map_err(tab("http"))?;
    let msgs = stats::read(&dir, "ws_messages", &MSG_COLS).map_err(tab("ws_messages"))?;
    let data = ChartInput::from_tables(packets.as_ref(), conns.as_ref(), http.as_ref(), msgs.as_ref(), stream).map_err(tab("packets"))?;
    let sha = match (&capture, hash) {
        (Some(p), true) => Some(sha256(p)?),
        _ => None,
    };
    let name = if !info.scenario.name.is_empty() { info.scenario.name.clone() } else { name_of(input) };
    Ok(Run { name, info, capture, sha, input: data })
}

/// The file's SHA-256 in hex, read through a memory map (no copy of the page cache).
fn sha256(path: &Path) -> Result<String, ReportError> {
    let f = std::fs::File::open(path).map_err(io(path))?;
    let mut h = Sha256::new();
    let len = f.metadata().map_err(io(path))?.len();
    // SAFETY: the map is read-only and dropped before this returns; a capture that is still
    // being written only grows, and the length hashed is the one read above.
    match (len > 0).then(|| unsafe { memmap2::MmapOptions::new().len(len as usize).map(&f) }) {
        Some(Ok(map)) => {
            let _ = map.advise(memmap2::Advice::Sequential);
            // Hashed 8 MiB at a time, each given back once hashed (as the capture reader does),
            // so the resident set stays flat however big the capture.
            const STEP: usize = 8 << 20;
            for (i, chunk) in map.chunks(STEP).enumerate() {
                h.update(chunk);
                // SAFETY: the range was hashed and is never read again; on a read-only file
                // mapping MADV_DONTNEED only drops the pages from this process.
                let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, i * STEP, chunk.len()) };
            }
        }
        _ => {
            let mut f = f;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = f.read(&mut buf).map_err(io(path))?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
        }
    }
    Ok(hex(&h.finalize()))
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Serialize)]
struct TableView {
    id: String,
    title: String,
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    total: usize,
}

fn table_view(id: &str, title: &str, table: Option<(&DataFrame, usize)>) -> Option<TableView> {
    let (df, total) = table?;
    let head = df.head(Some(TABLE_ROWS));
    let headers: Vec<String> = head.get_column_names().iter().map(|s| s.to_string()).collect();
    let cols = head.columns();
    let rows = (0..head.height())
        .map(|r| {
            cols.iter()
                .map(|c| match c.get(r) {
                    Ok(polars::prelude::AnyValue::Null) | Err(_) => String::new(),
                    Ok(polars::prelude::AnyValue::String(s)) => s.to_string(),
                    Ok(polars::prelude::AnyValue::Float64(v)) => format!("{v:.3}"),
                    Ok(v) => v.to_string(),
                })
                .collect()
        })
        .collect();
    Some(TableView { id: id.into(), title: title.into(), headers, rows, total })
}

#[derive(Serialize)]
struct ChartView {
    name: String,
    title: String,
    svg: String,
}

/// A run's totals as one column of the A/B table (for `--compare`).
fn run_totals(run: &Run) -> StepInfo {
    let steps = run.info.ordered_steps();
    let sum = |f: fn(&StepInfo) -> Option<u64>| steps.iter().filter_map(|(_, s)| f(s)).reduce(|a, b| a + b);
    let mut s = StepInfo {
        total_ms: steps.iter().filter_map(|(_, s)| s.total_ms).reduce(|a, b| a + b),
        connections_opened: sum(|s| s.connections_opened),
        viewer_requests: sum(|s| s.viewer_requests),
        empty_polls: sum(|s| s.empty_polls),
        deliveries: sum(|s| s.deliveries),
        viewer_bytes_sent: sum(|s| s.viewer_bytes_sent),
        viewer_bytes_received: sum(|s| s.viewer_bytes_received),
        latency: steps.iter().find_map(|(_, s)| s.latency.clone()),
        rtt: steps.iter().find_map(|(_, s)| s.rtt.clone()),
        mode: Some(String::new()),
        ..Default::default()
    };
    if let Some(c) = &run.input.conns {
        let c = c.sums;
        s.wire = Some(WireInfo {
            connections: Some(c.count as u64),
            syn: Some(c.syn as u64),
            fin: Some(c.fin as u64),
            rst: Some(c.rst as u64),
            packets: Some(c.packets as u64),
            bytes: Some(c.bytes as u64),
            payload_bytes: Some(c.payload as u64),
            page_load_ms: None,
        });
    }
    s
}

/// Danmaku delivery latency per transport step: every sample if the runner recorded them,
/// otherwise the reported percentiles (drawn dashed, and said so).
fn delivery_cdf(steps: &[(&String, &StepInfo)]) -> Option<CdfData> {
    let mut series = vec![];
    let mut approx = false;
    for (name, s) in steps.iter().filter(|(_, s)| s.kind() == "danmaku-load") {
        let Some(d) = &s.latency else { continue };
        let label = format!("{name}: p50 {:.1} ms, p95 {:.1} ms", d.p50_ms.unwrap_or(0.0), d.p95_ms.unwrap_or(0.0));
        if !d.samples_ms.is_empty() {
            let ca = polars::prelude::Float64Chunked::from_vec("x".into(), d.samples_ms.clone());
            series.push(CdfSeries { label, points: stats::cdf_points(&ca).ok()?, from_percentiles: false });
        } else {
            let pts: Vec<(f64, f64)> = [(d.min_ms, 0.0), (d.p50_ms, 0.5), (d.p95_ms, 0.95), (d.p99_ms, 0.99), (d.max_ms, 1.0)].iter().filter_map(|(v, q)| v.map(|v| (v, *q))).collect();
            if pts.is_empty() {
                continue;
            }
            approx = true;
            series.push(CdfSeries { label, points: pts, from_percentiles: true });
        }
    }
    if series.is_empty() {
        return None;
    }
    Some(CdfData {
        name: "danmaku-latency-cdf".into(),
        title: "Danmaku delivery latency: push arrives at once, polling waits for the next poll".into(),
        note: if approx { "dashed: drawn from the step's min/p50/p95/p99/max (summary.json has no per-sample latencies)".into() } else { "every delivered comment".into() },
        x_desc: "send → delivery to a viewer (ms)".into(),
        series,
    })
}

fn polling_vs_push(steps: &[(&String, &StepInfo)]) -> Option<GroupBars> {
    let d: Vec<_> = steps.iter().filter(|(_, s)| s.kind() == "danmaku-load").collect();
    if d.is_empty() {
        return None;
    }
    let groups: Vec<String> = d
        .iter()
        .map(|(n, s)| match s.transport_name() {
            Some(t) if t != **n && !t.starts_with(&format!("{n} ")) => format!("{n} ({t})"),
            Some(t) => t,
            None => n.to_string(),
        })
        .collect();
    let v = |f: fn(&StepInfo) -> Option<f64>| d.iter().map(|(_, s)| f(s).unwrap_or(0.0)).collect::<Vec<f64>>();
    let reqs = v(|s| s.viewer_requests.map(|x| x as f64));
    let title = match (reqs.first(), reqs.last()) {
        (Some(a), Some(b)) if d.len() >= 2 => format!("Polling against push: {a:.0} viewer requests against {b:.0} for the same comments"),
        _ => "Viewer requests, empty polls and bytes per delivered comment".into(),
    };
    Some(GroupBars {
        name: "polling-vs-push".into(),
        title,
        note: "requests and bytes are the viewers' (client side); a poll that returned no comment is empty".into(),
        groups,
        panels: vec![
            Panel { title: "Viewer requests".into(), y_desc: "requests".into(), series: vec![("all".into(), reqs), ("empty polls".into(), v(|s| s.empty_polls.map(|x| x as f64)))], stacked: false },
            Panel { title: "Bytes per delivered comment".into(), y_desc: "bytes".into(), series: vec![("bytes".into(), v(StepInfo::bytes_per_delivery))], stacked: false },
        ],
    })
}

/// Handshakes and bytes per step from the runner's per-step `wire` counts (used when the steps'
/// time windows are not in summary.json, so the connections table cannot be split by step).
fn overhead_from_steps(steps: &[&(&String, &StepInfo)]) -> GroupBars {
    let w = |f: fn(&WireInfo) -> Option<u64>| steps.iter().map(|(_, s)| s.wire.as_ref().and_then(f).unwrap_or(0) as f64).collect::<Vec<f64>>();
    let names: Vec<String> = steps.iter().map(|(n, _)| n.to_string()).collect();
    let (syn, bytes) = (w(|w| w.syn), w(|w| w.bytes));
    let has_payload = steps.iter().all(|(_, s)| s.wire.as_ref().is_some_and(|w| w.payload_bytes.is_some()));
    let mut panels = vec![Panel { title: "Connection set-up and tear-down".into(), y_desc: "packets".into(), series: vec![("SYN".into(), syn.clone()), ("FIN".into(), w(|w| w.fin)), ("RST".into(), w(|w| w.rst))], stacked: false }];
    if has_payload {
        let pay = w(|w| w.payload_bytes);
        let head: Vec<f64> = bytes.iter().zip(&pay).map(|(b, p)| b - p).collect();
        panels.push(Panel { title: "Bytes on the wire".into(), y_desc: "bytes".into(), series: vec![("headers".into(), head), ("payload".into(), pay)], stacked: true });
    } else {
        panels.push(Panel { title: "Packets".into(), y_desc: "packets".into(), series: vec![("packets".into(), w(|w| w.packets))], stacked: false });
        panels.push(Panel { title: "Bytes on the wire".into(), y_desc: "bytes".into(), series: vec![("bytes".into(), bytes)], stacked: false });
    }
    let hs = |n: f64| if n == 1.0 { "1 handshake".to_string() } else { format!("{n} handshakes") };
    let last = steps.len() - 1;
    GroupBars {
        name: "handshakes-overhead".into(),
        title: format!("{}: {}; {}: {}", names[0], hs(syn[0]), names[last], hs(syn[last])),
        note: "per step, from the connections that began in the step's time window".into(),
        groups: names,
        panels,
    }
}

/// Builds `report.html` (and PNGs with `png`) for a capture or a run folder.
pub fn build(req: ReportRequest) -> Result<ReportOutput, ReportError> {
    for p in std::iter::once(&req.input).chain(req.compare.as_ref()) {
        if !p.exists() {
            return Err(ReportError::NotAnInput(p.clone()));
        }
    }
    let out = match &req.out {
        Some(o) => o.clone(),
        None if req.input.is_dir() => req.input.clone(),
        None => PathBuf::from("reports").join(format!("{}-report", req.input.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "capture".into()))),
    };
    std::fs::create_dir_all(&out).map_err(io(&out))?;
    let run = load(&req.input, req.stream, true)?;
    let other = match &req.compare {
        Some(c) => Some(load(c, None, false)?),
        None => None,
    };

    // Column names for --compare: the scenario names, or the folder names when they are equal.
    let cmp_names = other.as_ref().map(|o| {
        let folder = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if o.name == run.name {
            (folder(&req.input), folder(req.compare.as_deref().unwrap_or(Path::new(""))))
        } else {
            (run.name.clone(), o.name.clone())
        }
    });
    // Steps, the lesson and the A/B table.
    let steps = run.info.ordered_steps();
    let (lesson_text, ab) = match &other {
        Some(o) => {
            let (a, b) = (run_totals(&run), run_totals(o));
            let (na, nb) = cmp_names.clone().unwrap_or_default();
            let cols = [(na.as_str(), &a), (nb.as_str(), &b)];
            (lesson(&cols), ab_table(&cols))
        }
        None => {
            let cols: Vec<(&str, &StepInfo)> = steps.iter().map(|(n, s)| (n.as_str(), *s)).collect();
            let d = &run.input;
            let text = run.info.lesson.clone().or_else(|| lesson(&cols)).or_else(|| stats::capture_lesson(d.packets, d.conns.as_ref(), d.http.as_ref(), d.msgs.as_ref()));
            (text, ab_table(&cols))
        }
    };

    // Charts.
    let d = &run.input;
    let mut charts: Vec<Chart> = vec![];
    if let Some(f) = &d.flow {
        if let Some(f) = stats::flow(f).map_err(tab("packets"))? {
            charts.push(Chart::Flow(f));
        }
    }
    if let Some(c) = &d.conns {
        if let Some(t) = stats::timeline(c, d.http.as_ref()).map_err(tab("connections"))? {
            charts.push(Chart::Timeline(t));
        }
        if let Some(h) = &d.http {
            if let Some(w) = stats::waterfall(h).map_err(tab("http"))? {
                charts.push(Chart::Waterfall(w));
            }
        }
    }
    if let Some(io) = &d.io {
        if let Some(io) = stats::io_graph(io).map_err(tab("packets"))? {
            charts.push(Chart::Io(io));
        }
    }
    if let Some(t) = &d.tseq {
        if let Some(t) = stats::tseq(t).map_err(tab("packets"))? {
            charts.push(Chart::Tseq(t));
        }
    }
    let mut groups: Vec<(String, ConnSums)> = vec![];
    if let Some(c) = &d.conns {
        let windowed: Vec<_> = steps.iter().filter_map(|(n, s)| Some((n.to_string(), s.start_rel?, s.end_rel?))).collect();
        if let (Some(o), Some((na, nb))) = (&other, &cmp_names) {
            groups.push((na.clone(), c.sums));
            if let Some(oc) = &o.input.conns {
                groups.push((nb.clone(), oc.sums));
            }
        } else if let (true, Some(full)) = (windowed.len() >= 2, &c.full) {
            for (n, a, b) in windowed {
                let part = stats::between(full, "start_rel", a, b).map_err(tab("connections"))?;
                groups.push((n, ConnSums::from_table(&part).map_err(tab("connections"))?));
            }
        } else {
            groups.push((run.name.clone(), c.sums));
        }
    }
    let with_wire: Vec<_> = steps.iter().filter(|(_, s)| s.wire.is_some()).collect();
    if other.is_none() && groups.len() < 2 && with_wire.len() >= 2 {
        charts.push(Chart::Bars(overhead_from_steps(&with_wire)));
    } else if let Some(b) = stats::overhead(&groups).map_err(tab("connections"))? {
        charts.push(Chart::Bars(b));
    }
    let mut echo_runs = vec![];
    let (na, nb) = cmp_names.clone().unwrap_or_else(|| (run.name.clone(), String::new()));
    if let Some(m) = &d.msgs {
        echo_runs.push((na, m));
    }
    if let Some(m) = other.as_ref().and_then(|o| o.input.msgs.as_ref()) {
        echo_runs.push((nb, m));
    }
    if let Some(c) = stats::echo_cdf(&echo_runs).map_err(tab("ws_messages"))? {
        charts.push(Chart::Cdf(c));
    }
    if let Some(c) = delivery_cdf(&steps) {
        charts.push(Chart::Cdf(c));
    }
    if let Some(b) = polling_vs_push(&steps) {
        charts.push(Chart::Bars(b));
    }

    let mut views = vec![];
    let mut pngs = vec![];
    for c in &charts {
        views.push(ChartView { name: c.name().to_string(), title: c.title().to_string(), svg: c.svg()? });
        if req.png {
            let p = out.join(format!("{}.png", c.name()));
            c.png(&p)?;
            pngs.push(p);
        }
    }

    // Capture metadata.
    let drops = run.info.drops.or(run.info.capture.as_ref().map(|c| c.stats.kernel_dropped + c.stats.interface_dropped));
    let tables: Vec<TableView> = [
        table_view("connections", "TCP connections", d.conns.as_ref().map(|c| (&c.head, c.total))),
        table_view("http", "HTTP transactions", d.http.as_ref().map(|h| (&h.head, h.total))),
        table_view("ws", "WebSocket messages", d.msgs.as_ref().map(|m| (&m.head, m.total))),
    ]
    .into_iter()
    .flatten()
    .filter(|t| t.total > 0)
    .collect();

    let mut env = minijinja::Environment::new();
    env.add_template("report.html", TEMPLATE)?;
    let html = env.get_template("report.html")?.render(minijinja::context! {
        title => run.name,
        scenario => run.info.scenario,
        ok => run.info.ok,
        interrupted => run.info.interrupted,
        expectations => run.info.expectations,
        compare => other.as_ref().map(|o| o.name.clone()),
        capture_file => run.capture.as_ref().map(|p| p.display().to_string()),
        capture_sha => run.sha,
        packets => d.packets.map(crate::render::summary::thousands),
        drops => drops,
        version => env!("CARGO_PKG_VERSION"),
        lesson => lesson_text,
        ab => ab,
        charts => views,
        tables => tables,
        table_rows => TABLE_ROWS,
        tables_beside => req.input.is_dir(),
    })?;
    let html_path = out.join("report.html");
    std::fs::write(&html_path, html).map_err(io(&html_path))?;
    Ok(ReportOutput { html: html_path, pngs, lesson: lesson_text, ab })
}
