//! Row charts over time: the connection timeline (one bar per TCP connection) and the object waterfall (one row per HTTP object).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{clip, color, font, frame, legend_row, Drawn, Ez, Swatch};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_pause_is_cut_and_axis_labels_keep_real_times() {
        let segs = vec![Seg { row: 0, from: 0.0, to: 10.0, kind: 0, thick: 1.0 }, Seg { row: 1, from: 300.0, to: 310.0, kind: 0, thick: 1.0 }];
        let cuts = idle_cuts(&segs);
        assert_eq!(cuts.len(), 1);
        assert!((cuts[0].0 - 10.0).abs() < 1e-9 && (cuts[0].1 - (290.0 - 6.2)).abs() < 1e-9, "{cuts:?}");
        let x = squeeze(&cuts, 300.0);
        assert!((x - 16.2).abs() < 1e-9, "{x}");
        assert!((unsqueeze(&cuts, x) - 300.0).abs() < 1e-9);
        assert_eq!(squeeze(&cuts, 5.0), 5.0);
    }
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
/// Idle stretches longer than a quarter of the span are cut down to 2 % of it, so two steps
/// separated by a pause both stay readable. Returns the cuts as (original start, removed length).
fn idle_cuts(segs: &[Seg]) -> Vec<(f64, f64)> {
    let mut iv: Vec<(f64, f64)> = segs.iter().map(|s| (s.from, s.to.max(s.from))).collect();
    iv.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (Some(first), Some(last)) = (iv.first().map(|i| i.0), iv.iter().map(|i| i.1).reduce(f64::max)) else { return vec![] };
    let span = last - first;
    let mut cuts = vec![];
    let mut end = first;
    for (a, b) in iv {
        if a - end > span * 0.25 {
            cuts.push((end, (a - end) - span * 0.02));
        }
        end = end.max(b);
    }
    cuts
}

/// Original time → drawn position, with the cuts removed.
fn squeeze(cuts: &[(f64, f64)], t: f64) -> f64 {
    t - cuts.iter().filter(|(at, len)| t >= at + len).map(|c| c.1).sum::<f64>()
}

/// Drawn position → original time (for the axis labels).
fn unsqueeze(cuts: &[(f64, f64)], x: f64) -> f64 {
    let mut t = x;
    for (at, len) in cuts {
        if t > *at {
            t += len;
        }
    }
    t
}

fn gantt<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, title: &str, note: &str, labels: &[String], segs: &[Seg], kinds: &[(&str, RGBColor)]) -> Drawn {
    let cuts = idle_cuts(segs);
    let segs: Vec<Seg> = segs.iter().map(|s| Seg { row: s.row, from: squeeze(&cuts, s.from), to: squeeze(&cuts, s.to), kind: s.kind, thick: s.thick }).collect();
    let segs = &segs[..];
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
    let mut mesh = chart.configure_mesh();
    super::axes(&mut mesh)
        .disable_y_mesh()
        .x_desc(if cuts.is_empty() { "time since capture start (ms)" } else { "time since capture start (ms) — idle pauses cut short at the dashed lines" })
        .x_label_formatter(&|v| super::si((unsqueeze(&cuts, *v) * 10.0).round() / 10.0))
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
        .draw()
        .e()?;
    let y = |row: usize| (n - 1 - row) as f64;
    for (at, len) in &cuts {
        let x = squeeze(&cuts, *at) + (x_max - x_min) * 0.005;
        let tx = x + (x_max - x_min) * 0.006;
        let top = n as f64 - 0.4;
        chart.draw_series(DashedLineSeries::new(vec![(x, -0.6), (x, top)], 6, 4, ShapeStyle::from(&super::MUTED).stroke_width(2))).e()?;
        chart
            .draw_series(std::iter::once(Text::new(
                format!("{} ms idle", super::si((len * 10.0).round() / 10.0)),
                (tx, top - 0.25),
                font(14).color(&super::MUTED).pos(plotters::style::text_anchor::Pos::new(plotters::style::text_anchor::HPos::Left, plotters::style::text_anchor::VPos::Top)),
            )))
            .e()?;
    }
    for (k, (_, c)) in kinds.iter().enumerate() {
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
