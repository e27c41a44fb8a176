//! A connection to an agent written by hand, as a Lua Skynet node's sender
//! writes it, for the tests that send frames skycluster's own sender never
//! would.

use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use skycluster::wire::{encode_push, encode_request, Address, Reply, ReplyDecoder, Session};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::Decoder;

use super::node::bounded;

/// One hand-driven connection and what it has read.
pub struct Raw {
    stream: TcpStream,
    buf: BytesMut,
    decoder: ReplyDecoder,
}

impl Raw {
    pub async fn connect(addr: SocketAddr) -> Raw {
        Raw {
            stream: bounded("connect", TcpStream::connect(addr))
                .await
                .expect("connect"),
            buf: BytesMut::new(),
            decoder: ReplyDecoder::default(),
        }
    }

    pub async fn write(&mut self, bytes: &[u8]) {
        bounded("write", self.stream.write_all(bytes))
            .await
            .expect("write");
    }

    /// The next reply, single-frame or joined from its pieces.
    pub async fn reply(&mut self) -> Reply {
        bounded("reply", async {
            loop {
                if let Some(reply) = self.decoder.decode(&mut self.buf).expect("valid replies") {
                    return reply;
                }
                self.read().await;
            }
        })
        .await
    }

    /// The next reply, which must be a single frame, with its type byte as
    /// it came (`0x00` an error frame, `0x01` a reply).
    pub async fn reply_frame(&mut self) -> (u8, Reply) {
        bounded("reply", async {
            // A response frame: a 2-byte big-endian length, then `DWORD
            // session`, then the type byte. Cut one frame at a time (the
            // decoder takes every whole frame it is given).
            loop {
                if self.buf.len() >= 7 {
                    let len = usize::from(u16::from_be_bytes([self.buf[0], self.buf[1]]));
                    if self.buf.len() >= 2 + len {
                        let mut frame = self.buf.split_to(2 + len);
                        let kind = frame[6];
                        let reply = self.decoder.decode(&mut frame).expect("a valid reply");
                        return (kind, reply.expect("a whole single-frame reply"));
                    }
                }
                self.read().await;
            }
        })
        .await
    }

    async fn read(&mut self) {
        let n = self.stream.read_buf(&mut self.buf).await.expect("read");
        assert!(n > 0, "the agent closed the connection");
    }
}

/// A request frame (and its pieces, if it needs them) to `address`.
pub fn request(address: &str, session: u32, payload: Bytes) -> BytesMut {
    let mut out = BytesMut::new();
    let address: Address = address.parse().expect("name");
    let session = Session::new(session).expect("session");
    if let Some(mut pieces) = encode_request(&mut out, &address, session, payload).expect("fits") {
        while pieces.write_next(&mut out) {}
    }
    out
}

/// A push frame to `address`.
pub fn push(address: &str, payload: Bytes) -> BytesMut {
    let mut out = BytesMut::new();
    let address: Address = address.parse().expect("name");
    encode_push(&mut out, &address, Session::FIRST, payload).expect("fits");
    out
}

/// Connects to `addr`, sends the name query a Lua node would
/// (`i_request_queryname` of the vectors), and reads until the node
/// closes the connection (bounded): what came back.
pub async fn skynet_query_until_closed(addr: SocketAddr) -> Vec<u8> {
    let mut raw = bounded("connect", TcpStream::connect(addr))
        .await
        .expect("connect");
    let frame = hex::decode("000e000000000002000000246563686f").expect("hex");
    bounded("write", raw.write_all(&frame))
        .await
        .expect("write");
    let mut seen = Vec::new();
    bounded("closed", async {
        let mut buf = [0u8; 256];
        while let Ok(n @ 1..) = raw.read(&mut buf).await {
            seen.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    seen
}
