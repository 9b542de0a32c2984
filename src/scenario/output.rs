//! Stage 10, write: the run's summary (summary.json), its text (summary.txt, every row), and
//! the terminal text (the comparison and the expectations first, the long tables after, the
//! lesson last), written into the report folder, which appears only once it is complete.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::ser::SerializeMap;
use serde::Serialize;
use serde_json::Value;

use super::analyze::Analysis;
use super::compare;
use super::expect::Checked;
use super::plan::{Plan, StepKind};
use super::record::Recorded;
use super::results::StepOutcome;
use super::RunError;
use crate::render::summary::{self, thousands};
use crate::render::table::Table;

/// Everything a run produced, for the summary and the text.
pub struct RunReport<'a> {
    pub plan: &'a Plan,
    pub network: String,
    pub recorded: Option<Recorded>,
    pub analysis: Option<Analysis>,
    /// The `analyze --json` document of the capture (null without one), made once for both
    /// the expectations and summary.json.
    pub analysis_doc: Value,
    pub steps: Vec<StepOutcome>,
    pub checked: Vec<Checked>,
    pub lesson: Option<String>,
    pub interrupted: bool,
    pub ok: bool,
}

/// The `analyze --json` document of a run's capture (null without one).
pub fn analysis_doc(analysis: Option<&Analysis>, recorded: Option<&Recorded>) -> Value {
    match (analysis, recorded) {
        (Some(a), Some(r)) => serde_json::to_value(crate::analysis::Report::new(&r.file.display().to_string(), &a.summary)).unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

/// The steps as a map from label to outcome, in the plan's order.
struct Steps<'a>(&'a [StepOutcome]);
impl Serialize for Steps<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for st in self.0 {
            m.serialize_entry(&st.label, st)?;
        }
        m.end()
    }
}

#[derive(Serialize)]
struct ScenarioInfo<'a> {
    name: &'a str,
    file: String,
    description: &'a str,
    network: &'a str,
}

#[derive(Serialize)]
struct SummaryDoc<'a> {
    scenario: ScenarioInfo<'a>,
    capture: Option<&'a Recorded>,
    analysis: &'a Value,
    steps: Steps<'a>,
    drops: u64,
    expectations: &'a [Checked],
    lesson: &'a Option<String>,
    interrupted: bool,
    ok: bool,
}

impl RunReport<'_> {
    pub fn drops(&self) -> u64 {
        self.recorded.as_ref().map_or(0, Recorded::drops)
    }

    /// What expectations are checked against: the analysis, `steps` and `drops`.
    pub fn expectation_doc(&self) -> Value {
        let mut doc = match &self.analysis_doc {
            Value::Null => serde_json::json!({}),
            v => v.clone(),
        };
        doc["steps"] = serde_json::to_value(Steps(&self.steps)).unwrap_or(Value::Null);
        doc["drops"] = Value::from(self.drops());
        doc
    }

    pub fn summary_json(&self) -> Value {
        let doc = SummaryDoc {
            scenario: ScenarioInfo { name: &self.plan.name, file: self.plan.file.display().to_string(), description: &self.plan.description, network: &self.network },
            capture: self.recorded.as_ref(),
            analysis: &self.analysis_doc,
            steps: Steps(&self.steps),
            drops: self.drops(),
            expectations: &self.checked,
            lesson: &self.lesson,
            interrupted: self.interrupted,
            ok: self.ok,
        };
        let mut v = serde_json::to_value(doc).unwrap_or(Value::Null);
        crate::render::json::round_floats(&mut v);
        v
    }

    /// The run as text. `limit` caps the long tables' rows (None: every row; the hint under a
    /// cut table names `--all`, which run-scenario has).
    pub fn render(&self, w: &mut impl Write, limit: Option<usize>) -> io::Result<()> {
        let p = self.plan;
        writeln!(w, "Scenario {}{}", p.name, if p.description.is_empty() { String::new() } else { format!(": {}", p.description) })?;
        match &self.recorded {
            Some(r) => writeln!(w, "Network {} · captured {} packets, {} dropped by the kernel", self.network, thousands(r.stats.packets), thousands(r.drops()))?,
            None => writeln!(w, "Network {} · not captured (--no-capture): client measurements only", self.network)?,
        }
        writeln!(w)?;
        match compare::compared(&self.steps) {
            Some(c) => {
                writeln!(w, "Side by side")?;
                w.write_all(compare::side_by_side(&c).render().as_bytes())?;
            }
            None => {
                writeln!(w, "Steps")?;
                w.write_all(steps_table(&self.steps).render().as_bytes())?;
            }
        }
        writeln!(w, "\nExpectations")?;
        for c in &self.checked {
            match (c.skipped, c.ok) {
                (true, _) => writeln!(w, "  – {}   (skipped: {})", c.expectation, if self.interrupted { "interrupted" } else { "no capture" })?,
                (false, ok) => writeln!(w, "  {} {}   (actual {})", if ok { "✓" } else { "✗" }, c.expectation, c.actual.map_or("missing".into(), number))?,
            }
        }
        if let (Some(a), Some(r)) = (&self.analysis, &self.recorded) {
            writeln!(w)?;
            let rows = summary::Rows { transactions: &a.transactions, messages: &a.messages };
            let limit = limit.map(|rows| summary::Limit { rows, more_hint: "use --all to show every row" });
            summary::render(w, &r.file.display().to_string(), &a.summary, &rows, limit)?;
            if a.interrupted {
                writeln!(w, "\n(The analysis was interrupted: the figures above cover the capture up to that moment.)")?;
            }
        }
        if self.interrupted {
            writeln!(w, "\nInterrupted: the capture and the report cover what ran before Ctrl-C.")?;
        }
        if let Some(l) = &self.lesson {
            writeln!(w, "\n{l}")?;
        }
        Ok(())
    }
}

