//! Fuzz target: the WebSocket framer (with and without permessage-deflate) on arbitrary bytes
//! split arbitrarily between directions. Checks that frames never claim more header bytes than
//! were fed, and that message sizes match their frames when not compressed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wirelab::proto::websocket::{parse_header, Deflate, WsConn, WsOutput};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(h)) = parse_header(data) {
        assert!(h.header_len <= data.len() && (2..=14).contains(&h.header_len));
    }
    let Some((&flags, rest)) = data.split_first() else { return };
    let deflate = Deflate { enabled: flags & 1 != 0, server_no_context_takeover: flags & 2 != 0, client_no_context_takeover: flags & 4 != 0 };
    let mut c = WsConn::new(0, (flags >> 3) & 1, deflate);
    let mut out = WsOutput::default();
    let mut fed = 0u64;
    let mut rest = rest;
    let mut ts = 0;
    while let Some((&ctl, tail)) = rest.split_first() {
        let (piece, tail) = tail.split_at(((ctl & 0x7f) as usize).min(tail.len()));
        c.data(ctl >> 7, ts, ts as u64, piece, &mut out);
        fed += piece.len() as u64;
        ts += 1;
        rest = tail;
    }
    let headers: u64 = out.frames.iter().map(|f| f.header_bytes as u64).sum();
    assert!(headers <= fed);
    for m in &out.messages {
        if !m.compressed {
            assert_eq!(m.size, m.wire_bytes);
        }
    }
});
