//! Fuzz target: the HTTP/1.x framer on arbitrary bytes, arbitrarily split between the two
//! directions, with gaps (lost or snaplen-cut) and an end. Checks that counted bytes never
//! exceed what was fed and that requests on a connection are numbered 1, 2, 3, ...
#![no_main]

use libfuzzer_sys::fuzz_target;
use wirelab::proto::http::{HttpConn, Output};

fuzz_target!(|data: &[u8]| {
    let mut c = HttpConn::new(0, true);
    let mut out = Output::default();
    let mut fed = [0u64; 2];
    let mut rest = data;
    let mut ts = 0;
    while let Some((&ctl, tail)) = rest.split_first() {
        let len = (ctl & 0x3f) as usize;
        let d = (ctl >> 7) & 1;
        let (piece, tail) = tail.split_at(len.min(tail.len()));
        if ctl & 0x40 != 0 && !piece.is_empty() {
            c.gap(d, piece.len() as u64, piece[0] & 1 == 0, &mut out);
            fed[d as usize] += piece.len() as u64;
        } else {
            c.data(d, ts, ts as u64, piece, &mut out);
            fed[d as usize] += piece.len() as u64;
        }
        ts += 1;
        rest = tail;
    }
    c.end(ts, ts as u64, [true, data.len() % 2 == 0], &mut out);
    let mut last = 0;
    for t in &out.transactions {
        let total = t.request_header_bytes + t.request_body_bytes + t.response_header_bytes + t.response_body_bytes;
        assert!(total <= fed[0] + fed[1], "counted {total} of {fed:?}");
        if t.index_on_conn > 0 {
            assert!(t.index_on_conn > last, "request numbers go up");
            last = t.index_on_conn;
        }
    }
});
