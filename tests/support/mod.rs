//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

pub mod fault_proxy;
pub mod node;
pub mod process;
pub mod raw;
pub mod run;
pub mod services;
pub mod shapes;
pub mod skynet;
pub mod strategies;

use std::path::PathBuf;

/// The directory of the recorded Skynet vectors: `SKYCLUSTER_VECTORS`, or
/// the copy vendored in `tests/vectors`.
pub fn vectors_dir() -> PathBuf {
    match std::env::var_os("SKYCLUSTER_VECTORS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/vectors")),
    }
}

/// Reads one vector file as a JSON array.
pub fn load_vectors(file: &str) -> Vec<serde_json::Value> {
    let path = vectors_dir().join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read vectors {}: {e}", path.display()));
    let value: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    match value {
        serde_json::Value::Array(entries) => entries,
        _ => panic!("{} is not a JSON array", path.display()),
    }
}

/// Decodes a hex string from a vector.
pub fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap_or_else(|e| panic!("bad hex in vector: {e}"))
}
