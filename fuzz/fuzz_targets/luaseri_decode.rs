//! Decodes arbitrary bytes as lua-seri, as `Value`s and through serde into
//! a few typed shapes. Nothing may panic; whatever decodes must re-encode
//! without panicking, repack to bytes that decode to the same values, and
//! print as a Lua literal that parses back to the same value. The bytes
//! are also read as a Lua reply (`Lua::decode_reply`).
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use serde::{Deserialize, Serialize};
use skycluster::codec::luaseri::{self, Value};
use skycluster::codec::{Codec, Lua};

#[derive(Debug, Serialize, Deserialize)]
struct Item<'a> {
    id: u32,
    name: &'a str,
    tags: Vec<String>,
    extra: Option<Value>,
}

#[derive(Debug, Serialize, Deserialize)]
enum Shape {
    Empty,
    Circle(f64),
    Rect(i32, i32),
    Poly {
        points: Vec<(i16, i16)>,
        closed: bool,
    },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum Loose {
    Num(i64),
    Text(String),
    List(Vec<Option<i64>>),
}

#[derive(Debug, Serialize, Deserialize)]
struct Message<'a> {
    uid: u64,
    #[serde(borrow)]
    items: Vec<Item<'a>>,
    shape: Shape,
    map: HashMap<String, i64>,
    blob: &'a [u8],
    loose: Loose,
    pair: (u8, Option<f32>),
}

fuzz_target!(|data: &[u8]| {
    if let Ok(values) = luaseri::unpack(data) {
        // Decoded values nested past the pack limit are refused, not packed.
        if let Ok(bytes) = luaseri::pack(&values) {
            let again = luaseri::unpack(&bytes).expect("repacked bytes decode");
            assert_eq!(again, values);
        }
        for v in &values {
            let text = v.to_string();
            let parsed: Value = text.parse().expect("a printed value parses");
            assert_eq!(&parsed, v, "{text}");
        }
    }
    if let Ok(v) = luaseri::from_slice::<Value>(data) {
        let _ = luaseri::to_vec(&v);
    }
    if let Ok(m) = luaseri::from_slice::<Message<'_>>(data) {
        let _ = luaseri::to_vec(&m);
    }
    if let Ok(shapes) = luaseri::from_slice::<Vec<Shape>>(data) {
        let _ = luaseri::to_vec(&shapes);
    }
    if let Ok(args) = luaseri::from_slice_multi::<(String, Option<i64>, Vec<Value>)>(data) {
        let _ = luaseri::to_vec_multi(&args);
    }
    let _ = luaseri::from_slice::<serde::de::IgnoredAny>(data);
    // The same bytes as a Lua function's return values, as a Rust caller
    // reads a Lua node's reply: a tuple, a `nil, err` result, one value.
    let _ = Lua::decode_reply::<(u32, Option<String>, Vec<Value>)>(data);
    let _ = Lua::decode_reply::<Result<Shape, String>>(data);
    let _ = Lua::decode_reply::<Value>(data);
});
