//! The bundled clients: instruments that drive the bundled servers (or any server) and time
//! what they see.

pub mod fetch;
pub mod request;
pub mod danmaku_load;
pub mod ws_echo;
