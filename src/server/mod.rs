//! The bundled servers: instruments that produce the behaviours the scenarios compare.

pub mod http;
pub mod danmaku;
pub mod ws;
