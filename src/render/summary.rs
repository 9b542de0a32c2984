//! The terminal summary: capture facts, TCP counts, a conversations table in the style of
//! Wireshark's Statistics → Conversations, and the anomalies table.

use std::fmt::Write as _;

use crate::analysis::Summary;
use crate::render::table::Table;
use crate::tcp::{CloseHow, Conn};

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

/// Renders the whole summary. `limit` caps the conversation rows (None = all).
pub fn render(name: &str, s: &Summary, limit: Option<usize>) -> String {
    let mut o = String::new();
    let c = &s.capture;
    let _ = writeln!(o, "Capture   {name} ({:?}, {})", c.format, c.link_types.iter().map(|l| l.name.as_str()).collect::<Vec<_>>().join(", "));
    let _ = writeln!(
        o,
        "Packets   {} frames, {} bytes on the wire, {:.6} s",
        thousands(c.packets),
        thousands(c.bytes),
        c.duration_s
    );
    let protos: Vec<String> = c.protocols.iter().map(|(k, v)| format!("{k} {}", thousands(*v))).collect();
    let _ = writeln!(o, "Protocols {}", protos.join(" · "));
    for cm in &c.comments {
        let _ = writeln!(o, "Comment   {cm}");
    }
    let t = &s.tcp;
    let _ = writeln!(
        o,
        "TCP       {} connections · SYN {} · SYN-ACK {} · FIN {} · RST {} · handshakes {}",
        thousands(t.connections),
        t.syn,
        t.syn_ack,
        t.fin,
        t.rst,
        t.handshakes
    );
    let _ = writeln!(
        o,
        "          retransmissions {} · out-of-order {} · dup ACKs {} · zero windows {} · missing bytes {}",
        t.retransmissions,
        t.out_of_order,
        t.dup_acks,
        t.zero_windows,
        thousands(t.missing_bytes)
    );
    if let Some(d) = &c.damage {
        let _ = writeln!(o, "WARNING   capture damaged at byte offset {}: {}; analysis covers everything before it", d.offset, d.reason);
    }
    if !s.conversations.is_empty() {
        let _ = writeln!(o, "\nTCP conversations");
        o.push_str(&conversations(&s.conversations, c.first_ts.unwrap_or(0.0), limit));
    }
    if !s.anomalies.is_empty() {
        let _ = writeln!(o, "\nAnomalies");
        let mut tb = Table::new(&["Kind", "Count", "First frame", "Offset", "Detail"]);
        tb.right(&[1, 2, 3]);
        for a in &s.anomalies {
            tb.row(vec![a.kind.clone(), thousands(a.count), a.first_frame.to_string(), a.first_offset.to_string(), a.detail.clone()]);
        }
        o.push_str(&tb.render());
    }
    o
}

fn close(c: &Conn) -> String {
    match c.close {
        None => "open".into(),
        Some(cl) => format!("{} by {}", if cl.how == CloseHow::Fin { "FIN" } else { "RST" }, if cl.dir == 0 { "A" } else { "B" }),
    }
}

/// The conversations table, one row per connection.
pub fn conversations(conns: &[Conn], t0_s: f64, limit: Option<usize>) -> String {
    let mut tb = Table::new(&[
        "#", "Address A", "Port A", "Address B", "Port B", "Packets", "Bytes", "Pkts A→B", "Bytes A→B", "Pkts B→A", "Bytes B→A",
        "Rel Start", "Duration", "SYN", "SYN-ACK", "FIN", "RST", "HS RTT ms", "Close", "History",
    ]);
    tb.right(&[0, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]);
    let shown = limit.unwrap_or(usize::MAX).min(conns.len());
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
    let mut o = tb.render();
    if shown < conns.len() {
        let _ = writeln!(o, "… {} more connections (use --all to show every row)", thousands((conns.len() - shown) as u64));
    }
    o
}
