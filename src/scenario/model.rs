//! The textbook beside the measurement: for each page load over an emulated link, the
//! response time the Kurose & Ross model predicts for its mode (and the window-aware variant
//! that counts TCP slow start), and how far the measurement is from each.

use std::time::Duration;

use serde::Serialize;

use super::results::{StepOutcome, StepResult};
use crate::link::model::{self, ModelLink, Page};

/// Both models' predictions for one page load, and the measurement's deviation from each.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ModelResult {
    pub rtt_ms: f64,
    /// The textbook: e.g. 2(M+1)·RTT + ΣO/R for non-persistent.
    pub textbook_ms: f64,
    pub textbook_rtts: u64,
    /// With slow start: a response over the initial window (10 segments) costs extra round trips.
    pub window_aware_ms: f64,
    pub window_rtts: u64,
    /// The same with the receiver's window never the limit: the low end of the window-aware
    /// range (see `link::model`), equal to `window_aware_ms` unless the window limits a round.
    pub window_open_ms: f64,
    pub window_open_rtts: u64,
    /// The page load compared: on the wire when captured, else by the client's clock.
    pub measured_ms: f64,
    pub textbook_deviation_pct: f64,
    /// From the window-aware range: below `window_open_ms`, above `window_aware_ms`, 0 within.
    pub window_deviation_pct: f64,
}

/// Adds the models to every fetch step, for a link of `rtt` and `rate_bps`.
pub fn beside(steps: &mut [StepOutcome], rtt: Duration, rate_bps: Option<u64>) {
    let link = ModelLink::linux(rtt, rate_bps);
    for st in steps {
        let Some(StepResult::Fetch(f)) = &st.result else { continue };
        let Some(first) = f.pages.first() else { continue };
        let size = |o: &crate::client::fetch::Object| o.bytes + o.header_bytes;
        let page = Page { base: size(&first.base), objects: first.objects.iter().map(size).collect() };
        let p = model::predict(first.mode, &page, &link);
        let measured = st.wire.as_ref().and_then(|w| w.page_load_ms).unwrap_or(f.total_ms);
        let ms = |d: Duration| d.as_nanos() as f64 / 1e6;
        let measured_d = Duration::from_secs_f64(measured / 1e3);
        st.model = Some(ModelResult {
            rtt_ms: ms(rtt),
            textbook_ms: ms(p.textbook),
            textbook_rtts: p.textbook_rtts,
            window_aware_ms: ms(p.window_aware),
            window_rtts: p.window_rtts,
            window_open_ms: ms(p.window_open),
            window_open_rtts: p.window_open_rtts,
            measured_ms: measured,
            textbook_deviation_pct: model::deviation_pct(measured_d, p.textbook),
            window_deviation_pct: p.window_deviation_pct(measured_d),
        });
    }
}
