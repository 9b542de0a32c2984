//! The report's analysis observer: one pass over a capture keeps only what the charts and tables draw (a [`ChartInput`]), instead of exporting every table.
//!
//! Memory grows with the connections open at once (each keeps a bounded set of time-sequence
//! points), plus a few bytes per connection (start time, handshake, requests carried), never
//! with the number of packets.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap as HashMap;

use polars::prelude::*;

use super::input::{ChartInput, ConnSums, Conns, FlowRows, Http, IoBins, Msgs, TseqPoints, CONN_COLS, ECHO_SAMPLES, HTTP_COLS, MSG_COLS, TABLE_ROWS, TIMELINE_EXCHANGES};
use super::stats::{FLOW_ARROWS, ROWS};
use crate::analysis::{Detail, Observed, Observer, Seen, SeenTcp, Summary, CONTINUE};
use crate::proto::http::Transaction;
use crate::proto::websocket::WsMessage;
use crate::render::export::{connection_frame, http_frame, message_frame, PacketRows};
use crate::render::packets;
use crate::tcp::tracker::analysis as an;
use crate::tcp::Conn;

/// One TCP packet of an open connection, as the time-sequence graph may need it.
#[derive(Debug, Clone, Copy)]
struct Rec {
    t: f64,
    seq: u32,
    ack: u32,
    len: u32,
    sport: Option<u16>,
    retransmission: bool,
}

/// Packets of a connection recorded as they come (cheap) until [`RAW_PACKETS`]; then thinned.
const RAW_PACKETS: usize = 4096;

/// An open connection's time-sequence points: few packets kept as they are, or thinned.
enum Open {
    Raw(Vec<Rec>),
    Thinned(TseqPoints),
}

impl Open {
    fn points(self, stream: u32) -> TseqPoints {
        match self {
            Open::Thinned(p) => p,
            Open::Raw(recs) => {
                let mut p = TseqPoints::new(stream);
                for r in recs {
                    p.push(r.t, r.sport.map(u32::from), r.seq as f64, Some(r.ack as f64), r.len as f64, r.retransmission);
                }
                p
            }
        }
    }
}

/// The busiest closed connection so far: its payload, stream and points.
struct Best {
    payload: f64,
    points: TseqPoints,
}

/// Gathers a [`ChartInput`] during an analysis pass (run it with packet notes on: the Info
/// column and the HTTP/WebSocket protocol names come from them); then call [`Collector::finish`].
pub struct Collector {
    stream: Option<u32>,
    t0: Option<i128>,
    io: IoBins,
    flow_wanted: Vec<u32>,
    flow_rows: PacketRows,
    flow_total: usize,
    open: HashMap<u32, Open>,
    best: Option<Best>,
    conns_head: BTreeMap<u32, Conn>,
    conns_total: usize,
    sums: ConnSums,
    /// Start and handshake time of every connection (the waterfall's rows need a few).
    starts: HashMap<u32, (i128, Option<i128>)>,
    http_head: Vec<Transaction>,
    http_total: usize,
    per_conn: HashMap<u32, u32>,
    exchanges: BTreeMap<u32, Vec<(Option<i128>, Option<i128>)>>,
    exchanges_kept: usize,
    waterfall: BTreeMap<(i128, usize), Transaction>,
    msgs_head: Vec<WsMessage>,
    msgs_total: usize,
    echo: Vec<f64>,
    echo_total: usize,
}

const RETRANSMITTED: u16 = an::RETRANSMISSION | an::FAST_RETRANSMISSION | an::SPURIOUS_RETRANSMISSION;

impl Collector {
    /// `stream`: the connection for the flow and time-sequence graphs (default: the first three
    /// connections, and the one with the most payload).
    pub fn new(stream: Option<u32>) -> Self {
        Collector {
            stream,
            t0: None,
            io: IoBins::default(),
            flow_wanted: stream.into_iter().collect(),
            flow_rows: PacketRows::default(),
            flow_total: 0,
            open: HashMap::default(),
            best: None,
            conns_head: BTreeMap::new(),
            conns_total: 0,
            sums: ConnSums::default(),
            starts: HashMap::default(),
            http_head: vec![],
            http_total: 0,
            per_conn: HashMap::default(),
            exchanges: BTreeMap::new(),
            exchanges_kept: 0,
            waterfall: BTreeMap::new(),
            msgs_head: vec![],
            msgs_total: 0,
            echo: vec![],
            echo_total: 0,
        }
    }

