//! `Arena`: a `codec = lua` service with every type a Lua stub expresses,
//! shared by `lua_stubs.rs` (whose golden file is `arena.lua` here) and
//! `skynet_stubs.rs` (which calls it from a real Lua node through that
//! stub).

#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use skycluster::codec::luaseri::{Value, Values};
use skycluster::HandlerError;

/// A game mode: an enum with a variant of every kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Mode {
    Duel,
    Team(u8),
    Custom(u8, u8),
    Ranked { tier: u8, season: u16 },
}

/// A newtype: its inner value on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RoomId(pub u32);

/// A tuple struct: an array.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point(pub i32, pub i32);

/// A unit struct: nil.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Nothing;

/// A struct: a table with keys.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Room {
    pub id: RoomId,
    pub mode: Mode,
    pub players: Vec<u64>,
    pub owner: Option<String>,
    pub scores: BTreeMap<String, i64>,
    pub spawn: Point,
    pub ratio: f64,
    pub open: bool,
}

/// A recursive enum whose first variant holds itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Chain {
    Link {
        value: i64,
        next: Box<Option<Chain>>,
    },
    End,
}

/// Why a room was not made: the `err` of `nil, err`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum RoomError {
    Full,
    NoSuchMode(String),
}

/// Rooms of a game server, for Lua callers.
#[skycluster::service(codec = lua)]
pub trait Arena {
    /// A room for `players` (at most four), or `nil, err`.
    async fn create_room(
        &self,
        mode: Mode,
        players: Vec<u64>,
        owner: Option<String>,
    ) -> Result<Room, RoomError>;
    /// The room `id`, or nil.
    async fn room(&self, id: RoomId) -> Option<Room>;
    /// The integers summed.
    async fn sum(&self, a: i8, b: i16, c: i32, d: i64, e: u8, f: u16) -> i64;
    /// `g + h`, `x + y`, `not flag` and `letter` twice: four values.
    async fn mixed(
        &self,
        g: u32,
        h: u64,
        x: f32,
        y: f64,
        flag: bool,
        letter: char,
    ) -> (u64, f64, bool, String);
    /// The bytes reversed.
    async fn blob(&self, data: Bytes) -> Bytes;
    /// The counts summed.
    async fn tally(&self, counts: HashMap<String, u32>) -> u32;
    /// Both corners, then `(pair.1, length of pair.0)`.
    async fn corners(&self, square: [Point; 2], pair: (String, u8)) -> Vec<Point>;
    /// How many links the chain has.
    async fn length(&self, chain: Chain) -> u32;
    /// `cmd`, then the other arguments reversed.
    async fn route(&self, cmd: String, rest: Values) -> Values;
    /// Adds `player` to room `id` and returns how many it has; raises when
    /// there is no such room.
    async fn join(&self, id: RoomId, player: u64) -> Result<u32, HandlerError>;
    /// Nothing back.
    async fn mark(&self, _: Nothing) -> Nothing;
    /// Any Lua value back.
    async fn anything(&self, v: Value) -> Value;
    /// Recorded on the Rust side; nothing comes back.
    #[push]
    async fn note(&self, text: String);
}
