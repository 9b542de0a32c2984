//! The analysis pass: one streaming walk over a capture, from frames to a [`Summary`].
//!
//! This is the single entry point used by `wirelab analyze`, `wirelab follow` and (later) the
//! scenario runner. Observers see every packet and every reassembled stream event as they
//! happen, so callers can print packet lists or follow a stream without a second pass.

use std::collections::BTreeMap;
use std::io::Read;

use serde::Serialize;

pub mod app;
mod front;
pub mod observer;
mod pass;
mod pipeline;

use crate::capture::reader::{CaptureReader, Damage, Format, ReadError};
use crate::decode::fragment::Reassembler;
use crate::decode::AnomalyKind;
use crate::tcp::{Conn, PacketInfo};
use front::{Facts, FrameMeta, Held};
use pass::{Back, Gate};
pub use app::{AppNote, Detail, Dist, HttpSummary, TunnelCount, WsSummary};
pub use observer::{Flow, NoObserver, Observed, Observer, ObserverError, CONTINUE};

/// What the application layer made of one packet.
#[derive(Debug, Clone, Copy)]
pub struct PacketApp<'a> {
    /// Messages and frames that this packet completed.
    pub notes: &'a [AppNote],
    /// The packet carried part of a message that is not complete yet.
    pub partial: bool,
}

/// One frame as the counts saw it: what per-packet charts and tables need, told through
/// [`Observer::seen`] by the single-threaded and the two-thread pass alike.
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    /// 1-based frame number.
    pub number: u64,
    pub ts_ns: i128,
    /// Length on the wire.
    pub orig_len: u32,
    /// Protocol family, as counted in `capture.protocols` (`tcp`, `udp`, `icmp`, `arp`, …).
    pub family: &'static str,
    /// The innermost protocol decoded.
    pub carried: crate::decode::Carried,
    pub tcp: Option<SeenTcp<'a>>,
    /// What the application layer made of it (notes only when [`Options::no_packet_notes`] is off).
    pub app: PacketApp<'a>,
}

/// A TCP segment's part of [`Seen`].
#[derive(Debug, Clone, Copy)]
pub struct SeenTcp<'a> {
    pub src: std::net::SocketAddr,
    pub dst: std::net::SocketAddr,
    /// The segment (ports, numbers, flags, options, length, payload).
    pub seg: crate::decode::TcpSeg<'a>,
    /// The tracker's reading: stream, relative numbers, analysis flags.
    pub info: PacketInfo,
}

