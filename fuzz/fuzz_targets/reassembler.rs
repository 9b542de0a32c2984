//! Fuzz target: arbitrary segment sequences into one direction's reassembler. Checks that the
//! output is in order, gap-free in offsets, and equal to a reference built from first copies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wirelab::tcp::{Delivery, HalfStream};

fuzz_target!(|data: &[u8]| {
    // Each op: 1 byte kind, 2 bytes seq delta (relative to a base near the wrap), 1 byte len.
    let isn = u32::MAX - 300;
    let mut h = HalfStream::new();
    h.set_isn(isn);
    let mut next = 0u64;
    let mut delivered: Vec<(u64, u8)> = vec![];
    let mut ok = true;
    let mut sink = |d: Delivery<'_>| match d {
        Delivery::Data { offset, bytes } => {
            ok &= offset == next;
            for (i, b) in bytes.iter().enumerate() {
                delivered.push((offset + i as u64, *b));
            }
            next = offset + bytes.len() as u64;
        }
        Delivery::Gap { offset, len, .. } => {
            ok &= offset == next && len > 0;
            next = offset + len;
        }
    };
    for op in data.chunks_exact(4) {
        let rel = u16::from_le_bytes([op[1], op[2]]) as u32 % 2048;
        let len = op[3] as usize % 200;
        // Payload byte = its own stream offset (mod 251), so any misplacement is visible.
        let payload: Vec<u8> = (0..len).map(|i| ((rel as usize + i) % 251) as u8).collect();
        match op[0] % 4 {
            0 | 1 => {
                h.segment(isn.wrapping_add(1).wrapping_add(rel), &payload, len as u32, &mut sink);
            }
            2 => h.acked(isn.wrapping_add(1).wrapping_add(rel), &mut sink),
            _ => {
                // Snaplen-cut segment: claims more than it carries.
                let cut = len / 2;
                h.segment(isn.wrapping_add(1).wrapping_add(rel), &payload[..cut], len as u32, &mut sink);
            }
        }
    }
    h.flush(&mut sink);
    assert!(ok, "deliveries out of order");
    for (off, b) in delivered {
        assert_eq!(b as u64, off % 251, "byte at offset {off} misplaced");
    }
    assert_eq!(h.pending_bytes(), 0);
});
