//! The terminal summary: capture facts, TCP counts, a conversations table in the style of
//! Wireshark's Statistics → Conversations, and the anomalies table.

use std::io::{self, Write};

use crate::analysis::{Detail, Dist, Observed, Observer, Summary, CONTINUE};
use crate::proto::http::Transaction;
use crate::proto::websocket::WsMessage;
use crate::render::table::Table;
use crate::tcp::{CloseHow, Conn};

/// Rows kept for the HTTP and WebSocket tables (the analysis itself keeps none).
pub struct Rows<'a> {
    pub transactions: &'a [Transaction],
    pub messages: &'a [WsMessage],
}

/// A cap on table rows, and what the line under a cut table tells the reader, e.g.
/// `use --all to show every row`: the caller knows its own flags, the renderer does not.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub rows: usize,
    pub more_hint: &'static str,
}

/// An observer that keeps the first `limit` HTTP transactions and WebSocket messages of a
/// pass for the tables.
#[derive(Debug, Default)]
pub struct KeptRows {
    limit: usize,
    pub transactions: Vec<Transaction>,
    pub messages: Vec<WsMessage>,
}

impl KeptRows {
    pub fn new(limit: usize) -> Self {
        KeptRows { limit, ..Default::default() }
    }

    pub fn rows(&self) -> Rows<'_> {
        Rows { transactions: &self.transactions, messages: &self.messages }
    }
}

impl Observer for KeptRows {
    fn transaction(&mut self, t: &Transaction) -> Observed {
        if self.transactions.len() < self.limit {
            self.transactions.push(t.clone());
        }
        CONTINUE
    }
    fn ws_message(&mut self, m: &WsMessage) -> Observed {
        if self.messages.len() < self.limit {
            self.messages.push(m.clone());
        }
        CONTINUE
    }
    fn wants_packets(&self) -> bool {
        false
    }
    /// The first transactions to complete are kept, so they come from connections that began
    /// before the rows were full: later ones may be lean.
    fn detail(&mut self, _: u32) -> Detail {
        Detail::new(self.transactions.len() < self.limit, false)
    }
}

/// Human-readable byte count: `1,234,567 B`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn ms(ns: i128) -> String {
    format!("{:.3}", ns as f64 / 1e6)
}

fn dist(d: &Dist) -> String {
    match (d.p50_ms, d.p95_ms, d.max_ms) {
        (Some(a), Some(b), Some(c)) => format!("p50 {a:.3} ms · p95 {b:.3} ms · max {c:.3} ms (n={})", d.count),
        _ => "-".into(),
    }
}

fn counts<V: std::fmt::Display>(m: impl IntoIterator<Item = (impl std::fmt::Display, V)>) -> String {
    m.into_iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(" · ")
}

