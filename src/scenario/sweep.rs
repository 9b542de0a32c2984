//! `[link] rtt_ms = [0, 10, 20, 50, 100]`: the scenario once per RTT, then every page load's
//! measured time beside both models at each RTT (the lecture's chart is drawn from it).

use std::io::Write;

use serde::Serialize;

use super::plan::Plan;
use super::repeat::run_times;
use super::results::ms;
use super::{RunError, RunOptions};
use crate::render::table::Table;

/// One page load of a sweep.
#[derive(Debug, Clone, Serialize)]
pub struct SweepPoint {
    pub rtt_ms: f64,
    pub step: String,
    pub mode: String,
    pub measured_ms: f64,
    pub textbook_ms: f64,
    pub window_aware_ms: f64,
    /// The low end of the slow-start range: the receiver's window never limiting.
    pub window_open_ms: f64,
    pub textbook_deviation_pct: f64,
    pub window_deviation_pct: f64,
}

/// Runs the scenario at every RTT of its sweep (`times` runs each), prints each point's text to
/// stderr as it goes and the last point's in full to `w`, then the sweep table; saves
/// sweep.json in the last report. True when every run held.
pub fn run_sweep(plan: &Plan, opts: &RunOptions, times: u32, w: &mut dyn Write) -> Result<bool, RunError> {
    let out = |source| RunError::Output { path: "<stdout>".into(), source };
    let n = plan.sweep_len();
    let mut ok = true;
    let mut points: Vec<SweepPoint> = vec![];
    let mut last_report = None;
    for i in 0..n {
        let p = plan.sweep_point(i);
        let rtt = p.link.as_ref().map_or(0.0, |l| l.config.rtt.as_nanos() as f64 / 1e6);
        eprintln!("── RTT {} ms ({} of {n})", ms(rtt), i + 1);
        // Each point's text goes to summary.txt in its report; the terminal gets the last one.
        let mut text: Vec<u8> = vec![];
        let sink: &mut dyn Write = if i + 1 == n { &mut *w } else { &mut text };
        let runs = run_times(&p, opts, times, &mut &mut *sink)?;
        ok &= runs.ok;
        for st in &runs.last_steps {
            let (Some(m), Some(super::results::StepResult::Fetch(f))) = (&st.model, &st.result) else { continue };
            points.push(SweepPoint {
                rtt_ms: rtt,
                step: st.label.clone(),
                mode: f.mode.clone(),
                measured_ms: m.measured_ms,
                textbook_ms: m.textbook_ms,
                window_aware_ms: m.window_aware_ms,
                window_open_ms: m.window_open_ms,
                textbook_deviation_pct: m.textbook_deviation_pct,
                window_deviation_pct: m.window_deviation_pct,
            });
        }
        last_report = runs.last_report;
        if runs.interrupted {
            ok = false;
            break;
        }
    }
    writeln!(w, "\nPage load against RTT: measured on the wire, and both models").map_err(out)?;
    w.write_all(table(&points).render().as_bytes()).map_err(out)?;
    if let Some(dir) = &last_report {
        let p = dir.join("sweep.json");
        let mut v = serde_json::to_value(&points).unwrap_or_default();
        crate::render::json::round_floats(&mut v);
        std::fs::write(&p, serde_json::to_string_pretty(&v).unwrap_or_default()).map_err(|source| RunError::Output { path: p.clone(), source })?;
        super::output::chown_to_sudo_user(&p);
        writeln!(w, "sweep:   {}", p.display()).map_err(out)?;
        let png = dir.join("rtt-sweep.png");
        match chart(&points).png(&png) {
            Ok(()) => {
                super::output::chown_to_sudo_user(&png);
                writeln!(w, "chart:   {}", png.display()).map_err(out)?;
            }
            Err(e) => eprintln!("wirelab: warning: the sweep chart could not be drawn: {e}"),
        }
    }
    w.flush().map_err(out)?;
    Ok(ok)
}

/// A deviation, or "-" where the model predicts nothing to deviate from (RTT 0, no rate).
fn pct(model_ms: f64, dev: f64) -> String {
    if model_ms > 0.0 {
        format!("{dev:+.1}%")
    } else {
        "-".into()
    }
}

