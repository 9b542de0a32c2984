//! TCP options (RFC 9293 §3.2, RFC 7323, RFC 2018), parsed once: the option bytes of a header
//! are validated up to the end-of-list or the first malformed option, and every accessor then
//! walks only that validated prefix, so none can fail or panic.

/// One option, in wire order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpOption<'a> {
    /// Maximum segment size (kind 2).
    Mss(u16),
    /// Window scale shift (kind 3), as sent (not clamped).
    WindowScale(u8),
    /// SACK permitted (kind 4).
    SackPermitted,
    /// SACK blocks (kind 5): absolute left and right edges.
    Sack(SackBlocks<'a>),
    /// Timestamps (kind 8).
    Timestamps { val: u32, ecr: u32 },
    /// Any other kind, or a known kind whose length is not the one its RFC gives.
    Other { kind: u8, data: &'a [u8] },
}

/// The blocks of a SACK option: a whole number of 8-byte (left, right) pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SackBlocks<'a>(&'a [u8]);

impl<'a> SackBlocks<'a> {
    /// (left edge, right edge) of each block, absolute sequence numbers.
    pub fn iter(&self) -> impl Iterator<Item = (u32, u32)> + 'a {
        self.0.chunks_exact(8).map(|b| (be32(&b[..4]), be32(&b[4..])))
    }
}

fn be32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_be_bytes(a)
}

/// A header's options, validated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpOptions<'a> {
    /// The bytes up to the end-of-list, or up to the first option that does not fit.
    valid: &'a [u8],
}

impl<'a> TcpOptions<'a> {
    /// Validates `raw`, the bytes after the fixed 20-byte header. Parsing stops at an
    /// end-of-list option, at a length byte below 2, or at an option running past the header,
    /// as Wireshark's does; what came before stays readable.
    pub fn parse(raw: &'a [u8]) -> TcpOptions<'a> {
        let mut i = 0;
        while i < raw.len() {
            match raw[i] {
                0 => break,
                1 => i += 1,
                _ => match raw.get(i + 1) {
                    Some(&len) if len >= 2 && i + len as usize <= raw.len() => i += len as usize,
                    _ => break,
                },
            }
        }
        TcpOptions { valid: &raw[..i] }
    }

    /// The validated bytes; [`TcpOptions::parse`] of them gives these options again.
    pub fn bytes(&self) -> &'a [u8] {
        self.valid
    }

    /// The options in wire order (no-operation padding skipped).
    pub fn iter(&self) -> TcpOptionIter<'a> {
        TcpOptionIter { rest: self.valid }
    }

    /// The first window scale option's shift, if any.
    pub fn window_scale(&self) -> Option<u8> {
        self.iter().find_map(|o| match o {
            TcpOption::WindowScale(s) => Some(s),
            _ => None,
        })
    }

    /// The first MSS option's value, if any.
    pub fn mss(&self) -> Option<u16> {
        self.iter().find_map(|o| match o {
            TcpOption::Mss(m) => Some(m),
            _ => None,
        })
    }
}

/// Iterator over validated options.
#[derive(Debug, Clone)]
pub struct TcpOptionIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for TcpOptionIter<'a> {
    type Item = TcpOption<'a>;

    fn next(&mut self) -> Option<TcpOption<'a>> {
        loop {
            let (&kind, tail) = self.rest.split_first()?;
            if kind == 1 {
                self.rest = tail;
                continue;
            }
            // Validated: a length byte >= 2 follows, and the option fits.
            let len = (*tail.first()? as usize).max(2).min(self.rest.len());
            let data = &self.rest[2.min(len)..len];
            self.rest = &self.rest[len..];
            return Some(match (kind, data.len()) {
                (2, 2) => TcpOption::Mss(u16::from_be_bytes([data[0], data[1]])),
                (3, 1) => TcpOption::WindowScale(data[0]),
                (4, 0) => TcpOption::SackPermitted,
                (5, n) if n % 8 == 0 => TcpOption::Sack(SackBlocks(data)),
                (8, 8) => TcpOption::Timestamps { val: be32(&data[..4]), ecr: be32(&data[4..]) },
                _ => TcpOption::Other { kind, data },
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_linux_syn() {
        let raw = [2, 4, 0xff, 0xd7, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7];
        let o = TcpOptions::parse(&raw);
        let v: Vec<_> = o.iter().collect();
        assert_eq!(
            v,
            [TcpOption::Mss(65495), TcpOption::SackPermitted, TcpOption::Timestamps { val: 1, ecr: 0 }, TcpOption::WindowScale(7)]
        );
        assert_eq!((o.window_scale(), o.mss()), (Some(7), Some(65495)));
    }

    #[test]
    fn sack_blocks_and_unknown_kinds() {
        let raw = [1, 1, 5, 18, 0, 0, 0, 10, 0, 0, 0, 20, 0, 0, 0, 30, 0, 0, 0, 40, 30, 3, 9, 2, 3, 0];
        let v: Vec<_> = TcpOptions::parse(&raw).iter().collect();
        let TcpOption::Sack(b) = v[0] else { panic!("{v:?}") };
        assert_eq!(b.iter().collect::<Vec<_>>(), [(10, 20), (30, 40)]);
        // Kind 30 (MPTCP) is kept by number; an MSS of the wrong length is not an MSS.
        assert_eq!(v[1], TcpOption::Other { kind: 30, data: &[9] });
        assert_eq!(v[2], TcpOption::Other { kind: 2, data: &[0] });
        assert_eq!(v.len(), 3);
    }

    #[test]
    fn parsing_stops_at_end_of_list_and_at_damage() {
        // End of list: what follows is padding, not options.
        assert_eq!(TcpOptions::parse(&[3, 3, 2, 0, 3, 3, 9]).iter().count(), 1);
        // A length below 2, a missing length byte, an option running past the header.
        for raw in [&[3, 3, 2, 8, 1][..], &[3, 3, 2, 8][..], &[3, 3, 2, 8, 10, 0, 0][..]] {
            let o = TcpOptions::parse(raw);
            assert_eq!(o.iter().collect::<Vec<_>>(), [TcpOption::WindowScale(2)], "{raw:?}");
        }
        // Damage before the window scale hides it.
        assert_eq!(TcpOptions::parse(&[2, 1, 3, 3, 2]).window_scale(), None);
        assert_eq!(TcpOptions::parse(&[]).iter().count(), 0);
    }
}
