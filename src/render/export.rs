//! `--export DIR`: the packets, connections, HTTP transactions, WebSocket frames and WebSocket
//! messages tables as CSV and zstd Parquet, built with polars.
//!
//! Rows are gathered in plain vectors and written in batches of [`BATCH`] rows through polars'
//! batched CSV and Parquet writers, so exporting a large capture does not hold it in memory.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::analysis::{Observed, Observer, ObserverError, PacketApp, Seen, SeenTcp, Summary, CONTINUE};
use crate::capture::reader::Frame;
use crate::decode::{Decoded, Net, TcpSeg, Transport};
use crate::proto::http::Transaction;
use crate::proto::websocket::{WsFrame, WsMessage};
use crate::render::packets;
use crate::tcp::tracker::analysis as an;
use crate::tcp::{Conn, PacketInfo};

/// Rows per written batch.
pub const BATCH: usize = 65_536;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Polars { path: PathBuf, source: PolarsError },
}

/// One table's two writers, opened with the first batch.
struct Sink {
    dir: PathBuf,
    name: &'static str,
    writers: Option<(polars::io::csv::write::BatchedWriter<BufWriter<File>>, polars::io::parquet::write::BatchedWriter<BufWriter<File>>)>,
    rows: u64,
}

impl Sink {
    fn new(dir: &Path, name: &'static str) -> Self {
        Sink { dir: dir.to_path_buf(), name, writers: None, rows: 0 }
    }

    fn path(&self, ext: &str) -> PathBuf {
        self.dir.join(format!("{}.{ext}", self.name))
    }

    fn write(&mut self, df: DataFrame) -> Result<(), ExportError> {
        if df.height() == 0 && self.writers.is_some() {
            return Ok(());
        }
        let pe = |path: PathBuf| move |source| ExportError::Polars { path, source };
        if self.writers.is_none() {
            let open = |p: PathBuf| File::create(&p).map(BufWriter::new).map_err(|source| ExportError::Io { path: p, source });
            let schema = df.schema().clone();
            let csv = CsvWriter::new(open(self.path("csv"))?).include_header(true).batched(&schema).map_err(pe(self.path("csv")))?;
            let pq = ParquetWriter::new(open(self.path("parquet"))?)
                .with_compression(ParquetCompression::Zstd(None))
                .batched(&schema)
                .map_err(pe(self.path("parquet")))?;
            self.writers = Some((csv, pq));
        }
        let (csv_path, pq_path) = (self.path("csv"), self.path("parquet"));
        let (csv, pq) = self.writers.as_mut().expect("opened above");
        csv.write_batch(&df).map_err(pe(csv_path))?;
        pq.write_batch(&df).map_err(pe(pq_path))?;
        self.rows += df.height() as u64;
        Ok(())
    }

    fn finish(mut self) -> Result<u64, ExportError> {
        if let Some((mut csv, pq)) = self.writers.take() {
            csv.finish().map_err(|source| ExportError::Polars { path: self.path("csv"), source })?;
            pq.finish().map_err(|source| ExportError::Polars { path: self.path("parquet"), source })?;
        }
        Ok(self.rows)
    }
}

fn col<T, P: ?Sized>(name: &str, v: T) -> Column
where
    Series: NamedFrom<T, P>,
{
    Column::new(name.into(), v)
}

fn frame(cols: Vec<Column>) -> DataFrame {
    DataFrame::new_infer_height(cols).expect("columns of one table have equal lengths")
}

/// Packet rows in the `packets` table's columns, gathered before they become a frame.
#[derive(Default)]
pub(crate) struct PacketRows {
    number: Vec<u64>,
    ts: Vec<f64>,
    rel: Vec<f64>,
    src: Vec<String>,
    dst: Vec<String>,
    protocol: Vec<String>,
    length: Vec<u32>,
    stream: Vec<Option<u32>>,
    sport: Vec<Option<u32>>,
    dport: Vec<Option<u32>>,
    flags: Vec<Option<String>>,
    seq: Vec<Option<u32>>,
    ack: Vec<Option<u32>>,
    window: Vec<Option<u64>>,
    tcp_len: Vec<Option<u32>>,
    analysis: Vec<Option<String>>,
    info: Vec<String>,
}

impl PacketRows {
    pub(crate) fn len(&self) -> usize {
        self.number.len()
    }