/// The slow-start model's time, or its range where the receiver's window may or may not limit.
fn slow_start(p: &SweepPoint) -> String {
    if p.window_open_ms < p.window_aware_ms {
        format!("{}–{} ms", ms(p.window_open_ms), ms(p.window_aware_ms))
    } else {
        format!("{} ms", ms(p.window_aware_ms))
    }
}

fn table(points: &[SweepPoint]) -> Table {
    let mut t = Table::new(&["RTT", "Step", "Measured", "Textbook", "Δ textbook", "Slow-start model", "Δ slow start"]);
    t.right(&[0, 2, 3, 4, 5, 6]);
    for p in points {
        t.row(vec![
            format!("{} ms", ms(p.rtt_ms)),
            p.step.clone(),
            format!("{} ms", ms(p.measured_ms)),
            format!("{} ms", ms(p.textbook_ms)),
            pct(p.textbook_ms, p.textbook_deviation_pct),
            slow_start(p),
            pct(p.window_aware_ms, p.window_deviation_pct),
        ]);
    }
    t
}

/// The lecture's chart: each mode's page-load time against the RTT, measured (solid) and by the
/// slow-start model (dashed, same colour).
pub fn chart(points: &[SweepPoint]) -> crate::render::charts::Chart {
    use crate::render::charts::{Chart, LineData, LineSeries};
    let mut steps: Vec<&str> = vec![];
    for p in points {
        if !steps.contains(&p.step.as_str()) {
            steps.push(&p.step);
        }
    }
    let mut series = vec![];
    for (i, step) in steps.iter().enumerate() {
        let mine: Vec<&SweepPoint> = points.iter().filter(|p| p.step == *step).collect();
        series.push(LineSeries { label: step.to_string(), points: mine.iter().map(|p| (p.rtt_ms, p.measured_ms)).collect(), color: i, dashed: false });
        series.push(LineSeries { label: String::new(), points: mine.iter().map(|p| (p.rtt_ms, p.window_aware_ms)).collect(), color: i, dashed: true });
    }
    Chart::Lines(LineData {
        name: "rtt-sweep".into(),
        title: "Page load against RTT: round trips, not bytes, decide a small page's load time".into(),
        note: "measured on the wire (solid) and the slow-start response-time model (dashed), one colour per mode".into(),
        x_desc: "round-trip time (ms)".into(),
        y_desc: "page load (ms)".into(),
        series,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(rtt: f64, step: &str, measured: f64, model: f64) -> SweepPoint {
        SweepPoint { rtt_ms: rtt, step: step.into(), mode: step.into(), measured_ms: measured, textbook_ms: model, window_aware_ms: model, window_open_ms: model, textbook_deviation_pct: 0.0, window_deviation_pct: (measured - model) / model.max(1e-9) * 100.0 }
    }

    #[test]
    fn the_sweep_draws_one_coloured_pair_per_mode_and_says_nothing_at_rtt_0() {
        let pts = vec![point(0.0, "persistent", 5.0, 0.0), point(20.0, "persistent", 450.0, 440.0), point(0.0, "pipelined", 3.0, 0.0), point(20.0, "pipelined", 142.0, 140.0)];
        let t = table(&pts).render();
        assert!(t.lines().any(|l| l.contains("0.000 ms") && l.trim_end().ends_with('-')), "{t}");
        assert!(t.contains("+2.3%"), "{t}");
        // Where the receive window may limit a round, the model's column is the range.
        let race = SweepPoint { window_open_ms: 600.0, window_deviation_pct: 0.0, ..point(100.0, "pipelined", 612.5, 700.0) };
        let t = table(&[race]).render();
        assert!(t.contains("600.0–700.0 ms") || t.contains("600–700 ms"), "{t}");
        let crate::render::charts::Chart::Lines(d) = chart(&pts) else { panic!("a line chart") };
        assert_eq!(d.series.len(), 4);
        assert_eq!(d.series.iter().filter(|s| !s.label.is_empty()).count(), 2, "one legend entry per mode");
        assert!(d.series.iter().all(|s| s.points.len() == 2));
        let png = std::env::temp_dir().join(format!("wirelab-sweep-{}.png", std::process::id()));
        chart(&pts).png(&png).unwrap();
        assert!(std::fs::metadata(&png).unwrap().len() > 10_000);
        let _ = std::fs::remove_file(png);
    }
}
