//! The statistics behind the charts, computed with polars over the reduced tables of [`super::input::ChartInput`] (per-interval sums, per-connection aggregates, quantiles), reduced to the small typed data the charts draw.

use std::path::Path;

use polars::prelude::*;

use super::input::{ConnSums, Conns, FlowRows, Http, IoBins, Msgs, PerConn, TseqPoints};
use super::runinfo::plural;
use crate::render::charts::{
    clip, nice_step, ArrowKind, CdfData, CdfSeries, ConnBar, FlowArrow, FlowData, GroupBars, IoData, IoSeries, Panel, TimelineData, TseqData, WaterfallData, WaterfallRow,
};

/// Arrows in the flow graph: more would not fit a slide.
pub const FLOW_ARROWS: usize = 30;
/// Connections and objects drawn in the timeline and the waterfall.
pub const ROWS: usize = 40;
/// Segments drawn in the time-sequence graph (retransmissions are always kept).
pub const TSEQ_SEGMENTS: usize = 4000;
/// Intervals in the IO graph, roughly.
pub const IO_BINS: f64 = 250.0;
/// Protocols drawn in the IO graph; the rest are summed as "other".
pub const IO_PROTOCOLS: usize = 5;

/// Reads the named columns of one exported table (Parquet); `None` if the table was not written.
pub fn read(dir: &Path, table: &str, cols: &[&str]) -> PolarsResult<Option<DataFrame>> {
    let p = dir.join(format!("{table}.parquet"));
    let Ok(f) = std::fs::File::open(&p) else { return Ok(None) };
    let df = ParquetReader::new(f).with_columns(Some(cols.iter().map(|c| c.to_string()).collect())).finish()?;
    Ok(Some(df))
}

