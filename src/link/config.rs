//! The emulated link's parameters ([`LinkConfig`]) and their validation.

use std::time::Duration;

use super::LinkError;

/// The link's drop-tail queue: the packets (or bytes) that may wait for the link while it is
/// busy sending others. A packet that would exceed it is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Queue {
    Packets(u64),
    Bytes(u64),
}

impl Default for Queue {
    fn default() -> Self {
        Queue::Packets(1000)
    }
}

impl std::fmt::Display for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Queue::Packets(n) => write!(f, "{n} packets"),
            Queue::Bytes(n) => write!(f, "{n} bytes"),
        }
    }
}

/// One emulated link. The same parameters apply in both directions.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LinkConfig {
    /// Round-trip time added by the link: each direction delays every packet by `rtt / 2`.
    pub rtt: Duration,
    /// Link rate in bits per second (IP bytes, headers included); `None` = no rate limit.
    pub rate_bps: Option<u64>,
    /// Probability that a packet is lost, in each direction, in `[0, 1)`.
    pub loss: f64,
    /// The drop-tail queue in front of the rate limit (unused without one).
    pub queue: Queue,
    /// Seeds the loss generator: the same seed loses the same packets of the same sequence.
    pub seed: u64,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig { rtt: Duration::ZERO, rate_bps: None, loss: 0.0, queue: Queue::default(), seed: 1 }
    }
}

/// The longest RTT accepted (a typo guard: minutes of delay are never meant).
pub const MAX_RTT: Duration = Duration::from_secs(10);
/// The slowest link accepted, in bit/s (below this a 1500-byte packet takes more than a second).
pub const MIN_RATE_BPS: u64 = 12_000;

impl LinkConfig {
    /// Checks every field once; a validated config cannot make the shaper misbehave.
    pub fn validate(&self) -> Result<(), LinkError> {
        let bad = |m: String| Err(LinkError::Config(m));
        if self.rtt > MAX_RTT {
            return bad(format!("rtt {:?} is longer than the {:?} allowed", self.rtt, MAX_RTT));
        }
        if let Some(r) = self.rate_bps {
            if r < MIN_RATE_BPS {
                return bad(format!("rate {r} bit/s is below the {MIN_RATE_BPS} bit/s allowed"));
            }
        }
        if !(0.0..1.0).contains(&self.loss) {
            return bad(format!("loss {} is not a probability in [0, 1)", self.loss));
        }
        match self.queue {
            Queue::Packets(0) | Queue::Bytes(0) => return bad("the queue must hold at least one packet (or byte)".into()),
            Queue::Bytes(n) if n < 1500 => return bad(format!("a queue of {n} bytes cannot hold one full-size (1500-byte) packet")),
            _ => {}
        }
        Ok(())
    }

    /// One line for a capture comment or a report: `rtt 50 ms, rate 10 Mbit/s, loss 1%, queue 100 packets, seed 1`.
    pub fn describe(&self) -> String {
        let rate = match self.rate_bps {
            Some(r) => format!("{} Mbit/s", r as f64 / 1e6),
            None => "unlimited".into(),
        };
        format!(
            "rtt {} ms, rate {rate}, loss {}%, queue {}, seed {}",
            self.rtt.as_secs_f64() * 1e3,
            self.loss * 100.0,
            self.queue,
            self.seed
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_fields_are_named() {
        assert!(LinkConfig::default().validate().is_ok());
        let c = |f: fn(&mut LinkConfig)| {
            let mut c = LinkConfig::default();
            f(&mut c);
            c.validate().unwrap_err().to_string()
        };
        assert!(c(|c| c.loss = 1.0).contains("loss 1"));
        assert!(c(|c| c.loss = -0.1).contains("loss -0.1"));
        assert!(c(|c| c.loss = f64::NAN).contains("loss NaN"));
        assert!(c(|c| c.rtt = Duration::from_secs(11)).contains("rtt"));
        assert!(c(|c| c.rate_bps = Some(1000)).contains("rate 1000"));
        assert!(c(|c| c.queue = Queue::Packets(0)).contains("queue"));
        assert!(c(|c| c.queue = Queue::Bytes(100)).contains("100 bytes"));
    }

    #[test]
    fn describe_is_one_readable_line() {
        let c = LinkConfig { rtt: Duration::from_millis(50), rate_bps: Some(10_000_000), loss: 0.01, queue: Queue::Packets(100), seed: 7 };
        assert_eq!(c.describe(), "rtt 50 ms, rate 10 Mbit/s, loss 1%, queue 100 packets, seed 7");
    }
}