    /// Whether the flow graph draws connection `s`: the one `--stream` chose, or the first three.
    fn in_flow(&self, s: u32) -> bool {
        match self.stream {
            Some(chosen) => chosen == s,
            None => self.flow_wanted.len() < 3 || self.flow_wanted.contains(&s),
        }
    }

    fn flow(&mut self, seen: &Seen<'_>, t: &SeenTcp<'_>, t0: i128) {
        let s = t.info.stream;
        if !self.in_flow(s) {
            return;
        }
        if !self.flow_wanted.contains(&s) {
            self.flow_wanted.push(s);
        }
        self.flow_total += 1;
        if self.flow_rows.len() < FLOW_ARROWS {
            self.flow_rows.push_seen(seen, t, t0);
        }
    }

    fn tseq(&mut self, seen: &Seen<'_>, t: &SeenTcp<'_>, t0: i128) {
        let tcp = &t.info;
        if self.stream.is_some_and(|s| s != tcp.stream) {
            return;
        }
        let rec = Rec {
            t: (seen.ts_ns - t0) as f64 / 1e9,
            seq: tcp.rel_seq,
            ack: tcp.rel_ack,
            len: t.seg.seg_len,
            sport: Some(t.seg.sport),
            retransmission: tcp.analysis & RETRANSMITTED != 0,
        };
        let open = self.open.entry(tcp.stream).or_insert_with(|| Open::Raw(Vec::with_capacity(16)));
        if let Open::Raw(v) = open {
            if v.len() >= RAW_PACKETS {
                let v = std::mem::take(v);
                *open = Open::Thinned(Open::Raw(v).points(tcp.stream));
            }
        }
        match open {
            Open::Raw(v) => v.push(rec),
            Open::Thinned(p) => p.push(rec.t, rec.sport.map(u32::from), rec.seq as f64, Some(rec.ack as f64), rec.len as f64, rec.retransmission),
        }
    }

    fn closed(&mut self, c: &Conn) {
        let points = self.open.remove(&c.index);
        if self.stream.is_some_and(|s| s != c.index) {
            return;
        }
        let payload = c.payload[0] as f64 + c.payload[1] as f64;
        // The table's busiest: the most payload, the highest stream number among equals.
        let better = match &self.best {
            None => true,
            Some(b) => payload > b.payload || (payload == b.payload && c.index > b.points.stream),
        };
        if better || self.stream.is_some() {
            self.best = Some(Best { payload, points: points.map(|o| o.points(c.index)).unwrap_or_else(|| TseqPoints::new(c.index)) });
        }
    }

    /// The gathered input; `summary` is the pass's (for the connections' start times).
    pub fn finish(mut self, summary: &Summary) -> PolarsResult<ChartInput> {
        let t0 = self.t0.unwrap_or(0);
        let t0_s = summary.capture.first_ts.unwrap_or(0.0);
        let flow = (!self.flow_wanted.is_empty()).then(|| FlowRows { wanted: self.flow_wanted.clone(), rows: self.flow_rows.take(), total: self.flow_total });
        let head: Vec<Conn> = std::mem::take(&mut self.conns_head).into_values().collect();
        let conns = Conns { head: connection_frame(&head, t0_s).select(CONN_COLS)?, total: self.conns_total, sums: self.sums, full: None };
        let shown: Vec<u32> = head.iter().take(ROWS).map(|c| c.index).collect();
        let ex: Vec<(u32, Option<i128>, Option<i128>)> = self.exchanges.iter().filter(|(s, _)| shown.contains(s)).flat_map(|(s, v)| v.iter().map(|(a, b)| (*s, *a, *b))).collect();
        let secs = |v: Option<i128>| v.map(|n| (n - t0) as f64 / 1e9);
        let exchanges = df!(
            "stream" => ex.iter().map(|e| e.0).collect::<Vec<_>>(),
            "request_time_rel" => ex.iter().map(|e| secs(e.1)).collect::<Vec<_>>(),
            "response_last_rel" => ex.iter().map(|e| secs(e.2)).collect::<Vec<_>>(),
        )?;
        let waterfall: Vec<Transaction> = std::mem::take(&mut self.waterfall).into_values().collect();
        let wstreams: Vec<u32> = waterfall.iter().map(|t| t.stream).collect();
        let mut wc: Vec<(u32, (i128, Option<i128>))> = self.starts.iter().filter(|(s, _)| wstreams.contains(s)).map(|(s, v)| (*s, *v)).collect();
        wc.sort_unstable_by_key(|x| x.0);
        let waterfall_conns = df!(
            "stream" => wc.iter().map(|x| x.0).collect::<Vec<_>>(),
            "start_rel" => wc.iter().map(|x| x.1 .0 as f64 / 1e9 - t0_s).collect::<Vec<_>>(),
            "handshake_rtt_ms" => wc.iter().map(|x| x.1 .1.map(|n| n as f64 / 1e6)).collect::<Vec<_>>(),
        )?;
        let counts: Vec<u32> = self.per_conn.values().copied().collect();
        let per_conn = super::stats::requests_per_conn(&Column::new("n".into(), counts))?;
        let http = Http {
            head: http_frame(&self.http_head, t0).select(HTTP_COLS)?,
            total: self.http_total,
            exchanges,
            per_conn,
            waterfall: http_frame(&waterfall, t0).select(HTTP_COLS)?,
            waterfall_conns,
        };
        let msgs = Msgs { head: message_frame(&self.msgs_head, t0).select(MSG_COLS)?, total: self.msgs_total, echo: self.echo, echo_total: self.echo_total };
        Ok(ChartInput {
            packets: Some(self.io.packets),
            io: Some(self.io),
            flow,
            tseq: self.best.map(|b| b.points),
            conns: Some(conns),
            http: Some(http),
            msgs: Some(msgs),
        })
    }
}

