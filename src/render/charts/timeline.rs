//! Row charts over time: the connection timeline (one bar per TCP connection) and the object waterfall (one row per HTTP object).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{clip, color, font, frame, legend_row, Drawn, Ez, Swatch, GRID};

/// One TCP connection's life, in milliseconds since the capture began.
#[derive(Debug, Clone, Default)]
pub struct ConnBar {
    /// Row label, e.g. `#3 :51234`.
    pub label: String,
    pub start_ms: f64,
    /// When the handshake completed (the ACK of the SYN-ACK), if it was seen.
    pub handshake_end_ms: Option<f64>,
    pub end_ms: f64,
    /// Request sent → last byte of its response, per HTTP transaction on the connection.
    pub exchanges: Vec<(f64, f64)>,
    /// `FIN` or `RST`, drawn as a mark at the end.
    pub close: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct TimelineData {
    pub title: String,
    pub note: String,
    pub bars: Vec<ConnBar>,
}

/// One HTTP object, split as browser devtools do; each phase is `(from_ms, to_ms)`.
#[derive(Debug, Clone, Default)]
pub struct WaterfallRow {
    pub label: String,
    /// Waiting for a connection: from the moment the object could be asked for to the moment its
    /// connection began (or its request was sent, on a reused connection).
    pub wait: Option<(f64, f64)>,
    pub handshake: Option<(f64, f64)>,
    /// Request sent → first response byte.
    pub ttfb: (f64, f64),
    /// First → last response byte.
    pub transfer: (f64, f64),
}

#[derive(Debug, Clone, Default)]
pub struct WaterfallData {
    pub title: String,
    pub note: String,
    pub rows: Vec<WaterfallRow>,
}

struct Seg {
    row: usize,
    from: f64,
    to: f64,
    kind: usize,
    /// Fraction of the row height.
    thick: f64,
}

/// Draws labelled rows with coloured segments; `kinds` names and colours each segment kind.
fn gantt<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, title: &str, note: &str, labels: &[String], segs: &[Seg], kinds: &[(&str, RGBColor)]) -> Drawn {
    let area = frame(root, title, note)?;
    let items: Vec<_> = kinds.iter().enumerate().filter(|(k, _)| segs.iter().any(|s| s.kind == *k)).map(|(_, (l, c))| (l.to_string(), *c, Swatch::Block)).collect();
    let area = legend_row(&area, &items)?;
    let n = labels.len().max(1);
    let x_max = segs.iter().map(|s| s.to).fold(0.0f64, f64::max).max(1e-3) * 1.03;
    let x_min = segs.iter().map(|s| s.from).fold(f64::INFINITY, f64::min);
    let x_min = if x_min.is_finite() { (x_min - (x_max - x_min) * 0.02).max(0.0) } else { 0.0 };
    let label_w = labels.iter().map(|l| l.chars().count()).max().unwrap_or(4).clamp(4, 26) as u32 * 9 + 16;
    let label_size = if n > 30 { 12 } else { 15 };
    let labels_owned: Vec<String> = labels.to_vec();
    let mut chart = ChartBuilder::on(&area)
        .margin_left(10)
        .margin_right(30)
        .margin_bottom(10)
        .x_label_area_size(50)
        .y_label_area_size(label_w)
        .build_cartesian_2d(x_min..x_max, -0.6f64..(n as f64 - 0.4))
        .e()?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(GRID)
        .x_desc("time since capture start (ms)")
        .x_label_formatter(&|v| super::si(*v))
        .y_labels(n.min(60))
        .y_label_formatter(&|v| {
            let r = v.round();
            if (v - r).abs() > 1e-6 || r < 0.0 || r as usize >= n {
                return String::new();
            }
            labels_owned.get(n - 1 - r as usize).map(|s| clip(s, 26)).unwrap_or_default()
        })
        .label_style(font(label_size))
        .x_label_style(font(15))
        .axis_desc_style(font(17))
        .draw()
        .e()?;
    let y = |row: usize| (n - 1 - row) as f64;
    for (k, (name, c)) in kinds.iter().enumerate() {
        let c = *c;
        let mine: Vec<&Seg> = segs.iter().filter(|s| s.kind == k).collect();
        let min_w = (x_max - x_min) * 0.003;
        chart
            .draw_series(mine.iter().map(|s| {
                let half = 0.4 * s.thick;
                let to = if s.to - s.from < min_w { s.from + min_w } else { s.to };
                Rectangle::new([(s.from, y(s.row) - half), (to, y(s.row) + half)], c.filled())
            }))
            .e()?;
        let _ = name;
    }
    Ok(())
}

pub(super) fn draw_timeline<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, d: &TimelineData) -> Drawn {
    let labels: Vec<String> = d.bars.iter().map(|b| b.label.clone()).collect();
    let mut segs = vec![];
    for (row, b) in d.bars.iter().enumerate() {
        segs.push(Seg { row, from: b.start_ms, to: b.end_ms.max(b.start_ms), kind: 0, thick: 0.45 });
        if let Some(h) = b.handshake_end_ms {
            segs.push(Seg { row, from: b.start_ms, to: h, kind: 1, thick: 1.0 });
        }
        for &(a, z) in &b.exchanges {
            segs.push(Seg { row, from: a, to: z.max(a), kind: 2, thick: 1.0 });
        }
        match b.close.as_deref() {
            Some("RST") => segs.push(Seg { row, from: b.end_ms, to: b.end_ms, kind: 4, thick: 1.1 }),
            Some(_) => segs.push(Seg { row, from: b.end_ms, to: b.end_ms, kind: 3, thick: 1.1 }),
            None => {}
        }
    }
    let kinds = [
        ("connection open", RGBColor(200, 200, 200)),
        ("handshake (SYN → ACK)", color(0)),
        ("request → response", color(2)),
        ("FIN", color(1)),
        ("RST", color(3)),
    ];
    gantt(root, &d.title, &d.note, &labels, &segs, &kinds)
}

pub(super) fn draw_waterfall<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, d: &WaterfallData) -> Drawn {
    let labels: Vec<String> = d.rows.iter().map(|r| r.label.clone()).collect();
    let mut segs = vec![];
    for (row, r) in d.rows.iter().enumerate() {
        if let Some((a, z)) = r.wait {
            segs.push(Seg { row, from: a, to: z, kind: 0, thick: 0.5 });
        }
        if let Some((a, z)) = r.handshake {
            segs.push(Seg { row, from: a, to: z, kind: 1, thick: 1.0 });
        }
        segs.push(Seg { row, from: r.ttfb.0, to: r.ttfb.1, kind: 2, thick: 1.0 });
        segs.push(Seg { row, from: r.transfer.0, to: r.transfer.1, kind: 3, thick: 1.0 });
    }
    let kinds = [
        ("waiting for a connection", RGBColor(200, 200, 200)),
        ("TCP handshake", color(0)),
        ("waiting (TTFB)", color(2)),
        ("content transfer", color(1)),
    ];
    gantt(root, &d.title, &d.note, &labels, &segs, &kinds)
}
