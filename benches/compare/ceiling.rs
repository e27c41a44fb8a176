//! The ceiling: the least a design like skycluster's has to do, over raw
//! TCP.
//!
//! A frame is a little-endian `u32` length, a `u32` session (0 for a
//! one-way message) and the payload. The client encodes each call into a
//! shared buffer under a mutex, records a waiter and wakes one writer
//! task, which swaps the buffer out and writes it whole: frames queued
//! together leave together. A reader task matches replies to waiters by
//! session, handing out at most [`REPLY_BATCH`] replies before it lets the
//! woken callers run. The server reads what has arrived, with at least
//! [`READ_ROOM`] free so that it never reads only part of a batch, appends
//! every reply to one buffer and writes it in one go. (Both tactics are
//! skycluster's: a ceiling without them would measure the cost of batches
//! split by chance, not what the design can do.) No codec, no timeouts, no
//! names.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, Notify};

use super::{count_push, Pushed, Server};

/// Length and session.
const HEADER: usize = 8;
/// Bytes the client may hold unsent before pushes are refused (as
/// skycluster's default `max_queued_bytes`).
const MAX_QUEUED: usize = 64 << 20;
const BUFFER: usize = 64 << 10;
/// The least free space the server reads into, as skycluster's decoders
/// leave.
const READ_ROOM: usize = 16 << 10;
/// The most replies the client hands out before its callers run, as
/// skycluster's sender.
const REPLY_BATCH: usize = 128;

fn put_frame(dst: &mut BytesMut, session: u32, payload: &[u8]) {
    dst.reserve(HEADER + payload.len());
    dst.put_u32_le((4 + payload.len()) as u32);
    dst.put_u32_le(session);
    dst.put_slice(payload);
}

/// The session and payload length of the frame at the front of `src`, if
/// it is all there; otherwise reserves room for the rest of it.
fn next_frame(src: &mut BytesMut) -> Option<(u32, usize)> {
    if src.len() < HEADER {
        return None;
    }
    let len = u32::from_le_bytes([src[0], src[1], src[2], src[3]]) as usize;
    if src.len() < 4 + len {
        src.reserve(4 + len - src.len());
        return None;
    }
    let session = u32::from_le_bytes([src[4], src[5], src[6], src[7]]);
    src.advance(HEADER);
    Some((session, len - 4))
}

pub(crate) async fn serve(addr: &str) -> Result<Server, String> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("bind {addr}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(connection(stream));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    });
    Ok(Server {
        addr,
        _keep: Box::new(()),
    })
}

/// Serves one connection: read what is there, answer all of it, write.
async fn connection(mut stream: TcpStream) {
    // Frames are written whole, so Nagle would only add delay.
    let _ = stream.set_nodelay(true);
    let mut rbuf = BytesMut::with_capacity(BUFFER);
    let mut wbuf = BytesMut::with_capacity(BUFFER);
    loop {
        if rbuf.capacity() - rbuf.len() < READ_ROOM {
            rbuf.reserve(READ_ROOM);
        }
        match stream.read_buf(&mut rbuf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        while let Some((session, len)) = next_frame(&mut rbuf) {
            if session == 0 {
                count_push();
            } else {
                put_frame(&mut wbuf, session, &rbuf[..len]);
            }
            rbuf.advance(len);
        }
        if !wbuf.is_empty() {
            if stream.write_all(&wbuf).await.is_err() {
                return;
            }
            wbuf.clear();
        }
    }
}

#[derive(Clone)]
pub(crate) struct CeilingClient {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    wake: Notify,
}

struct State {
    out: BytesMut,
    pending: HashMap<u32, oneshot::Sender<Bytes>>,
    next_session: u32,
    closed: Option<String>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn close(&self, why: String) {
        let mut st = self.lock();
        st.pending.clear();
        st.closed.get_or_insert(why);
    }
}

pub(crate) async fn connect(addr: SocketAddr) -> Result<CeilingClient, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect to {addr}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (rd, wr) = stream.into_split();
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            out: BytesMut::with_capacity(BUFFER),
            pending: HashMap::new(),
            next_session: 1,
            closed: None,
        }),
        wake: Notify::new(),
    });
    tokio::spawn(writer(Arc::clone(&shared), wr));
    tokio::spawn(reader(Arc::clone(&shared), rd));
    Ok(CeilingClient { shared })
}

async fn writer(shared: Arc<Shared>, mut wr: OwnedWriteHalf) {
    let mut buf = BytesMut::with_capacity(BUFFER);
    loop {
        {
            let mut st = shared.lock();
            if st.closed.is_some() {
                return;
            }
            std::mem::swap(&mut st.out, &mut buf);
        }
        if buf.is_empty() {
            shared.wake.notified().await;
            continue;
        }
        if let Err(e) = wr.write_all(&buf).await {
            return shared.close(format!("write failed: {e}"));
        }
        buf.clear();
    }
}

async fn reader(shared: Arc<Shared>, mut rd: OwnedReadHalf) {
    let mut rbuf = BytesMut::with_capacity(BUFFER);
    let mut replies = Vec::new();
    loop {
        match rd.read_buf(&mut rbuf).await {
            Ok(0) => return shared.close("closed by the server".to_owned()),
            Err(e) => return shared.close(format!("read failed: {e}")),
            Ok(_) => {}
        }
        while let Some((session, len)) = next_frame(&mut rbuf) {
            if replies.len() == REPLY_BATCH {
                shared.answer(&mut replies);
                yield_once().await;
            }
            replies.push((session, rbuf.split_to(len).freeze()));
        }
        shared.answer(&mut replies);
    }
}

/// Goes to the back of the run queue, behind the callers just woken (as
/// skycluster's sender; tokio's `yield_now` would also wait for a poll of
/// the I/O driver).
async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if std::mem::replace(&mut yielded, true) {
            return std::task::Poll::Ready(());
        }
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await;
}

impl Shared {
    fn answer(&self, replies: &mut Vec<(u32, Bytes)>) {
        if replies.is_empty() {
            return;
        }
        let mut st = self.lock();
        for (session, payload) in replies.drain(..) {
            if let Some(tx) = st.pending.remove(&session) {
                let _ = tx.send(payload);
            }
        }
    }
}

impl super::BenchClient for CeilingClient {
    const ONE_WAY: bool = true;

    async fn call(&self, payload: Bytes) -> Result<Bytes, String> {
        let (tx, rx) = oneshot::channel();
        {
            let mut st = self.shared.lock();
            if let Some(why) = &st.closed {
                return Err(why.clone());
            }
            let session = st.next_session;
            st.next_session = session.checked_add(1).unwrap_or(1);
            put_frame(&mut st.out, session, &payload);
            st.pending.insert(session, tx);
        }
        self.shared.wake.notify_one();
        rx.await.map_err(|_| {
            self.shared
                .lock()
                .closed
                .clone()
                .unwrap_or_else(|| "connection closed".to_owned())
        })
    }

    async fn push(&self, payload: Bytes) -> Result<Pushed, String> {
        {
            let mut st = self.shared.lock();
            if let Some(why) = &st.closed {
                return Err(why.clone());
            }
            if st.out.len() > MAX_QUEUED {
                return Ok(Pushed::Full);
            }
            put_frame(&mut st.out, 0, &payload);
        }
        self.shared.wake.notify_one();
        Ok(Pushed::Queued)
    }
}
