//! A TCP proxy on loopback that can forward, delay, cut or black-hole
//! connections, for fault tests.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does with traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Pass bytes through.
    Forward,
    /// Pass bytes through after this delay.
    Delay(Duration),
    /// Keep every connection open, forward nothing, answer nothing. A
    /// connection that saw this mode stays dead, like a peer whose host
    /// vanished.
    BlackHole,
    /// Close every connection at once.
    Cut,
}

/// A running proxy in front of `upstream`.
pub struct FaultProxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    mode: Arc<watch::Sender<Mode>>,
}

impl FaultProxy {
    /// Starts a proxy on an ephemeral port of 127.0.0.1.
    pub async fn start(upstream: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let mode = Arc::new(watch::Sender::new(Mode::Forward));
        let accept_mode = Arc::clone(&mode);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let mode = accept_mode.subscribe();
                tokio::spawn(async move {
                    if *mode.borrow() == Mode::Cut {
                        return;
                    }
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::join!(pipe(cr, sw, mode.clone()), pipe(sr, cw, mode));
                });
            }
        });
        FaultProxy { addr, mode }
    }

    /// Changes the mode of every connection, current and future.
    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

async fn pipe(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut mode: watch::Receiver<Mode>) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut dead = false;
    loop {
        let current = *mode.borrow_and_update();
        match current {
            Mode::Cut => return,
            Mode::BlackHole => dead = true,
            _ => {}
        }
        tokio::select! {
            read = from.read(&mut buf) => {
                let n = match read {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                if dead {
                    continue;
                }
                if let Mode::Delay(d) = current {
                    tokio::time::sleep(d).await;
                }
                if to.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
            changed = mode.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}
