//! Charts drawn with plotters from plain typed data: SVG for the HTML report, PNG (1280×720) for slides.
//!
//! Every chart takes its data already reduced (the report's statistics layer caps and downsamples
//! it), so drawing never walks a million points. Text uses the Inter font shipped in
//! `assets/fonts/` (OFL-1.1), registered with plotters' `ab_glyph` backend, so charts render on a
//! headless machine with no fonts installed.

mod bars;
mod cdf;
mod flow;
mod io;
mod lines;
mod timeline;

pub use bars::{GroupBars, Panel};
pub use cdf::{CdfData, CdfSeries};
pub use flow::{ArrowKind, FlowArrow, FlowData};
pub use io::{interval_name, IoData, IoSeries, TseqData, TseqSeg};
pub use lines::{LineData, LineSeries};
pub use timeline::{ConnBar, TimelineData, WaterfallData, WaterfallRow};

use std::path::Path;
use std::sync::Once;

use plotters::chart::MeshStyle;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Chart size in pixels: a 720p slide.
pub const SIZE: (u32, u32) = (1280, 720);
/// The family name the shipped font is registered under.
pub const FONT: &str = "sans-serif";

static INTER_REGULAR: &[u8] = include_bytes!("../../../assets/fonts/Inter-Regular.otf");
static INTER_SEMIBOLD: &[u8] = include_bytes!("../../../assets/fonts/Inter-SemiBold.otf");

/// Registers the shipped font once per process.
pub fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The font files are compiled in; a failure here is a broken build, caught by the tests.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, INTER_REGULAR);
        let _ = plotters::style::register_font(FONT, FontStyle::Bold, INTER_SEMIBOLD);
    });
}

#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("drawing the {chart} chart: {msg}")]
    Draw { chart: &'static str, msg: String },
}

/// Drawing errors differ per backend; charts report them as text.
pub(crate) type Drawn = Result<(), String>;

pub(crate) trait Ez<T> {
    fn e(self) -> Result<T, String>;
}
impl<T, E: std::fmt::Display> Ez<T> for Result<T, E> {
    fn e(self) -> Result<T, String> {
        self.map_err(|e| e.to_string())
    }
}

/// One chart, with the data it shows.
#[derive(Debug, Clone)]
pub enum Chart {
    Flow(FlowData),
    Timeline(TimelineData),
    Waterfall(WaterfallData),
    Io(IoData),
    Tseq(TseqData),
    Bars(GroupBars),
    Cdf(CdfData),
    Lines(LineData),
}

impl Chart {
    /// A short file-name stem: `flow`, `timeline`, ….
    pub fn name(&self) -> &str {
        match self {
            Chart::Flow(_) => "flow-graph",
            Chart::Timeline(_) => "connection-timeline",
            Chart::Waterfall(_) => "object-waterfall",
            Chart::Io(_) => "io-graph",
            Chart::Tseq(_) => "time-sequence",
            Chart::Bars(b) => &b.name,
            Chart::Cdf(c) => &c.name,
            Chart::Lines(l) => &l.name,
        }
    }

    pub fn title(&self) -> &str {
        match self {
            Chart::Flow(d) => &d.title,
            Chart::Timeline(d) => &d.title,
            Chart::Waterfall(d) => &d.title,
            Chart::Io(d) => &d.title,
            Chart::Tseq(d) => &d.title,
            Chart::Bars(d) => &d.title,
            Chart::Cdf(d) => &d.title,
            Chart::Lines(d) => &d.title,
        }
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        match self {
            Chart::Flow(d) => flow::draw(root, d),
            Chart::Timeline(d) => timeline::draw_timeline(root, d),
            Chart::Waterfall(d) => timeline::draw_waterfall(root, d),
            Chart::Io(d) => io::draw_io(root, d),
            Chart::Tseq(d) => io::draw_tseq(root, d),
            Chart::Bars(d) => bars::draw(root, d),
            Chart::Cdf(d) => cdf::draw(root, d),
            Chart::Lines(d) => lines::draw(root, d),
        }
    }

    fn err(&self, msg: String) -> ChartError {
        let chart = match self {
            Chart::Flow(_) => "flow graph",
            Chart::Timeline(_) => "connection timeline",
            Chart::Waterfall(_) => "object waterfall",
            Chart::Io(_) => "IO graph",
            Chart::Tseq(_) => "time-sequence",
            Chart::Bars(_) => "bar",
            Chart::Cdf(_) => "CDF",
            Chart::Lines(_) => "line",
        };
        ChartError::Draw { chart, msg }
    }