    /// Adds one packet's row; `t0` is the first frame's timestamp.
    pub(crate) fn push(&mut self, f: &Frame<'_>, d: &Decoded<'_>, tcp: Option<&PacketInfo>, app: PacketApp<'_>, t0: i128) {
        let seg = match d.net {
            Ok(Net::Ip { transport: Transport::Tcp(seg), .. }) => Some(seg),
            _ => None,
        };
        self.row(f.number, f.ts_ns, f.orig_len, packets::cells(f, d, tcp, app), seg.as_ref(), tcp, t0);
    }

    /// Adds one TCP segment's row from what the pass tells of it (the same row as [`Self::push`]
    /// gives for its frame); `t0` is the first frame's timestamp.
    pub(crate) fn push_seen(&mut self, s: &Seen<'_>, t: &SeenTcp<'_>, t0: i128) {
        self.row(s.number, s.ts_ns, s.orig_len, packets::tcp_cells(t, s.app), Some(&t.seg), Some(&t.info), t0);
    }

    #[allow(clippy::too_many_arguments)]
    fn row(&mut self, number: u64, ts_ns: i128, orig_len: u32, cols: packets::Cells, seg: Option<&TcpSeg<'_>>, tcp: Option<&PacketInfo>, t0: i128) {
        let p = self;
        p.number.push(number);
        p.ts.push(ts_ns as f64 / 1e9);
        p.rel.push((ts_ns - t0) as f64 / 1e9);
        p.src.push(cols.src);
        p.dst.push(cols.dst);
        p.protocol.push(cols.protocol);
        p.length.push(orig_len);
        p.info.push(cols.info);
        p.stream.push(tcp.map(|i| i.stream));
        p.sport.push(seg.map(|s| s.sport as u32));
        p.dport.push(seg.map(|s| s.dport as u32));
        p.flags.push(seg.map(|s| packets::flag_names(s.flags)));
        p.seq.push(tcp.map(|i| i.rel_seq));
        p.ack.push(tcp.map(|i| i.rel_ack));
        p.window.push(tcp.map(|i| i.window));
        p.tcp_len.push(seg.map(|s| s.seg_len));
        p.analysis.push(tcp.and_then(|i| analysis_names(i.analysis)));
    }

    /// The rows gathered so far as a frame; the rows are emptied.
    pub(crate) fn take(&mut self) -> DataFrame {
        let r = std::mem::take(self);
        frame(vec![
            col("number", r.number),
            col("ts", r.ts),
            col("time_rel", r.rel),
            col("src", r.src),
            col("dst", r.dst),
            col("protocol", r.protocol),
            col("length", r.length),
            col("stream", r.stream),
            col("src_port", r.sport),
            col("dst_port", r.dport),
            col("tcp_flags", r.flags),
            col("seq_rel", r.seq),
            col("ack_rel", r.ack),
            col("window", r.window),
            col("tcp_len", r.tcp_len),
            col("analysis", r.analysis),
            col("info", r.info),
        ])
    }
}

/// Writes the export tables; feed it from an analysis observer, then call [`Exporter::finish`].
pub struct Exporter {
    t0: Option<i128>,
    packets: PacketRows,
    packets_sink: Sink,
    http: Vec<Transaction>,
    http_sink: Sink,
    frames: Vec<WsFrame>,
    frames_sink: Sink,
    messages: Vec<WsMessage>,
    messages_sink: Sink,
    /// Connection rows, as they become final (written in stream order at the end).
    conns: Vec<Conn>,
    dir: PathBuf,
    error: Option<ExportError>,
}

/// Rows written per table.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Exported {
    pub packets: u64,
    pub connections: u64,
    pub http: u64,
    pub ws_frames: u64,
    pub ws_messages: u64,
}

fn analysis_names(a: u16) -> Option<String> {
    let names = [
        (an::RETRANSMISSION, "retransmission"),
        (an::FAST_RETRANSMISSION, "fast_retransmission"),
        (an::SPURIOUS_RETRANSMISSION, "spurious_retransmission"),
        (an::OUT_OF_ORDER, "out_of_order"),
        (an::LOST_SEGMENT, "lost_segment"),
        (an::DUP_ACK, "dup_ack"),
        (an::ZERO_WINDOW, "zero_window"),
        (an::KEEP_ALIVE, "keep_alive"),
        (an::KEEP_ALIVE_ACK, "keep_alive_ack"),
        (an::WINDOW_UPDATE, "window_update"),
        (an::ACKED_UNSEEN, "acked_unseen"),
        (an::PORT_REUSED, "port_reused"),
    ];
    let v: Vec<&str> = names.iter().filter(|(b, _)| a & b != 0).map(|(_, n)| *n).collect();
    (!v.is_empty()).then(|| v.join(","))
}

