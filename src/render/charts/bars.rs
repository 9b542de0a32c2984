//! Grouped bar panels side by side: handshakes and overhead per step or run, and polling against push.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{bold, clip_middle, color, font, frame, legend_row, si, Drawn, Ez, Swatch};

/// One panel: bars per group, one bar per series (side by side, or stacked).
#[derive(Debug, Clone, Default)]
pub struct Panel {
    pub title: String,
    pub y_desc: String,
    /// (series label, one value per group).
    pub series: Vec<(String, Vec<f64>)>,
    pub stacked: bool,
}

#[derive(Debug, Clone, Default)]
pub struct GroupBars {
    /// File-name stem, e.g. `handshakes-overhead`.
    pub name: String,
    pub title: String,
    pub note: String,
    /// Group names along the x axis (steps or runs).
    pub groups: Vec<String>,
    pub panels: Vec<Panel>,
}

pub(super) fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, d: &GroupBars) -> Drawn {
    let area = frame(root, &d.title, &d.note)?;
    let panels = area.split_evenly((1, d.panels.len().max(1)));
    let ng = d.groups.len().max(1);
    for (p, pa) in d.panels.iter().zip(panels.iter()) {
        let (w, _) = pa.dim_in_pixel();
        pa.draw(&Text::new(p.title.clone(), (w as i32 / 2, 4), bold(19).pos(Pos::new(HPos::Center, VPos::Top)))).e()?;
        let pa = pa.margin(30, 4, 6, 14);
        let items: Vec<_> = p.series.iter().enumerate().map(|(i, (l, _))| (l.clone(), color(i), Swatch::Block)).collect();
        let pa = legend_row(&pa, &items)?;
        let totals: Vec<f64> = (0..ng)
            .map(|g| {
                let v = p.series.iter().map(|(_, v)| v.get(g).copied().unwrap_or(0.0));
                if p.stacked {
                    v.sum()
                } else {
                    v.fold(0.0, f64::max)
                }
            })
            .collect();
        let y_max = totals.iter().copied().fold(0.0, f64::max).max(1.0) * 1.18;
        let groups = d.groups.clone();
        let mut chart = ChartBuilder::on(&pa)
            .margin_right(8)
            .x_label_area_size(40)
            .y_label_area_size(80)
            .build_cartesian_2d(-0.5f64..(ng as f64 - 0.5), 0f64..y_max)
            .e()?;
        let mut mesh = chart.configure_mesh();
        super::axes(&mut mesh)
            .disable_x_mesh()
            .x_labels(ng + 1)
            .x_label_formatter(&|v| {
                let r = v.round();
                if (v - r).abs() > 1e-6 || r < 0.0 {
                    return String::new();
                }
                groups.get(r as usize).map(|s| clip_middle(s, (44 / ng).clamp(12, 30))).unwrap_or_default()
            })
            .y_label_formatter(&|v| si(*v))
            .y_desc(p.y_desc.clone())
            .y_labels(6)
            .axis_desc_style(font(16))
            .draw()
            .e()?;
        let ns = p.series.len().max(1);
        let width = 0.8 / if p.stacked { 1.0 } else { ns as f64 };
        let mut base = vec![0.0; ng];
        for (si_, (_, vals)) in p.series.iter().enumerate() {
            let c = color(si_);
            let rects: Vec<(f64, f64, f64)> = (0..ng)
                .map(|g| {
                    let v = vals.get(g).copied().unwrap_or(0.0);
                    let x0 = g as f64 - 0.4 + if p.stacked { 0.0 } else { width * si_ as f64 };
                    let y0 = if p.stacked { base[g] } else { 0.0 };
                    if p.stacked {
                        base[g] += v;
                    }
                    (x0, y0, v)
                })
                .collect();
            chart
                .draw_series(rects.iter().map(|&(x0, y0, v)| Rectangle::new([(x0 + 0.01, y0), (x0 + width - 0.01, y0 + v)], c.filled())))
                .e()?;
            let label_pos = |&(x0, y0, v): &(f64, f64, f64)| if p.stacked { (x0 + width / 2.0, y0 + v / 2.0) } else { (x0 + width / 2.0, y0 + v) };
            let anchor = if p.stacked { VPos::Center } else { VPos::Bottom };
            let text_c = if p.stacked { WHITE } else { RGBColor(34, 34, 34) };
            chart
                .draw_series(rects.iter().filter(|r| r.2 > 0.0 && (!p.stacked || r.2 > y_max * 0.06)).map(|r| {
                    Text::new(si(r.2), label_pos(r), font(if ns > 3 { 13 } else { 15 }).color(&text_c).pos(Pos::new(HPos::Center, anchor)))
                }))
                .e()?;
        }
    }
    Ok(())
}