impl Observer for Collector {
    fn seen(&mut self, s: &Seen<'_>) -> Observed {
        let t0 = *self.t0.get_or_insert(s.ts_ns);
        self.io.push((s.ts_ns - t0) as i64, &packets::protocol_name(s.carried, s.app), s.orig_len as u64);
        if let Some(t) = &s.tcp {
            self.flow(s, t, t0);
            self.tseq(s, t, t0);
        }
        CONTINUE
    }

    /// Everything it draws comes through [`Observer::seen`]: the pass may use two threads.
    fn wants_packets(&self) -> bool {
        false
    }

    /// Worded notes only for the flow graph's connections (the IO graph needs only to know
    /// which packets ended an HTTP message); whole transactions only where the HTTP table or
    /// the waterfall may still show them. That saves a few strings per message on all other
    /// connections, most of a big capture.
    fn detail(&mut self, stream: u32) -> Detail {
        // `seen` adds the first three connections after their first packet began them.
        let worded_notes = self.in_flow(stream);
        // The table keeps the first transactions to complete: once full, it takes no more.
        // The waterfall keeps the earliest requests: once full, it takes only requests that
        // begin before its latest, and that time only moves earlier.
        let whole_until = match self.waterfall.last_key_value() {
            Some((&(rq, _), _)) if self.http_head.len() >= TABLE_ROWS && self.waterfall.len() >= ROWS => rq,
            _ => i128::MAX,
        };
        Detail { whole_until, worded_notes }
    }

    fn connection(&mut self, c: &Conn) -> Observed {
        self.conns_total += 1;
        let s = &mut self.sums;
        s.count += 1.0;
        s.syn += c.syn as f64;
        s.fin += c.fin as f64;
        s.rst += c.rst as f64;
        s.packets += (c.packets[0] + c.packets[1]) as f64;
        s.bytes += (c.bytes[0] + c.bytes[1]) as f64;
        s.payload += (c.payload[0] + c.payload[1]) as f64;
        self.starts.insert(c.index, (c.first_ns, c.handshake_rtt_ns));
        if self.conns_head.len() < TABLE_ROWS || self.conns_head.last_key_value().is_some_and(|(k, _)| c.index < *k) {
            self.conns_head.insert(c.index, c.clone());
            if self.conns_head.len() > TABLE_ROWS {
                self.conns_head.pop_last();
            }
        }
        self.closed(c);
        CONTINUE
    }

    fn transaction(&mut self, t: &Transaction) -> Observed {
        let seq = self.http_total;
        self.http_total += 1;
        if self.http_head.len() < TABLE_ROWS {
            self.http_head.push(t.clone());
        }
        *self.per_conn.entry(t.stream).or_default() += 1;
        let room = self.exchanges.len() < ROWS || self.exchanges.contains_key(&t.stream) || self.exchanges.last_key_value().is_some_and(|(k, _)| t.stream < *k);
        if room && self.exchanges_kept < TIMELINE_EXCHANGES {
            self.exchanges.entry(t.stream).or_default().push((t.request_ns, t.response_last_ns));
            self.exchanges_kept += 1;
            if self.exchanges.len() > ROWS {
                if let Some((_, v)) = self.exchanges.pop_last() {
                    self.exchanges_kept -= v.len();
                }
            }
        }
        if let Some(rq) = t.request_ns {
            if self.waterfall.len() < ROWS || self.waterfall.last_key_value().is_some_and(|(k, _)| (rq, seq) < *k) {
                self.waterfall.insert((rq, seq), t.clone());
                if self.waterfall.len() > ROWS {
                    self.waterfall.pop_last();
                }
            }
        }
        CONTINUE
    }

