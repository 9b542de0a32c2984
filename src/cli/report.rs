//! `wirelab report`: an offline HTML report (and PNG charts) from a capture or a run folder.

use anyhow::Result;

use super::args::ReportArgs;
#[cfg(feature = "export")]
use super::exit;

#[cfg(not(feature = "export"))]
pub fn report(_: ReportArgs) -> Result<u8> {
    anyhow::bail!("this wirelab was built without the `export` feature that reports need")
}

#[cfg(feature = "export")]
pub fn report(a: ReportArgs) -> Result<u8> {
    use std::io::Write;
    use wirelab::render::report::{build, ReportRequest};
    let o = build(ReportRequest { input: a.input, compare: a.compare, out: a.out, png: a.png, stream: a.stream })?;
    // The lesson is for the person (stderr); the paths are for scripts (stdout).
    if let Some(l) = &o.lesson {
        eprintln!("{l}");
    }
    let mut out = std::io::stdout().lock();
    for p in o.pngs.iter().chain([&o.html]) {
        writeln!(out, "{}", p.display())?;
    }
    Ok(exit::OK)
}
