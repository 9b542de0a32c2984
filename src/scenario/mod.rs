//! Scenarios: servers, client steps and expectations in a TOML file, run as a sequence of
//! stages, each a function with a typed input and output:
//!
//! plan → network → bind → capture → serve → steps → drain → analyze → check → write
//!
//! [`plan::load`] checks the whole file before anything starts; [`run`] does the rest.

pub mod analyze;
pub mod compare;
pub mod expect;
pub mod interrupt;
pub mod model;
pub mod network;
pub mod output;
pub mod plan;
pub mod record;
pub mod repeat;
pub mod results;
pub mod serve;
pub mod steps;
pub mod sweep;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use expect::Checked;
use interrupt::Interrupt;
use output::RunReport;
use plan::Plan;
use results::StepOutcome;

/// Why a run could not be carried out (a set-up error: exit 2).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Plan(#[from] plan::PlanError),
    #[error(transparent)]
    Capture(#[from] crate::capture::live::CaptureError),
    #[error(transparent)]
    Link(#[from] crate::link::LinkError),
    #[error("server {server:?} cannot listen on port {port}: {source}")]
    Listen { server: String, port: u16, source: std::io::Error },
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot write {path}: {source}")]
    Output { path: PathBuf, source: std::io::Error },
    #[error("cannot analyze {path}: {message}")]
    Analysis { path: PathBuf, message: String },
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Run the clients without capturing (no privilege needed; only client measurements).
    pub no_capture: bool,
    /// Where `captures/` and `reports/` go.
    pub out_root: PathBuf,
    /// Rows of the long tables in the terminal text (None: every row).
    pub rows: Option<usize>,
    pub interrupt: Interrupt,
}

/// What a run produced.
pub struct Outcome {
    /// The terminal text.
    pub text: Vec<u8>,
    pub ok: bool,
    pub interrupted: bool,
    pub capture: Option<PathBuf>,
    pub report: PathBuf,
    /// report.html and the PNG charts (runs with a capture).
    pub html: Option<crate::render::report::ReportOutput>,
    pub steps: Vec<StepOutcome>,
}

/// How long servers get to finish in-flight responses once the steps are done.
const GRACE: Duration = Duration::from_secs(2);

/// `YYYYmmdd-HHMMSS` in UTC (civil-from-days, H. Hinnant's algorithm).
pub fn utc_stamp(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}{m:02}{d:02}-{:02}{:02}{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// A run's output paths: `captures/<name>-<time>.pcapng` and `reports/<name>-<time>/`, which
/// is built as a hidden staging folder and appears only once complete.
struct Names {
    capture: PathBuf,
    staging: PathBuf,
    report: PathBuf,
}

impl Names {
    fn new(root: &Path, name: &str) -> Names {
        // Runs within one second (--repeat) get -2, -3, … so that none overwrites another.
        let base = utc_stamp(SystemTime::now());
        let mut stamp = base.clone();
        let mut n = 1;
        while root.join("reports").join(format!("{name}-{stamp}")).exists() || root.join("captures").join(format!("{name}-{stamp}.pcapng")).exists() {
            n += 1;
            stamp = format!("{base}-{n}");
        }
        remove_stale_staging(&root.join("reports"));
        Names {
            capture: root.join("captures").join(format!("{name}-{stamp}.pcapng")),
            staging: root.join("reports").join(format!(".{name}-{stamp}.partial-{}", std::process::id())),
            report: root.join("reports").join(format!("{name}-{stamp}")),
        }
    }
}

/// Removes staging folders (`.NAME.partial-PID`) that a run killed before its write stage left,
/// when that process is gone.
fn remove_stale_staging(reports: &Path) {
    for e in std::fs::read_dir(reports).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix('.').and_then(|n| n.rsplit_once(".partial-")).and_then(|(_, p)| p.parse::<u32>().ok()) else { continue };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

impl Drop for Names {
    /// A run that stopped before its write stage leaves no half-written report folder.
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.staging);
    }
}

/// Runs a loaded plan through the stages after `plan`.
pub fn run(plan: &Plan, opts: &RunOptions) -> Result<Outcome, RunError> {
    let names = Names::new(&opts.out_root, &plan.name);
    let net = network::Network::up(plan)?;
    let rt = net.server_runtime()?;
    let bound = serve::bind(&net, plan)?;
    let recording = match opts.no_capture {
        true => None,
        false => Some(record::start(&net, plan, bound.filter(), &names.capture)?),
    };
    let serving = serve::start(&rt, &net, plan, bound)?;
    let mut done = steps::run(plan, &serving, &opts.interrupt, &net)?;
    let server_errors = serving.stop(&rt, GRACE);
    opts.interrupt.test_pause("drain");
    let recorded = recording.map(|r| r.drain(&net)).transpose()?;
    rt.shutdown_timeout(Duration::from_millis(500));
    let (network, rtt, link) = (net.describe(), net.rtt(), net.link().cloned());
    drop(net); // the emulated link, if any, is torn down here
    opts.interrupt.test_pause("analyze");
    let analysis = recorded.as_ref().map(|r| analyze::analyze(&r.file, &names.staging, &opts.interrupt)).transpose()?;
    if let Some(a) = &analysis {
        analyze::attribute(&mut done.outcomes, a);
    }
    if let Some(l) = &link {
        model::beside(&mut done.outcomes, rtt, l.rate_bps);
    }
    opts.interrupt.test_pause("check");
    let interrupted = done.interrupted || opts.interrupt.is_set();
    let analysis_doc = output::analysis_doc(analysis.as_ref(), recorded.as_ref());
    let mut report = RunReport { plan, network, recorded, analysis, analysis_doc, steps: done.outcomes, checked: vec![], lesson: None, interrupted, ok: false };
    report.checked = check(plan, &report);
    report.lesson = compare::compared(&report.steps).and_then(|c| compare::lesson(&c));
    for e in &server_errors {
        eprintln!("wirelab: a server ended with an error: {e}");
    }
    report.ok = !interrupted && server_errors.is_empty() && report.checked.iter().all(|c| c.ok) && report.steps.iter().all(|s| s.error.is_none());
    let mut text = vec![];
    report.render(&mut text, opts.rows).map_err(|source| RunError::Output { path: "<stdout>".into(), source })?;
    let dir = output::write(&report, &names.staging, &names.report)?;
    let charts = report.recorded.as_ref().and_then(|_| output::html_report(&dir));
    // A Ctrl-C while the report was being written: the report is whole, the run is not a success.
    let late = !interrupted && opts.interrupt.is_set();
    Ok(Outcome { text, ok: report.ok && !late, interrupted: interrupted || late, capture: report.recorded.as_ref().map(|r| r.file.clone()), report: dir, html: charts, steps: report.steps })
}

/// Stage 9, check: every expectation against the run's summary. Those that read the capture
/// are skipped without one; all are skipped when Ctrl-C cut the run short. Kernel drops are
/// checked too.
fn check(plan: &Plan, report: &RunReport<'_>) -> Vec<Checked> {
    let doc = report.expectation_doc();
    let mut checked: Vec<Checked> = plan
        .expect
        .iter()
        .map(|e| if report.interrupted || (report.recorded.is_none() && e.needs_capture()) { e.skipped() } else { e.check(&doc) })
        .collect();
    if report.recorded.is_some() {
        let drops = report.drops();
        checked.push(Checked { expectation: format!("drops <= {}", plan.allow_drops), actual: Some(drops as f64), ok: drops <= plan.allow_drops, skipped: false });
    }
    checked
}

#[cfg(test)]
mod tests {
    #[test]
    fn stamps() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_242_000);
        assert_eq!(super::utc_stamp(t), "20261121-062000"); // date -u -d @1795242000
        assert_eq!(super::utc_stamp(std::time::UNIX_EPOCH), "19700101-000000");
    }
}