/// The exporter is an observer of the analysis pass: rows are gathered as the pass goes.
impl Observer for Exporter {
    fn packet(&mut self, f: &Frame<'_>, d: &Decoded<'_>, tcp: Option<&PacketInfo>, app: PacketApp<'_>) -> Observed {
        self.add_packet(f, d, tcp, app);
        self.status()
    }

    fn transaction(&mut self, t: &Transaction) -> Observed {
        self.http.push(t.clone());
        if self.http.len() >= BATCH {
            self.flush_http();
        }
        self.status()
    }

    fn ws_frame(&mut self, f: &WsFrame) -> Observed {
        self.frames.push(f.clone());
        if self.frames.len() >= BATCH {
            self.flush_frames();
        }
        self.status()
    }

    fn ws_message(&mut self, m: &WsMessage) -> Observed {
        self.messages.push(m.clone());
        if self.messages.len() >= BATCH {
            self.flush_messages();
        }
        self.status()
    }

    fn connection(&mut self, c: &Conn) -> Observed {
        self.conns.push(c.clone());
        self.status()
    }
}

impl Exporter {
    /// Creates `dir` if needed.
    pub fn new(dir: &Path) -> Result<Self, ExportError> {
        std::fs::create_dir_all(dir).map_err(|source| ExportError::Io { path: dir.to_path_buf(), source })?;
        Ok(Exporter {
            t0: None,
            packets: PacketRows::default(),
            packets_sink: Sink::new(dir, "packets"),
            http: vec![],
            http_sink: Sink::new(dir, "http"),
            frames: vec![],
            frames_sink: Sink::new(dir, "ws_frames"),
            messages: vec![],
            messages_sink: Sink::new(dir, "ws_messages"),
            conns: Vec::new(),
            dir: dir.to_path_buf(),
            error: None,
        })
    }

    fn keep(&mut self, r: Result<(), ExportError>) {
        if self.error.is_none() {
            if let Err(e) = r {
                self.error = Some(e);
            }
        }
    }

    /// A write that failed ends the pass (its error is not reported again by `finish`).
    fn status(&mut self) -> Observed {
        match self.error.take() {
            Some(e) => Err(ObserverError::other(e)),
            None => CONTINUE,
        }
    }

    fn add_packet(&mut self, f: &Frame<'_>, d: &Decoded<'_>, tcp: Option<&PacketInfo>, app: PacketApp<'_>) {
        let t0 = *self.t0.get_or_insert(f.ts_ns);
        self.packets.push(f, d, tcp, app, t0);
        if self.packets.len() >= BATCH {
            let df = self.packets.take();
            let r = self.packets_sink.write(df);
            self.keep(r);
        }
    }

    fn flush_http(&mut self) {
        let rows = std::mem::take(&mut self.http);
        let df = http_frame(&rows, self.t0.unwrap_or(0));
        let r = self.http_sink.write(df);
        self.keep(r);
    }

    fn flush_frames(&mut self) {
        let rows = std::mem::take(&mut self.frames);
        let t0 = self.t0.unwrap_or(0);
        let df = frame(vec![
            col("stream", rows.iter().map(|f| f.stream).collect::<Vec<_>>()),
            col("frame", rows.iter().map(|f| f.frame).collect::<Vec<_>>()),
            col("time_rel", rows.iter().map(|f| (f.ts_ns - t0) as f64 / 1e9).collect::<Vec<_>>()),
            col("from_server", rows.iter().map(|f| f.from_server).collect::<Vec<_>>()),
            col("opcode", rows.iter().map(|f| f.opcode.to_string()).collect::<Vec<_>>()),
            col("fin", rows.iter().map(|f| f.fin).collect::<Vec<_>>()),
            col("rsv1", rows.iter().map(|f| f.rsv1).collect::<Vec<_>>()),
            col("masked", rows.iter().map(|f| f.masked).collect::<Vec<_>>()),
            col("header_bytes", rows.iter().map(|f| f.header_bytes).collect::<Vec<_>>()),
            col("payload_bytes", rows.iter().map(|f| f.payload_bytes).collect::<Vec<_>>()),
            col("close_code", rows.iter().map(|f| f.close_code.map(u32::from)).collect::<Vec<_>>()),
            col("close_reason", rows.iter().map(|f| f.close_reason.clone()).collect::<Vec<_>>()),
            col("ping_rtt_ms", rows.iter().map(|f| f.ping_rtt_ms).collect::<Vec<_>>()),
        ]);
        let r = self.frames_sink.write(df);
        self.keep(r);
    }