/// Writes the whole summary. `limit` caps the table rows (None = all).
pub fn render(o: &mut impl Write, name: &str, s: &Summary, rows: &Rows<'_>, limit: Option<Limit>) -> io::Result<()> {
    let c = &s.capture;
    writeln!(o, "Capture   {name} ({:?}, {})", c.format, c.link_types.iter().map(|l| l.name.as_str()).collect::<Vec<_>>().join(", "))?;
    writeln!(
        o,
        "Packets   {} frames, {} bytes on the wire, {:.6} s",
        thousands(c.packets),
        thousands(c.bytes),
        c.duration_s
    )?;
    let protos: Vec<String> = c.protocols.iter().map(|(k, v)| format!("{k} {}", thousands(*v))).collect();
    writeln!(o, "Protocols {}", protos.join(" · "))?;
    for cm in &c.comments {
        writeln!(o, "Comment   {cm}")?;
    }
    let t = &s.tcp;
    writeln!(
        o,
        "TCP       {} connections · SYN {} · SYN-ACK {} · FIN {} · RST {} · handshakes {}",
        thousands(t.connections),
        t.syn,
        t.syn_ack,
        t.fin,
        t.rst,
        t.handshakes
    )?;
    writeln!(
        o,
        "          retransmissions {} · out-of-order {} · dup ACKs {} · zero windows {} · missing bytes {}",
        t.retransmissions,
        t.out_of_order,
        t.dup_acks,
        t.zero_windows,
        thousands(t.missing_bytes)
    )?;
    let h = &s.http;
    if h.requests + h.responses > 0 {
        writeln!(o, "HTTP      {} requests ({}) · {} responses ({}) · {} connections", h.requests, counts(&h.methods), h.responses, counts(&h.status), h.connections)?;
        writeln!(o, "          time to first byte {} · total {}", dist(&h.ttfb), dist(&h.total))?;
        for (name, t) in &h.tunnels {
            writeln!(
                o,
                "          tunnel {name}: {} connections ({} carrying HTTP) · {} opaque bytes",
                thousands(t.connections),
                thousands(t.http_connections),
                thousands(t.opaque_bytes)
            )?;
        }
    }
    let w = &s.websocket;
    if w.connections > 0 {
        let op = &w.opcodes;
        writeln!(
            o,
            "WebSocket {} connections ({} with permessage-deflate) · {} frames (text {} · binary {} · continuation {} · close {} · ping {} · pong {}) · {} messages",
            w.connections, w.deflate_connections, w.frames, op.text, op.binary, op.continuation, op.close, op.ping, op.pong, w.messages
        )?;
        writeln!(o, "          echo latency {} · ping RTT {}", dist(&w.echo), dist(&w.ping_rtt))?;
        if !w.close_codes.is_empty() {
            writeln!(o, "          close {}", counts(&w.close_codes))?;
        }
    }
    if let Some(d) = &c.damage {
        writeln!(o, "WARNING   capture damaged at byte offset {}: {}; analysis covers everything before it", d.offset, d.reason)?;
    }
    if !s.conversations.is_empty() {
        writeln!(o, "\nTCP conversations")?;
        conversations(o, &s.conversations, s.tcp.connections, c.first_ts.unwrap_or(0.0), limit)?;
    }
    if !rows.transactions.is_empty() {
        writeln!(o, "\nHTTP transactions")?;
        transactions(o, rows.transactions, s.http.transactions, c.first_ts.unwrap_or(0.0), limit)?;
    }
    if !rows.messages.is_empty() {
        writeln!(o, "\nWebSocket messages")?;
        ws_messages(o, rows.messages, s.websocket.messages, c.first_ts.unwrap_or(0.0), limit)?;
    }
    if !s.anomalies.is_empty() {
        writeln!(o, "\nAnomalies")?;
        let mut tb = Table::new(&["Kind", "Count", "First frame", "Offset", "Detail"]);
        tb.right(&[1, 2, 3]);
        for a in &s.anomalies {
            tb.row(vec![a.kind.to_string(), thousands(a.count), a.first_frame.to_string(), a.first_offset.to_string(), a.detail.clone()]);
        }
        o.write_all(tb.render().as_bytes())?;
    }
    Ok(())
}

fn close(c: &Conn) -> String {
    match c.close {
        None => "open".into(),
        Some(cl) => format!("{} by {}", if cl.how == CloseHow::Fin { "FIN" } else { "RST" }, if cl.dir == 0 { "A" } else { "B" }),
    }
}

/// The conversations table, one row per connection: the first rows of `total` connections.
pub fn conversations(o: &mut impl Write, conns: &[Conn], total: u64, t0_s: f64, limit: Option<Limit>) -> io::Result<()> {
    let mut tb = Table::new(&[
        "#", "Address A", "Port A", "Address B", "Port B", "Packets", "Bytes", "Pkts A→B", "Bytes A→B", "Pkts B→A", "Bytes B→A",
        "Rel Start", "Duration", "SYN", "SYN-ACK", "FIN", "RST", "HS RTT ms", "Close", "History",
    ]);
    tb.right(&[0, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]);
    let shown = limit.map_or(usize::MAX, |l| l.rows).min(conns.len());
    for c in &conns[..shown] {
        let start = c.first_ns as f64 / 1e9 - t0_s;
        tb.row(vec![
            c.index.to_string(),
            c.a.ip().to_string(),
            c.a.port().to_string(),
            c.b.ip().to_string(),
            c.b.port().to_string(),
            thousands(c.packets[0] + c.packets[1]),
            thousands(c.bytes[0] + c.bytes[1]),
            thousands(c.packets[0]),
            thousands(c.bytes[0]),
            thousands(c.packets[1]),
            thousands(c.bytes[1]),
            format!("{start:.6}"),
            format!("{:.6}", (c.last_ns - c.first_ns) as f64 / 1e9),
            c.syn.to_string(),
            c.syn_ack.to_string(),
            c.fin.to_string(),
            c.rst.to_string(),
            c.handshake_rtt_ns.map(ms).unwrap_or_else(|| "-".into()),
            close(c),
            c.history.clone(),
        ]);
    }
    o.write_all(tb.render().as_bytes())?;
    more(o, shown, total.max(conns.len() as u64), "connections", limit)
}

fn opt_ms(ns: Option<i128>) -> String {
    ns.map(ms).unwrap_or_else(|| "-".into())
}

/// The line under a table cut by `limit`.
fn more(o: &mut impl Write, shown: usize, total: u64, what: &str, limit: Option<Limit>) -> io::Result<()> {
    match limit {
        Some(l) if (shown as u64) < total => writeln!(o, "… {} more {what} ({})", thousands(total - shown as u64), l.more_hint),
        _ => Ok(()),
    }
}

