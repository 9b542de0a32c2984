//! The textbook (Kurose & Ross) response-time model of a page load, and a window-aware variant with TCP slow start, to print beside the measured time.
//!
//! A page is a base file and `M` objects it references, fetched over a link of round-trip time
//! `RTT` and rate `R` (ΣO is every response's size, base included):
//!
//! | mode | textbook | RTTs |
//! | --- | --- | --- |
//! | non-persistent | 2(M+1)·RTT + ΣO/R | a handshake and a request per object |
//! | non-persistent, X parallel | 2(⌈M/X⌉+1)·RTT + ΣO/R | the base, then ⌈M/X⌉ rounds of X connections |
//! | persistent, no pipelining | (M+2)·RTT + ΣO/R | one handshake, one request per object |
//! | persistent, pipelining | 3·RTT + ΣO/R | handshake, base, every object at once |
//!
//! **The textbook assumes** that a response, however large, arrives one RTT after its request
//! (plus its transmission time): the sender may send it all at once. **TCP does not**: a fresh
//! connection may send only its initial congestion window (Linux: 10 segments of one MSS, the
//! MSS following from the link MTU: 1448 bytes at 1500 with TCP timestamps) before it waits one
//! RTT for ACKs; in slow start the window then grows by the segments acknowledged (doubling per
//! round). The window-aware variant counts those rounds: a response of `O` bytes sent with a
//! window of `w` segments needs `k` rounds, the least with `w(2^k − 1)·MSS ≥ O`, i.e. `k − 1` RTTs
//! more than the textbook. Its further assumptions: a persistent connection keeps its window
//! from one response to the next (requests follow at once, so Linux's slow-start-after-idle
//! does not apply), and the window grows only while it is used (Linux's `tcp_is_cwnd_limited`:
//! up to twice what was in flight), so small responses do not open it; the receiver's window
//! starts at 64 KiB (Linux's default) and doubles in each round it limits (but see below); slow start never ends
//! early (no loss; ssthresh is not reached) and is not paced (Reno or CUBIC, not BBR: the
//! emulated link's namespaces use them); parallel connections run in rounds of X, each round
//! as long as its largest response; the request always fits in one segment; server time is zero.
//!
//! **The receive window is a race, so the model gives a range.** Linux's receive-buffer
//! autotuning (`tcp_rcv_space_adjust`) measures what the application read once per its own RTT
//! estimate, and only a measurement raises the window's clamp. Whether a measurement falls
//! between two bursts of a pipelined response in time to open the window before the next round
//! depends on the phase of the measurement against the bursts, which no model of the link can
//! know. Measured over the 100 ms link with three busy loops beside it, 2 of 15 pipelined page
//! loads had the window open a round early (6 RTTs instead of 7); on a quiet machine, none of
//! 12. So wherever the receive window limits a round, the prediction also says what the load
//! costs when it never does ([`Prediction::window_open`]); a measurement anywhere from there to
//! [`Prediction::window_aware`] is what the model explains.

use std::time::Duration;

use crate::client::fetch::Mode;

/// Linux's initial congestion window, in segments (RFC 6928).
pub const LINUX_INIT_CWND: u64 = 10;
/// The receive window a Linux client first advertises with the default `tcp_rmem` (64 KiB less
/// the window-scaling rounding: 63 × 1024 bytes).
pub const LINUX_INIT_RWND: u64 = 64_512;

/// The MSS on a link of this MTU: IPv4 (20) and TCP (20) headers and the timestamp option (12).
pub fn mss_for_mtu(mtu: u32) -> u64 {
    mtu.saturating_sub(52).max(1) as u64
}

/// The page: the base file's response and each referenced object's response, in bytes (for
/// the window-aware variant, HTTP headers included: they travel in the same window).
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub base: u64,
    pub objects: Vec<u64>,
}

/// The link as the model sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelLink {
    pub rtt: Duration,
    /// `None`: no rate limit, ΣO/R = 0.
    pub rate_bps: Option<u64>,
    pub mss: u64,
    pub init_cwnd: u64,
    /// The receiver's first advertised window, in bytes.
    pub init_rwnd: u64,
}

