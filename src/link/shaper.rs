//! The shaper of one direction, pure: packets in at a time, out at their release times, or dropped.
//!
//! The model is mahimahi's `mm-loss` → `mm-link` → `mm-delay` chain for a constant-rate link:
//! 1. **loss**: each arriving packet is lost with probability `loss`, drawn from a ChaCha8
//!    generator seeded with the link's seed (and the direction), so a run can be reproduced;
//! 2. **rate**: the link sends one packet at a time; a packet of `L` bytes occupies it for
//!    `8·L / rate` seconds (its serialization delay). A packet that arrives while the link is
//!    busy waits in a drop-tail queue of a fixed size (packets or bytes); if the queue is full,
//!    it is dropped;
//! 3. **delay**: when its last bit is sent, the packet travels for the one-way delay `rtt / 2`.
//!
//! So `release = max(arrival, link_free) + 8·L/rate + rtt/2`. With a constant delay and a FIFO
//! link, release times never decrease, so the packets in flight are a plain FIFO. Time is a
//! [`Duration`] since any origin the caller picks: tests drive it with a fake clock.

use std::collections::VecDeque;
use std::time::Duration;

use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::config::{LinkConfig, Queue};

/// At most this many bytes may be in flight in one direction (delayed or queued); past it,
/// packets are dropped. It bounds memory whatever a sender does (a UDP flood into a long
/// delay); TCP never gets near it (its window is far smaller).
pub const MAX_IN_FLIGHT_BYTES: usize = 256 << 20;

/// Why a packet did not make it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// Random loss.
    Lost,
    /// The drop-tail queue was full.
    QueueFull,
    /// More than [`MAX_IN_FLIGHT_BYTES`] were already in flight.
    Overflow,
}

/// Counters of one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DirectionStats {
    pub packets: u64,
    pub bytes: u64,
    pub lost: u64,
    pub queue_drops: u64,
    pub overflow_drops: u64,
}

/// One direction of the link.
pub struct Shaper<P> {
    delay: Duration,
    rate_bps: Option<u64>,
    queue: Queue,
    loss: f64,
    rng: ChaCha8Rng,
    /// When the link finishes sending the last accepted packet.
    link_free: Duration,
    /// Packets accepted but not yet begun sending: (start of sending, bytes).
    waiting: VecDeque<(Duration, usize)>,
    waiting_bytes: usize,
    /// Accepted packets and their release times, in release order.
    flight: VecDeque<(Duration, P)>,
    flight_bytes: usize,
    stats: DirectionStats,
}

