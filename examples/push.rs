//! Notifications: `#[push]` methods are one-way messages (Skynet's
//! `cluster.send`). The caller does not wait for, or get, a reply.
//!
//! `game1` tells `chat` that players joined; `chat` hands each notice to
//! this program through a channel so we can see them arrive.

use std::time::Duration;

use skycluster::Cluster;
use tokio::sync::mpsc;

#[skycluster::service]
pub trait Chat {
    /// Fire and forget: the generated client method is a plain `fn` that
    /// queues the message and returns at once.
    #[push]
    async fn joined(&self, player: String, room: u32);

    /// An ordinary call, for contrast: it waits for the reply.
    async fn online(&self) -> u32;
}

struct Board {
    notices: mpsc::UnboundedSender<String>,
}

#[skycluster::async_trait]
impl Chat for Board {
    async fn joined(&self, player: String, room: u32) {
        let _ = self.notices.send(format!("{player} joined room {room}"));
    }

    async fn online(&self) -> u32 {
        3
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scratch = examples::Scratch::new("push")?;
    let config = scratch.clustername(&["game1", "chat"])?;

    let (notices, mut received) = mpsc::unbounded_channel();
    let chat = Cluster::load(&config)?;
    chat.open("chat").await?;
    let board = chat.spawn::<dyn Chat>(Board { notices });
    chat.register::<dyn Chat>(board)?;

    let game1 = Cluster::load(&config)?;
    game1.open("game1").await?;
    let client = game1.proxy::<dyn Chat>("chat", "@Chat");

    // No `.await`: each push is queued on game1's connection to chat.
    // An error here means it could not even be queued (node disabled,
    // absent, or refusing connections); delivery itself is not confirmed.
    for (room, player) in ["alice", "bob", "carol"].into_iter().enumerate() {
        client.joined(player.to_owned(), room as u32 + 1)?;
    }
    println!("game1: 3 pushes queued; {} online", client.online().await?);

    // Pushes carry no reply, so the only way to see them land is on the
    // receiving side. Bound the wait: a lost push must not hang us.
    for _ in 0..3 {
        let notice = tokio::time::timeout(Duration::from_secs(5), received.recv())
            .await?
            .ok_or("chat service stopped")?;
        println!("chat: {notice}");
    }

    game1.shutdown(Duration::from_secs(1)).await;
    chat.shutdown(Duration::from_secs(1)).await;
    Ok(())
}