/// The HTTP transactions table.
pub fn transactions(o: &mut impl Write, rows: &[Transaction], total: u64, t0_s: f64, limit: Option<Limit>) -> io::Result<()> {
    let mut tb = Table::new(&[
        "Conn", "Req#", "Start", "Method", "Target", "Status", "Req hdr", "Req body", "Resp hdr", "Resp body", "Content-Type", "TTFB ms",
        "Total ms", "Handshake", "Connection",
    ]);
    tb.right(&[0, 1, 2, 6, 7, 8, 9, 11, 12]);
    let shown = limit.map_or(usize::MAX, |l| l.rows).min(rows.len());
    for t in &rows[..shown] {
        let mut target = t.target.clone().unwrap_or_else(|| "-".into());
        if target.chars().count() > 40 {
            target = target.chars().take(39).collect::<String>() + "…";
        }
        let status = match (t.status, &t.reason) {
            (Some(c), Some(r)) => format!("{c} {r}"),
            (Some(c), None) => c.to_string(),
            _ => "-".into(),
        };
        tb.row(vec![
            t.stream.to_string(),
            t.index_on_conn.to_string(),
            t.request_ns.or(t.response_first_ns).map(|ns| format!("{:.6}", ns as f64 / 1e9 - t0_s)).unwrap_or_default(),
            t.method.clone().unwrap_or_else(|| "-".into()),
            target,
            status,
            thousands(t.request_header_bytes),
            thousands(t.request_body_bytes),
            thousands(t.response_header_bytes),
            thousands(t.response_body_bytes),
            t.response_headers.content_type.clone().unwrap_or_default(),
            opt_ms(t.ttfb_ns()),
            opt_ms(t.total_ns()),
            if t.paid_handshake { "paid".into() } else { String::new() },
            t.response_headers.connection.clone().or(t.request_headers.connection.clone()).unwrap_or_default(),
        ]);
    }
    o.write_all(tb.render().as_bytes())?;
    more(o, shown, total, "transactions", limit)
}

/// The WebSocket messages table.
pub fn ws_messages(o: &mut impl Write, rows: &[WsMessage], total: u64, t0_s: f64, limit: Option<Limit>) -> io::Result<()> {
    let mut tb = Table::new(&["Conn", "#", "Start", "Dir", "Type", "Frames", "Wire B", "Size B", "Deflate", "Echo ms", "Preview"]);
    tb.right(&[0, 1, 2, 5, 6, 7, 9]);
    let shown = limit.map_or(usize::MAX, |l| l.rows).min(rows.len());
    for m in &rows[..shown] {
        let mut preview = m.preview.clone();
        if preview.chars().count() > 40 {
            preview = preview.chars().take(39).collect::<String>() + "…";
        }
        tb.row(vec![
            m.stream.to_string(),
            m.index.to_string(),
            format!("{:.6}", m.first_ns as f64 / 1e9 - t0_s),
            if m.from_server { "S→C" } else { "C→S" }.into(),
            m.kind.into(),
            m.frames.to_string(),
            thousands(m.wire_bytes),
            thousands(m.size),
            if m.compressed { "yes" } else { "" }.into(),
            m.echo_latency_ms.map(|l| format!("{l:.3}")).unwrap_or_default(),
            preview,
        ]);
    }
    o.write_all(tb.render().as_bytes())?;
    more(o, shown, total, "messages", limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(index: u32) -> Conn {
        Conn {
            index,
            a: "10.0.0.1:1000".parse().unwrap(),
            b: "10.0.0.2:80".parse().unwrap(),
            first_ns: 0,
            last_ns: 0,
            packets: [1, 0],
            bytes: [60, 0],
            payload: [0, 0],
            syn: 1,
            syn_ack: 0,
            fin: 0,
            rst: 0,
            handshake: false,
            handshake_rtt_ns: None,
            close: None,
            history: "S".into(),
            retransmissions: 0,
            out_of_order: 0,
            dup_acks: 0,
            zero_windows: 0,
            lost_segments: 0,
            missing: [0, 0],
            first_frame: 1,
        }
    }

    #[test]
    fn a_cut_table_ends_with_the_callers_hint() {
        let conns: Vec<Conn> = (0..5).map(conn).collect();
        let mut out = Vec::new();
        conversations(&mut out, &conns, conns.len() as u64, 0.0, Some(Limit { rows: 2, more_hint: "see --every-row" })).unwrap();
        let text = String::from_utf8(out).unwrap();
        // Header, rule, two rows, the hint.
        assert_eq!(text.lines().count(), 2 + 2 + 1, "{text}");
        assert!(text.ends_with("… 3 more connections (see --every-row)\n"), "{text}");
        let mut out = Vec::new();
        conversations(&mut out, &conns, conns.len() as u64, 0.0, None).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("more connections") && text.lines().count() == 2 + 5, "{text}");
    }
}