impl ModelLink {
    /// A link of this RTT and rate with an MTU of 1500 and Linux's initial window.
    pub fn linux(rtt: Duration, rate_bps: Option<u64>) -> Self {
        ModelLink { rtt, rate_bps, mss: mss_for_mtu(1500), init_cwnd: LINUX_INIT_CWND, init_rwnd: LINUX_INIT_RWND }
    }
}

/// Both variants' predictions for one mode.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Prediction {
    /// Round trips in the textbook formula.
    pub textbook_rtts: u64,
    /// Round trips with slow start counted.
    pub window_rtts: u64,
    /// ΣO/R.
    pub transmission: Duration,
    pub textbook: Duration,
    pub window_aware: Duration,
    /// Round trips with slow start counted but the receiver's window never the limit
    /// (autotuning ahead of every round): equal to `window_rtts` unless the window limits.
    pub window_open_rtts: u64,
    pub window_open: Duration,
}

impl Prediction {
    /// Signed deviation of a measurement from the window-aware range, in percent: from
    /// [`Prediction::window_open`] below it, from [`Prediction::window_aware`] above it, zero
    /// within.
    pub fn window_deviation_pct(&self, measured: Duration) -> f64 {
        if measured < self.window_open {
            deviation_pct(measured, self.window_open)
        } else {
            deviation_pct(measured, self.window_aware).max(0.0)
        }
    }
}

/// Signed deviation of a measurement from a model, in percent of the model.
pub fn deviation_pct(measured: Duration, model: Duration) -> f64 {
    if model.is_zero() {
        return 0.0;
    }
    (measured.as_secs_f64() - model.as_secs_f64()) / model.as_secs_f64() * 100.0
}

/// A TCP sender in slow start: its congestion window and the receiver's window, in segments.
#[derive(Debug, Clone, Copy)]
struct SlowStart {
    cwnd: u64,
    rwnd: u64,
}

impl SlowStart {
    /// Rounds (RTTs of sending) to deliver `bytes`. Each ACKed segment adds one to the window,
    /// but, as Linux does (`tcp_is_cwnd_limited`), only while the window is below twice what
    /// was in flight: a full window doubles, a response smaller than half the window leaves it
    /// as it was.
    fn rounds(&mut self, bytes: u64, mss: u64) -> u64 {
        let mut segments = bytes.div_ceil(mss).max(1);
        let mut rounds = 0;
        while segments > 0 {
            let sent = segments.min(self.cwnd).min(self.rwnd);
            segments -= sent;
            if self.cwnd < 2 * sent {
                self.cwnd = (self.cwnd + sent).min(2 * sent);
            }
            if sent == self.rwnd {
                // The receiver's window was the limit: autotuning grows it about twofold per
                // round trip while the application reads as fast as data comes.
                self.rwnd = self.rwnd.saturating_mul(2);
            }
            rounds += 1;
        }
        rounds
    }
}

/// Predicts one page load in one mode.
pub fn predict(mode: Mode, page: &Page, link: &ModelLink) -> Prediction {
    let total: u64 = page.base + page.objects.iter().sum::<u64>();
    let transmission = match link.rate_bps {
        Some(r) if r > 0 => Duration::from_secs_f64(total as f64 * 8.0 / r as f64),
        _ => Duration::ZERO,
    };
    let (textbook_rtts, window_rtts) = round_trips(mode, page, link);
    let (_, window_open_rtts) = round_trips(mode, page, &ModelLink { init_rwnd: u64::MAX, ..*link });
    let at = |rtts: u64| link.rtt * rtts as u32 + transmission;
    Prediction { textbook_rtts, window_rtts, transmission, textbook: at(textbook_rtts), window_aware: at(window_rtts), window_open_rtts, window_open: at(window_open_rtts) }
}

