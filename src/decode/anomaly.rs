//! The kinds of decode anomaly: problems in the input that the analysis counts as data.

use serde::Serialize;

/// One kind of anomaly. Its [`name`](AnomalyKind::name) is the stable snake_case key used in
/// JSON, the anomalies table and the exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// A TCP payload cut short by the capture's snapshot length.
    SnaplenTruncated,
    /// The IP header claims more bytes than the frame holds (and the snaplen did not cut it).
    IpLengthExceedsFrame,
    /// IP reassembly over its bounds (datagrams or bytes in flight): a fragment dropped.
    IpFragmentOverflow,
    /// An IP datagram still incomplete after the reassembly timeout.
    IpFragmentTimeout,
    /// IP datagrams still incomplete at the end of the capture.
    IpFragmentIncomplete,
    /// An IP fragment that contradicts its datagram (bad offset, two ends, beyond the end).
    IpFragmentInvalid,
    /// An IP fragment cut short by the snapshot length.
    IpFragmentTruncated,
    /// A TCP or UDP header cut off or invalid.
    TruncatedTransportHeader,
    /// More TCP connections open at once than the tracker holds: the oldest was retired.
    TcpTableOverflow,
    /// A link type wirelab does not decode.
    UnsupportedLinkType,
    /// A frame whose link or IP header is malformed.
    MalformedFrame,
    /// The capture file itself is damaged; analysis stopped there.
    CaptureDamaged,
    /// Bytes on an HTTP connection that are not a valid HTTP message.
    HttpMalformed,
    /// An HTTP header block over the size limit.
    HttpHeaderTooLarge,
    /// Bytes missing inside an HTTP message.
    HttpGap,
    /// More pipelined requests waiting for their responses than are held per connection: the
    /// oldest was reported without its response.
    HttpPipelineOverflow,
    /// An HTTP message cut off by the end of the connection or capture.
    HttpTruncated,
    /// A WebSocket frame that breaks RFC 6455.
    WsMalformed,
    /// Bytes missing on a WebSocket connection (framing lost).
    WsGap,
    /// A permessage-deflate message that does not inflate.
    WsInflate,
    /// More pings, or client messages, waiting for their pong or echo than are held per
    /// connection: the oldest is no longer paired.
    WsPairingOverflow,
}

impl AnomalyKind {
    /// The stable snake_case key.
    pub fn name(self) -> &'static str {
        match self {
            AnomalyKind::SnaplenTruncated => "snaplen_truncated",
            AnomalyKind::IpLengthExceedsFrame => "ip_length_exceeds_frame",
            AnomalyKind::IpFragmentOverflow => "ip_fragment_overflow",
            AnomalyKind::IpFragmentTimeout => "ip_fragment_timeout",
            AnomalyKind::IpFragmentIncomplete => "ip_fragment_incomplete",
            AnomalyKind::IpFragmentInvalid => "ip_fragment_invalid",
            AnomalyKind::IpFragmentTruncated => "ip_fragment_truncated",
            AnomalyKind::TruncatedTransportHeader => "truncated_transport_header",
            AnomalyKind::TcpTableOverflow => "tcp_table_overflow",
            AnomalyKind::UnsupportedLinkType => "unsupported_link_type",
            AnomalyKind::MalformedFrame => "malformed_frame",
            AnomalyKind::CaptureDamaged => "capture_damaged",
            AnomalyKind::HttpMalformed => "http_malformed",
            AnomalyKind::HttpHeaderTooLarge => "http_header_too_large",
            AnomalyKind::HttpGap => "http_gap",
            AnomalyKind::HttpPipelineOverflow => "http_pipeline_overflow",
            AnomalyKind::HttpTruncated => "http_truncated",
            AnomalyKind::WsMalformed => "ws_malformed",
            AnomalyKind::WsGap => "ws_gap",
            AnomalyKind::WsInflate => "ws_inflate",
            AnomalyKind::WsPairingOverflow => "ws_pairing_overflow",
        }
    }
}

impl std::fmt::Display for AnomalyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_names_are_the_stable_names() {
        use AnomalyKind::*;
        let all = [
            SnaplenTruncated, IpLengthExceedsFrame, IpFragmentOverflow, IpFragmentTimeout, IpFragmentIncomplete, IpFragmentInvalid, IpFragmentTruncated, TruncatedTransportHeader, TcpTableOverflow, UnsupportedLinkType, MalformedFrame, CaptureDamaged, HttpMalformed,
            HttpHeaderTooLarge, HttpGap, HttpPipelineOverflow, HttpTruncated, WsMalformed, WsGap, WsInflate, WsPairingOverflow,
        ];
        for k in all {
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{}\"", k.name()));
        }
        assert_eq!(CaptureDamaged.to_string(), "capture_damaged");
        assert_eq!(HttpHeaderTooLarge.name(), "http_header_too_large");
    }
}
