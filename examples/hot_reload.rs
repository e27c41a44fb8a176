//! Config hot reload: move a node to a new address, disable it, bring it
//! back, without restarting the caller (Skynet's `cluster.reload`).

use std::time::Duration;

use skycluster::{Cluster, Config, ErrorKind};

#[skycluster::service]
pub trait Db {
    /// Which instance answered.
    async fn instance(&self) -> String;
}

struct Instance(&'static str);

#[skycluster::async_trait]
impl Db for Instance {
    async fn instance(&self) -> String {
        self.0.to_owned()
    }
}

/// Starts a `db` node from the clustername file as it is now.
async fn start_db(config: &std::path::Path, label: &'static str) -> skycluster::Result<Cluster> {
    let db = Cluster::load(config)?;
    db.open("db").await?;
    let handle = db.spawn::<dyn Db>(Instance(label));
    db.register::<dyn Db>(handle)?;
    Ok(db)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scratch = examples::Scratch::new("hot_reload")?;
    let config = scratch.clustername(&["game1", "db"])?;

    let old_db = start_db(&config, "old").await?;
    let game1 = Cluster::load(&config)?;
    game1.open("game1").await?;
    let db = game1.proxy::<dyn Db>("db", "@Db");
    println!("before: db is {}", db.instance().await?);

    // Move db: edit the file, start the new instance from it, then tell
    // game1 to re-read the file. game1's connection to db follows the new
    // address; the client `db` keeps working unchanged.
    let text = std::fs::read_to_string(&config)?;
    let old_line = text
        .lines()
        .find(|l| l.starts_with("db ="))
        .ok_or("no db line")?
        .to_owned();
    let new_line = format!("db = \"127.0.0.1:{}\"", examples::free_port()?);
    std::fs::write(&config, text.replace(&old_line, &new_line))?;
    let new_db = start_db(&config, "new").await?;
    game1.reload()?;
    println!("moved:  {old_line}  ->  {new_line}");
    println!("after:  db is {}", db.instance().await?);
    old_db.shutdown(Duration::from_secs(1)).await;

    // `db = false` (here from code, like `cluster.reload{db = false}`):
    // calls fail at once instead of waiting for a timeout.
    game1.reload_with(Config::new().with_disabled("db"));
    let err = db.instance().await.err().ok_or("db should be disabled")?;
    assert!(matches!(err.kind(), ErrorKind::Disabled));
    println!("disabled: {err}");

    // Back again: re-reading the file restores the address.
    game1.reload()?;
    println!("re-enabled: db is {}", db.instance().await?);

    game1.shutdown(Duration::from_secs(1)).await;
    new_db.shutdown(Duration::from_secs(1)).await;
    Ok(())
}
