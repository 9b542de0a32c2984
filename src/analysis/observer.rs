//! What the analysis pass tells its consumers, and how they answer: every [`Observer`] method
//! returns a [`Flow`] (go on, or stop the pass) or an [`ObserverError`] that ends the pass,
//! in the manner of ripgrep's `grep_searcher::Sink`.
//!
//! Observers compose without adapters: a tuple of observers is an observer that tells each
//! member in turn, and `Option<O>` is one that may be absent. `wirelab analyze` runs
//! `(export, packet list, kept rows, progress)` as one observer.

use crate::capture::reader::Frame;
use crate::decode::Decoded;
use crate::proto::http::Transaction;
use crate::proto::websocket::{WsFrame, WsMessage};
use crate::tcp::{Conn, PacketInfo, StreamEvent};

use super::app::Detail;
use super::{PacketApp, Seen};

/// An observer's answer: carry on, or stop the pass here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Flow {
    Continue,
    /// Stop reading: the pass returns a partial [`Summary`](super::Summary) with `stopped` set.
    Stop,
}

/// Why an observer ended the pass.
#[derive(Debug, thiserror::Error)]
pub enum ObserverError {
    /// Writing failed (a closed pipe shows up here as `BrokenPipe`).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Anything else the observer could not do.
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl ObserverError {
    pub fn other(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        ObserverError::Other(Box::new(e))
    }

    /// The I/O error behind this one, if it is one.
    pub fn io(&self) -> Option<&std::io::Error> {
        match self {
            ObserverError::Io(e) => Some(e),
            ObserverError::Other(_) => None,
        }
    }
}

/// The result of every [`Observer`] method.
pub type Observed = Result<Flow, ObserverError>;

/// `Ok(Flow::Continue)`, the default answer.
pub const CONTINUE: Observed = Ok(Flow::Continue);

/// Receives packets, stream events and application records during analysis.
/// Every method defaults to [`CONTINUE`].
pub trait Observer {
    /// Every frame as the counts saw it (protocol family, the TCP tracker's reading, the
    /// application notes), in both the single-threaded and the two-thread pass.
    fn seen(&mut self, _s: &Seen<'_>) -> Observed {
        CONTINUE
    }
    /// Every frame with its decoding; only in the single-threaded pass, which any observer
    /// whose [`Observer::wants_packets`] is true gets.
    fn packet(&mut self, _frame: &Frame<'_>, _decoded: &Decoded<'_>, _tcp: Option<&PacketInfo>, _app: PacketApp<'_>) -> Observed {
        CONTINUE
    }
    fn stream(&mut self, _event: &StreamEvent<'_>) -> Observed {
        CONTINUE
    }
    fn transaction(&mut self, _t: &Transaction) -> Observed {
        CONTINUE
    }
    fn ws_frame(&mut self, _f: &WsFrame) -> Observed {
        CONTINUE
    }
    fn ws_message(&mut self, _m: &WsMessage) -> Observed {
        CONTINUE
    }
    /// A connection's final row (the conversations table), once no packet can change it: when
    /// a new connection takes its 4-tuple, when the tracker holds too many
    /// ([`MAX_OPEN`](crate::tcp::tracker::MAX_OPEN)), or at the end of the capture (then in
    /// stream order). Rows come in that order, not by stream number.
    fn connection(&mut self, _c: &Conn) -> Observed {
        CONTINUE
    }
    /// Called now and then with the bytes consumed so far.
    fn progress(&mut self, _position: u64, _packets: u64) -> Observed {
        CONTINUE
    }
    /// Whether [`Observer::packet`] does anything. An observer that says no hears no packets,
    /// and lets the pass decode frames on a second thread while this one tracks connections
    /// and parses messages; everything else it hears is the same, in the same order.
    fn wants_packets(&self) -> bool {
        true
    }
    /// How much of connection `stream` the observer's [`Observer::transaction`] and packet
    /// notes need, asked when the connection begins. The default is everything; an observer
    /// that looks at few connections or transactions, or not at message text, makes the pass
    /// cheaper by saying so. Options that turn notes off or make transactions lean still win.
    fn detail(&mut self, _stream: u32) -> Detail {
        Detail::ALL
    }
}

/// An observer that ignores everything.
pub struct NoObserver;
impl Observer for NoObserver {
    fn wants_packets(&self) -> bool {
        false
    }
    fn detail(&mut self, _: u32) -> Detail {
        Detail::LEAST
    }
}

impl<O: Observer + ?Sized> Observer for &mut O {
    fn seen(&mut self, s: &Seen<'_>) -> Observed {
        (**self).seen(s)
    }
    fn packet(&mut self, f: &Frame<'_>, d: &Decoded<'_>, t: Option<&PacketInfo>, a: PacketApp<'_>) -> Observed {
        (**self).packet(f, d, t, a)
    }
    fn stream(&mut self, e: &StreamEvent<'_>) -> Observed {
        (**self).stream(e)
    }
    fn transaction(&mut self, t: &Transaction) -> Observed {
        (**self).transaction(t)
    }
    fn ws_frame(&mut self, f: &WsFrame) -> Observed {
        (**self).ws_frame(f)
    }
    fn ws_message(&mut self, m: &WsMessage) -> Observed {
        (**self).ws_message(m)
    }
    fn connection(&mut self, c: &Conn) -> Observed {
        (**self).connection(c)
    }
    fn progress(&mut self, p: u64, n: u64) -> Observed {
        (**self).progress(p, n)
    }
    fn wants_packets(&self) -> bool {
        (**self).wants_packets()
    }
    fn detail(&mut self, s: u32) -> Detail {
        (**self).detail(s)
    }
}

/// An absent observer continues.
impl<O: Observer> Observer for Option<O> {
    fn seen(&mut self, s: &Seen<'_>) -> Observed {
        self.as_mut().map_or(CONTINUE, |o| o.seen(s))
    }
    fn packet(&mut self, f: &Frame<'_>, d: &Decoded<'_>, t: Option<&PacketInfo>, a: PacketApp<'_>) -> Observed {
        self.as_mut().map_or(CONTINUE, |o| o.packet(f, d, t, a))
    }
    fn stream(&mut self, e: &StreamEvent<'_>) -> Observed {
        self.as_mut().map_or(CONTINUE, |o| o.stream(e))
    }
    fn transaction(&mut self, t: &Transaction) -> Observed {
        self.as_mut().map_or(CONTINUE, |o| o.transaction(t))
    }
    fn ws_frame(&mut self, f: &WsFrame) -> Observed {
        self.as_mut().map_or(CONTINUE, |o| o.ws_frame(f))
    }
    fn ws_message(&mut self, m: &WsMessage) -> Observed {
        self.as_mut().map_or(CONTINUE, |o| o.ws_message(m))
    }
    fn connection(&mut self, c: &Conn) -> Observed {
        self.as_mut().map_or(CONTINUE, |o| o.connection(c))
    }
    fn progress(&mut self, p: u64, n: u64) -> Observed {
        self.as_mut().map_or(CONTINUE, |o| o.progress(p, n))
    }
    fn wants_packets(&self) -> bool {
        self.as_ref().is_some_and(|o| o.wants_packets())
    }
    fn detail(&mut self, s: u32) -> Detail {
        self.as_mut().map_or(Detail::LEAST, |o| o.detail(s))
    }
}

/// Fan-out: each member is told in turn. An error ends the call at once; otherwise the tuple
/// stops when any member says stop (after every member has seen the event).
macro_rules! tuple_observer {
    ($($name:ident)+) => {
        #[allow(non_snake_case)]
        impl<$($name: Observer),+> Observer for ($($name,)+) {
            fn seen(&mut self, s: &Seen<'_>) -> Observed {
                let ($($name,)+) = self;
                fan([$($name.seen(s)?),+])
            }
            fn packet(&mut self, f: &Frame<'_>, d: &Decoded<'_>, t: Option<&PacketInfo>, a: PacketApp<'_>) -> Observed {
                let ($($name,)+) = self;
                fan([$($name.packet(f, d, t, a)?),+])
            }
            fn stream(&mut self, e: &StreamEvent<'_>) -> Observed {
                let ($($name,)+) = self;
                fan([$($name.stream(e)?),+])
            }
            fn transaction(&mut self, x: &Transaction) -> Observed {
                let ($($name,)+) = self;
                fan([$($name.transaction(x)?),+])
            }
            fn ws_frame(&mut self, x: &WsFrame) -> Observed {
                let ($($name,)+) = self;
                fan([$($name.ws_frame(x)?),+])
            }
            fn ws_message(&mut self, x: &WsMessage) -> Observed {
                let ($($name,)+) = self;
                fan([$($name.ws_message(x)?),+])
            }
            fn connection(&mut self, x: &Conn) -> Observed {
                let ($($name,)+) = self;
                fan([$($name.connection(x)?),+])
            }
            fn progress(&mut self, p: u64, n: u64) -> Observed {
                let ($($name,)+) = self;
                fan([$($name.progress(p, n)?),+])
            }
            fn wants_packets(&self) -> bool {
                let ($($name,)+) = self;
                false $(|| $name.wants_packets())+
            }
            fn detail(&mut self, s: u32) -> Detail {
                let ($($name,)+) = self;
                Detail::LEAST $(.or($name.detail(s)))+
            }
        }
    };
}

fn fan<const N: usize>(flows: [Flow; N]) -> Observed {
    Ok(if flows.contains(&Flow::Stop) { Flow::Stop } else { Flow::Continue })
}

tuple_observer!(A B);
tuple_observer!(A B C);
tuple_observer!(A B C D);
tuple_observer!(A B C D E);
