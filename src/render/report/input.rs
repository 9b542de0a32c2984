//! The report's input reduced to what its charts and tables draw, in memory that does not grow with the capture: built in one pass over a capture (see `collect.rs`) or from a run folder's exported tables, so both go through the same chart code.

use polars::prelude::*;

use super::stats::{self, ROWS, TSEQ_SEGMENTS};
use crate::render::charts::TseqSeg;

/// Rows shown per summary table in the HTML.
pub const TABLE_ROWS: usize = 200;
/// Echo round-trip samples kept for the CDF; beyond, the first ones are drawn (said in the note).
pub const ECHO_SAMPLES: usize = 1_000_000;
/// HTTP exchanges kept for the timeline's connections.
pub const TIMELINE_EXCHANGES: usize = 200_000;
/// Bins per protocol before the IO graph's base interval grows tenfold.
const MAX_BINS: u64 = 50_000;
/// Retransmissions always drawn in the time-sequence graph; beyond, they are thinned like the rest.
const RETRANSMISSIONS_KEPT: usize = 4 * TSEQ_SEGMENTS;

pub const CONN_COLS: [&str; 19] = [
    "stream", "address_a", "port_a", "address_b", "port_b", "start_rel", "duration", "packets_a_to_b", "packets_b_to_a", "bytes_a_to_b", "bytes_b_to_a", "payload_a_to_b",
    "payload_b_to_a", "syn", "fin", "rst", "handshake_rtt_ms", "close", "retransmissions",
];
pub const HTTP_COLS: [&str; 13] =
    ["stream", "index_on_conn", "method", "target", "status", "content_type", "response_body_bytes", "request_time_rel", "response_first_rel", "response_last_rel", "ttfb_ms", "total_ms", "paid_handshake"];
pub const MSG_COLS: [&str; 9] = ["stream", "index", "from_server", "first_rel", "kind", "size", "wire_bytes", "echo_latency_ms", "preview"];

/// Packets and bytes per protocol in time bins. The bin width is a power of ten nanoseconds
/// (from 1 µs) that grows tenfold when a capture spans more than [`MAX_BINS`] bins, so any
/// IO-graph interval (1, 2 or 5 × 10ⁿ s, at least 1 µs) is a whole number of bins.
#[derive(Debug, Clone)]
pub struct IoBins {
    pub width_ns: u64,
    /// Per protocol (in order of first appearance): `[packets, bytes]` per bin.
    pub protocols: Vec<(String, Vec<[u64; 2]>)>,
    /// The latest packet, in nanoseconds since the first.
    pub max_ns: i64,
    pub packets: u64,
}

impl Default for IoBins {
    fn default() -> Self {
        IoBins { width_ns: 1000, protocols: vec![], max_ns: 0, packets: 0 }
    }
}

impl IoBins {
    /// One packet `t_ns` after the first (a packet before the first counts in the first bin).
    pub fn push(&mut self, t_ns: i64, protocol: &str, len: u64) {
        self.packets += 1;
        let t = t_ns.max(0) as u64;
        self.max_ns = self.max_ns.max(t as i64);
        while t / self.width_ns >= MAX_BINS {
            self.widen();
        }
        let b = (t / self.width_ns) as usize;
        let i = match self.protocols.iter().position(|(p, _)| p == protocol) {
            Some(i) => i,
            None => {
                self.protocols.push((protocol.to_string(), vec![]));
                self.protocols.len() - 1
            }
        };
        let v = &mut self.protocols[i].1;
        if v.len() <= b {
            v.resize(b + 1, [0, 0]);
        }
        v[b][0] += 1;
        v[b][1] += len;
    }

    fn widen(&mut self) {
        self.width_ns *= 10;
        for (_, v) in &mut self.protocols {
            let mut w = vec![[0u64; 2]; v.len().div_ceil(10)];
            for (i, x) in v.iter().enumerate() {
                w[i / 10][0] += x[0];
                w[i / 10][1] += x[1];
            }
            *v = w;
        }
    }

    /// The bins from the packets table's `time_rel`, `protocol` and `length` columns.
    pub fn from_packets(packets: &DataFrame) -> PolarsResult<IoBins> {
        let (t, p, l) = (stats::f64s(packets, "time_rel")?, stats::strs(packets, "protocol")?, stats::f64s(packets, "length")?);
        let mut io = IoBins::default();
        for i in 0..t.len() {
            io.push((t[i].unwrap_or(0.0) * 1e9).round() as i64, p[i].as_deref().unwrap_or(""), l[i].unwrap_or(0.0) as u64);
        }
        Ok(io)
    }
}

