//! Stage 6, steps: each client step in order against its server, raced against Ctrl-C, each
//! with a progress line that says what it measured.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::interrupt::Interrupt;
use super::network::Network;
use super::plan::{Action, Plan, StepPlan};
use super::results::{FetchResult, SleepResult, StepOutcome, StepResult};
use super::serve::Serving;
use super::RunError;
use crate::client::fetch::{self, FetchError, Mode, PageReport};
use crate::client::request::{self, RequestError, RequestSpec};
use crate::client::ws_echo::{self, EchoError};
use crate::client::danmaku_load;

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Echo(#[from] EchoError),
    #[error(transparent)]
    Request(#[from] RequestError),
}

/// The steps' outcomes, in order; `interrupted` when Ctrl-C cut the run short.
pub struct StepsDone {
    pub outcomes: Vec<StepOutcome>,
    pub interrupted: bool,
}

pub fn now_ns() -> i128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos() as i128
}

/// Runs the steps on the clients' runtime: one thread, as a client process has, so that the
/// client's I/O is driven by the thread that runs it and never queued behind the servers'
/// work, and inside the clients' network when the link is emulated.
pub fn run(plan: &Plan, serving: &Serving, interrupt: &Interrupt, net: &Network) -> Result<StepsDone, RunError> {
    let rt = net.client_runtime()?;
    fetch::warm_up();
    let total = plan.steps.len();
    let mut outcomes = vec![];
    for (i, st) in plan.steps.iter().enumerate() {
        if interrupt.is_set() {
            return Ok(StepsDone { outcomes, interrupted: true });
        }
        eprint!("[{}/{total}] {} ({}) … ", i + 1, st.label, st.action.kind().name());
        let url = st.server.map(|s| serving.urls[s].clone()).unwrap_or_default();
        let t0 = now_ns();
        let task = rt.spawn({
            let st = st.clone();
            async move { repeated(&st, &url).await }
        });
        let abort = task.abort_handle();
        let r = rt.block_on(async {
            tokio::select! {
                r = task => Some(r),
                _ = interrupt.wait() => None,
            }
        });
        let mut out = StepOutcome { label: st.label.clone(), index: i, start_rel: None, end_rel: None, kind: st.action.kind(), result: None, error: None, earlier_runs: vec![], wire: None, model: None, window: (t0, now_ns()) };
        let Some(r) = r else {
            abort.abort();
            eprintln!("interrupted");
            outcomes.push(out);
            return Ok(StepsDone { outcomes, interrupted: true });
        };
        match r {
            Err(e) => out.error = Some(format!("the step's task failed: {e}")),
            Ok(Err(e)) => out.error = Some(e.to_string()),
            Ok(Ok(mut runs)) => {
                out.result = runs.pop();
                out.earlier_runs = runs;
            }
        }
        eprintln!("{}", out.headline());
        outcomes.push(out);
    }
    rt.shutdown_timeout(Duration::from_millis(200));
    Ok(StepsDone { outcomes, interrupted: false })
}

async fn repeated(st: &StepPlan, url: &str) -> Result<Vec<StepResult>, StepError> {
    let mut runs = vec![];
    for _ in 0..st.repeat {
        runs.push(once(&st.action, url, &st.label).await?);
    }
    Ok(runs)
}

async fn once(action: &Action, url: &str, label: &str) -> Result<StepResult, StepError> {
    Ok(match action {
        Action::Fetch { path, mode, conditional, linger } => {
            let page = format!("{url}{path}");
            let first = fetch::fetch_page_lingering(&page, *mode, None, if *conditional { Duration::ZERO } else { *linger }).await?;
            let again = match conditional {
                true => Some(fetch::fetch_page_lingering(&page, *mode, Some(&first), *linger).await?),
                false => None,
            };
            StepResult::Fetch(fetch_result(*mode, first, again))
        }
        Action::WsEcho { path, count, size, rate, binary } => StepResult::WsEcho(ws_echo::run(&format!("{url}{path}"), *count, *size, *rate, *binary).await?),
        Action::DanmakuLoad { viewers, senders, rate, transport, duration } => {
            let r = danmaku_load::run(&format!("{url}/"), label, *viewers, *transport, *senders, *rate, *duration).await?;
            StepResult::DanmakuLoad(r.into())
        }
        Action::Request { method, path, headers, raw } => {
            let spec = RequestSpec { method: method.clone(), path: path.clone(), headers: headers.clone(), raw: raw.clone() };
            StepResult::Request(request::send(url.trim_start_matches("http://"), &spec, Duration::from_secs(5)).await?)
        }
        Action::Sleep { duration } => {
            tokio::time::sleep(*duration).await;
            StepResult::Sleep(SleepResult { seconds: duration.as_secs_f64() })
        }
    })
}

/// A page load and its optional conditional reload, summed up.
fn fetch_result(mode: Mode, first: PageReport, again: Option<PageReport>) -> FetchResult {
    let mut status: BTreeMap<String, u64> = BTreeMap::new();
    let pages: Vec<PageReport> = std::iter::once(first).chain(again).collect();
    for p in &pages {
        for o in std::iter::once(&p.base).chain(&p.objects) {
            *status.entry(o.status.to_string()).or_default() += 1;
        }
    }
    let first = &pages[0];
    FetchResult {
        mode: mode.to_string(),
        objects: 1 + first.objects.len() as u64,
        bytes: first.bytes,
        total_ms: first.total_ms,
        reload_ms: pages.get(1).map(|p| p.total_ms),
        connections_opened: pages.iter().map(|p| p.connections_opened).sum(),
        status,
        pages,
    }
}
