//! The statistics behind the charts, computed with polars over the exported tables (per-interval sums, per-connection aggregates, quantiles), reduced to the small typed data the charts draw.

use std::path::Path;

use polars::prelude::*;

use crate::render::charts::{
    clip, nice_step, ArrowKind, CdfData, CdfSeries, ConnBar, FlowArrow, FlowData, GroupBars, IoData, IoSeries, Panel, TimelineData, TseqData, TseqSeg, WaterfallData, WaterfallRow,
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

/// Packets and bytes per interval, by protocol (the top few; the rest as "other").
pub fn io_graph(packets: &DataFrame) -> PolarsResult<Option<IoData>> {
    if packets.height() == 0 {
        return Ok(None);
    }
    let t = packets.column("time_rel")?.cast(&DataType::Float64)?;
    let span = t.f64()?.max().unwrap_or(0.0);
    let interval = nice_step(span.max(1e-3), IO_BINS);
    let bin = (t.as_materialized_series() * (1.0 / interval)).cast(&DataType::Int64)?.with_name("bin".into());
    // Top protocols by packet count.
    let proto = packets.column("protocol")?.clone();
    let counts = DataFrame::new_infer_height(vec![proto.clone(), packets.column("length")?.clone()])?.group_by(["protocol"])?.select(["length"]).count()?;
    let counts = counts.sort(["length_count"], SortMultipleOptions::default().with_order_descending(true))?;
    let top: Vec<String> = strs(&counts, "protocol")?.into_iter().flatten().take(IO_PROTOCOLS).collect();
    let others = counts.height() > top.len();
    let names = proto.cast(&DataType::String)?;
    let lumped: Vec<String> = names.str()?.iter().map(|p| p.filter(|p| top.iter().any(|t| t == p)).unwrap_or("other").to_string()).collect();
    let df = DataFrame::new_infer_height(vec![
        Column::new("protocol".into(), lumped),
        bin.into(),
        packets.column("length")?.cast(&DataType::UInt64)?,
    ])?;
    #[allow(deprecated)]
    let sums = df.group_by(["protocol", "bin"])?.select(["length"]).sum()?;
    let n = df.group_by(["protocol", "bin"])?.select(["length"]).count()?;
    let sums = sums.sort(["protocol", "bin"], SortMultipleOptions::default())?;
    let n = n.sort(["protocol", "bin"], SortMultipleOptions::default())?;
    let (p, b, bytes, count) = (strs(&sums, "protocol")?, f64s(&sums, "bin")?, f64s(&sums, "length_sum")?, f64s(&n, "length_count")?);
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
    let total = packets.height();
    Ok(Some(IoData {
        title: format!("IO graph: {} packets over {:.2} s — where are the bursts?", crate::render::summary::thousands(total as u64), span),
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

/// The ladder for the first connections (or one `stream`), capped at [`FLOW_ARROWS`] arrows.
pub fn flow(packets: &DataFrame, stream: Option<u32>) -> PolarsResult<Option<FlowData>> {
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
    let total = all.height();
    let df = all.head(Some(FLOW_ARROWS));
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

/// The connection with the most payload (or `stream`), as a Stevens time-sequence graph.
pub fn tseq(packets: &DataFrame, conns: Option<&DataFrame>, stream: Option<u32>) -> PolarsResult<Option<TseqData>> {
    let stream = match (stream, conns) {
        (Some(s), _) => s,
        (None, Some(c)) if c.height() > 0 => {
            let total = (c.column("payload_a_to_b")?.cast(&DataType::Float64)? .as_materialized_series() + c.column("payload_b_to_a")?.cast(&DataType::Float64)?.as_materialized_series())?;
            let best = total.f64()?.iter().enumerate().max_by(|a, b| a.1.unwrap_or(0.0).total_cmp(&b.1.unwrap_or(0.0))).map(|(i, _)| i).unwrap_or(0);
            f64s(c, "stream")?[best].unwrap_or(0.0) as u32
        }
        _ => return Ok(None),
    };
    let streams = f64s(packets, "stream")?;
    let df = rows_where(packets, |i| streams[i] == Some(stream as f64))?;
    if df.height() == 0 {
        return Ok(None);
    }
    let (t, sp, seq, ack, len, an) = (f64s(&df, "time_rel")?, f64s(&df, "src_port")?, f64s(&df, "seq_rel")?, f64s(&df, "ack_rel")?, f64s(&df, "tcp_len")?, strs(&df, "analysis")?);
    // The sending direction: the source port that carried the most payload.
    let mut per_port: Vec<(f64, f64)> = vec![];
    for i in 0..df.height() {
        let p = sp[i].unwrap_or(0.0);
        match per_port.iter_mut().find(|x| x.0 == p) {
            Some(x) => x.1 += len[i].unwrap_or(0.0),
            None => per_port.push((p, len[i].unwrap_or(0.0))),
        }
    }
    let sender = per_port.iter().max_by(|a, b| a.1.total_cmp(&b.1)).map(|x| x.0).unwrap_or(0.0);
    let mut segs = vec![];
    let mut acks = vec![];
    for i in 0..df.height() {
        let l = len[i].unwrap_or(0.0);
        if sp[i] == Some(sender) {
            if l > 0.0 {
                let s = seq[i].unwrap_or(0.0);
                let re = an[i].as_deref().is_some_and(|a| a.contains("retransmission"));
                segs.push(TseqSeg { t: t[i].unwrap_or(0.0), seq: s, end: s + l, retransmission: re });
            }
        } else if let Some(a) = ack[i] {
            acks.push((t[i].unwrap_or(0.0), a));
        }
    }
    if segs.is_empty() {
        return Ok(None);
    }
    let n = segs.len();
    let retrans = segs.iter().filter(|s| s.retransmission).count();
    let step = n.div_ceil(TSEQ_SEGMENTS).max(1);
    let kept: Vec<TseqSeg> = segs.into_iter().enumerate().filter(|(i, s)| s.retransmission || i % step == 0).map(|(_, s)| s).collect();
    let astep = acks.len().div_ceil(TSEQ_SEGMENTS).max(1);
    let acks: Vec<(f64, f64)> = acks.into_iter().enumerate().filter(|(i, _)| i % astep == 0).map(|(_, a)| a).collect();
    let title = if retrans > 0 {
        format!("Time-sequence, stream {stream}: {retrans} retransmission(s) — look for the red crosses and the flat steps")
    } else {
        format!("Time-sequence, stream {stream}: a steady climb, no retransmissions")
    };
    let note = if step > 1 { format!("{n} data segments from port {sender}; every {step}th drawn, all retransmissions kept") } else { format!("{n} data segments from port {sender}") };
    Ok(Some(TseqData { title, note, segs: kept, acks }))
}

/// One bar per connection, with its HTTP exchanges; capped at [`ROWS`].
pub fn timeline(conns: &DataFrame, http: Option<&DataFrame>) -> PolarsResult<Option<TimelineData>> {
    if conns.height() == 0 {
        return Ok(None);
    }
    let total = conns.height();
    let c = conns.head(Some(ROWS));
    let (st, start, dur, hs, close, pa) = (f64s(&c, "stream")?, f64s(&c, "start_rel")?, f64s(&c, "duration")?, f64s(&c, "handshake_rtt_ms")?, strs(&c, "close")?, f64s(&c, "port_a")?);
    let (hst, hreq, hlast) = match http {
        Some(h) => (f64s(h, "stream")?, f64s(h, "request_time_rel")?, f64s(h, "response_last_rel")?),
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
    let reqs = hst.len();
    let mut per_conn: Vec<(u64, usize)> = vec![];
    for s in hst.iter().flatten() {
        let s = *s as u64;
        match per_conn.iter_mut().find(|c| c.0 == s) {
            Some(c) => c.1 += 1,
            None => per_conn.push((s, 1)),
        }
    }
    let busiest = per_conn.iter().map(|c| c.1).max().unwrap_or(0);
    let singles = per_conn.iter().filter(|c| c.1 == 1).count();
    let title = if busiest > 1 && singles > 1 {
        format!("Connection timeline: one connection carries {busiest} requests; {singles} others carry one each, each paying a handshake")
    } else if total == 1 {
        format!("Connection timeline: one connection carries all {reqs} request(s)")
    } else if reqs > 0 && reqs <= total + total / 5 {
        format!("Connection timeline: {total} connections for {reqs} requests — about one each, each paying a handshake")
    } else if reqs > 0 {
        format!("Connection timeline: {total} connections carry {reqs} requests ({:.1} per connection)", reqs as f64 / total as f64)
    } else {
        format!("Connection timeline: {total} TCP connections")
    };
    let note = if total > ROWS { format!("the first {ROWS} of {total} connections") } else { String::new() };
    Ok(Some(TimelineData { title, note, bars }))
}

/// One row per HTTP object, split into waiting, handshake, TTFB and transfer; capped at [`ROWS`].
///
/// "Waiting for a connection" starts when the object could first be asked for: the end of the
/// latest HTML page before it (the page that names the objects).
pub fn waterfall(conns: &DataFrame, http: &DataFrame) -> PolarsResult<Option<WaterfallData>> {
    if http.height() == 0 {
        return Ok(None);
    }
    let sorted = http.sort(["request_time_rel"], SortMultipleOptions::default().with_nulls_last(true))?;
    let total = sorted.height();
    let h = sorted.head(Some(ROWS));
    let (hst, target, req, first, last, paid) = (f64s(&h, "stream")?, strs(&h, "target")?, f64s(&h, "request_time_rel")?, f64s(&h, "response_first_rel")?, f64s(&h, "response_last_rel")?, f64s(&h, "paid_handshake")?);
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
pub fn echo_cdf(runs: &[(String, DataFrame)]) -> PolarsResult<Option<CdfData>> {
    let mut series = vec![];
    for (name, msgs) in runs {
        let c = msgs.column("echo_latency_ms")?.cast(&DataType::Float64)?;
        let v = c.f64()?.drop_nulls();
        if v.is_empty() {
            continue;
        }
        series.push(CdfSeries { label: dist_label(name, &v)?, points: cdf_points(&v)?, from_percentiles: false });
    }
    if series.is_empty() {
        return Ok(None);
    }
    Ok(Some(CdfData {
        name: "ws-echo-rtt-cdf".into(),
        title: "WebSocket echo round-trip time: how long most messages take, and the tail".into(),
        note: "measured on the wire: client message → server's echo".into(),
        x_desc: "echo round-trip time (ms)".into(),
        series,
    }))
}

/// SYN/FIN/RST and header against payload bytes, per group of connections (steps or runs).
pub fn overhead(groups: &[(String, DataFrame)]) -> PolarsResult<Option<GroupBars>> {
    if groups.is_empty() || groups.iter().all(|(_, d)| d.height() == 0) {
        return Ok(None);
    }
    let sum = |d: &DataFrame, c: &str| -> PolarsResult<f64> { Ok(d.column(c)?.cast(&DataType::Float64)?.f64()?.sum().unwrap_or(0.0)) };
    let mut syn = vec![];
    let mut fin = vec![];
    let mut rst = vec![];
    let mut head = vec![];
    let mut pay = vec![];
    for (_, d) in groups {
        syn.push(sum(d, "syn")?);
        fin.push(sum(d, "fin")?);
        rst.push(sum(d, "rst")?);
        let bytes = sum(d, "bytes_a_to_b")? + sum(d, "bytes_b_to_a")?;
        let p = sum(d, "payload_a_to_b")? + sum(d, "payload_b_to_a")?;
        head.push(bytes - p);
        pay.push(p);
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
        let io = io_graph(&df).unwrap().unwrap();
        let tcp = io.series.iter().find(|s| s.label == "TCP").unwrap();
        assert_eq!(tcp.packets.iter().sum::<f64>(), 3.0);
        assert_eq!(tcp.bytes.iter().sum::<f64>(), 196.0);
        assert_eq!(tcp.packets[0], 2.0, "the first two packets share an interval");
        let http = io.series.iter().find(|s| s.label == "HTTP").unwrap();
        assert_eq!(http.bytes.iter().sum::<f64>(), 900.0);
    }

    #[test]
    fn cdf_of_four_samples() {
        let ca = Float64Chunked::from_vec("x".into(), vec![4.0, 1.0, 3.0, 2.0]);
        assert_eq!(cdf_points(&ca).unwrap(), vec![(1.0, 0.25), (2.0, 0.5), (3.0, 0.75), (4.0, 1.0)]);
    }
}
