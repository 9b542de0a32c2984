//! `wirelab run-scenario`: checks the scenario file (exit 2 with file:line), then runs it once
//! or `--repeat N` times and prints what it measured (exit 0 if every expectation held, 1 if
//! not or on Ctrl-C).

use anyhow::Result;

use super::args::RunScenarioArgs;
#[cfg(feature = "export")]
use super::exit;

#[cfg(not(feature = "export"))]
pub fn run_scenario(_: RunScenarioArgs) -> Result<u8> {
    anyhow::bail!("this wirelab was built without the `export` feature that scenarios need")
}

/// Rows of the long tables shown in the terminal without `--all`.
#[cfg(feature = "export")]
const ROWS: usize = 25;

#[cfg(feature = "export")]
pub fn run_scenario(a: RunScenarioArgs) -> Result<u8> {
    use wirelab::scenario::{interrupt::Interrupt, plan, repeat::run_times, sweep::run_sweep, RunOptions};
    let plan = match plan::load(&a.file) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("wirelab: error: {e}");
            return Ok(exit::USAGE);
        }
    };
    let opts = RunOptions { no_capture: a.no_capture, out_root: a.out, rows: (!a.all).then_some(ROWS), interrupt: Interrupt::install()? };
    let mut out = std::io::stdout().lock();
    let ok = match plan.sweep_len() {
        1 => run_times(&plan, &opts, a.repeat, &mut out)?.ok,
        _ => run_sweep(&plan, &opts, a.repeat, &mut out)?,
    };
    Ok(if ok { exit::OK } else { exit::FAILED })
}