    fn flush_messages(&mut self) {
        let rows = std::mem::take(&mut self.messages);
        let df = message_frame(&rows, self.t0.unwrap_or(0));
        let r = self.messages_sink.write(df);
        self.keep(r);
    }

    /// Writes what is left, the connections table, and closes every file.
    pub fn finish(mut self, summary: &Summary) -> Result<Exported, ExportError> {
        let df = self.packets.take();
        let r = self.packets_sink.write(df);
        self.keep(r);
        self.flush_http();
        self.flush_frames();
        self.flush_messages();
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let mut rows = std::mem::take(&mut self.conns);
        rows.sort_unstable_by_key(|c| c.index);
        let mut conns = Sink::new(&self.dir, "connections");
        conns.write(connection_frame(&rows, summary.capture.first_ts.unwrap_or(0.0)))?;
        Ok(Exported {
            packets: self.packets_sink.finish()?,
            connections: conns.finish()?,
            http: self.http_sink.finish()?,
            ws_frames: self.frames_sink.finish()?,
            ws_messages: self.messages_sink.finish()?,
        })
    }
}

/// The `http` table's rows for these transactions; `t0` is the first frame's timestamp.
pub(crate) fn http_frame(rows: &[Transaction], t0: i128) -> DataFrame {
    let ms = |v: Option<i128>| v.map(|n| n as f64 / 1e6);
    let secs = |v: Option<i128>| v.map(|n| (n - t0) as f64 / 1e9);
    let s = |f: &dyn Fn(&Transaction) -> Option<String>| rows.iter().map(f).collect::<Vec<_>>();
    frame(vec![
        col("stream", rows.iter().map(|t| t.stream).collect::<Vec<_>>()),
        col("index_on_conn", rows.iter().map(|t| t.index_on_conn).collect::<Vec<_>>()),
        col("method", s(&|t| t.method.clone())),
        col("target", s(&|t| t.target.clone())),
        col("version", s(&|t| t.version.clone())),
        col("status", rows.iter().map(|t| t.status.map(u32::from)).collect::<Vec<_>>()),
        col("reason", s(&|t| t.reason.clone())),
        col("request_header_bytes", rows.iter().map(|t| t.request_header_bytes).collect::<Vec<_>>()),
        col("request_body_bytes", rows.iter().map(|t| t.request_body_bytes).collect::<Vec<_>>()),
        col("response_header_bytes", rows.iter().map(|t| t.response_header_bytes).collect::<Vec<_>>()),
        col("response_body_bytes", rows.iter().map(|t| t.response_body_bytes).collect::<Vec<_>>()),
        col("request_connection", s(&|t| t.request_headers.connection.clone())),
        col("response_connection", s(&|t| t.response_headers.connection.clone())),
        col("keep_alive", s(&|t| t.response_headers.keep_alive.clone())),
        col("content_type", s(&|t| t.response_headers.content_type.clone())),
        col("last_modified", s(&|t| t.response_headers.last_modified.clone())),
        col("if_modified_since", s(&|t| t.request_headers.if_modified_since.clone())),
        col("date", s(&|t| t.response_headers.date.clone())),
        col("request_time_rel", rows.iter().map(|t| secs(t.request_ns)).collect::<Vec<_>>()),
        col("response_first_rel", rows.iter().map(|t| secs(t.response_first_ns)).collect::<Vec<_>>()),
        col("response_last_rel", rows.iter().map(|t| secs(t.response_last_ns)).collect::<Vec<_>>()),
        col("ttfb_ms", rows.iter().map(|t| ms(t.ttfb_ns())).collect::<Vec<_>>()),
        col("total_ms", rows.iter().map(|t| ms(t.total_ns())).collect::<Vec<_>>()),
        col("paid_handshake", rows.iter().map(|t| t.paid_handshake).collect::<Vec<_>>()),
        col("request_frame", rows.iter().map(|t| t.request_frame).collect::<Vec<_>>()),
        col("response_frame", rows.iter().map(|t| t.response_frame).collect::<Vec<_>>()),
        col("complete", rows.iter().map(|t| t.complete).collect::<Vec<_>>()),
    ])
}

