//! Serde shapes that own what they hold (strings, byte strings, maps,
//! options, enums, `Bytes`), for decoding tests and the `bincode_decode`
//! fuzz target, which includes this file by path.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Mode {
    Duel,
    Team { size: u8, names: Vec<String> },
    Custom(String, #[serde(with = "serde_bytes")] Vec<u8>),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Room {
    pub id: u64,
    pub mode: Mode,
    pub players: Vec<(u32, String)>,
    pub scores: BTreeMap<String, i64>,
    pub note: Option<Box<str>>,
    pub blob: Bytes,
    pub unit: (),
    pub flag: Option<bool>,
}