/// A measured value as people read it: whole numbers as such, others to 3 decimals.
fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x:.3}")
    }
}

/// One row per step: what it measured, and its share of the wire.
fn steps_table(steps: &[StepOutcome]) -> Table {
    let mut t = Table::new(&["Step", "Kind", "What it measured", "Connections", "Packets", "Bytes"]);
    t.right(&[3, 4, 5]);
    for s in steps {
        let wire = s.wire.as_ref().filter(|_| s.kind != StepKind::Sleep);
        let n = |f: fn(&super::results::WireCounts) -> u64| wire.map_or("-".into(), |w| thousands(f(w)));
        t.row(vec![s.label.clone(), s.kind.name().into(), s.headline(), n(|w| w.connections), n(|w| w.packets), n(|w| w.bytes)]);
    }
    t
}

/// Gives files written as root (under sudo) back to the user who ran sudo.
pub fn chown_to_sudo_user(path: &Path) {
    #[cfg(unix)]
    if let (Ok(uid), Ok(gid)) = (std::env::var("SUDO_UID"), std::env::var("SUDO_GID")) {
        if let (Ok(uid), Ok(gid)) = (uid.parse::<u32>(), gid.parse::<u32>()) {
            let _ = std::os::unix::fs::chown(path, Some(uid), Some(gid));
        }
    }
}

/// Writes summary.json and summary.txt into `staging` (which may already hold the exported
/// tables), then moves it to `dir`.
pub fn write(report: &RunReport<'_>, staging: &Path, dir: &Path) -> Result<PathBuf, RunError> {
    fn out(path: &Path) -> impl FnOnce(std::io::Error) -> RunError + '_ {
        move |source| RunError::Output { path: path.to_path_buf(), source }
    }
    std::fs::create_dir_all(staging).map_err(out(staging))?;
    let json = serde_json::to_string_pretty(&report.summary_json()).map_err(|e| RunError::Output { path: staging.join("summary.json"), source: e.into() })?;
    std::fs::write(staging.join("summary.json"), json).map_err(out(&staging.join("summary.json")))?;
    let mut text = vec![];
    report.render(&mut text, None).map_err(out(staging))?;
    std::fs::write(staging.join("summary.txt"), text).map_err(out(&staging.join("summary.txt")))?;
    std::fs::rename(staging, dir).map_err(out(dir))?;
    chown_to_sudo_user(dir);
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        chown_to_sudo_user(&e.path());
    }
    if let Some(parent) = dir.parent() {
        chown_to_sudo_user(parent);
    }
    Ok(dir.to_path_buf())
}

/// The HTML report and PNG charts of a written run folder. A failure here costs the pictures,
/// not the run: it is reported and the run's result stands.
pub fn html_report(dir: &Path) -> Option<crate::render::report::ReportOutput> {
    use crate::render::report::{build, ReportRequest};
    match build(ReportRequest { input: dir.to_path_buf(), png: true, ..Default::default() }) {
        Ok(o) => {
            for p in o.pngs.iter().chain([&o.html]) {
                chown_to_sudo_user(p);
            }
            Some(o)
        }
        Err(e) => {
            eprintln!("wirelab: warning: the HTML report of {} could not be built: {e}", dir.display());
            None
        }
    }
}
