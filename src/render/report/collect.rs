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
use crate::analysis::{Observed, Observer, Seen, SeenTcp, Summary, CONTINUE};
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

    fn flow(&mut self, seen: &Seen<'_>, t: &SeenTcp<'_>, t0: i128) {
        let s = t.info.stream;
        if self.stream.is_none() && self.flow_wanted.len() < 3 && !self.flow_wanted.contains(&s) {
            self.flow_wanted.push(s);
        }
        if self.flow_wanted.contains(&s) {
            self.flow_total += 1;
            if self.flow_rows.len() < FLOW_ARROWS {
                self.flow_rows.push_seen(seen, t, t0);
            }
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
