//! Fuzz target: any bytes as a capture file, through the reader, decoder, tracker and follow.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wirelab::analysis::{analyze, Observer};
use wirelab::capture::CaptureReader;
use wirelab::tcp::StreamEvent;

struct Count(u64);
impl Observer for Count {
    fn stream(&mut self, ev: &StreamEvent<'_>) {
        if let StreamEvent::Data { bytes, .. } = ev {
            self.0 += bytes.len() as u64;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(reader) = CaptureReader::new(data) {
        let mut obs = Count(0);
        if let Ok(summary) = analyze(reader, &mut obs) {
            // Delivered bytes can never exceed what the capture holds.
            assert!(obs.0 <= data.len() as u64);
            assert_eq!(summary.tcp.connections as usize, summary.conversations.len());
        }
    }
});