    /// The chart as an SVG document (1280×720 viewBox; the report scales it to its column).
    pub fn svg(&self) -> Result<String, ChartError> {
        register_fonts();
        let mut s = String::new();
        {
            let root = SVGBackend::with_string(&mut s, SIZE).into_drawing_area();
            self.draw(&root).and_then(|_| root.present().e()).map_err(|m| self.err(m))?;
        }
        Ok(responsive_svg(&s))
    }

    /// Writes the chart as a 1280×720 PNG.
    pub fn png(&self, path: &Path) -> Result<(), ChartError> {
        register_fonts();
        let root = BitMapBackend::new(path, SIZE).into_drawing_area();
        self.draw(&root).and_then(|_| root.present().e()).map_err(|m| self.err(m))
    }
}

/// plotters writes fixed `width`/`height`; a viewBox lets the page scale the chart.
fn responsive_svg(s: &str) -> String {
    let (w, h) = SIZE;
    s.replacen(&format!("width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\""), &format!("viewBox=\"0 0 {w} {h}\" width=\"100%\" role=\"img\""), 1)
}

/// Palette: colour-blind-safe (Okabe–Ito), in a fixed order so series keep their colour.
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(230, 159, 0),   // orange
    RGBColor(0, 158, 115),   // green
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(204, 121, 167), // purple
    RGBColor(86, 180, 233),  // sky
    RGBColor(120, 120, 120), // grey
    RGBColor(240, 228, 66),  // yellow
];
pub const INK: RGBColor = RGBColor(34, 34, 34);
pub const MUTED: RGBColor = RGBColor(110, 110, 110);
pub const GRID: RGBColor = RGBColor(225, 225, 225);

pub(crate) fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

pub(crate) fn font(size: u32) -> TextStyle<'static> {
    TextStyle::from((FONT, size).into_font()).color(&INK)
}

pub(crate) fn bold(size: u32) -> TextStyle<'static> {
    TextStyle::from((FONT, size, FontStyle::Bold).into_font()).color(&INK)
}

/// Fills the background, draws the title and an optional grey note under it, and returns the
/// area left for the plot.
pub(crate) fn frame<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, title: &str, note: &str) -> Result<DrawingArea<DB, Shift>, String> {
    root.fill(&WHITE).e()?;
    let (w, _) = root.dim_in_pixel();
    // A long title shrinks to fit, down to 18 px, and is shortened past that.
    let mut size = 28;
    let fits = |t: &str, size: u32| root.estimate_text_size(t, &bold(size)).map(|s| s.0 + 40 <= w).unwrap_or(true);
    while size > 18 && !fits(title, size) {
        size -= 2;
    }
    let mut t = title.to_string();
    while !fits(&t, size) && t.chars().count() > 10 {
        t = clip(&t, t.chars().count() - 4);
    }
    root.draw(&Text::new(t, (w as i32 / 2, 16 + (28 - size as i32) / 2), bold(size).pos(Pos::new(HPos::Center, VPos::Top)))).e()?;
    let top = if note.is_empty() {
        64
    } else {
        root.draw(&Text::new(note.to_string(), (w as i32 / 2, 52), font(17).color(&MUTED).pos(Pos::new(HPos::Center, VPos::Top)))).e()?;
        84
    };
    Ok(root.split_vertically(top).1)
}

/// The axes' house style, shared by every chart: no minor grid lines, a light major grid, 15 px
/// tick labels and 17 px axis descriptions. A chart adds its descriptions and label formatters,
/// and may set a size again after this (the later setting wins).
pub(crate) fn axes<'m, 'a, 'b, X: Ranged, Y: Ranged, DB: DrawingBackend>(mesh: &'m mut MeshStyle<'a, 'b, X, Y, DB>) -> &'m mut MeshStyle<'a, 'b, X, Y, DB> {
    mesh.light_line_style(TRANSPARENT).bold_line_style(GRID).label_style(font(15)).axis_desc_style(font(17))
}

/// How a legend entry is drawn.
#[derive(Clone, Copy)]
pub(crate) enum Swatch {
    Block,
    Line,
    Cross,
}

