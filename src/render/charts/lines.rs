//! Line charts: y against x for a few series, solid for measurements and dashed for models
//! (the RTT sweep: page-load time against RTT, one colour per page-load mode).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{color, frame, legend_row, si, Drawn, Ez, Swatch};

/// One line: its points, ascending in x.
#[derive(Debug, Clone, Default)]
pub struct LineSeries {
    /// Legend text; an empty label stays out of the legend (a model drawn in its
    /// measurement's colour, say).
    pub label: String,
    pub points: Vec<(f64, f64)>,
    /// Which colour (series that belong together, e.g. a mode's measurement and its model,
    /// share one).
    pub color: usize,
    /// A model rather than a measurement: dashed, without markers.
    pub dashed: bool,
}

#[derive(Debug, Clone, Default)]
pub struct LineData {
    /// File-name stem, e.g. `rtt-sweep`.
    pub name: String,
    pub title: String,
    pub note: String,
    pub x_desc: String,
    pub y_desc: String,
    pub series: Vec<LineSeries>,
}

pub(super) fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, d: &LineData) -> Drawn {
    let area = frame(root, &d.title, &d.note)?;
    let items: Vec<_> = d.series.iter().filter(|s| !s.label.is_empty()).map(|s| (s.label.clone(), color(s.color), Swatch::Line)).collect();
    let area = legend_row(&area, &items)?;
    let xs = d.series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let ys = d.series.iter().flat_map(|s| s.points.iter().map(|p| p.1));
    let (x0, x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
    let y1 = ys.fold(0.0f64, f64::max);
    let (x0, x1) = if x0.is_finite() && x1 > x0 { (x0, x1) } else { (0.0, 1.0) };
    let y1 = if y1 > 0.0 { y1 * 1.08 } else { 1.0 };
    let mut chart = ChartBuilder::on(&area)
        .margin_left(10)
        .margin_right(30)
        .margin_bottom(10)
        .x_label_area_size(50)
        .y_label_area_size(90)
        .build_cartesian_2d(x0..x1, 0f64..y1)
        .e()?;
    let mut mesh = chart.configure_mesh();
    super::axes(&mut mesh)
        .x_desc(d.x_desc.clone())
        .y_desc(d.y_desc.clone())
        .x_label_formatter(&|v| si(*v))
        .y_label_formatter(&|v| si(*v))
        .draw()
        .e()?;
    for s in &d.series {
        let c = color(s.color);
        if s.dashed {
            chart.draw_series(DashedLineSeries::new(s.points.clone(), 10, 6, ShapeStyle::from(&c).stroke_width(2))).e()?;
        } else {
            chart.draw_series(plotters::series::LineSeries::new(s.points.clone(), ShapeStyle::from(&c).stroke_width(3))).e()?;
            chart.draw_series(s.points.iter().map(|&p| Circle::new(p, 5, c.filled()))).e()?;
        }
    }
    Ok(())
}
