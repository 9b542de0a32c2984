//! A fan-out of messages to subscribers, each with a queue bounded in messages and in bytes.
//! A subscriber that falls behind past either bound is dropped (and counted), never waited for:
//! one slow reader can neither stall the others nor make the server hold unbounded memory.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, Notify};

/// Bounds of one subscriber's queue.
#[derive(Debug, Clone, Copy)]
pub struct QueueLimits {
    pub messages: usize,
    pub bytes: usize,
}

struct Sub<T> {
    id: u64,
    tx: mpsc::Sender<T>,
    queued: Arc<AtomicUsize>,
    kicked: Arc<Notify>,
}

/// The subscribers of one room or video.
pub struct Hub<T> {
    subs: Mutex<Vec<Sub<T>>>,
    next: AtomicU64,
    /// Subscribers dropped for being too slow, ever.
    pub dropped: AtomicU64,
    limits: QueueLimits,
}

/// One subscription: receive with [`Subscription::recv`]; `kicked` completes when the hub
/// dropped it for being too slow.
pub struct Subscription<T> {
    rx: mpsc::Receiver<T>,
    queued: Arc<AtomicUsize>,
    kicked: Arc<Notify>,
    size: fn(&T) -> usize,
}

impl<T> Subscription<T> {
    /// The next message; `None` once the hub dropped this subscriber (or the hub is gone).
    pub async fn recv(&mut self) -> Option<T> {
        let m = self.rx.recv().await?;
        self.queued.fetch_sub((self.size)(&m), Ordering::Relaxed);
        Some(m)
    }

    /// Completes when the hub drops this subscriber for falling behind.
    pub async fn kicked(&self) {
        self.kicked.notified().await
    }
}

impl<T: Clone> Hub<T> {
    pub fn new(limits: QueueLimits) -> Self {
        Hub { subs: Mutex::new(vec![]), next: AtomicU64::new(0), dropped: AtomicU64::new(0), limits }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Sub<T>>> {
        self.subs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Subscribes; `size` gives a message's size in bytes (for the byte bound).
    pub fn subscribe(&self, size: fn(&T) -> usize) -> (u64, Subscription<T>) {
        let (tx, rx) = mpsc::channel(self.limits.messages.max(1));
        let queued = Arc::new(AtomicUsize::new(0));
        let kicked = Arc::new(Notify::new());
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().push(Sub { id, tx, queued: queued.clone(), kicked: kicked.clone() });
        (id, Subscription { rx, queued, kicked, size })
    }

    pub fn unsubscribe(&self, id: u64) {
        self.lock().retain(|s| s.id != id);
    }

    pub fn subscribers(&self) -> usize {
        self.lock().len()
    }

    /// Queues `msg` (of `size` bytes) for every subscriber; drops those whose queue is full.
    /// Returns how many were dropped by this call.
    pub fn publish(&self, msg: &T, size: usize) -> usize {
        let mut subs = self.lock();
        let before = subs.len();
        subs.retain(|s| {
            let q = s.queued.load(Ordering::Relaxed);
            let fits = q + size <= self.limits.bytes || q == 0;
            if fits && s.tx.try_send(msg.clone()).is_ok() {
                s.queued.fetch_add(size, Ordering::Relaxed);
                return true;
            }
            if s.tx.is_closed() {
                return false; // gone already: not a slow subscriber
            }
            s.kicked.notify_one();
            self.dropped.fetch_add(1, Ordering::Relaxed);
            false
        });
        before - subs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_slow_subscriber_is_dropped_and_the_others_keep_getting_messages() {
        let hub = Hub::<Arc<Vec<u8>>>::new(QueueLimits { messages: 4, bytes: 10 });
        let size = |m: &Arc<Vec<u8>>| m.len();
        let (_, mut fast) = hub.subscribe(size);
        let (_, slow) = hub.subscribe(size);
        for i in 0..3u8 {
            hub.publish(&Arc::new(vec![i; 4]), 4);
            assert_eq!(fast.recv().await.unwrap()[0], i);
        }
        // The slow one holds 12 bytes > 10 after the third message: dropped then.
        assert_eq!(hub.dropped.load(Ordering::Relaxed), 1);
        assert_eq!(hub.subscribers(), 1);
        tokio::time::timeout(std::time::Duration::from_secs(1), slow.kicked()).await.expect("the slow one is told");
        hub.publish(&Arc::new(vec![9; 4]), 4);
        assert_eq!(fast.recv().await.unwrap()[0], 9);
    }

    #[tokio::test]
    async fn a_message_bigger_than_the_byte_bound_still_reaches_an_empty_queue() {
        let hub = Hub::<Arc<Vec<u8>>>::new(QueueLimits { messages: 4, bytes: 10 });
        let (_, mut s) = hub.subscribe(|m| m.len());
        hub.publish(&Arc::new(vec![1; 50]), 50);
        assert_eq!(s.recv().await.unwrap().len(), 50);
        assert_eq!(hub.dropped.load(Ordering::Relaxed), 0);
    }
}