/// Draws a centred row of legend entries along the bottom of `area` and returns the area above it.
pub(crate) fn legend_row<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, items: &[(String, RGBColor, Swatch)]) -> Result<DrawingArea<DB, Shift>, String> {
    let (w, h) = area.dim_in_pixel();
    let (rest, row) = area.split_vertically(h.saturating_sub(36));
    let text = font(16);
    let widths: Vec<i32> = items.iter().map(|(l, _, _)| 30 + row.estimate_text_size(l, &text).map(|s| s.0 as i32).unwrap_or(8 * l.len() as i32) + 28).collect();
    let mut x = (w as i32 - widths.iter().sum::<i32>()).max(0) / 2;
    let y = 16;
    for ((label, c, sw), wd) in items.iter().zip(&widths) {
        match sw {
            Swatch::Block => row.draw(&Rectangle::new([(x, y - 7), (x + 20, y + 7)], c.filled())).e()?,
            Swatch::Line => row.draw(&PathElement::new(vec![(x, y), (x + 22, y)], ShapeStyle::from(c).stroke_width(3))).e()?,
            Swatch::Cross => row.draw(&Cross::new((x + 10, y), 6, ShapeStyle::from(c).stroke_width(2))).e()?,
        }
        row.draw(&Text::new(label.clone(), (x + 30, y), text.clone().pos(Pos::new(HPos::Left, VPos::Center)))).e()?;
        x += wd;
    }
    Ok(rest)
}

/// A "nice" step (1, 2 or 5 × 10^k) near `span / target`.
pub fn nice_step(span: f64, target: f64) -> f64 {
    if span <= 0.0 || span.is_nan() || !span.is_finite() {
        return 1.0;
    }
    let raw = span / target.max(1.0);
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    mag * if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    }
}

/// Thousands separators and SI suffixes for axis labels: 1.2k, 3.4M.
pub fn si(v: f64) -> String {
    let a = v.abs();
    let (x, s) = if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let t = if x.fract().abs() < 1e-9 { format!("{x:.0}") } else if x.abs() >= 10.0 { format!("{x:.1}") } else { format!("{x:.2}") };
    let t = if t.contains('.') { t.trim_end_matches('0').trim_end_matches('.').to_string() } else { t };
    format!("{t}{s}")
}

