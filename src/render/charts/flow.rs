//! Flow graph (Wireshark's Statistics → Flow Graph): a ladder of labelled arrows between endpoint lanes, one row per packet.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{bold, clip, color, font, frame, Drawn, Ez, MUTED};

/// What an arrow carries; it picks the arrow's colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArrowKind {
    /// SYN, SYN-ACK and the bare ACK that completes the handshake.
    Handshake,
    /// A TCP segment with no application message starting in it (data, ACKs).
    Tcp,
    /// An HTTP request or response head.
    Http,
    /// A WebSocket frame.
    WebSocket,
    /// FIN.
    Close,
    /// RST.
    Reset,
}

impl ArrowKind {
    fn color(self) -> RGBColor {
        match self {
            ArrowKind::Handshake => color(0),
            ArrowKind::Tcp => RGBColor(150, 150, 150),
            ArrowKind::Http => color(2),
            ArrowKind::WebSocket => color(4),
            ArrowKind::Close => color(1),
            ArrowKind::Reset => color(3),
        }
    }

    fn legend(self) -> &'static str {
        match self {
            ArrowKind::Handshake => "handshake",
            ArrowKind::Tcp => "TCP data/ACK",
            ArrowKind::Http => "HTTP",
            ArrowKind::WebSocket => "WebSocket",
            ArrowKind::Close => "FIN",
            ArrowKind::Reset => "RST",
        }
    }
}

/// One packet between two lanes.
#[derive(Debug, Clone)]
pub struct FlowArrow {
    /// Seconds since the capture began.
    pub t: f64,
    pub from: usize,
    pub to: usize,
    pub label: String,
    pub kind: ArrowKind,
    /// The TCP stream (shown in the time column).
    pub stream: Option<u32>,
}

#[derive(Debug, Clone, Default)]
pub struct FlowData {
    pub title: String,
    /// Shown under the title, e.g. "first 30 of 512 packets of streams 0–2".
    pub note: String,
    /// Endpoint names, left to right (clients first, the server last).
    pub lanes: Vec<String>,
    pub arrows: Vec<FlowArrow>,
}

pub(super) fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, d: &FlowData) -> Drawn {
    let area = frame(root, &d.title, &d.note)?;
    let (w, h) = area.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);
    let time_col = 150;
    let legend_h = 34;
    let head = 40;
    let lanes = d.lanes.len().max(2) as i32;
    let lane_gap = (w - time_col - 200) / (lanes - 1).max(1);
    let lane_x = |i: usize| time_col + 90 + lane_gap * i as i32;
    for (i, name) in d.lanes.iter().enumerate() {
        let x = lane_x(i);
        area.draw(&Text::new(clip(name, (lane_gap as usize / 9).clamp(10, 28)), (x, 4), bold(16).pos(Pos::new(HPos::Center, VPos::Top)))).e()?;
        area.draw(&PathElement::new(vec![(x, head - 8), (x, h - legend_h - 4)], ShapeStyle::from(&MUTED).stroke_width(2))).e()?;
    }
    area.draw(&Text::new("time (ms)", (8, 4), bold(16))).e()?;
    let rows = d.arrows.len().max(1) as i32;
    let row_h = ((h - head - legend_h - 8) / rows).clamp(12, 40);
    let label_size = (row_h as u32 * 3 / 4).clamp(11, 16);
    for (k, a) in d.arrows.iter().enumerate() {
        let y = head + row_h * k as i32 + row_h - 3;
        if k % 2 == 1 {
            area.draw(&Rectangle::new([(0, y - row_h + 3), (w, y + 3)], ShapeStyle::from(&RGBColor(248, 248, 248)).filled())).e()?;
        }
        let stream = a.stream.map(|s| format!("  #{s}")).unwrap_or_default();
        area.draw(&Text::new(format!("{:.3}{stream}", a.t * 1e3), (8, y), font(label_size).color(&MUTED).pos(Pos::new(HPos::Left, VPos::Bottom)))).e()?;
        let (x0, x1) = (lane_x(a.from), lane_x(a.to));
        let c = a.kind.color();
        let style = ShapeStyle::from(&c).stroke_width(2);
        area.draw(&PathElement::new(vec![(x0, y), (x1, y)], style)).e()?;
        let dir = if x1 >= x0 { 1 } else { -1 };
        area.draw(&Polygon::new(vec![(x1, y), (x1 - dir * 10, y - 5), (x1 - dir * 10, y + 5)], c.filled())).e()?;
        let room = ((x1 - x0).unsigned_abs() as usize / (label_size as usize * 55 / 100)).max(6);
        area.draw(&Text::new(clip(&a.label, room), ((x0 + x1) / 2, y - 3), font(label_size).color(&c.mix(1.0)).pos(Pos::new(HPos::Center, VPos::Bottom)))).e()?;
    }
    // Legend: the kinds present, in a row along the bottom.
    let mut x = time_col;
    let kinds = [ArrowKind::Handshake, ArrowKind::Http, ArrowKind::WebSocket, ArrowKind::Tcp, ArrowKind::Close, ArrowKind::Reset];
    for k in kinds.iter().filter(|k| d.arrows.iter().any(|a| a.kind == **k)) {
        let y = h - legend_h / 2;
        area.draw(&PathElement::new(vec![(x, y), (x + 30, y)], ShapeStyle::from(&k.color()).stroke_width(3))).e()?;
        area.draw(&Text::new(k.legend(), (x + 38, y), font(16).pos(Pos::new(HPos::Left, VPos::Center)))).e()?;
        x += 60 + 10 * k.legend().len() as i32;
    }
    Ok(())
}
