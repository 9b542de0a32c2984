//! Stage 8, analyze: the capture through the same analysis as `wirelab analyze`, its tables
//! exported into the report folder, and each step's share of the wire.

use std::path::Path;

use rustc_hash::FxHashMap;
use serde_json::Value;

use super::interrupt::Interrupt;
use super::plan::StepKind;
use super::results::{StepOutcome, WireCounts};
use super::RunError;
use crate::analysis::{self, Flow, Observed, Observer, PacketApp, Summary};
use crate::capture::reader::Frame;
use crate::capture::CaptureReader;
use crate::decode::Decoded;
use crate::proto::http::Transaction;
use crate::proto::websocket::WsMessage;
use crate::render::export::Exporter;
use crate::render::summary::KeptRows;
use crate::tcp::{Conn, PacketInfo};

/// Rows of the long tables kept for summary.txt (the exported tables hold every row).
pub const ROWS_KEPT: usize = 100_000;

/// What the analysis of a run's capture gives the later stages.
pub struct Analysis {
    pub summary: Summary,
    pub transactions: Vec<Transaction>,
    pub messages: Vec<WsMessage>,
    /// Every connection's row, in stream order.
    pub conversations: Vec<Conn>,
    /// Per connection: HTTP requests, and the time of the last response byte.
    http_by_stream: FxHashMap<u32, (u64, i128)>,
    /// Ctrl-C stopped the analysis before the end of the capture.
    pub interrupted: bool,
}

/// Keeps the rows of the long tables and, per connection, its HTTP requests and the time of its
/// last response byte; stops the pass on a Ctrl-C that arrives during it.
struct RunObserver<'a> {
    rows: KeptRows,
    http_by_stream: FxHashMap<u32, (u64, i128)>,
    conversations: Vec<Conn>,
    interrupt: &'a Interrupt,
    /// Ctrl-C had come already (during the steps): the analysis of what ran goes on.
    already: bool,
}

impl Observer for RunObserver<'_> {
    fn packet(&mut self, _: &Frame<'_>, _: &Decoded<'_>, _: Option<&PacketInfo>, _: PacketApp<'_>) -> Observed {
        Ok(if !self.already && self.interrupt.is_set() { Flow::Stop } else { Flow::Continue })
    }
    fn transaction(&mut self, t: &Transaction) -> Observed {
        let e = self.http_by_stream.entry(t.stream).or_default();
        e.0 += t.method.is_some() as u64;
        e.1 = e.1.max(t.response_last_ns.unwrap_or(0));
        self.rows.transaction(t)
    }
    fn ws_message(&mut self, m: &WsMessage) -> Observed {
        self.rows.ws_message(m)
    }
    fn connection(&mut self, c: &Conn) -> Observed {
        self.conversations.push(c.clone());
        Ok(Flow::Continue)
    }
}

/// Analyzes `pcap`, exporting its tables into `dir`.
pub fn analyze(pcap: &Path, dir: &Path, interrupt: &Interrupt) -> Result<Analysis, RunError> {
    let analysis_err = |message: String| RunError::Analysis { path: pcap.to_path_buf(), message };
    let f = std::fs::File::open(pcap).map_err(|e| analysis_err(e.to_string()))?;
    let reader = CaptureReader::open_file(f).map_err(|e| analysis_err(e.to_string()))?;
    std::fs::create_dir_all(dir).map_err(|source| RunError::Output { path: dir.to_path_buf(), source })?;
    let export = Exporter::new(dir).map_err(|e| analysis_err(e.to_string()))?;
    let run = RunObserver { rows: KeptRows::new(ROWS_KEPT), http_by_stream: FxHashMap::default(), conversations: Vec::new(), interrupt, already: interrupt.is_set() };
    let mut obs = (export, run);
    let summary = analysis::analyze(reader, &mut obs).map_err(|e| analysis_err(e.to_string()))?;
    let (export, run) = obs;
    export.finish(&summary).map_err(|e| analysis_err(e.to_string()))?;
    let interrupted = summary.stopped;
    let KeptRows { transactions, messages, .. } = run.rows;
    let mut conversations = run.conversations;
    conversations.sort_unstable_by_key(|c| c.index);
    Ok(Analysis { summary, transactions, messages, conversations, http_by_stream: run.http_by_stream, interrupted })
}

/// Gives each step the connections that began while it ran.
pub fn attribute(steps: &mut [StepOutcome], a: &Analysis) {
    let first_s = a.summary.capture.first_ts;
    for st in steps {
        let (t0, t1) = st.window;
        st.start_rel = first_s.map(|f| (t0 as f64 / 1e9 - f).max(0.0));
        st.end_rel = first_s.map(|f| (t1 as f64 / 1e9 - f).max(0.0));
        let mut w = WireCounts::default();
        let (mut first_syn, mut last_response) = (None::<i128>, None::<i128>);
        for c in a.conversations.iter().filter(|c| c.first_ns >= t0 && c.first_ns <= t1) {
            w.connections += 1;
            w.handshakes += c.handshake as u64;
            w.syn += c.syn as u64;
            w.fin += c.fin as u64;
            w.rst += c.rst as u64;
            match c.close.map(|x| x.dir) {
                Some(0) => w.closed_by_client += 1,
                Some(_) => w.closed_by_server += 1,
                None => {}
            }
            w.packets += c.packets[0] + c.packets[1];
            w.bytes += c.bytes[0] + c.bytes[1];
            w.payload_bytes += c.payload[0] + c.payload[1];
            if let Some(&(requests, last)) = a.http_by_stream.get(&c.index) {
                w.http_requests += requests;
                if last > 0 {
                    first_syn = Some(first_syn.map_or(c.first_ns, |f| f.min(c.first_ns)));
                    last_response = Some(last_response.map_or(last, |l| l.max(last)));
                }
            }
        }
        if st.kind == StepKind::Fetch {
            w.page_load_ms = first_syn.zip(last_response).map(|(f, l)| (l - f) as f64 / 1e6);
        }
        st.wire = Some(w);
    }
}

/// A classic pcap header and no packets.
const EMPTY_PCAP: [u8; 24] = [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0];

/// The `analyze --json` document of an empty capture: the analysis part of the schema.
pub fn empty_analysis_json() -> Value {
    let reader = CaptureReader::new(&EMPTY_PCAP[..]).expect("a valid empty pcap");
    let s = analysis::analyze(reader, &mut analysis::NoObserver).expect("an empty pcap analyzes");
    serde_json::to_value(analysis::Report::new("", &s)).unwrap_or(Value::Null)
}
