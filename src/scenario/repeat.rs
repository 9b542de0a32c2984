//! `--repeat N`: every metric of every step over N runs (client measurements and wire counts),
//! as mean and 95% confidence interval (Student's t), with min and max.

use serde::Serialize;

use super::results::{StepOutcome, Unit};
use crate::render::table::Table;

/// Mean and the half-width of its 95% confidence interval (Student's t); NaN below 2 samples.
pub fn mean_ci95(v: &[f64]) -> (f64, f64) {
    let n = v.len();
    if n == 0 {
        return (0.0, 0.0);
    }
    let mean = v.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (mean, f64::NAN);
    }
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    // Two-sided 97.5% quantiles of Student's t for 1..=30 degrees of freedom, then the normal.
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
        2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];
    let t = T.get(n - 2).copied().unwrap_or(1.960);
    (mean, t * (var / n as f64).sqrt())
}

struct Series {
    name: &'static str,
    unit: Unit,
    samples: Vec<f64>,
}

/// Samples of every (step, metric), in the order first seen.
#[derive(Default)]
pub struct Repeats {
    steps: Vec<(String, Vec<(&'static str, Series)>)>,
}

#[derive(Serialize)]
struct Stat<'a> {
    name: &'a str,
    runs: usize,
    mean: f64,
    ci95: Option<f64>,
    min: f64,
    max: f64,
    samples: &'a [f64],
}

impl Repeats {
    pub fn add(&mut self, outcomes: &[StepOutcome]) {
        for o in outcomes {
            let i = match self.steps.iter().position(|(l, _)| *l == o.label) {
                Some(i) => i,
                None => {
                    self.steps.push((o.label.clone(), vec![]));
                    self.steps.len() - 1
                }
            };
            let series = &mut self.steps[i].1;
            for m in o.metrics() {
                let Some(v) = m.value else { continue };
                match series.iter_mut().find(|(k, _)| *k == m.key) {
                    Some((_, s)) => s.samples.push(v),
                    None => series.push((m.key, Series { name: m.name, unit: m.unit, samples: vec![v] })),
                }
            }
        }
    }

    pub fn table(&self) -> Table {
        let mut t = Table::new(&["Step", "Measured", "Runs", "Mean", "± 95% CI", "Min", "Max"]);
        t.right(&[2, 3, 4, 5, 6]);
        for (label, series) in &self.steps {
            for (_, s) in series {
                let (mean, half) = mean_ci95(&s.samples);
                let (lo, hi) = s.samples.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
                let f = |x: f64| s.unit.format(x);
                let ci = if half.is_nan() { "-".into() } else { f(half) };
                t.row(vec![label.clone(), s.name.into(), s.samples.len().to_string(), f(mean), ci, f(lo), f(hi)]);
            }
        }
        t
    }

    /// `{label: {metric key: {name, runs, mean, ci95, min, max, samples}}}`.
    pub fn json(&self) -> serde_json::Value {
        let mut doc = serde_json::Map::new();
        for (label, series) in &self.steps {
            let mut m = serde_json::Map::new();
            for (key, s) in series {
                let (mean, half) = mean_ci95(&s.samples);
                let (lo, hi) = s.samples.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
                let stat = Stat { name: s.name, runs: s.samples.len(), mean, ci95: (!half.is_nan()).then_some(half), min: lo, max: hi, samples: &s.samples };
                m.insert(key.to_string(), serde_json::to_value(stat).unwrap_or_default());
            }
            doc.insert(label.clone(), serde_json::Value::Object(m));
        }
        let mut v = serde_json::Value::Object(doc);
        crate::render::json::round_floats(&mut v);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidence_interval_of_known_samples() {
        let (m, h) = mean_ci95(&[1.0, 2.0, 3.0]);
        assert!((m - 2.0).abs() < 1e-12);
        assert!((h - 4.303 * (1.0f64 / 3.0).sqrt()).abs() < 1e-9);
        assert!(mean_ci95(&[5.0]).1.is_nan());
    }
}

/// What [`run_times`] leaves for the caller: whether every run held, and the last run's steps
/// and report folder.
pub struct Runs {
    pub ok: bool,
    pub interrupted: bool,
    pub last_steps: Vec<StepOutcome>,
    pub last_report: Option<std::path::PathBuf>,
}

/// Runs `plan` `times` times, writing the last run's text (and any run that failed) and the
/// output paths to `w`, then, over several runs, every metric's mean and confidence interval
/// (also saved as repeat.json in the last report).
pub fn run_times(plan: &super::plan::Plan, opts: &super::RunOptions, times: u32, w: &mut impl std::io::Write) -> Result<Runs, super::RunError> {
    let out = |source| super::RunError::Output { path: "<stdout>".into(), source };
    let times = times.max(1);
    let mut repeats = Repeats::default();
    let mut runs = Runs { ok: true, interrupted: false, last_steps: vec![], last_report: None };
    for i in 0..times {
        if times > 1 {
            eprintln!("── run {} of {times}", i + 1);
        }
        let o = super::run(plan, opts)?;
        runs.ok &= o.ok;
        repeats.add(&o.steps);
        if i + 1 == times || !o.ok {
            w.write_all(&o.text).map_err(out)?;
            writeln!(w).map_err(out)?;
            if let Some(c) = &o.capture {
                writeln!(w, "capture: {}", c.display()).map_err(out)?;
            }
            writeln!(w, "report:  {}", o.report.display()).map_err(out)?;
            if let Some(h) = &o.html {
                writeln!(w, "html:    {}", h.html.display()).map_err(out)?;
                for p in &h.pngs {
                    writeln!(w, "chart:   {}", p.display()).map_err(out)?;
                }
            }
        }
        runs.last_report = Some(o.report);
        runs.last_steps = o.steps;
        if o.interrupted {
            runs.interrupted = true;
            break;
        }
    }
    if times > 1 {
        writeln!(w, "\nEvery step's measurements over {times} runs").map_err(out)?;
        w.write_all(repeats.table().render().as_bytes()).map_err(out)?;
        if let Some(dir) = &runs.last_report {
            let p = dir.join("repeat.json");
            let text = serde_json::to_string_pretty(&repeats.json()).unwrap_or_default();
            std::fs::write(&p, text).map_err(|source| super::RunError::Output { path: p.clone(), source })?;
            super::output::chown_to_sudo_user(&p);
        }
    }
    w.flush().map_err(out)?;
    Ok(runs)
}
