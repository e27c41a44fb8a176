//! `skycluster status`: probe every configured node and print a table.
//!
//! The probe is a name query (`cluster.query`) for a name nobody
//! registers: Lua Skynet and skycluster nodes both answer it, with an
//! error, which proves the node is up. The first query connects; the
//! round-trip time is that of a second one on the open connection.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use skycluster::{Cluster, ErrorKind, NodeAddr};

use crate::{chain, secret, Client, Failure};

/// A name no service registers.
const PROBE_NAME: &str = "__skycluster_status_probe";

enum State {
    Reachable(Duration),
    Unreachable(String),
    /// The node closed the connection: down, or asking for a secret.
    Dropped(String),
    Timeout,
    Disabled,
}

pub(crate) async fn run(client: &Client, json: bool) -> Result<ExitCode, Failure> {
    let (cluster, timeout) = (&client.cluster, client.timeout);
    let nodes: Vec<(String, NodeAddr)> = cluster
        .status()
        .nodes
        .into_iter()
        .map(|n| (n.name, n.address))
        .collect();
    if nodes.is_empty() {
        return Err(Failure::Usage("the config has no nodes".to_owned()));
    }
    // Probe all nodes at once, so the command takes one timeout, not one
    // per node.
    let probes: Vec<_> = nodes
        .iter()
        .map(|(name, addr)| {
            let cluster = cluster.clone();
            let name = name.clone();
            let addr = match addr {
                NodeAddr::At(addr) => Some(addr.clone()),
                NodeAddr::Disabled => None,
            };
            let secret = client.secret;
            tokio::spawn(async move {
                let Some(addr) = addr else {
                    return State::Disabled;
                };
                match tokio::time::timeout(timeout, probe(&cluster, &name)).await {
                    Ok(State::Dropped(why))
                        if !secret && secret::asks_for_secret(&addr, timeout).await =>
                    {
                        State::Unreachable(format!("{why}; {}", secret::hint(&name)))
                    }
                    Ok(State::Dropped(why)) => State::Unreachable(why),
                    Ok(state) => state,
                    Err(_) => State::Timeout,
                }
            })
        })
        .collect();
    let mut rows = vec![[
        "NODE".to_owned(),
        "ADDRESS".to_owned(),
        "STATE".to_owned(),
        "RTT".to_owned(),
        "DETAIL".to_owned(),
    ]];
    let mut all_up = true;
    for ((name, addr), probe) in nodes.into_iter().zip(probes) {
        let state = probe
            .await
            .unwrap_or_else(|e| State::Unreachable(format!("probe failed: {e}")));
        let (state, rtt, detail) = match state {
            State::Reachable(rtt) => ("reachable", Some(rtt), String::new()),
            State::Unreachable(why) | State::Dropped(why) => ("unreachable", None, why),
            State::Timeout => ("timeout", None, format!("no answer within {timeout:?}")),
            State::Disabled => ("disabled", None, String::new()),
        };
        all_up &= matches!(state, "reachable" | "disabled");
        let rtt_ms = rtt.map(|rtt| rtt.as_secs_f64() * 1000.0);
        if json {
            let row = serde_json::json!({
                "node": name,
                "address": addr.to_string(),
                "state": state,
                "rtt_ms": rtt_ms,
                "detail": detail,
            });
            println!("{row}");
        } else {
            let rtt = rtt_ms.map_or_else(|| "-".to_owned(), |ms| format!("{ms:.2} ms"));
            rows.push([name, addr.to_string(), state.to_owned(), rtt, detail]);
        }
    }
    if !json {
        print_table(&rows);
    }
    Ok(if all_up {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

async fn probe(cluster: &Cluster, node: &str) -> State {
    let mut rtt = Duration::ZERO;
    for _ in 0..2 {
        let started = Instant::now();
        match cluster.query_name(node, PROBE_NAME).await {
            // Any answer, even `name not found`, came from the node.
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::Remote { .. }) => {}
            Err(e) if e.is_timeout() => return State::Timeout,
            Err(e) if matches!(e.kind(), ErrorKind::Disconnected { .. }) => {
                return State::Dropped(chain(e.kind()))
            }
            Err(e) => return State::Unreachable(chain(e.kind())),
        }
        rtt = started.elapsed();
    }
    State::Reachable(rtt)
}

/// Left-aligned columns, two spaces apart; the last column is not padded.
fn print_table(rows: &[[String; 5]]) {
    let mut widths = [0; 5];
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in rows {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  "));
            }
        }
        println!("{}", line.trim_end());
    }
}
