//! The link's I/O loop: one thread per direction reads packets from one TUN device, passes them through that direction's shaper, and writes them into the other at their release times.
//!
//! Each thread waits with `ppoll` (nanosecond timeout, timer slack 1 µs) on its input device and
//! a stop eventfd, until the input is readable or the next packet is due. Packets due at once
//! (no delay configured) are written straight away, so a zero-delay link costs two syscalls per
//! packet and no queueing. Packet buffers are recycled through a small pool. The threads run
//! in the real-time class (SCHED_FIFO) when allowed, so that a busy machine delays their wake-ups
//! less (it still can: see bench/link.sh for the handshake spacing it measures).

use std::io::ErrorKind;
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::poll::{ppoll, PollFd, PollFlags};
use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::time::TimeSpec;
use tun_rs::SyncDevice;

use super::config::LinkConfig;
use super::shaper::{DirectionStats, Shaper};
use super::LinkError;

/// Both directions' counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct LinkStats {
    pub server_to_client: DirectionStats,
    pub client_to_server: DirectionStats,
}

/// Packets read per wake-up before due packets are released again.
const BATCH: usize = 64;
/// Buffers kept for reuse per direction.
const POOL: usize = 4096;

/// The two forwarding threads.
pub struct Forwarder {
    stop: Arc<EventFd>,
    threads: Vec<JoinHandle<()>>,
    stats: [Arc<Mutex<DirectionStats>>; 2],
}

impl Forwarder {
    /// Starts forwarding between the server's and the client's TUN devices. `mtu` sizes the
    /// read buffers.
    pub fn start(cfg: &LinkConfig, server: SyncDevice, client: SyncDevice, mtu: usize) -> Result<Forwarder, LinkError> {
        let sys = |what: &'static str| move |e: nix::Error| LinkError::Io { what: what.into(), source: e.into() };
        let stop = Arc::new(EventFd::from_value_and_flags(0, EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK).map_err(sys("creating the stop eventfd"))?);
        server.set_nonblocking(true).map_err(LinkError::io("setting the server TUN non-blocking"))?;
        client.set_nonblocking(true).map_err(LinkError::io("setting the client TUN non-blocking"))?;
        let (server, client) = (Arc::new(server), Arc::new(client));
        let origin = Instant::now();
        let stats = [Arc::new(Mutex::new(DirectionStats::default())), Arc::new(Mutex::new(DirectionStats::default()))];
        let mut threads = Vec::new();
        for (dir, input, output) in [(0u64, &server, &client), (1, &client, &server)] {
            let (input, output, stop2, st) = (input.clone(), output.clone(), stop.clone(), stats[dir as usize].clone());
            let shaper = Shaper::new(cfg, dir);
            let name = if dir == 0 { "wirelab-link-s2c" } else { "wirelab-link-c2s" };
            let t = std::thread::Builder::new()
                .name(name.into())
                .spawn(move || pump(&input, &output, shaper, &stop2, origin, &st, mtu))
                .map_err(LinkError::io("starting a forwarding thread"));
            match t {
                Ok(t) => threads.push(t),
                Err(e) => {
                    let _ = stop.write(1);
                    threads.into_iter().for_each(|t| drop(t.join()));
                    return Err(e);
                }
            }
        }
        Ok(Forwarder { stop, threads, stats })
    }

    pub fn stats(&self) -> LinkStats {
        let get = |i: usize| *self.stats[i].lock().unwrap_or_else(|e| e.into_inner());
        LinkStats { server_to_client: get(0), client_to_server: get(1) }
    }

    /// Stops both threads (packets still in flight are dropped) and closes the devices.
    pub fn stop(mut self) -> LinkStats {
        self.halt();
        self.stats()
    }

    fn halt(&mut self) {
        let _ = self.stop.write(1);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.halt();
    }
}

/// One direction's loop; returns when the stop eventfd is written.
fn pump(input: &SyncDevice, output: &SyncDevice, mut shaper: Shaper<Vec<u8>>, stop: &EventFd, origin: Instant, stats: &Mutex<DirectionStats>, mtu: usize) {
    let _ = nix::sys::prctl::set_timerslack(1_000);
    // Release times are the product, and so is the arrival time (the moment a packet is read):
    // on a busy machine a forwarder that wakes late adds delay. So the threads run in the
    // real-time class (SCHED_FIFO, low priority) when allowed, which preempts ordinary tasks at
    // once; they block whenever no packet is due, and the kernel's RT throttling keeps a share
    // of CPU for everything else even under a flood. Otherwise: nice −20.
    // SAFETY: plain syscalls on this thread's own id with a valid sched_param.
    unsafe {
        use nix::libc;
        let tid = libc::syscall(libc::SYS_gettid) as libc::pid_t;
        let param = libc::sched_param { sched_priority: 10 };
        if libc::sched_setscheduler(tid, libc::SCHED_FIFO, &param) != 0 {
            libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, -20);
        }
    }
    let buf_len = mtu + 64;
    let mut pool: Vec<Vec<u8>> = Vec::new();
    let release = |shaper: &mut Shaper<Vec<u8>>, pool: &mut Vec<Vec<u8>>, now: Duration| {
        while let Some(p) = shaper.pop_due(now) {
            // A write into a TUN device hands the packet to the kernel; it fails only if the
            // device is going away, and the packet is then lost like any other.
            let _ = output.send(&p);
            if pool.len() < POOL {
                pool.push(p);
            }
        }
    };
    loop {
        release(&mut shaper, &mut pool, origin.elapsed());
        let timeout = shaper.next_release().map(|t| TimeSpec::from_duration(t.saturating_sub(origin.elapsed())));
        let mut fds = [PollFd::new(input.as_fd(), PollFlags::POLLIN), PollFd::new(stop.as_fd(), PollFlags::POLLIN)];
        match ppoll(&mut fds, timeout, None) {
            Ok(_) | Err(nix::Error::EINTR) => {}
            Err(_) => return,
        }
        let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
        if ready(&fds[1]) {
            return;
        }
        if !ready(&fds[0]) {
            continue;
        }
        for _ in 0..BATCH {
            let mut b = pool.pop().unwrap_or_else(|| Vec::with_capacity(buf_len));
            b.resize(buf_len, 0);
            match input.recv(&mut b) {
                Ok(n) => {
                    b.truncate(n);
                    let now = origin.elapsed();
                    match shaper.offer(now, b) {
                        Ok(at) if at <= now => release(&mut shaper, &mut pool, now),
                        Ok(_) => {}
                        Err((_, b)) => pool.push(b),
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => pool.push(b),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    pool.push(b);
                    break;
                }
                Err(_) => {
                    // The device is gone: nothing more will come through this direction.
                    *stats.lock().unwrap_or_else(|e| e.into_inner()) = shaper.stats();
                    return;
                }
            }
        }
        *stats.lock().unwrap_or_else(|e| e.into_inner()) = shaper.stats();
    }
}
