//! The byte streams a connection runs over: plain TCP, or TLS over it
//! (`tls`). Senders and agents are generic over [`Link`], so the plaintext
//! path is the same machine code it was before TLS existed: no boxing, no
//! dynamic dispatch, no lock between the read and write halves.

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// A connected stream that splits into a read half and a write half.
///
/// The method names are `TcpStream`'s own, so code written for a
/// `TcpStream` reads the same over any `Link`.
pub(crate) trait Link: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// Whether a write may leave bytes buffered inside the stream until
    /// it is flushed. TLS does (a record is written out only when the
    /// socket takes it, possibly after `write` returned); TCP does not,
    /// so on it the flushes below are compiled out.
    const BUFFERED: bool;

    /// The owned read half, for a reader on a task of its own.
    type OwnedRead: AsyncRead + Unpin + Send + 'static;
    /// The owned write half, for a writer on a task of its own.
    type OwnedWrite: AsyncWrite + Unpin + Send + 'static;
    /// The borrowed read half, for one task that reads and writes.
    type Read<'a>: AsyncRead + Unpin + Send
    where
        Self: 'a;
    /// The borrowed write half.
    type Write<'a>: AsyncWrite + Unpin + Send
    where
        Self: 'a;

    /// Splits into halves that can move to different tasks.
    fn into_split(self) -> (Self::OwnedRead, Self::OwnedWrite);

    /// Splits into halves borrowed from this stream.
    fn split(&mut self) -> (Self::Read<'_>, Self::Write<'_>);
}

impl Link for TcpStream {
    const BUFFERED: bool = false;
    type OwnedRead = tokio::net::tcp::OwnedReadHalf;
    type OwnedWrite = tokio::net::tcp::OwnedWriteHalf;
    type Read<'a> = tokio::net::tcp::ReadHalf<'a>;
    type Write<'a> = tokio::net::tcp::WriteHalf<'a>;

    fn into_split(self) -> (Self::OwnedRead, Self::OwnedWrite) {
        // The inherent methods: lock-free halves.
        TcpStream::into_split(self)
    }

    fn split(&mut self) -> (Self::Read<'_>, Self::Write<'_>) {
        TcpStream::split(self)
    }
}

/// turmoil's simulated stream (feature `turmoil`): it has no borrowed
/// halves of its own, so `split` shares it through tokio's `split`, whose
/// lock costs nothing worth measuring in a simulation.
#[cfg(feature = "turmoil")]
impl Link for turmoil::net::TcpStream {
    const BUFFERED: bool = false;
    type OwnedRead = turmoil::net::tcp::OwnedReadHalf;
    type OwnedWrite = turmoil::net::tcp::OwnedWriteHalf;
    type Read<'a> = tokio::io::ReadHalf<&'a mut turmoil::net::TcpStream>;
    type Write<'a> = tokio::io::WriteHalf<&'a mut turmoil::net::TcpStream>;

    fn into_split(self) -> (Self::OwnedRead, Self::OwnedWrite) {
        turmoil::net::TcpStream::into_split(self)
    }

    fn split(&mut self) -> (Self::Read<'_>, Self::Write<'_>) {
        tokio::io::split(self)
    }
}