/// The round trips of one page load: (textbook, window-aware).
fn round_trips(mode: Mode, page: &Page, link: &ModelLink) -> (u64, u64) {
    let m = page.objects.len() as u64;
    let mss = link.mss.max(1);
    let fresh = || SlowStart { cwnd: link.init_cwnd.max(1), rwnd: (link.init_rwnd / mss).max(1) };
    // Each response costs one RTT for its request plus (rounds − 1) extra.
    match mode {
        Mode::NonPersistent => {
            let w: u64 = std::iter::once(page.base).chain(page.objects.iter().copied()).map(|o| 1 + fresh().rounds(o, mss)).sum();
            (2 * (m + 1), w)
        }
        Mode::Parallel(x) => {
            let x = x.max(1);
            let base = 1 + fresh().rounds(page.base, mss);
            let batches: u64 = page.objects.chunks(x).map(|c| 1 + c.iter().map(|&o| fresh().rounds(o, mss)).max().unwrap_or(1)).sum();
            (2 * (m.div_ceil(x as u64) + 1), base + batches)
        }
        Mode::Persistent => {
            let mut ss = fresh();
            let w: u64 = 1 + std::iter::once(page.base).chain(page.objects.iter().copied()).map(|o| ss.rounds(o, mss)).sum::<u64>();
            (m + 2, w)
        }
        Mode::Pipelined => {
            let mut ss = fresh();
            let base = ss.rounds(page.base, mss);
            let objects = if m == 0 { 0 } else { ss.rounds(page.objects.iter().sum(), mss) };
            (if m == 0 { 2 } else { 3 }, 1 + base + objects)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn small_page(m: usize) -> Page {
        Page { base: 1000, objects: vec![2000; m] }
    }

    #[test]
    fn textbook_formulas_for_small_objects() {
        // Objects within the initial window: both variants agree with the textbook.
        let l = ModelLink::linux(ms(20), None);
        let p = small_page(10);
        let t = |mode| predict(mode, &p, &l);
        assert_eq!(t(Mode::NonPersistent).textbook, ms(2 * 11 * 20));
        assert_eq!(t(Mode::Parallel(5)).textbook, ms(2 * 3 * 20));
        assert_eq!(t(Mode::Parallel(3)).textbook, ms(2 * 5 * 20)); // ⌈10/3⌉ = 4
        assert_eq!(t(Mode::Persistent).textbook, ms(12 * 20));
        assert_eq!(t(Mode::Pipelined).textbook_rtts, 3);
        for mode in [Mode::NonPersistent, Mode::Parallel(5), Mode::Persistent] {
            assert_eq!(t(mode).window_aware, t(mode).textbook, "{mode:?}");
        }
        // Pipelined: 10 × 2000 bytes = 14 segments > 10, so the objects take 2 rounds.
        assert_eq!(t(Mode::Pipelined).window_rtts, 4);
        // A persistent connection of small responses never fills its window, so never opens it.
        let mut ss = SlowStart { cwnd: 10, rwnd: 1000 };
        for _ in 0..10 {
            assert_eq!(ss.rounds(2000, 1448), 1);
        }
        assert_eq!(ss.cwnd, 10);
    }

    #[test]
    fn transmission_time_is_bytes_over_rate() {
        let l = ModelLink::linux(ms(0), Some(8_000_000));
        let p = Page { base: 500_000, objects: vec![500_000] };
        let pr = predict(Mode::Persistent, &p, &l);
        assert_eq!(pr.transmission, ms(1000));
        assert_eq!(pr.textbook, ms(1000));
    }

    #[test]
    fn a_large_response_costs_slow_start_rounds() {
        // 100 kB at MSS 1448 = 70 segments; windows 10, 20, 40: 3 rounds = 2 extra RTTs.
        let l = ModelLink::linux(ms(50), None);
        assert_eq!(SlowStart { cwnd: 10, rwnd: 1000 }.rounds(100_000, 1448), 3);
        assert_eq!(SlowStart { cwnd: 10, rwnd: 1000 }.rounds(14_480, 1448), 1);
        assert_eq!(SlowStart { cwnd: 10, rwnd: 1000 }.rounds(14_481, 1448), 2);
        assert_eq!(SlowStart { cwnd: 10, rwnd: 1000 }.rounds(0, 1448), 1);
        let p = Page { base: 100_000, objects: vec![] };
        let np = predict(Mode::NonPersistent, &p, &l);
        assert_eq!((np.textbook_rtts, np.window_rtts), (2, 4));
        assert_eq!(np.window_aware, ms(200));
    }

    #[test]
    fn a_persistent_connection_keeps_its_grown_window() {
        // Base 100 kB = 70 segments: rounds of 10, 20, 40 (the window grows to 80: it was full
        // twice, then 40 of 40 in flight); then two 100 kB objects of 70 segments, 1 round each.
        let l = ModelLink { init_rwnd: 10 << 20, ..ModelLink::linux(ms(10), None) };
        let p = Page { base: 100_000, objects: vec![100_000, 100_000] };
        assert_eq!(predict(Mode::Persistent, &p, &l).window_rtts, 1 + 3 + 1 + 1);
        let mut ss = SlowStart { cwnd: 10, rwnd: 1000 };
        assert_eq!((ss.rounds(100_000, 1448), ss.cwnd), (3, 80));
        // 11 segments in a window of 20: it grows to 22 at most.
        let mut ss = SlowStart { cwnd: 20, rwnd: 1000 };
        assert_eq!((ss.rounds(11 * 1448, 1448), ss.cwnd), (1, 22));
        // Non-persistent starts each one afresh: 3 × (1 + 3).
        assert_eq!(predict(Mode::NonPersistent, &p, &l).window_rtts, 12);
        // Parallel rounds last as long as their largest response.
        let q = Page { base: 1000, objects: vec![1000, 100_000, 1000] };
        assert_eq!(predict(Mode::Parallel(2), &q, &l).window_rtts, 2 + (1 + 3) + (1 + 1));
    }

    #[test]
    fn the_receive_window_caps_a_long_pipelined_burst() {
        // 141 segments: 10, 20, 40, then the 44-segment receive window, then 27.
        let l = ModelLink::linux(ms(50), None);
        assert_eq!(l.init_rwnd / l.mss, 44);
        let p = Page { base: 2400, objects: vec![141 * 1448 / 20; 20] };
        assert_eq!(predict(Mode::Pipelined, &p, &l).window_rtts, 1 + 1 + 5);
        let wide = ModelLink { init_rwnd: 10 << 20, ..l };
        assert_eq!(predict(Mode::Pipelined, &p, &wide).window_rtts, 1 + 1 + 4);
        // The receive window's race: the same load with the window never limiting is the
        // range's low end.
        let pr = predict(Mode::Pipelined, &p, &l);
        assert_eq!((pr.window_open_rtts, pr.window_open), (1 + 1 + 4, ms(300)));
        assert_eq!(pr.window_aware, ms(350));
        assert!((pr.window_deviation_pct(ms(285)) + 5.0).abs() < 1e-9);
        assert_eq!(pr.window_deviation_pct(ms(300)), 0.0);
        assert_eq!(pr.window_deviation_pct(ms(330)), 0.0);
        assert!((pr.window_deviation_pct(ms(385)) - 10.0).abs() < 1e-9);
        // Where the receive window never limits, the range is one point.
        let small = predict(Mode::Pipelined, &small_page(10), &l);
        assert_eq!((small.window_open_rtts, small.window_open), (small.window_rtts, small.window_aware));
        assert!((small.window_deviation_pct(ms(190)) + 5.0).abs() < 1e-9);
    }

    #[test]
    fn deviation_is_signed_percent() {
        assert!((deviation_pct(ms(105), ms(100)) - 5.0).abs() < 1e-9);
        assert!((deviation_pct(ms(95), ms(100)) + 5.0).abs() < 1e-9);
        assert_eq!(deviation_pct(ms(5), Duration::ZERO), 0.0);
    }

    #[test]
    fn mss_follows_the_mtu() {
        assert_eq!(mss_for_mtu(1500), 1448);
        assert_eq!(mss_for_mtu(9000), 8948);
        assert_eq!(mss_for_mtu(10), 1);
    }
}