/// Every point kept while fewer than `2 ×` [`TSEQ_SEGMENTS`]; then every 2nd, 4th, ... (by
/// arrival), plus the points marked `always`.
#[derive(Debug, Clone)]
pub struct Thinned<T> {
    every: usize,
    seen: usize,
    plain: usize,
    kept: Vec<(usize, bool, T)>,
}

impl<T> Default for Thinned<T> {
    fn default() -> Self {
        Thinned { every: 1, seen: 0, plain: 0, kept: vec![] }
    }
}

impl<T> Thinned<T> {
    pub fn push(&mut self, x: T, always: bool) {
        let i = self.seen;
        self.seen += 1;
        if always || i % self.every == 0 {
            if self.kept.capacity() == 0 {
                // Most connections are short: one allocation holds all their points.
                self.kept.reserve(32);
            }
            self.kept.push((i, always, x));
            self.plain += usize::from(!always);
            if self.plain > 2 * TSEQ_SEGMENTS {
                self.every *= 2;
                let every = self.every;
                self.kept.retain(|(i, a, _)| *a || i % every == 0);
                self.plain = self.kept.iter().filter(|k| !k.1).count();
            }
        }
    }

    /// Points seen.
    pub fn len(&self) -> usize {
        self.seen
    }

    pub fn is_empty(&self) -> bool {
        self.seen == 0
    }

    /// About [`TSEQ_SEGMENTS`] points: every `step`th (a multiple of what was kept) and those
    /// marked `always`; returns them and `step`.
    pub fn finish(self) -> (Vec<T>, usize) {
        let step = self.seen.div_ceil(TSEQ_SEGMENTS).max(1).div_ceil(self.every) * self.every;
        (self.kept.into_iter().filter(|(i, a, _)| *a || i % step == 0).map(|(_, _, x)| x).collect(), step)
    }
}

/// What one port of a connection sent: its payload, data segments and acknowledgements.
#[derive(Debug, Clone, Default)]
pub struct PortPoints {
    pub port: Option<u32>,
    pub payload: f64,
    pub segs: Thinned<TseqSeg>,
    pub acks: Thinned<(f64, f64)>,
    pub retransmissions: usize,
}

/// One connection's time-sequence points, per sending port (in order of first appearance).
#[derive(Debug, Clone, Default)]
pub struct TseqPoints {
    pub stream: u32,
    pub ports: Vec<PortPoints>,
}

impl TseqPoints {
    pub fn new(stream: u32) -> Self {
        TseqPoints { stream, ports: vec![] }
    }

    /// One packet of the connection.
    pub fn push(&mut self, t: f64, sport: Option<u32>, seq: f64, ack: Option<f64>, len: f64, retransmission: bool) {
        let i = match self.ports.iter().position(|p| p.port == sport) {
            Some(i) => i,
            None => {
                self.ports.push(PortPoints { port: sport, ..Default::default() });
                self.ports.len() - 1
            }
        };
        let p = &mut self.ports[i];
        p.payload += len;
        if len > 0.0 {
            let always = retransmission && p.retransmissions < RETRANSMISSIONS_KEPT;
            p.retransmissions += usize::from(retransmission);
            p.segs.push(TseqSeg { t, seq, end: seq + len, retransmission }, always);
        }
        if let Some(a) = ack {
            p.acks.push((t, a), false);
        }
    }

    /// The points of `stream` from the packets table.
    pub fn from_packets(packets: &DataFrame, stream: u32) -> PolarsResult<TseqPoints> {
        let streams = stats::f64s(packets, "stream")?;
        let idx: Vec<IdxSize> = (0..streams.len()).filter(|i| streams[*i] == Some(stream as f64)).map(|i| i as IdxSize).collect();
        let df = packets.take(&IdxCa::from_vec("idx".into(), idx))?;
        let (t, sp, seq, ack, len, an) = (stats::f64s(&df, "time_rel")?, stats::f64s(&df, "src_port")?, stats::f64s(&df, "seq_rel")?, stats::f64s(&df, "ack_rel")?, stats::f64s(&df, "tcp_len")?, stats::strs(&df, "analysis")?);
        let mut p = TseqPoints::new(stream);
        for i in 0..df.height() {
            let re = an[i].as_deref().is_some_and(|a| a.contains("retransmission"));
            p.push(t[i].unwrap_or(0.0), sp[i].map(|s| s as u32), seq[i].unwrap_or(0.0), ack[i], len[i].unwrap_or(0.0), re);
        }
        Ok(p)
    }
}