/// Shortens a label to `max` characters with an ellipsis.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Shortens a label in the middle, keeping its start and its (often distinctive) end.
pub fn clip_middle(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max || max < 5 {
        return s.to_string();
    }
    let head = (max - 1) / 2;
    let tail = max - 1 - head;
    let a: String = s.chars().take(head).collect();
    let b: String = s.chars().skip(n - tail).collect();
    format!("{a}…{b}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(100.0, 10.0), 10.0);
        assert_eq!(nice_step(0.7, 10.0), 0.1);
        assert_eq!(nice_step(30.0, 10.0), 5.0);
        assert_eq!(nice_step(0.0, 10.0), 1.0);
    }

    #[test]
    fn si_labels() {
        assert_eq!(si(1500.0), "1.5k");
        assert_eq!(si(2_000_000.0), "2M");
        assert_eq!(si(12.0), "12");
        assert_eq!(si(0.25), "0.25");
    }

    #[test]
    fn clipped() {
        assert_eq!(clip("/images/very-long-name.jpg", 10), "/images/v…");
        assert_eq!(clip("/a", 10), "/a");
        assert_eq!(clip_middle("persistent-20261121-202245", 13), "persis…202245");
    }

    /// Small fixed data for every chart kind, as a handshake-and-fetch would give.
    fn samples() -> Vec<Chart> {
        let k = |t, from, to, label: &str, kind| FlowArrow { t, from, to, label: label.into(), kind, stream: Some(0) };
        let flow = FlowData {
            title: "One TCP connection: three-way handshake, GET, 200 OK, four-way close".into(),
            note: "stream 0, 9 packets".into(),
            lanes: vec!["client :51234".into(), "server :8080".into()],
            arrows: vec![
                k(0.0, 0, 1, "SYN", ArrowKind::Handshake),
                k(0.0001, 1, 0, "SYN-ACK", ArrowKind::Handshake),
                k(0.0002, 0, 1, "ACK", ArrowKind::Handshake),
                k(0.0003, 0, 1, "GET /BaseFile.html", ArrowKind::Http),
                k(0.0009, 1, 0, "200 OK", ArrowKind::Http),
                k(0.001, 0, 1, "ACK", ArrowKind::Tcp),
                k(0.0011, 0, 1, "FIN", ArrowKind::Close),
                k(0.0012, 1, 0, "FIN", ArrowKind::Close),
                k(0.0013, 0, 1, "RST", ArrowKind::Reset),
            ],
        };
        let bars: Vec<ConnBar> = (0..12)
            .map(|i| ConnBar {
                label: format!("#{i} :{}", 50000 + i),
                start_ms: i as f64 * 5.0,
                handshake_end_ms: Some(i as f64 * 5.0 + 0.3),
                end_ms: i as f64 * 5.0 + 4.0,
                exchanges: vec![(i as f64 * 5.0 + 0.4, i as f64 * 5.0 + 3.5)],
                close: Some(if i == 3 { "RST" } else { "FIN" }.into()),
            })
            .collect();
        let rows = (0..12)
            .map(|i| {
                let s = 4.0 + i as f64 * 3.0;
                WaterfallRow { label: format!("/images/pic{i}.jpg"), wait: Some((4.0, s)), handshake: Some((s, s + 0.3)), ttfb: (s + 0.3, s + 1.0), transfer: (s + 1.0, s + 2.5) }
            })
            .collect();
        let t: Vec<f64> = (0..100).map(|i| i as f64 * 0.01).collect();
        let io = IoData {
            title: "Traffic comes in bursts: one per page object".into(),
            note: String::new(),
            interval_s: 0.01,
            series: vec![
                IoSeries { label: "TCP".into(), t: t.clone(), packets: t.iter().map(|x| (x * 20.0).sin().abs() * 40.0).collect(), bytes: t.iter().map(|x| (x * 20.0).sin().abs() * 40000.0).collect() },
                IoSeries { label: "HTTP".into(), t: t.clone(), packets: t.iter().map(|x| (x * 20.0).cos().abs() * 10.0).collect(), bytes: t.iter().map(|x| (x * 20.0).cos().abs() * 9000.0).collect() },
            ],
        };
        let segs = (0..200).map(|i| TseqSeg { t: i as f64 * 0.001, seq: i as f64 * 1448.0, end: (i + 1) as f64 * 1448.0, retransmission: i % 50 == 7 }).collect();
        let acks = (0..200).map(|i| (i as f64 * 0.001 + 0.0004, i as f64 * 1448.0)).collect();
        let groups = vec!["persistent".to_string(), "non-persistent".to_string()];
        let over = GroupBars {
            name: "handshakes-overhead".into(),
            title: "21 handshakes instead of 1".into(),
            note: String::new(),
            groups: groups.clone(),
            panels: vec![
                Panel { title: "TCP control packets".into(), y_desc: "packets".into(), series: vec![("SYN".into(), vec![1.0, 21.0]), ("FIN".into(), vec![2.0, 42.0]), ("RST".into(), vec![0.0, 1.0])], stacked: false },
                Panel { title: "Bytes on the wire".into(), y_desc: "bytes".into(), series: vec![("headers".into(), vec![9000.0, 40000.0]), ("payload".into(), vec![500000.0, 500000.0])], stacked: true },
            ],
        };
        let cdf = CdfData {
            name: "latency-cdf".into(),
            title: "Push delivers in milliseconds; polling waits for the next poll".into(),
            note: String::new(),
            x_desc: "delivery latency (ms)".into(),
            series: vec![
                CdfSeries { label: "ws".into(), points: (1..=100).map(|i| (i as f64 * 0.05, i as f64 / 100.0)).collect(), from_percentiles: false },
                CdfSeries { label: "poll".into(), points: vec![(1.0, 0.0), (240.0, 0.5), (470.0, 0.95), (495.0, 0.99), (500.0, 1.0)], from_percentiles: true },
            ],
        };
        vec![
            Chart::Flow(flow),
            Chart::Timeline(TimelineData { title: "12 connections".into(), note: String::new(), bars }),
            Chart::Waterfall(WaterfallData { title: "Objects".into(), note: String::new(), rows }),
            Chart::Io(io),
            Chart::Tseq(TseqData { title: "Sequence".into(), note: String::new(), segs, acks }),
            Chart::Bars(over),
            Chart::Cdf(cdf),
        ]
    }

    #[test]
    fn every_chart_renders_to_svg_and_a_non_blank_png() {
        let dir = std::env::var_os("WIRELAB_CHART_SAMPLES").map(std::path::PathBuf::from).unwrap_or_else(|| std::env::temp_dir().join(format!("wirelab-charts-{}", std::process::id())));
        std::fs::create_dir_all(&dir).unwrap();
        for c in samples() {
            let svg = c.svg().unwrap();
            assert!(svg.contains("viewBox=\"0 0 1280 720\""), "{}: a scalable SVG", c.name());
            assert!(svg.contains("<text"), "{}: text in the SVG", c.name());
            let p = dir.join(format!("{}.png", c.name()));
            c.png(&p).unwrap();
            let b = std::fs::read(&p).unwrap();
            assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n");
            assert_eq!((u32::from_be_bytes(b[16..20].try_into().unwrap()), u32::from_be_bytes(b[20..24].try_into().unwrap())), SIZE);
            assert!(b.len() > 15_000, "{}: a PNG with content ({} bytes)", c.name(), b.len());
        }
        if std::env::var_os("WIRELAB_CHART_SAMPLES").is_none() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