    fn ws_message(&mut self, m: &WsMessage) -> Observed {
        self.msgs_total += 1;
        if self.msgs_head.len() < TABLE_ROWS {
            self.msgs_head.push(m.clone());
        }
        if let Some(e) = m.echo_latency_ms {
            self.echo_total += 1;
            if self.echo.len() < ECHO_SAMPLES {
                self.echo.push(e);
            }
        }
        CONTINUE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::Options;
    use std::path::{Path, PathBuf};

    /// The collector as it would be if it asked for every detail of every connection.
    struct Everything(Collector);
    impl Observer for Everything {
        fn seen(&mut self, s: &Seen<'_>) -> Observed {
            self.0.seen(s)
        }
        fn connection(&mut self, c: &Conn) -> Observed {
            self.0.connection(c)
        }
        fn transaction(&mut self, t: &Transaction) -> Observed {
            self.0.transaction(t)
        }
        fn ws_message(&mut self, m: &WsMessage) -> Observed {
            self.0.ws_message(m)
        }
        fn wants_packets(&self) -> bool {
            false
        }
    }

    fn pass(path: &Path, obs: &mut dyn Observer) -> Summary {
        let reader = crate::capture::CaptureReader::open_file(std::fs::File::open(path).unwrap()).unwrap();
        crate::analysis::analyze_with(reader, obs, &Options { no_packet_notes: false, ..Default::default() }).unwrap()
    }

    fn same_frame(what: &str, path: &Path, a: &DataFrame, b: &DataFrame) {
        assert!(a.equals_missing(b), "{}: {what} differs:\n{a}\n{b}", path.display());
    }

    /// Every HTTP capture at hand, and the biggest: 4,000 requests, 1,000 requests, 650 responses.
    fn captures() -> Vec<PathBuf> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut v: Vec<PathBuf> = ["tests/fixtures", "../shared/corpus/realworld", "../shared/corpus/pcapplusplus"]
            .iter()
            .flat_map(|d| {
                let dir = root.join(d);
                let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e} (the corpus lives beside the checkout in ../shared)", dir.display()));
                entries.flatten().map(|e| e.path())
            })
            .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
            .collect();
        v.sort();
        assert!(v.iter().any(|p| p.ends_with("4KHttpRequests.pcap")) && v.len() > 60, "the captures are there: {}", v.len());
        v
    }

    /// Asking for less (worded notes only for the flow graph's connections, whole transactions
    /// only where a table or the waterfall may show them) changes nothing the report draws.
    #[test]
    fn the_detail_it_asks_for_gives_the_same_charts_and_tables_as_all() {
        let made = [sequential_connections(600, false), sequential_connections(600, true)];
        for path in captures().into_iter().chain(made.iter().cloned()) {
            for stream in [None, Some(1)] {
                let mut lean = Collector::new(stream);
                let s = pass(&path, &mut lean);
                let a = lean.finish(&s).unwrap();
                let mut all = Everything(Collector::new(stream));
                let s = pass(&path, &mut all);
                let b = all.0.finish(&s).unwrap();
                assert_eq!(a.flow.is_some(), b.flow.is_some());
                if let (Some(fa), Some(fb)) = (&a.flow, &b.flow) {
                    assert_eq!((&fa.wanted, fa.total), (&fb.wanted, fb.total));
                    same_frame("flow rows (the Info column)", &path, &fa.rows, &fb.rows);
                }
                let (ha, hb) = (a.http.as_ref().unwrap(), b.http.as_ref().unwrap());
                same_frame("HTTP table", &path, &ha.head, &hb.head);
                same_frame("waterfall", &path, &ha.waterfall, &hb.waterfall);
                same_frame("waterfall connections", &path, &ha.waterfall_conns, &hb.waterfall_conns);
                same_frame("timeline exchanges", &path, &ha.exchanges, &hb.exchanges);
                assert_eq!((ha.total, ha.per_conn), (hb.total, hb.per_conn));
                assert_eq!(format!("{:?}", a.io), format!("{:?}", b.io), "{}: IO graph", path.display());
                same_frame("connections", &path, &a.conns.as_ref().unwrap().head, &b.conns.as_ref().unwrap().head);
            }
        }
        for p in made {
            std::fs::remove_file(p).unwrap();
        }
    }

    /// A pcap of `n` HTTP connections one after another (handshake, GET, 200, FINs), 1 ms
    /// apart; with `jitter`, every 7th packet's clock steps back 3 ms, and the request of the
    /// middle connection is stamped before every other (so the waterfall shows it first).
    fn sequential_connections(n: u16, jitter: bool) -> PathBuf {
        static MADE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let k = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("wirelab-collect-{}-{k}.pcap", std::process::id()));
        let mut f = Vec::new();
        for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
            f.extend_from_slice(&v.to_le_bytes());
        }
        let mut t_us: u64 = 1_700_000_000_000_000;
        let mut k = 0u64;
        let start = t_us;
        let mut frame = |f: &mut Vec<u8>, c: u16, up: bool, seq: u32, ack: u32, flags: &str, payload: &[u8]| {
            let (ca, sa) = ([10, 0, (c >> 8) as u8, c as u8], [10, 9, 9, 9]);
            let b = etherparse::PacketBuilder::ethernet2([1; 6], [2; 6]);
            let b = if up { b.ipv4(ca, sa, 64).tcp(40000, 80, seq, 65535) } else { b.ipv4(sa, ca, 64).tcp(80, 40000, seq, 65535) };
            let b = if flags.contains('S') { b.syn() } else { b };
            let b = if flags.contains('F') { b.fin() } else { b };
            let b = if flags.contains('A') { b.ack(ack) } else { b };
            let b = if flags.contains('P') { b.psh() } else { b };
            let mut bytes = Vec::new();
            b.write(&mut bytes, payload).unwrap();
            k += 1;
            let ts = match () {
                _ if jitter && c == n / 2 && !payload.is_empty() && up => start + 500,
                _ if jitter && k % 7 == 0 => t_us - 3000,
                _ => t_us,
            };
            for v in [(ts / 1_000_000) as u32, (ts % 1_000_000) as u32, bytes.len() as u32, bytes.len() as u32] {
                f.extend_from_slice(&v.to_le_bytes());
            }
            f.extend_from_slice(&bytes);
            t_us += 1000;
        };
        let (req, resp) = (&b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n"[..], &b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 2\r\n\r\nok"[..]);
        let (q, r) = (req.len() as u32, resp.len() as u32);
        for c in 0..n {
            frame(&mut f, c, true, 100, 0, "S", b"");
            frame(&mut f, c, false, 500, 101, "SA", b"");
            frame(&mut f, c, true, 101, 501, "A", b"");
            frame(&mut f, c, true, 101, 501, "PA", req);
            frame(&mut f, c, false, 501, 101 + q, "PA", resp);
            frame(&mut f, c, true, 101 + q, 501 + r, "FA", b"");
            frame(&mut f, c, false, 501 + r, 102 + q, "FA", b"");
            frame(&mut f, c, true, 102 + q, 502 + r, "A", b"");
        }
        std::fs::write(&path, f).unwrap();
        path
    }

    #[test]
    fn a_big_capture_gets_lean_transactions_past_the_tables() {
        let path = sequential_connections(600, true);
        let mut c = Collector::new(None);
        // Counts what the pass hands over, as the collector asked.
        struct Count<'a>(&'a mut Collector, [usize; 2]);
        impl Observer for Count<'_> {
            fn seen(&mut self, s: &Seen<'_>) -> Observed {
                self.0.seen(s)
            }
            fn transaction(&mut self, t: &Transaction) -> Observed {
                self.1[(t.target.is_some() || t.response_version.is_some()) as usize] += 1;
                self.0.transaction(t)
            }
            fn detail(&mut self, stream: u32) -> Detail {
                self.0.detail(stream)
            }
            fn wants_packets(&self) -> bool {
                false
            }
        }
        let mut n = Count(&mut c, [0, 0]);
        pass(&path, &mut n);
        let [lean, whole] = n.1;
        // The table's 200 and the waterfall's 40 are whole, and the connections that began
        // while they filled; the rest lean.
        assert!((TABLE_ROWS..TABLE_ROWS + 10).contains(&whole) && whole + lean == 600, "whole {whole}, lean {lean}");
        std::fs::remove_file(path).unwrap();
    }
}
