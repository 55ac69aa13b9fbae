//! Client connections: per-connection buffers and protocol state, without
//! the socket. The runtime owns the sockets, moves bytes between them and
//! these states, and applies what the application decides.
//!
//! - [`http`]: an HTTP/1.1 connection.
//! - [`ws`]: a WebSocket connection (a `GET /ws` after its handshake).
//! - [`outbox`]: the bytes either queues for its socket.

pub mod http;
pub mod outbox;
pub mod ws;

/// A connection: HTTP until a `/ws` handshake upgrades it.
// HTTP connections, the common case, are kept inline in the connection
// table; the fewer, larger WebSocket states are boxed.
#[allow(clippy::large_enum_variant)]
pub enum Conn {
    /// An HTTP/1.1 connection.
    Http(http::HttpConn),
    /// A WebSocket subscriber.
    Ws(Box<ws::WsConn>),
}

impl Conn {
    /// Bytes not yet sent.
    pub fn unsent(&self) -> &[u8] {
        match self {
            Conn::Http(c) => c.unsent(),
            Conn::Ws(c) => c.unsent(),
        }
    }

    /// `n` bytes of [`Conn::unsent`] went to the socket.
    pub fn sent(&mut self, n: usize, now: spool_core::time::Instant) {
        match self {
            Conn::Http(c) => c.sent(n, now),
            Conn::Ws(c) => c.sent(n, now),
        }
    }

    /// The peer is gone for writing.
    pub fn write_failed(&mut self) {
        match self {
            Conn::Http(c) => c.write_failed(),
            Conn::Ws(c) => c.write_failed(),
        }
    }

    /// The socket reported end of input.
    pub fn peer_closed(&mut self) {
        match self {
            Conn::Http(c) => c.peer_closed(),
            Conn::Ws(c) => c.peer_closed(),
        }
    }

    /// Whether the runtime should close it now.
    pub fn finished(&self) -> bool {
        match self {
            Conn::Http(c) => c.finished(),
            Conn::Ws(c) => c.finished(),
        }
    }

    /// How many bytes may be read from the socket now.
    pub fn room(&self) -> usize {
        match self {
            Conn::Http(c) => c.room(),
            Conn::Ws(c) => c.room(),
        }
    }

    /// The HTTP state, if it is HTTP.
    pub fn http(&mut self) -> Option<&mut http::HttpConn> {
        match self {
            Conn::Http(c) => Some(c),
            Conn::Ws(_) => None,
        }
    }

    /// The WebSocket state, if it is a WebSocket.
    pub fn ws(&mut self) -> Option<&mut ws::WsConn> {
        match self {
            Conn::Http(_) => None,
            Conn::Ws(c) => Some(c),
        }
    }
}