#[derive(Debug, Clone, Serialize)]
pub struct LinkTypeCount {
    pub link_type: u32,
    pub name: String,
    pub packets: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaptureSummary {
    pub format: Format,
    pub packets: u64,
    /// Sum of frame lengths on the wire.
    pub bytes: u64,
    /// Sum of bytes actually captured.
    pub captured_bytes: u64,
    /// Epoch seconds of the first and last frame (null for an empty capture).
    pub first_ts: Option<f64>,
    pub last_ts: Option<f64>,
    pub duration_s: f64,
    pub link_types: Vec<LinkTypeCount>,
    pub comments: Vec<String>,
    /// Frames per protocol family: tcp, udp, icmp, arp, other_ip, non_ip, undecodable.
    pub protocols: BTreeMap<&'static str, u64>,
    /// Set when the file is damaged: everything before `offset` was analyzed.
    pub damage: Option<Damage>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TcpSummary {
    /// Distinct connections (Wireshark's `tcp.stream` values).
    pub connections: u64,
    pub packets: u64,
    pub payload_bytes: u64,
    /// Packets with SYN set and ACK clear.
    pub syn: u64,
    /// Packets with SYN and ACK set.
    pub syn_ack: u64,
    pub fin: u64,
    pub rst: u64,
    /// Completed three-way handshakes.
    pub handshakes: u64,
    pub retransmissions: u64,
    pub out_of_order: u64,
    pub dup_acks: u64,
    pub zero_windows: u64,
    pub lost_segments: u64,
    pub missing_bytes: u64,
}

/// A decode anomaly, aggregated by kind.
#[derive(Debug, Clone, Serialize)]
pub struct Anomaly {
    pub kind: AnomalyKind,
    pub count: u64,
    /// First frame where it happened (0 when not tied to a frame).
    pub first_frame: u64,
    /// File offset of that frame's record.
    pub first_offset: u64,
    pub detail: String,
}

/// Version of the `--json` schema; bumped only on incompatible changes. 2: `conversations`
/// holds the first [`CONVERSATION_ROWS`] connections (`conversations_omitted` counts the rest).
pub const JSON_SCHEMA: u32 = 2;

/// Rows of the conversations table a [`Summary`] keeps by default: the connections numbered
/// below it. Every row goes to [`Observer::connection`] as it becomes final.
pub const CONVERSATION_ROWS: usize = 10_000;

#[derive(Debug, Clone, Serialize)]
pub struct ToolInfo {
    pub version: &'static str,
    pub schema: u32,
}

/// The `--json` document: the summary plus where it came from, in a stable field order.
#[derive(Debug, Clone, Serialize)]
pub struct Report<'a> {
    pub wirelab: ToolInfo,
    pub file: &'a str,
    #[serde(flatten)]
    pub summary: &'a Summary,
}

impl<'a> Report<'a> {
    pub fn new(file: &'a str, summary: &'a Summary) -> Self {
        Report { wirelab: ToolInfo { version: env!("CARGO_PKG_VERSION"), schema: JSON_SCHEMA }, file, summary }
    }
}

/// Everything `analyze` knows at the end of a capture.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub capture: CaptureSummary,
    pub tcp: TcpSummary,
    pub http: HttpSummary,
    pub websocket: WsSummary,
    pub anomalies: Vec<Anomaly>,
    /// The first connections' rows, in stream order ([`Options::conversation_rows`]).
    pub conversations: Vec<Conn>,
    /// Connections whose rows are not in `conversations`.
    pub conversations_omitted: u64,
    /// An observer stopped the pass ([`Flow::Stop`]): the counts cover only the packets read
    /// before that, and connections still open were not flushed. Not part of the JSON.
    #[serde(skip)]
    pub stopped: bool,
}

/// Why a pass could not finish.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Observer(#[from] ObserverError),
}

impl AnalysisError {
    /// The I/O error behind this one, if it is one.
    pub fn io(&self) -> Option<&std::io::Error> {
        match self {
            AnalysisError::Read(ReadError::Io(e)) => Some(e),
            AnalysisError::Read(ReadError::NotACapture(_)) => None,
            AnalysisError::Observer(e) => e.io(),
        }
    }
}

/// Choices that change what the analysis keeps (never what it counts).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Keep the header text and body starts of this stream's HTTP messages.
    pub keep_http_text: Option<u32>,
    /// Skip the per-packet application notes ([`PacketApp::notes`] stays empty); they are
    /// needed only for a packet list.
    pub no_packet_notes: bool,
    /// Transactions handed to the observer carry only what the counts need: method, status,
    /// sizes, times, framing headers (no target, version, reason or other header strings).
    pub lean_transactions: bool,
    /// Keep the rows of the connections numbered below this in [`Summary::conversations`]
    /// (default [`CONVERSATION_ROWS`]); every row goes to [`Observer::connection`] anyway.
    pub conversation_rows: Option<usize>,
    /// Threads for the pass: 1, or 2 to decode on a second thread when the observer looks at
    /// no packet; 0 (the default) picks 2 on a machine with two cores or more.
    pub threads: usize,
}

impl Options {
    fn threads(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get().min(2)),
            n => n,
        }
    }
}

/// Analyzes a whole capture, telling `obs` about every packet and stream event.
pub fn analyze<R: Read + Send>(reader: CaptureReader<R>, obs: &mut impl Observer) -> Result<Summary, AnalysisError> {
    analyze_with(reader, obs, &Options::default())
}