impl<P: AsRef<[u8]>> Shaper<P> {
    /// A shaper for one direction; `direction` (0 or 1) makes the two directions' loss
    /// sequences differ under the same seed. The config must have been validated.
    pub fn new(cfg: &LinkConfig, direction: u64) -> Self {
        Shaper {
            delay: cfg.rtt / 2,
            rate_bps: cfg.rate_bps,
            queue: cfg.queue,
            loss: cfg.loss,
            rng: ChaCha8Rng::seed_from_u64(cfg.seed ^ direction.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            link_free: Duration::ZERO,
            waiting: VecDeque::new(),
            waiting_bytes: 0,
            flight: VecDeque::new(),
            flight_bytes: 0,
            stats: DirectionStats::default(),
        }
    }

    /// Offers a packet that arrived at `now` (never earlier than the previous offer). Returns
    /// its release time, or the packet back with the reason it was dropped.
    pub fn offer(&mut self, now: Duration, packet: P) -> Result<Duration, (Dropped, P)> {
        let len = packet.as_ref().len();
        if self.loss > 0.0 {
            let u = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            if u < self.loss {
                self.stats.lost += 1;
                return Err((Dropped::Lost, packet));
            }
        }
        if self.flight_bytes + len > MAX_IN_FLIGHT_BYTES {
            self.stats.overflow_drops += 1;
            return Err((Dropped::Overflow, packet));
        }
        let sent_at = match self.rate_bps {
            None => now,
            Some(rate) => {
                while self.waiting.front().is_some_and(|&(start, _)| start <= now) {
                    let (_, l) = self.waiting.pop_front().expect("front exists");
                    self.waiting_bytes -= l;
                }
                let start = self.link_free.max(now);
                if start > now {
                    let full = match self.queue {
                        Queue::Packets(n) => self.waiting.len() as u64 + 1 > n,
                        Queue::Bytes(n) => (self.waiting_bytes + len) as u64 > n,
                    };
                    if full {
                        self.stats.queue_drops += 1;
                        return Err((Dropped::QueueFull, packet));
                    }
                    self.waiting.push_back((start, len));
                    self.waiting_bytes += len;
                }
                let serialization = Duration::from_nanos((len as u128 * 8 * 1_000_000_000 / rate as u128) as u64);
                self.link_free = start + serialization;
                self.link_free
            }
        };
        let release = sent_at + self.delay;
        self.stats.packets += 1;
        self.stats.bytes += len as u64;
        self.flight_bytes += len;
        self.flight.push_back((release, packet));
        Ok(release)
    }

    /// The next packet whose release time is at or before `now`.
    pub fn pop_due(&mut self, now: Duration) -> Option<P> {
        if self.flight.front()?.0 > now {
            return None;
        }
        let (_, p) = self.flight.pop_front()?;
        self.flight_bytes -= p.as_ref().len();
        Some(p)
    }

    /// When the next packet is due, if any is in flight.
    pub fn next_release(&self) -> Option<Duration> {
        self.flight.front().map(|&(t, _)| t)
    }

    /// Packets in flight (queued, being sent, or travelling).
    pub fn in_flight(&self) -> usize {
        self.flight.len()
    }

    pub fn stats(&self) -> DirectionStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn cfg(rtt_ms: u64, rate_bps: Option<u64>, loss: f64, queue: Queue) -> LinkConfig {
        LinkConfig { rtt: ms(rtt_ms), rate_bps, loss, queue, seed: 42 }
    }

    /// Offers `packets` (arrival ms, bytes), then drains with a fake clock; returns each
    /// packet's (first byte as an id, release time) in release order.
    fn run(c: &LinkConfig, packets: &[(u64, usize)]) -> (Vec<(u8, Duration)>, DirectionStats) {
        let mut s = Shaper::new(c, 0);
        let mut expected = Vec::new();
        for (i, &(at, len)) in packets.iter().enumerate() {
            let mut p = vec![0u8; len];
            p[0] = i as u8;
            if let Ok(t) = s.offer(ms(at), p) {
                expected.push((i as u8, t));
            }
        }
        let mut out = Vec::new();
        while let Some(t) = s.next_release() {
            assert!(s.pop_due(t - Duration::from_nanos(1)).is_none(), "nothing is released early");
            let p = s.pop_due(t).unwrap();
            out.push((p[0], t));
        }
        assert_eq!(out, expected, "released in order, at the promised times");
        (out, s.stats())
    }

    #[test]
    fn delay_only_adds_half_the_rtt_to_every_packet() {
        let (out, st) = run(&cfg(50, None, 0.0, Queue::default()), &[(0, 60), (1, 1500), (1, 40), (30, 60)]);
        assert_eq!(out, vec![(0, ms(25)), (1, ms(26)), (2, ms(26)), (3, ms(55))]);
        assert_eq!(st, DirectionStats { packets: 4, bytes: 1660, ..Default::default() });
    }

    #[test]
    fn zero_rtt_releases_at_once() {
        let mut s = Shaper::new(&cfg(0, None, 0.0, Queue::default()), 0);
        assert_eq!(s.offer(ms(7), vec![1u8; 100]), Ok(ms(7)));
        assert_eq!(s.pop_due(ms(7)), Some(vec![1u8; 100]));
        assert_eq!(s.next_release(), None);
    }

    #[test]
    fn rate_serializes_back_to_back_packets_then_delays() {
        // 1500 bytes at 12 Mbit/s = 1 ms on the link, then 5 ms of travel.
        let (out, _) = run(&cfg(10, Some(12_000_000), 0.0, Queue::Packets(100)), &[(0, 1500), (0, 1500), (0, 1500), (10, 1500)]);
        assert_eq!(out, vec![(0, ms(6)), (1, ms(7)), (2, ms(8)), (3, ms(16))]);
    }

    #[test]
    fn a_bulk_transfer_takes_bytes_over_rate() {
        // 1000 packets of 1250 bytes = 10 Mbit at 10 Mbit/s: the last one leaves at 1 s.
        let c = cfg(0, Some(10_000_000), 0.0, Queue::Packets(1000));
        let (out, st) = run(&c, &vec![(0, 1250); 1000]);
        assert_eq!(out.last().unwrap().1, Duration::from_secs(1));
        assert_eq!(st.queue_drops, 0);
    }

    #[test]
    fn the_drop_tail_queue_counts_waiting_packets() {
        // 1 ms per packet; queue of 2: the first is sent at once, two wait, the rest are dropped.
        let c = cfg(0, Some(12_000_000), 0.0, Queue::Packets(2));
        let (out, st) = run(&c, &[(0, 1500), (0, 1500), (0, 1500), (0, 1500), (0, 1500), (2, 1500)]);
        assert_eq!(out.iter().map(|p| p.0).collect::<Vec<_>>(), vec![0, 1, 2, 5]);
        assert_eq!(st.queue_drops, 2);
        // At 2 ms packet 2 is being sent and nothing waits: packet 5 follows at 3..4 ms.
        assert_eq!(out[3].1, ms(4));
    }

    #[test]
    fn a_byte_queue_counts_bytes() {
        let c = cfg(0, Some(12_000_000), 0.0, Queue::Bytes(3000));
        let (out, st) = run(&c, &[(0, 1500), (0, 1500), (0, 1000), (0, 1000), (0, 500)]);
        // Waiting: 1500 + 1000 = 2500; the next 1000 would make 3500; the 500 fits (3000).
        assert_eq!(out.iter().map(|p| p.0).collect::<Vec<_>>(), vec![0, 1, 2, 4]);
        assert_eq!(st.queue_drops, 1);
    }

    #[test]
    fn loss_is_seeded_reproducible_and_near_its_rate() {
        let c = cfg(0, None, 0.1, Queue::default());
        let survivors = |c: &LinkConfig, dir| {
            let mut s = Shaper::new(c, dir);
            (0..10_000u32).filter(|i| s.offer(ms(0), i.to_be_bytes().to_vec()).is_ok()).collect::<Vec<_>>()
        };
        let a = survivors(&c, 0);
        assert_eq!(a, survivors(&c, 0), "same seed, same losses");
        assert_ne!(a, survivors(&c, 1), "the two directions differ");
        assert_ne!(a, survivors(&LinkConfig { seed: 43, ..c.clone() }, 0), "another seed differs");
        let lost = 10_000 - a.len();
        assert!((850..1150).contains(&lost), "about 10% lost: {lost}");
        assert_eq!(survivors(&cfg(0, None, 0.0, Queue::default()), 0).len(), 10_000);
    }

    #[test]
    fn memory_in_flight_is_bounded() {
        static BIG: [u8; 65_536] = [0; 65_536];
        let mut s: Shaper<&'static [u8]> = Shaper::new(&cfg(10_000, None, 0.0, Queue::default()), 0);
        let n = MAX_IN_FLIGHT_BYTES / 65_536;
        for _ in 0..n {
            assert!(s.offer(ms(0), &BIG[..]).is_ok());
        }
        assert_eq!(s.offer(ms(0), &BIG[..1]).unwrap_err().0, Dropped::Overflow);
        assert_eq!(s.in_flight(), n);
        assert_eq!(s.stats().overflow_drops, 1);
    }
}
