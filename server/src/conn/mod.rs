//! Client connections: per-connection buffers and protocol state, without
//! the socket. The runtime owns the sockets, moves bytes between them and
//! these states, and applies what the application decides.
//!
//! - [`http`]: an HTTP/1.1 connection.

pub mod http;
