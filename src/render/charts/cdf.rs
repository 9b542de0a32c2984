//! Latency CDFs: WebSocket echo round-trip times and danmaku delivery latency per transport.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{color, font, frame, legend_row, si, Drawn, Ez, Swatch};

/// One distribution as (value, cumulative fraction) points, ascending.
#[derive(Debug, Clone, Default)]
pub struct CdfSeries {
    /// Legend text, e.g. `ws: p50 3.1 ms, p95 7.9 ms (n = 200)`.
    pub label: String,
    pub points: Vec<(f64, f64)>,
    /// Built from a few reported percentiles rather than every sample: drawn dashed with markers.
    pub from_percentiles: bool,
}

#[derive(Debug, Clone, Default)]
pub struct CdfData {
    /// File-name stem, e.g. `ws-echo-rtt-cdf`.
    pub name: String,
    pub title: String,
    pub note: String,
    pub x_desc: String,
    pub series: Vec<CdfSeries>,
}

pub(super) fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, d: &CdfData) -> Drawn {
    let area = frame(root, &d.title, &d.note)?;
    let items: Vec<_> = d.series.iter().enumerate().map(|(i, s)| (s.label.clone(), color(i), Swatch::Line)).collect();
    // The axis ends a little past the largest p99, so one slow outlier does not squash the curves;
    // the cut is said on the chart.
    let max = d.series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).fold(0.0f64, f64::max).max(1e-3);
    let p99 = d.series.iter().filter_map(|s| s.points.iter().find(|p| p.1 >= 0.99).map(|p| p.0)).fold(0.0f64, f64::max);
    let x_max = if p99 > 0.0 && p99 * 1.3 < max { p99 * 1.3 } else { max * 1.05 };
    let cut = x_max < max;
    let area = legend_row(&area, &items)?;
    let area = if cut {
        let (w, h) = area.dim_in_pixel();
        let (a, b) = area.split_vertically(h.saturating_sub(24));
        b.draw(&Text::new(format!("x axis cut at 1.3 × the largest p99; the slowest sample took {} ms", si(max)), (w as i32 / 2, 4), font(14).color(&super::MUTED).pos(plotters::style::text_anchor::Pos::new(plotters::style::text_anchor::HPos::Center, plotters::style::text_anchor::VPos::Top)))).e()?;
        a
    } else {
        area
    };
    let mut chart = ChartBuilder::on(&area)
        .margin_left(10)
        .margin_right(30)
        .margin_bottom(10)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..x_max, 0f64..1.02f64)
        .e()?;
    let mut mesh = chart.configure_mesh();
    super::axes(&mut mesh)
        .x_desc(d.x_desc.clone())
        .y_desc("fraction of samples ≤ x")
        .x_label_formatter(&|v| si(*v))
        .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
        .draw()
        .e()?;
    for (i, s) in d.series.iter().enumerate() {
        let c = color(i);
        let style = ShapeStyle::from(&c).stroke_width(3);
        // A step function: the fraction rises at each sample.
        let mut pts = vec![];
        let mut prev = 0.0;
        for &(x, q) in &s.points {
            if x > x_max {
                pts.push((x_max, prev));
                break;
            }
            if !s.from_percentiles {
                pts.push((x, prev));
            }
            pts.push((x, q));
            prev = q;
        }
        if s.from_percentiles {
            chart.draw_series(DashedLineSeries::new(pts.clone(), 10, 6, style)).e()?;
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 5, c.filled()))).e()?;
        } else {
            chart.draw_series(LineSeries::new(pts, style)).e()?;
        }
    }
    Ok(())
}