/// [`analyze`] with options.
///
/// The pass ends early when the observer says [`Flow::Stop`] (the summary then covers what
/// was read and has `stopped` set) or fails (the error is returned); either way no observer
/// method is called again and no more input is read.
///
/// When the observer looks at no packet ([`Observer::wants_packets`]) and [`Options::threads`]
/// allows it, one thread reads and decodes while this one tracks TCP and parses HTTP and
/// WebSocket ([`pipeline`]); the summary and everything the observer hears are the same.
pub fn analyze_with<R: Read + Send, O: Observer + ?Sized>(reader: CaptureReader<R>, obs: &mut O, opts: &Options) -> Result<Summary, AnalysisError> {
    if opts.threads() >= 2 && !obs.wants_packets() {
        return pipeline::analyze(reader, obs, opts);
    }
    single(reader, obs, opts)
}

/// The pass on one thread: each frame is decoded, applied, then shown to the observer.
fn single<R: Read, O: Observer + ?Sized>(mut reader: CaptureReader<R>, obs: &mut O, opts: &Options) -> Result<Summary, AnalysisError> {
    let mut back = Back::new(opts);
    let (mut frags, mut held) = (Reassembler::default(), Held::default());
    let mut gate = Gate::new(obs);
    while let Some(frame) = reader.next_frame()? {
        let decoded = front::decode(&mut frags, &mut held, &frame);
        let a = back.apply(&Facts::of(&decoded, FrameMeta::of(&frame)), frags.anomalies.drain(..), &mut gate);
        gate.tell(|o| o.packet(&frame, &decoded, a.info.as_ref(), a.app()));
        back.frame_done(reader.position(), &mut gate);
        if gate.is_halted() {
            break;
        }
    }
    Ok(back.end(frags, &reader, &mut gate)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::reader::Frame;
    use crate::decode::Decoded;
    use crate::proto::http::Transaction;
    use crate::tcp::PacketInfo;

    fn fixture(name: &str) -> CaptureReader<std::fs::File> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
        CaptureReader::new(std::fs::File::open(path).unwrap()).unwrap()
    }

    /// Stops after `stop_at` packets, or fails there.
    struct Until {
        stop_at: u64,
        fail: bool,
        packets: u64,
        after_stop: u64,
    }
    impl Observer for Until {
        fn packet(&mut self, _: &Frame<'_>, _: &Decoded<'_>, _: Option<&PacketInfo>, _: PacketApp<'_>) -> Observed {
            self.packets += 1;
            if self.packets > self.stop_at {
                self.after_stop += 1;
            }
            if self.packets < self.stop_at {
                CONTINUE
            } else if self.fail {
                Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe).into())
            } else {
                Ok(Flow::Stop)
            }
        }
        fn transaction(&mut self, _: &Transaction) -> Observed {
            if self.packets >= self.stop_at {
                self.after_stop += 1;
            }
            CONTINUE
        }
    }

    #[test]
    fn a_stop_ends_the_pass_with_a_partial_summary() {
        let whole = analyze(fixture("http-curl-nginx.pcap"), &mut NoObserver).unwrap();
        assert!(!whole.stopped && whole.capture.packets > 10);
        let mut o = Until { stop_at: 5, fail: false, packets: 0, after_stop: 0 };
        let s = analyze(fixture("http-curl-nginx.pcap"), &mut o).unwrap();
        assert!(s.stopped);
        assert_eq!((s.capture.packets, o.packets, o.after_stop), (5, 5, 0));
    }

    #[test]
    fn an_observer_error_ends_the_pass_and_is_returned() {
        let mut o = Until { stop_at: 3, fail: true, packets: 0, after_stop: 0 };
        let e = analyze(fixture("http-curl-nginx.pcap"), &mut o).unwrap_err();
        assert_eq!(e.io().map(|e| e.kind()), Some(std::io::ErrorKind::BrokenPipe));
        assert_eq!((o.packets, o.after_stop), (3, 0));
    }

    #[test]
    fn a_tuple_tells_every_member_and_stops_when_one_stops() {
        let mut a = Until { stop_at: 4, fail: false, packets: 0, after_stop: 0 };
        let mut b = Until { stop_at: u64::MAX, fail: false, packets: 0, after_stop: 0 };
        let s = analyze(fixture("http-curl-nginx.pcap"), &mut (&mut a, &mut b, None::<NoObserver>)).unwrap();
        assert!(s.stopped);
        assert_eq!((a.packets, b.packets, s.capture.packets), (4, 4, 4));
    }
}