/// A column as `f64` values (integers and booleans cast), `None` for nulls.
pub fn f64s(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<f64>>> {
    let c = df.column(name)?.cast(&DataType::Float64)?;
    Ok(c.f64()?.iter().collect())
}

pub fn strs(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<String>>> {
    let c = df.column(name)?.cast(&DataType::String)?;
    Ok(c.str()?.iter().map(|s| s.map(str::to_string)).collect())
}

/// Rows whose `col` lies in `[lo, hi]`.
pub fn between(df: &DataFrame, col: &str, lo: f64, hi: f64) -> PolarsResult<DataFrame> {
    let c = df.column(col)?.cast(&DataType::Float64)?;
    let ca = c.f64()?;
    let mask = ca.gt_eq(lo) & ca.lt_eq(hi);
    df.filter(&mask)
}

fn rows_where(df: &DataFrame, keep: impl Fn(usize) -> bool) -> PolarsResult<DataFrame> {
    let idx: Vec<IdxSize> = (0..df.height()).filter(|i| keep(*i)).map(|i| i as IdxSize).collect();
    df.take(&IdxCa::from_vec("idx".into(), idx))
}

/// Packets and bytes per interval, by protocol (the top few; the rest as "other"): the binned
/// counts grouped into about [`IO_BINS`] intervals with polars.
pub fn io_graph(io: &IoBins) -> PolarsResult<Option<IoData>> {
    if io.packets == 0 {
        return Ok(None);
    }
    let span = io.max_ns as f64 / 1e9;
    let interval = nice_step(span.max(1e-3), IO_BINS);
    let per = ((interval * 1e9).round() as u64 / io.width_ns).max(1);
    let interval = (per * io.width_ns) as f64 / 1e9;
    let (mut proto, mut bin, mut pk, mut by) = (vec![], vec![], vec![], vec![]);
    for (name, bins) in &io.protocols {
        for (i, b) in bins.iter().enumerate().filter(|(_, b)| b[0] > 0) {
            proto.push(name.as_str());
            bin.push(i as u64 / per);
            pk.push(b[0]);
            by.push(b[1]);
        }
    }
    let df = df!("protocol" => proto, "bin" => bin, "packets" => pk, "bytes" => by)?;
    // Top protocols by packet count (ties by name).
    #[allow(deprecated)]
    let counts = df.group_by(["protocol"])?.select(["packets"]).sum()?;
    let counts = counts.sort(["packets_sum", "protocol"], SortMultipleOptions::default().with_order_descending_multi([true, false]))?;
    let top: Vec<String> = strs(&counts, "protocol")?.into_iter().flatten().take(IO_PROTOCOLS).collect();
    let others = counts.height() > top.len();
    let names = strs(&df, "protocol")?;
    let lumped: Vec<String> = names.iter().map(|p| p.as_deref().filter(|p| top.iter().any(|t| t == p)).unwrap_or("other").to_string()).collect();
    let mut df = df;
    df.with_column(Column::new("protocol".into(), lumped))?;
    #[allow(deprecated)]
    let sums = df.group_by(["protocol", "bin"])?.select(["packets", "bytes"]).sum()?;
    let sums = sums.sort(["protocol", "bin"], SortMultipleOptions::default())?;
    let (p, b, bytes, count) = (strs(&sums, "protocol")?, f64s(&sums, "bin")?, f64s(&sums, "bytes_sum")?, f64s(&sums, "packets_sum")?);
    let mut order = top.clone();
    if others {
        order.push("other".into());
    }
    let series = order
        .iter()
        .map(|name| {
            let mut s = IoSeries { label: name.clone(), ..Default::default() };
            for i in (0..p.len()).filter(|i| p[*i].as_deref() == Some(name)) {
                s.t.push(b[i].unwrap_or(0.0) * interval);
                s.bytes.push(bytes[i].unwrap_or(0.0));
                s.packets.push(count[i].unwrap_or(0.0));
            }
            s
        })
        .collect();
    Ok(Some(IoData {
        title: format!("IO graph: {} packets over {:.2} s — where are the bursts?", crate::render::summary::thousands(io.packets), span),
        note: format!("{} intervals of {}; intervals with no packets of a protocol drop to zero", (span / interval).ceil() as u64, crate::render::charts::interval_name(interval)),
        interval_s: interval,
        series,
    }))
}

/// A short arrow label for one packet, as Wireshark's flow graph writes it.
pub fn arrow_label(protocol: &str, flags: &str, tcp_len: f64, info: &str) -> (String, ArrowKind) {
    let has = |f: &str| flags.split(", ").any(|x| x == f);
    if protocol == "HTTP" {
        let head = info.split(" [").next().unwrap_or(info);
        if let Some(rest) = head.strip_prefix("HTTP/1.1 ").or_else(|| head.strip_prefix("HTTP/1.0 ")) {
            return (rest.split("  (").next().unwrap_or(rest).trim().to_string(), ArrowKind::Http);
        }
        let mut w = head.split_whitespace();
        let req = match (w.next(), w.next()) {
            (Some(m), Some(t)) => format!("{m} {t}"),
            _ => head.to_string(),
        };
        return (req, ArrowKind::Http);
    }
    if protocol == "WebSocket" {
        return (info.strip_prefix("WebSocket ").unwrap_or(info).to_string(), ArrowKind::WebSocket);
    }
    if has("RST") {
        return ("RST".into(), ArrowKind::Reset);
    }
    if has("SYN") {
        return (if has("ACK") { "SYN-ACK" } else { "SYN" }.into(), ArrowKind::Handshake);
    }
    if has("FIN") {
        return ("FIN".into(), ArrowKind::Close);
    }
    if tcp_len > 0.0 {
        return (format!("data, {} B", tcp_len as u64), ArrowKind::Tcp);
    }
    ("ACK".into(), ArrowKind::Tcp)
}

const PACKET_COLS: &[&str] = &["time_rel", "src", "dst", "protocol", "length", "stream", "src_port", "dst_port", "tcp_flags", "seq_rel", "ack_rel", "tcp_len", "analysis", "info"];

/// The packet columns the charts read.
pub fn packet_columns() -> &'static [&'static str] {
    PACKET_COLS
}

/// The packet rows of the first three connections (or one `stream`): the first [`FLOW_ARROWS`].
pub fn flow_rows(packets: &DataFrame, stream: Option<u32>) -> PolarsResult<Option<FlowRows>> {
    let streams = f64s(packets, "stream")?;
    let first: Vec<u32> = {
        let mut v: Vec<u32> = vec![];
        for s in streams.iter().flatten() {
            let s = *s as u32;
            if !v.contains(&s) {
                v.push(s);
                if v.len() == 3 {
                    break;
                }
            }
        }
        v
    };
    let wanted: Vec<u32> = match stream {
        Some(s) => vec![s],
        None => first,
    };
    if wanted.is_empty() {
        return Ok(None);
    }
    let all = rows_where(packets, |i| streams[i].is_some_and(|s| wanted.contains(&(s as u32))))?;
    Ok(Some(FlowRows { total: all.height(), rows: all.head(Some(FLOW_ARROWS)), wanted }))
}

/// The ladder for the first connections (or one `stream`), capped at [`FLOW_ARROWS`] arrows.
pub fn flow(f: &FlowRows) -> PolarsResult<Option<FlowData>> {
    let (wanted, total, df) = (&f.wanted, f.total, f.rows.head(Some(FLOW_ARROWS)));
    let (t, src, dst, sp, dp) = (f64s(&df, "time_rel")?, strs(&df, "src")?, strs(&df, "dst")?, f64s(&df, "src_port")?, f64s(&df, "dst_port")?);
    let (proto, flags, len, info, st) = (strs(&df, "protocol")?, strs(&df, "tcp_flags")?, f64s(&df, "tcp_len")?, strs(&df, "info")?, f64s(&df, "stream")?);
    let ep = |a: &Option<String>, p: Option<f64>| format!("{}:{}", a.as_deref().unwrap_or("?"), p.map(|p| p as u64).unwrap_or(0));
    // Lanes: the initiators (senders of the SYNs, in order), then the servers.
    let mut clients: Vec<String> = vec![];
    let mut servers: Vec<String> = vec![];
    for i in 0..df.height() {
        let (s, d) = (ep(&src[i], sp[i]), ep(&dst[i], dp[i]));
        let syn_only = flags[i].as_deref() == Some("SYN");
        let (c, v) = if syn_only || (!servers.contains(&s) && !clients.contains(&d)) { (s, d) } else { (d, s) };
        if !clients.contains(&c) && !servers.contains(&c) {
            clients.push(c);
        }
        if !servers.contains(&v) && !clients.contains(&v) {
            servers.push(v);
        }
    }
    let lanes: Vec<String> = clients.iter().chain(servers.iter()).cloned().collect();
    let lane = |e: &str| lanes.iter().position(|l| l == e).unwrap_or(0);
    let mut acked_handshake: Vec<u32> = vec![];
    let mut arrows = vec![];
    for i in 0..df.height() {
        let (mut label, mut kind) = arrow_label(proto[i].as_deref().unwrap_or(""), flags[i].as_deref().unwrap_or(""), len[i].unwrap_or(0.0), info[i].as_deref().unwrap_or(""));
        let s = st[i].map(|s| s as u32);
        if label == "ACK" {
            if let Some(s) = s.filter(|s| !acked_handshake.contains(s)) {
                acked_handshake.push(s);
                kind = ArrowKind::Handshake;
                label = "ACK".into();
            }
        }
        arrows.push(FlowArrow { t: t[i].unwrap_or(0.0), from: lane(&ep(&src[i], sp[i])), to: lane(&ep(&dst[i], dp[i])), label, kind, stream: s });
    }
    let which = if wanted.len() == 1 { format!("stream {}", wanted[0]) } else { format!("streams {}", wanted.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")) };
    let note = if total > arrows.len() {
        format!("{which}: the first {} of {} packets (capped at {FLOW_ARROWS}; choose one with --stream)", arrows.len(), total)
    } else {
        format!("{which}: all {} packets", total)
    };
    let syns = arrows.iter().filter(|a| a.label == "SYN").count();
    let ws = arrows.iter().filter(|a| a.kind == ArrowKind::WebSocket).count();
    let title = if ws > 0 {
        format!("Flow graph: handshake, HTTP upgrade, then {ws} WebSocket frame(s) on the same connection")
    } else if syns > 1 {
        format!("Flow graph: {syns} connections, each opened by its own three-way handshake")
    } else if syns == 1 {
        "Flow graph: SYN, SYN-ACK, ACK — then the request and the response".to_string()
    } else {
        "Flow graph: who sends what, in order".to_string()
    };
    Ok(Some(FlowData { title, note, lanes: lanes.iter().map(|l| clip(l, 28)).collect(), arrows }))
}

/// The stream with the most payload (the last of equals), from the connections table.
pub fn busiest(c: &DataFrame) -> PolarsResult<Option<u32>> {
    if c.height() == 0 {
        return Ok(None);
    }
    let total = (c.column("payload_a_to_b")?.cast(&DataType::Float64)?.as_materialized_series() + c.column("payload_b_to_a")?.cast(&DataType::Float64)?.as_materialized_series())?;
    let best = total.f64()?.iter().enumerate().max_by(|a, b| a.1.unwrap_or(0.0).total_cmp(&b.1.unwrap_or(0.0))).map(|(i, _)| i).unwrap_or(0);
    Ok(Some(f64s(c, "stream")?[best].unwrap_or(0.0) as u32))
}

/// One connection's points as a Stevens time-sequence graph, from the port that sent the most payload.
pub fn tseq(points: &TseqPoints) -> PolarsResult<Option<TseqData>> {
    let stream = points.stream;
    let Some(si) = points.ports.iter().enumerate().max_by(|a, b| a.1.payload.total_cmp(&b.1.payload)).map(|(i, _)| i) else { return Ok(None) };
    let sender = &points.ports[si];
    if sender.segs.is_empty() {
        return Ok(None);
    }
    let n = sender.segs.len();
    let retrans = sender.retransmissions;
    let (kept, step) = sender.segs.clone().finish();
    let acks: Vec<(f64, f64)> = points.ports.iter().enumerate().filter(|(i, p)| *i != si && p.port != sender.port).flat_map(|(_, p)| p.acks.clone().finish().0).collect();
    let port = sender.port.unwrap_or(0);
    let title = if retrans > 0 {
        format!("Time-sequence, stream {stream}: {retrans} retransmission(s) — look for the red crosses and the flat steps")
    } else {
        format!("Time-sequence, stream {stream}: a steady climb, no retransmissions")
    };
    let note = if step > 1 { format!("{n} data segments from port {port}; every {step}th drawn, all retransmissions kept") } else { format!("{n} data segments from port {port}") };
    Ok(Some(TseqData { title, note, segs: kept, acks }))
}

/// Requests per connection (over the connections that carried HTTP), grouped with polars.
pub fn per_conn(http: &DataFrame) -> PolarsResult<PerConn> {
    if http.height() == 0 {
        return Ok(PerConn::default());
    }
    let g = http.group_by(["stream"])?.select(["index_on_conn"]).count()?;
    requests_per_conn(g.column("index_on_conn_count")?)
}

/// The busiest connection's requests and the connections with one, from a count per connection.
pub fn requests_per_conn(counts: &Column) -> PolarsResult<PerConn> {
    let n = counts.cast(&DataType::Float64)?;
    let n = n.f64()?;
    Ok(PerConn { busiest: n.max().unwrap_or(0.0) as usize, singles: n.equal(1.0).sum().unwrap_or(0) as usize })
}

/// One bar per connection, with its HTTP exchanges; capped at [`ROWS`].
pub fn timeline(conns: &Conns, http: Option<&Http>) -> PolarsResult<Option<TimelineData>> {
    if conns.total == 0 {
        return Ok(None);
    }
    let total = conns.total;
    let c = conns.head.head(Some(ROWS));
    let (st, start, dur, hs, close, pa) = (f64s(&c, "stream")?, f64s(&c, "start_rel")?, f64s(&c, "duration")?, f64s(&c, "handshake_rtt_ms")?, strs(&c, "close")?, f64s(&c, "port_a")?);
    let (hst, hreq, hlast) = match http {
        Some(h) => (f64s(&h.exchanges, "stream")?, f64s(&h.exchanges, "request_time_rel")?, f64s(&h.exchanges, "response_last_rel")?),
        None => (vec![], vec![], vec![]),
    };
    let mut bars = vec![];
    for i in 0..c.height() {
        let s0 = start[i].unwrap_or(0.0) * 1e3;
        let exchanges = (0..hst.len()).filter(|k| hst[*k] == st[i]).filter_map(|k| Some((hreq[k]? * 1e3, hlast[k].or(hreq[k])? * 1e3))).collect();
        bars.push(ConnBar {
            label: format!("#{} :{}", st[i].unwrap_or(0.0) as u64, pa[i].unwrap_or(0.0) as u64),
            start_ms: s0,
            handshake_end_ms: hs[i].map(|h| s0 + h),
            end_ms: s0 + dur[i].unwrap_or(0.0) * 1e3,
            exchanges,
            close: close[i].clone(),
        });
    }
    let reqs = http.map(|h| h.total).unwrap_or(0);
    let title = match spread(total, reqs, http) {
        Spread::Busy { busiest, singles } => format!("Connection timeline: one connection carries {busiest} requests; {singles} others carry one each, each paying a handshake"),
        Spread::One => format!("Connection timeline: one connection carries all {reqs} request(s)"),
        Spread::AboutOneEach => format!("Connection timeline: {total} connections for {reqs} requests — about one each, each paying a handshake"),
        Spread::Average(a) => format!("Connection timeline: {total} connections carry {reqs} requests ({a:.1} per connection)"),
        Spread::NoRequests => format!("Connection timeline: {total} TCP connections"),
    };
    let note = if total > ROWS { format!("the first {ROWS} of {total} connections") } else { String::new() };
    Ok(Some(TimelineData { title, note, bars }))
}

/// How a capture's HTTP requests spread over its connections: the rule that the connection
/// timeline's title and the capture's lesson both put in words.
enum Spread {
    /// One connection carries many requests, and several others one each.
    Busy { busiest: usize, singles: usize },
    /// One connection in all.
    One,
    /// About one request per connection: each pays a handshake.
    AboutOneEach,
    /// Requests per connection, on average.
    Average(f64),
    NoRequests,
}

fn spread(conns: usize, reqs: usize, http: Option<&Http>) -> Spread {
    let PerConn { busiest, singles } = http.map(|h| h.per_conn).unwrap_or_default();
    if busiest > 1 && singles > 1 {
        Spread::Busy { busiest, singles }
    } else if conns == 1 {
        Spread::One
    } else if reqs > 0 && reqs <= conns + conns / 5 {
        Spread::AboutOneEach
    } else if reqs > 0 {
        Spread::Average(reqs as f64 / conns as f64)
    } else {
        Spread::NoRequests
    }
}

/// The lesson of a capture that compares nothing: what its connections carried, in one sentence
/// with the numbers, e.g. "21,392 TCP connections (21,392 SYN, 42,784 FIN, 0 RST) carry 182,364
/// HTTP requests: one connection carries 530 of them, and 20,976 carry one each, each paying a
/// handshake." `None` without a connections table.
pub fn capture_lesson(packets: Option<u64>, conns: Option<&Conns>, http: Option<&Http>, msgs: Option<&Msgs>) -> Option<String> {
    use crate::render::summary::thousands as t;
    let c = conns?;
    let n = c.total as u64;
    if n == 0 {
        return Some(format!("{} packets and no TCP connection.", t(packets.unwrap_or(0))));
    }
    let ConnSums { syn, fin, rst, .. } = c.sums;
    let mut out = format!("{} ({} SYN, {} FIN, {} RST)", plural(n as f64, "TCP connection", "TCP connections"), t(syn as u64), t(fin as u64), t(rst as u64));
    let reqs = http.map_or(0, |h| h.total);
    let ws = msgs.map_or(0, |m| m.total);
    let carry = if n == 1 { "carries" } else { "carry" };
    let mut carried = vec![];
    if reqs > 0 {
        carried.push(plural(reqs as f64, "HTTP request", "HTTP requests"));
    }
    if ws > 0 {
        carried.push(plural(ws as f64, "WebSocket message", "WebSocket messages"));
    }
    if carried.is_empty() {
        out += &format!(" {carry} no HTTP or WebSocket message");
    } else {
        out += &format!(" {carry} {}", carried.join(" and "));
    }
    match spread(c.total, reqs, http) {
        Spread::Busy { busiest, singles } => out += &format!(": one connection carries {} of them, and {} carry one each, each paying a handshake", t(busiest as u64), t(singles as u64)),
        Spread::AboutOneEach => out += ": about one per connection, each paying a handshake",
        Spread::Average(a) => out += &format!(" ({a:.1} per connection)"),
        Spread::One | Spread::NoRequests => {}
    }
    if let Some(m) = msgs.filter(|m| !m.echo.is_empty()) {
        let mut e = m.echo.clone();
        e.sort_by(f64::total_cmp);
        out += &format!("; WebSocket echo round trip: median {:.3} ms", e[e.len() / 2]);
    }
    out.push('.');
    Some(out)
}

/// One row per HTTP object, split into waiting, handshake, TTFB and transfer; capped at [`ROWS`].
///
/// "Waiting for a connection" starts when the object could first be asked for: the end of the
/// latest HTML page before it (the page that names the objects).
pub fn waterfall(http: &Http) -> PolarsResult<Option<WaterfallData>> {
    if http.total == 0 {
        return Ok(None);
    }
    let total = http.total;
    let h = http.waterfall.sort(["request_time_rel"], SortMultipleOptions::default().with_nulls_last(true).with_maintain_order(true))?.head(Some(ROWS));
    let (hst, target, req, first, last, paid) = (f64s(&h, "stream")?, strs(&h, "target")?, f64s(&h, "request_time_rel")?, f64s(&h, "response_first_rel")?, f64s(&h, "response_last_rel")?, f64s(&h, "paid_handshake")?);
    let conns = &http.waterfall_conns;
    let (cst, cstart, chs) = (f64s(conns, "stream")?, f64s(conns, "start_rel")?, f64s(conns, "handshake_rtt_ms")?);
    let ctype = if h.get_column_names().iter().any(|c| c.as_str() == "content_type") { strs(&h, "content_type")? } else { vec![None; h.height()] };
    let is_page = |i: usize| ctype[i].as_deref().is_some_and(|c| c.contains("html")) || target[i].as_deref().is_some_and(|t| t.ends_with(".html") || t.ends_with(".htm") || t.ends_with('/'));
    let mut page_ready: Option<f64> = None;
    let mut rows = vec![];
    for i in 0..h.height() {
        let (Some(rq), Some(f)) = (req[i], first[i]) else { continue };
        if is_page(i) {
            // A page: its objects can be asked for once it has arrived.
            page_ready = None;
        }
        let l = last[i].unwrap_or(f);
        let conn = cst.iter().position(|s| *s == hst[i]);
        let handshake = if paid[i].unwrap_or(0.0) > 0.0 {
            conn.and_then(|k| Some((cstart[k]? * 1e3, cstart[k]? * 1e3 + chs[k]?)))
        } else {
            None
        };
        let wait_end = handshake.map(|h| h.0).unwrap_or(rq * 1e3);
        let wait = page_ready.filter(|p| p * 1e3 < wait_end).map(|p| (p * 1e3, wait_end));
        rows.push(WaterfallRow { label: target[i].clone().unwrap_or_else(|| "?".into()), wait, handshake, ttfb: (rq * 1e3, f * 1e3), transfer: (f * 1e3, l * 1e3) });
        if is_page(i) {
            page_ready = Some(l);
        }
    }
    let handshakes = rows.iter().filter(|r| r.handshake.is_some()).count();
    let title = format!("Object waterfall: {} object(s), {handshakes} of them waited for a new handshake", total);
    let note = if total > ROWS { format!("the first {ROWS} of {total} HTTP objects, by request time") } else { String::new() };
    Ok(Some(WaterfallData { title, note, rows }))
}

/// A CDF of one sample column (e.g. `echo_latency_ms`), reduced to at most 201 quantiles.
pub fn cdf_points(values: &Float64Chunked) -> PolarsResult<Vec<(f64, f64)>> {
    let n = values.len() - values.null_count();
    if n == 0 {
        return Ok(vec![]);
    }
    let qs: Vec<f64> = if n <= 200 { (1..=n).map(|i| i as f64 / n as f64).collect() } else { (0..=200).map(|i| i as f64 / 200.0).collect() };
    let mut pts = vec![];
    for q in qs {
        if let Some(v) = values.quantile(q, QuantileMethod::Lower)? {
            pts.push((v, q));
        }
    }
    Ok(pts)
}

fn dist_label(name: &str, values: &Float64Chunked) -> PolarsResult<String> {
    let p50 = values.quantile(0.5, QuantileMethod::Linear)?.unwrap_or(0.0);
    let p95 = values.quantile(0.95, QuantileMethod::Linear)?.unwrap_or(0.0);
    Ok(format!("{name}: p50 {p50:.2} ms, p95 {p95:.2} ms (n = {})", values.len() - values.null_count()))
}

/// WebSocket echo round-trip times from the messages table, one series per run given.
pub fn echo_cdf(runs: &[(String, &Msgs)]) -> PolarsResult<Option<CdfData>> {
    let mut series = vec![];
    let mut sampled = vec![];
    for (name, msgs) in runs {
        if msgs.echo.is_empty() {
            continue;
        }
        if msgs.echo_total > msgs.echo.len() {
            sampled.push(format!("{name}: the first {} of {} echoes", msgs.echo.len(), msgs.echo_total));
        }
        let v = Float64Chunked::from_slice("echo_latency_ms".into(), &msgs.echo);
        series.push(CdfSeries { label: dist_label(name, &v)?, points: cdf_points(&v)?, from_percentiles: false });
    }
    if series.is_empty() {
        return Ok(None);
    }
    let mut note = "measured on the wire: client message → server's echo".to_string();
    if !sampled.is_empty() {
        note = format!("{note} ({})", sampled.join("; "));
    }
    Ok(Some(CdfData {
        name: "ws-echo-rtt-cdf".into(),
        title: "WebSocket echo round-trip time: how long most messages take, and the tail".into(),
        note,
        x_desc: "echo round-trip time (ms)".into(),
        series,
    }))
}

/// SYN/FIN/RST and header against payload bytes, per group of connections (steps or runs).
pub fn overhead(groups: &[(String, ConnSums)]) -> PolarsResult<Option<GroupBars>> {
    if groups.is_empty() || groups.iter().all(|(_, d)| d.count == 0.0) {
        return Ok(None);
    }
    let mut syn = vec![];
    let mut fin = vec![];
    let mut rst = vec![];
    let mut head = vec![];
    let mut pay = vec![];
    for (_, d) in groups {
        syn.push(d.syn);
        fin.push(d.fin);
        rst.push(d.rst);
        head.push(d.bytes - d.payload);
        pay.push(d.payload);
    }
    let names: Vec<String> = groups.iter().map(|g| g.0.clone()).collect();
    let title = if groups.len() >= 2 {
        let share = |i: usize| if head[i] + pay[i] > 0.0 { 100.0 * head[i] / (head[i] + pay[i]) } else { 0.0 };
        let (a, b) = (0, groups.len() - 1);
        format!("{}: {} handshakes, headers {:.0}% of bytes; {}: {} handshakes, headers {:.0}%", names[a], syn[a], share(a), names[b], syn[b], share(b))
    } else {
        let share = if head[0] + pay[0] > 0.0 { 100.0 * head[0] / (head[0] + pay[0]) } else { 0.0 };
        format!("{} handshakes; headers are {share:.0}% of the bytes on the wire", syn[0])
    };
    Ok(Some(GroupBars {
        name: "handshakes-overhead".into(),
        title,
        note: "headers = Ethernet + IP + TCP headers of every packet; payload = TCP payload".into(),
        groups: names,
        panels: vec![
            Panel { title: "Connection set-up and tear-down".into(), y_desc: "packets".into(), series: vec![("SYN".into(), syn), ("FIN".into(), fin), ("RST".into(), rst)], stacked: false },
            Panel { title: "Bytes on the wire".into(), y_desc: "bytes".into(), series: vec![("headers".into(), head), ("payload".into(), pay)], stacked: true },
        ],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lesson_of_a_capture_says_what_its_connections_carried() {
        let sums = |count: f64| ConnSums { count, syn: count, fin: 2.0 * count, rst: 0.0, packets: 0.0, bytes: 0.0, payload: 0.0 };
        let conns = |n: usize| Conns { head: DataFrame::empty(), total: n, sums: sums(n as f64), full: None };
        let http = |total: usize, busiest: usize, singles: usize| Http {
            head: DataFrame::empty(),
            total,
            exchanges: DataFrame::empty(),
            per_conn: PerConn { busiest, singles },
            waterfall: DataFrame::empty(),
            waterfall_conns: DataFrame::empty(),
        };
        let l = capture_lesson(None, Some(&conns(21_392)), Some(&http(182_364, 530, 20_976)), None).unwrap();
        assert_eq!(l, "21,392 TCP connections (21,392 SYN, 42,784 FIN, 0 RST) carry 182,364 HTTP requests: one connection carries 530 of them, and 20,976 carry one each, each paying a handshake.");
        let l = capture_lesson(None, Some(&conns(21)), Some(&http(21, 1, 21)), None).unwrap();
        assert!(l.ends_with("carry 21 HTTP requests: about one per connection, each paying a handshake."), "{l}");
        let l = capture_lesson(None, Some(&conns(4)), Some(&http(40, 10, 0)), None).unwrap();
        assert!(l.ends_with("carry 40 HTTP requests (10.0 per connection)."), "{l}");
        let msgs = Msgs { head: DataFrame::empty(), total: 12, echo: vec![0.5, 0.2, 0.3], echo_total: 3 };
        let l = capture_lesson(None, Some(&conns(1)), Some(&http(1, 1, 1)), Some(&msgs)).unwrap();
        assert_eq!(l, "1 TCP connection (1 SYN, 2 FIN, 0 RST) carries 1 HTTP request and 12 WebSocket messages; WebSocket echo round trip: median 0.300 ms.");
        assert!(capture_lesson(None, Some(&conns(3)), None, None).unwrap().contains("carry no HTTP or WebSocket message."));
        assert_eq!(capture_lesson(Some(32), Some(&conns(0)), None, None).unwrap(), "32 packets and no TCP connection.");
        assert_eq!(capture_lesson(Some(32), None, None, None), None);
    }

    #[test]
    fn arrow_labels() {
        assert_eq!(arrow_label("TCP", "SYN", 0.0, "").0, "SYN");
        assert_eq!(arrow_label("TCP", "SYN, ACK", 0.0, "").0, "SYN-ACK");
        assert_eq!(arrow_label("TCP", "FIN, ACK", 0.0, "").0, "FIN");
        assert_eq!(arrow_label("TCP", "RST, ACK", 0.0, "").1, ArrowKind::Reset);
        assert_eq!(arrow_label("TCP", "PSH, ACK", 120.0, "").0, "data, 120 B");
        assert_eq!(arrow_label("HTTP", "PSH, ACK", 80.0, "GET /dino.jpg HTTP/1.1 ").0, "GET /dino.jpg");
        assert_eq!(arrow_label("HTTP", "PSH, ACK", 80.0, "HTTP/1.1 200 OK  (image/jpeg)").0, "200 OK");
    }

    #[test]
    fn io_graph_sums_per_interval_and_protocol() {
        let df = df!(
            "time_rel" => [0.0f64, 0.0004, 0.5, 0.9, 1.0],
            "protocol" => ["TCP", "TCP", "HTTP", "TCP", "HTTP"],
            "length" => [60u32, 70, 500, 66, 400],
        )
        .unwrap();
        let io = io_graph(&IoBins::from_packets(&df).unwrap()).unwrap().unwrap();
        let tcp = io.series.iter().find(|s| s.label == "TCP").unwrap();
        assert_eq!(tcp.packets.iter().sum::<f64>(), 3.0);
        assert_eq!(tcp.bytes.iter().sum::<f64>(), 196.0);
        assert_eq!(tcp.packets[0], 2.0, "the first two packets share an interval");
        let http = io.series.iter().find(|s| s.label == "HTTP").unwrap();
        assert_eq!(http.bytes.iter().sum::<f64>(), 900.0);
        assert_eq!(io.interval_s, 0.005);
    }

    #[test]
    fn cdf_of_four_samples() {
        let ca = Float64Chunked::from_vec("x".into(), vec![4.0, 1.0, 3.0, 2.0]);
        assert_eq!(cdf_points(&ca).unwrap(), vec![(1.0, 0.25), (2.0, 0.5), (3.0, 0.75), (4.0, 1.0)]);
    }
}
