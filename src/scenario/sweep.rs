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
    }
    w.flush().map_err(out)?;
    Ok(ok)
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
            format!("{:+.1}%", p.textbook_deviation_pct),
            format!("{} ms", ms(p.window_aware_ms)),
            format!("{:+.1}%", p.window_deviation_pct),
        ]);
    }
    t
}