/// The flow graph's packet rows (packets-table columns): the first [`stats::FLOW_ARROWS`] of
/// the chosen streams, and how many packets those streams have in all.
#[derive(Debug, Clone)]
pub struct FlowRows {
    pub wanted: Vec<u32>,
    pub rows: DataFrame,
    pub total: usize,
}

/// Totals over all connections (the overhead chart and the A/B table of `--compare`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ConnSums {
    pub count: f64,
    pub syn: f64,
    pub fin: f64,
    pub rst: f64,
    pub packets: f64,
    pub bytes: f64,
    pub payload: f64,
}

impl ConnSums {
    /// Column sums of a connections table, with polars.
    pub fn from_table(c: &DataFrame) -> PolarsResult<ConnSums> {
        let sum = |n: &str| -> PolarsResult<f64> { Ok(c.column(n)?.cast(&DataType::Float64)?.f64()?.sum().unwrap_or(0.0)) };
        Ok(ConnSums {
            count: c.height() as f64,
            syn: sum("syn")?,
            fin: sum("fin")?,
            rst: sum("rst")?,
            packets: sum("packets_a_to_b")? + sum("packets_b_to_a")?,
            bytes: sum("bytes_a_to_b")? + sum("bytes_b_to_a")?,
            payload: sum("payload_a_to_b")? + sum("payload_b_to_a")?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Conns {
    /// The first [`TABLE_ROWS`] connections by stream number ([`CONN_COLS`]).
    pub head: DataFrame,
    pub total: usize,
    pub sums: ConnSums,
    /// The whole table, from a run folder only (split by the steps' time windows).
    pub full: Option<DataFrame>,
}

/// Requests per connection, over the connections that carried HTTP.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PerConn {
    pub busiest: usize,
    pub singles: usize,
}

#[derive(Debug, Clone)]
pub struct Http {
    /// The first [`TABLE_ROWS`] transactions ([`HTTP_COLS`]).
    pub head: DataFrame,
    pub total: usize,
    /// `stream`, `request_time_rel`, `response_last_rel` of the transactions on the timeline's connections.
    pub exchanges: DataFrame,
    pub per_conn: PerConn,
    /// The first [`ROWS`] transactions by request time ([`HTTP_COLS`]).
    pub waterfall: DataFrame,
    /// `stream`, `start_rel`, `handshake_rtt_ms` of the waterfall's connections.
    pub waterfall_conns: DataFrame,
}

#[derive(Debug, Clone)]
pub struct Msgs {
    /// The first [`TABLE_ROWS`] messages ([`MSG_COLS`]).
    pub head: DataFrame,
    pub total: usize,
    /// Echo round-trip times (ms): all of them, or the first [`ECHO_SAMPLES`].
    pub echo: Vec<f64>,
    pub echo_total: usize,
}

/// Everything the charts and the tables of one run (or capture) need.
#[derive(Debug, Clone, Default)]
pub struct ChartInput {
    pub packets: Option<u64>,
    pub io: Option<IoBins>,
    pub flow: Option<FlowRows>,
    pub tseq: Option<TseqPoints>,
    pub conns: Option<Conns>,
    pub http: Option<Http>,
    pub msgs: Option<Msgs>,
}

fn select(df: &DataFrame, cols: &[&str]) -> PolarsResult<DataFrame> {
    df.select(cols.iter().copied())
}

impl ChartInput {
    /// From a run folder's tables (each `None` if not written). `stream`: `--stream`.
    pub fn from_tables(packets: Option<&DataFrame>, conns: Option<&DataFrame>, http: Option<&DataFrame>, msgs: Option<&DataFrame>, stream: Option<u32>) -> PolarsResult<ChartInput> {
        let mut input = ChartInput::default();
        if let Some(p) = packets {
            input.packets = Some(p.height() as u64);
            input.io = Some(IoBins::from_packets(p)?);
            input.flow = stats::flow_rows(p, stream)?;
            let chosen = match (stream, conns) {
                (Some(s), _) => Some(s),
                (None, Some(c)) => stats::busiest(c)?,
                _ => None,
            };
            input.tseq = chosen.map(|s| TseqPoints::from_packets(p, s)).transpose()?;
        }
        if let Some(c) = conns {
            input.conns = Some(Conns { head: c.head(Some(TABLE_ROWS)), total: c.height(), sums: ConnSums::from_table(c)?, full: Some(c.clone()) });
        }
        if let Some(h) = http {
            let shown: Vec<Option<f64>> = match conns {
                Some(c) => stats::f64s(&c.head(Some(ROWS)), "stream")?,
                None => vec![],
            };
            let hs = stats::f64s(h, "stream")?;
            let idx: Vec<IdxSize> = (0..h.height()).filter(|i| hs[*i].is_some() && shown.contains(&hs[*i])).map(|i| i as IdxSize).collect();
            let exchanges = h.take(&IdxCa::from_vec("idx".into(), idx))?.select(["stream", "request_time_rel", "response_last_rel"])?;
            let req = h.column("request_time_rel")?.cast(&DataType::Float64)?;
            let timed = h.filter(&req.f64()?.is_not_null())?;
            let waterfall = timed.sort(["request_time_rel"], SortMultipleOptions::default().with_maintain_order(true))?.head(Some(ROWS));
            let ws = stats::f64s(&waterfall, "stream")?;
            let waterfall_conns = match conns {
                Some(c) => {
                    let cs = stats::f64s(c, "stream")?;
                    let idx: Vec<IdxSize> = (0..c.height()).filter(|i| cs[*i].is_some() && ws.contains(&cs[*i])).map(|i| i as IdxSize).collect();
                    c.take(&IdxCa::from_vec("idx".into(), idx))?.select(["stream", "start_rel", "handshake_rtt_ms"])?
                }
                None => df!("stream" => Vec::<u32>::new(), "start_rel" => Vec::<f64>::new(), "handshake_rtt_ms" => Vec::<f64>::new())?,
            };
            input.http = Some(Http {
                head: select(&h.head(Some(TABLE_ROWS)), &HTTP_COLS)?,
                total: h.height(),
                exchanges,
                per_conn: stats::per_conn(h)?,
                waterfall: select(&waterfall, &HTTP_COLS)?,
                waterfall_conns,
            });
        }
        if let Some(m) = msgs {
            let echo: Vec<f64> = stats::f64s(m, "echo_latency_ms")?.into_iter().flatten().collect();
            input.msgs = Some(Msgs { head: select(&m.head(Some(TABLE_ROWS)), &MSG_COLS)?, total: m.height(), echo_total: echo.len(), echo });
        }
        Ok(input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_bins_widen_tenfold_and_keep_the_sums() {
        let mut io = IoBins::default();
        io.push(0, "TCP", 60);
        io.push(1_500, "TCP", 70);
        io.push(-5, "HTTP", 100);
        assert_eq!(io.width_ns, 1000);
        assert_eq!(io.protocols[0].1, vec![[1, 60], [1, 70]]);
        io.push(MAX_BINS as i64 * 1000 + 10, "TCP", 1);
        assert_eq!(io.width_ns, 10_000);
        assert_eq!(io.protocols[0].1[0], [2, 130], "the first two share a wider bin");
        assert_eq!(io.protocols[1].1[0], [1, 100], "a packet before the first counts in bin 0");
        assert_eq!(io.packets, 4);
        let total: u64 = io.protocols.iter().flat_map(|p| p.1.iter()).map(|b| b[0]).sum();
        assert_eq!(total, 4);
    }

    #[test]
    fn thinning_keeps_a_bounded_share_and_every_marked_point() {
        let mut t = Thinned::default();
        let n = 10 * TSEQ_SEGMENTS;
        for i in 0..n {
            t.push(i, i % 997 == 0);
            assert!(t.kept.len() <= 2 * TSEQ_SEGMENTS + 1 + n / 997 + 1);
        }
        assert_eq!(t.len(), n);
        let (kept, step) = t.finish();
        assert!(step >= n.div_ceil(TSEQ_SEGMENTS), "{step}");
        assert!(kept.len() <= TSEQ_SEGMENTS + n / 997 + 1, "{}", kept.len());
        assert!((0..n).step_by(997).all(|i| kept.contains(&i)), "marked points are kept");
        assert!(kept.iter().filter(|i| *i % 997 != 0).all(|i| i % step == 0));
    }

    #[test]
    fn few_points_are_all_kept() {
        let mut t = Thinned::default();
        for i in 0..10 {
            t.push(i, false);
        }
        assert_eq!(t.finish(), ((0..10).collect(), 1));
    }
}
