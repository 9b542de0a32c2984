//! Charts over time for packets: the IO graph (packets and bytes per interval, by protocol) and the tcptrace/Stevens time-sequence graph.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{color, frame, legend_row, si, Drawn, Ez, Swatch};

/// One protocol's counts per interval.
#[derive(Debug, Clone, Default)]
pub struct IoSeries {
    pub label: String,
    /// Interval starts, in seconds since the capture began (ascending).
    pub t: Vec<f64>,
    pub packets: Vec<f64>,
    pub bytes: Vec<f64>,
}

#[derive(Debug, Clone, Default)]
pub struct IoData {
    pub title: String,
    pub note: String,
    pub interval_s: f64,
    pub series: Vec<IoSeries>,
}

/// One TCP segment in the time-sequence graph.
#[derive(Debug, Clone, Copy, Default)]
pub struct TseqSeg {
    /// Seconds since the capture began.
    pub t: f64,
    /// Relative sequence numbers of the first and one past the last byte.
    pub seq: f64,
    pub end: f64,
    pub retransmission: bool,
}

#[derive(Debug, Clone, Default)]
pub struct TseqData {
    pub title: String,
    pub note: String,
    pub segs: Vec<TseqSeg>,
    /// The reverse direction's cumulative ACKs: (seconds, relative ack number).
    pub acks: Vec<(f64, f64)>,
}

/// "10 ms", "1 s": the interval as people say it.
pub fn interval_name(s: f64) -> String {
    if s >= 1.0 {
        format!("{} s", si(s))
    } else if s >= 1e-3 {
        format!("{} ms", si(s * 1e3))
    } else {
        format!("{} µs", si(s * 1e6))
    }
}

pub(super) fn draw_io<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, d: &IoData) -> Drawn {
    let area = frame(root, &d.title, &d.note)?;
    let items: Vec<_> = d.series.iter().enumerate().map(|(i, s)| (s.label.clone(), color(i), Swatch::Line)).collect();
    let area = legend_row(&area, &items)?;
    let (top, bottom) = area.split_vertically(area.dim_in_pixel().1 / 2);
    let t_max = d.series.iter().flat_map(|s| s.t.last()).fold(0.0f64, |a, b| a.max(*b)) + d.interval_s;
    let per = interval_name(d.interval_s);
    for (panel, bytes) in [(&top, false), (&bottom, true)] {
        let val = |s: &IoSeries| if bytes { s.bytes.clone() } else { s.packets.clone() };
        let y_max = d.series.iter().flat_map(val).fold(0.0f64, f64::max).max(1.0) * 1.1;
        let mut chart = ChartBuilder::on(panel)
            .margin_left(10)
            .margin_right(30)
            .margin_bottom(6)
            .x_label_area_size(if bytes { 46 } else { 26 })
            .y_label_area_size(90)
            .build_cartesian_2d(0f64..t_max.max(1e-6), 0f64..y_max)
            .e()?;
        let y_desc = if bytes { format!("bytes per {per}") } else { format!("packets per {per}") };
        let mut mesh = chart.configure_mesh();
        super::axes(&mut mesh).y_desc(y_desc).y_label_formatter(&|v| si(*v)).x_label_formatter(&|v| si(*v)).y_labels(5);
        if bytes {
            mesh.x_desc("time since capture start (s)");
        }
        mesh.draw().e()?;
        for (i, s) in d.series.iter().enumerate() {
            let c = color(i);
            let v = val(s);
            // A step line: each interval holds its value until the next one.
            let mut pts = Vec::with_capacity(s.t.len() * 2);
            for (k, (&t, &y)) in s.t.iter().zip(&v).enumerate() {
                if k > 0 && (t - s.t[k - 1]) > d.interval_s * 1.5 {
                    pts.push((s.t[k - 1] + d.interval_s, 0.0));
                    pts.push((t, 0.0));
                }
                pts.push((t, y));
                pts.push((t + d.interval_s, y));
            }
            chart.draw_series(LineSeries::new(pts, ShapeStyle::from(&c).stroke_width(2))).e()?;
        }
    }
    Ok(())
}

pub(super) fn draw_tseq<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, d: &TseqData) -> Drawn {
    let area = frame(root, &d.title, &d.note)?;
    let items = vec![
        ("segment sent (sequence range)".to_string(), color(0), Swatch::Line),
        ("retransmission".to_string(), color(3), Swatch::Cross),
        ("ACK from the receiver".to_string(), color(2), Swatch::Line),
    ];
    let area = legend_row(&area, &items)?;
    let t_min = d.segs.iter().map(|s| s.t).chain(d.acks.iter().map(|a| a.0)).fold(f64::INFINITY, f64::min);
    let t_max = d.segs.iter().map(|s| s.t).chain(d.acks.iter().map(|a| a.0)).fold(f64::NEG_INFINITY, f64::max);
    let (t_min, t_max) = if t_min.is_finite() { (t_min, t_max) } else { (0.0, 1.0) };
    let pad = ((t_max - t_min) * 0.03).max(1e-6);
    let (x0, x1) = ((t_min - pad) * 1e3, (t_max + pad) * 1e3);
    let y_max = d.segs.iter().map(|s| s.end).chain(d.acks.iter().map(|a| a.1)).fold(1.0f64, f64::max) * 1.05;
    let mut chart = ChartBuilder::on(&area)
        .margin_left(10)
        .margin_right(30)
        .margin_bottom(10)
        .x_label_area_size(50)
        .y_label_area_size(100)
        .build_cartesian_2d(x0..x1, 0f64..y_max)
        .e()?;
    let mut mesh = chart.configure_mesh();
    super::axes(&mut mesh)
        .x_desc("time since capture start (ms)")
        .y_desc("relative sequence number (bytes)")
        .x_label_formatter(&|v| si(*v))
        .y_label_formatter(&|v| si(*v))
        .draw()
        .e()?;
    let ack_c = color(2);
    let mut ack_pts = vec![];
    for w in d.acks.windows(2) {
        ack_pts.push((w[0].0 * 1e3, w[0].1));
        ack_pts.push((w[1].0 * 1e3, w[0].1));
    }
    if let Some(l) = d.acks.last() {
        ack_pts.push((l.0 * 1e3, l.1));
    }
    chart
        .draw_series(LineSeries::new(ack_pts, ShapeStyle::from(&ack_c).stroke_width(1)))
        .e()?;
    let seg_c = color(0);
    let bar = |s: &TseqSeg, c: RGBColor, w: u32| PathElement::new(vec![(s.t * 1e3, s.seq), (s.t * 1e3, s.end.max(s.seq))], ShapeStyle::from(&c).stroke_width(w));
    chart
        .draw_series(d.segs.iter().filter(|s| !s.retransmission).map(|s| bar(s, seg_c, 2)))
        .e()?;
    let re_c = color(3);
    chart
        .draw_series(d.segs.iter().filter(|s| s.retransmission).flat_map(|s| {
            [bar(s, re_c, 3).into_dyn(), Cross::new((s.t * 1e3, s.seq), 6, ShapeStyle::from(&re_c).stroke_width(2)).into_dyn()]
        }))
        .e()?;
    Ok(())
}