/// The `ws_messages` table's rows; `t0` is the first frame's timestamp.
pub(crate) fn message_frame(rows: &[WsMessage], t0: i128) -> DataFrame {
    frame(vec![
        col("stream", rows.iter().map(|m| m.stream).collect::<Vec<_>>()),
        col("index", rows.iter().map(|m| m.index).collect::<Vec<_>>()),
        col("from_server", rows.iter().map(|m| m.from_server).collect::<Vec<_>>()),
        col("first_rel", rows.iter().map(|m| (m.first_ns - t0) as f64 / 1e9).collect::<Vec<_>>()),
        col("last_rel", rows.iter().map(|m| (m.last_ns - t0) as f64 / 1e9).collect::<Vec<_>>()),
        col("kind", rows.iter().map(|m| m.kind.to_string()).collect::<Vec<_>>()),
        col("frames", rows.iter().map(|m| m.frames).collect::<Vec<_>>()),
        col("wire_bytes", rows.iter().map(|m| m.wire_bytes).collect::<Vec<_>>()),
        col("size", rows.iter().map(|m| m.size).collect::<Vec<_>>()),
        col("compressed", rows.iter().map(|m| m.compressed).collect::<Vec<_>>()),
        col("preview", rows.iter().map(|m| m.preview.clone()).collect::<Vec<_>>()),
        col("echo_of", rows.iter().map(|m| m.echo_of).collect::<Vec<_>>()),
        col("echo_latency_ms", rows.iter().map(|m| m.echo_latency_ms).collect::<Vec<_>>()),
    ])
}

/// The `connections` table's rows, in the order given; `t0` is the first frame's time in seconds.
pub(crate) fn connection_frame(c: &[Conn], t0: f64) -> DataFrame {
    frame(vec![
        col("stream", c.iter().map(|c| c.index).collect::<Vec<_>>()),
        col("address_a", c.iter().map(|c| c.a.ip().to_string()).collect::<Vec<_>>()),
        col("port_a", c.iter().map(|c| c.a.port() as u32).collect::<Vec<_>>()),
        col("address_b", c.iter().map(|c| c.b.ip().to_string()).collect::<Vec<_>>()),
        col("port_b", c.iter().map(|c| c.b.port() as u32).collect::<Vec<_>>()),
        col("start_rel", c.iter().map(|c| c.first_ns as f64 / 1e9 - t0).collect::<Vec<_>>()),
        col("duration", c.iter().map(|c| (c.last_ns - c.first_ns) as f64 / 1e9).collect::<Vec<_>>()),
        col("packets_a_to_b", c.iter().map(|c| c.packets[0]).collect::<Vec<_>>()),
        col("packets_b_to_a", c.iter().map(|c| c.packets[1]).collect::<Vec<_>>()),
        col("bytes_a_to_b", c.iter().map(|c| c.bytes[0]).collect::<Vec<_>>()),
        col("bytes_b_to_a", c.iter().map(|c| c.bytes[1]).collect::<Vec<_>>()),
        col("payload_a_to_b", c.iter().map(|c| c.payload[0]).collect::<Vec<_>>()),
        col("payload_b_to_a", c.iter().map(|c| c.payload[1]).collect::<Vec<_>>()),
        col("syn", c.iter().map(|c| c.syn).collect::<Vec<_>>()),
        col("syn_ack", c.iter().map(|c| c.syn_ack).collect::<Vec<_>>()),
        col("fin", c.iter().map(|c| c.fin).collect::<Vec<_>>()),
        col("rst", c.iter().map(|c| c.rst).collect::<Vec<_>>()),
        col("handshake", c.iter().map(|c| c.handshake).collect::<Vec<_>>()),
        col("handshake_rtt_ms", c.iter().map(|c| c.handshake_rtt_ns.map(|n| n as f64 / 1e6)).collect::<Vec<_>>()),
        col("closed_by", c.iter().map(|c| c.close.map(|cl| if cl.dir == 0 { "A" } else { "B" }.to_string())).collect::<Vec<_>>()),
        col("close", c.iter().map(|c| c.close.map(|cl| format!("{:?}", cl.how).to_uppercase())).collect::<Vec<_>>()),
        col("history", c.iter().map(|c| c.history.clone()).collect::<Vec<_>>()),
        col("retransmissions", c.iter().map(|c| c.retransmissions).collect::<Vec<_>>()),
        col("missing_a_to_b", c.iter().map(|c| c.missing[0]).collect::<Vec<_>>()),
        col("missing_b_to_a", c.iter().map(|c| c.missing[1]).collect::<Vec<_>>()),
    ])
}
