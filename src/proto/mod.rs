//! Application protocols analyzed passively from reassembled TCP streams.

pub mod http;
pub mod websocket;
