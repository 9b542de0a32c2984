//! `wirelab run-scenario`: runs a scenario file (once, or `--repeat N` times) and prints its
//! report.

#[cfg(feature = "export")]
use std::io::{self, Write};

use anyhow::Result;

use super::args::RunScenarioArgs;
#[cfg(feature = "export")]
use super::exit;

#[cfg(not(feature = "export"))]
pub fn run_scenario(_: RunScenarioArgs) -> Result<u8> {
    anyhow::bail!("this wirelab was built without the `export` feature that scenarios need")
}

#[cfg(feature = "export")]
pub fn run_scenario(a: RunScenarioArgs) -> Result<u8> {
    let RunScenarioArgs { file, no_capture, out, repeat } = a;
    let sc = wirelab::scenario::Scenario::load(&file)?;
    eprintln!("wirelab: scenario {} — {}", sc.name, sc.description);
    let opts = wirelab::scenario::run::RunOptions { no_capture, out_root: out };
    let mut stdout = io::stdout().lock();
    let mut all_ok = true;
    let mut times: std::collections::BTreeMap<String, Vec<f64>> = std::collections::BTreeMap::new();
    let mut last_report = None;
    for i in 0..repeat.max(1) {
        if repeat > 1 {
            eprintln!("── run {} of {repeat}", i + 1);
        }
        let o = wirelab::scenario::run::run(&file, &sc, &opts)?;
        all_ok &= o.ok;
        for (label, v) in o.summary["steps"].as_object().into_iter().flatten() {
            if let Some(t) = v["total_ms"].as_f64() {
                times.entry(label.clone()).or_default().push(t);
            }
        }
        if i + 1 == repeat.max(1) || !o.ok {
            let _ = stdout.write_all(o.text.as_bytes());
            if let Some(c) = &o.capture {
                let _ = writeln!(stdout, "\ncapture: {}", c.display());
            }
            let _ = writeln!(stdout, "report:  {}", o.report.display());
        }
        last_report = Some(o.report);
        if o.interrupted {
            break;
        }
    }
    if repeat > 1 {
        let mut tb = wirelab::render::table::Table::new(&["Step", "Runs", "Mean ms", "± 95% CI", "Min", "Max"]);
        tb.right(&[1, 2, 3, 4, 5]);
        let mut doc = serde_json::Map::new();
        for (label, v) in &times {
            let (mean, half) = mean_ci95(v);
            let (lo, hi) = (v.iter().cloned().fold(f64::INFINITY, f64::min), v.iter().cloned().fold(0.0, f64::max));
            tb.row(vec![label.clone(), v.len().to_string(), format!("{mean:.3}"), format!("{half:.3}"), format!("{lo:.3}"), format!("{hi:.3}")]);
            doc.insert(label.clone(), serde_json::json!({ "runs": v.len(), "mean_ms": mean, "ci95_ms": half, "min_ms": lo, "max_ms": hi, "samples_ms": v }));
        }
        let _ = writeln!(stdout, "\nStep times over {repeat} runs");
        let _ = stdout.write_all(tb.render().as_bytes());
        if let Some(r) = &last_report {
            let _ = std::fs::write(r.join("repeat.json"), serde_json::to_string_pretty(&doc)?);
        }
    }
    let _ = stdout.flush();
    Ok(if all_ok { exit::OK } else { exit::FAILED })
}

/// Mean and the half-width of its 95% confidence interval (Student's t).
#[cfg(feature = "export")]
fn mean_ci95(v: &[f64]) -> (f64, f64) {
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
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110,
        2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];
    let t = T.get(n - 2).copied().unwrap_or(1.960);
    (mean, t * (var / n as f64).sqrt())
}
