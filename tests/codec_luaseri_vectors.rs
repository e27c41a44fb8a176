//! lua-seri conformance: every entry of the golden `luaseri.json` that a
//! real Skynet node produced is a case, whatever its name.
//!
//! The vectors are vendored in `tests/vectors` (see `support::vectors_dir`);
//! set `SKYCLUSTER_VECTORS` to read them from elsewhere.
//!
//! Per entry, by `expect`:
//! * `values`: decoding the bytes gives `values` (tables compared as maps,
//!   floats by bits, any NaN equal to any NaN), through both `unpack` and
//!   the serde `Deserializer`; where `repack_identical` is true, packing
//!   gives the bytes back. An entry without `hex` (a long string) has its
//!   bytes rebuilt from `values` and checked against `length`,
//!   `first16_hex` and both sha256 fields before use.
//! * `unpack_error`: decoding fails, with an offset inside the buffer.
//! * `pack_error`: packing `pack_values` fails (too deep), through `pack`
//!   and through serde.
//! * `lua_only_pack_error`: a function, thread or full userdata. `Value`
//!   has no variant for them and no Rust type serializes to one, so there
//!   is nothing to encode; the entry must carry Skynet's `error`.
//! * `values_not_given`: decoding succeeds.

use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};
use skycluster::codec::luaseri::{
    self, pack, unpack, Deserializer, Error, ErrorKind, Table, Value,
};

mod support;

fn vectors_path() -> PathBuf {
    support::vectors_dir().join("luaseri.json")
}

fn load() -> Vec<Json> {
    let path = vectors_path();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).expect("luaseri.json is a JSON array")
}

/// The string the vector generator uses for long strings: "0123456789abcdef"
/// repeated and cut to `n` bytes (stated in the vectors' `str_31` input).
fn pattern(n: usize) -> Vec<u8> {
    b"0123456789abcdef"
        .iter()
        .copied()
        .cycle()
        .take(n)
        .collect()
}

/// A Lua value in the vectors' JSON notation.
fn from_json(j: &Json) -> Result<Value, String> {
    let obj = j.as_object().ok_or_else(|| format!("not an object: {j}"))?;
    let (kind, arg) = obj
        .iter()
        .find(|(k, _)| *k != "str")
        .ok_or_else(|| format!("empty value: {j}"))?;
    Ok(match kind.as_str() {
        "nil" => Value::Nil,
        "bool" => Value::Boolean(arg.as_bool().ok_or("bool is not a boolean")?),
        "int" => {
            let s = arg.as_str().ok_or("int is not a string")?;
            Value::Integer(s.parse().map_err(|e| format!("int {s}: {e}"))?)
        }
        "float" => Value::Real(parse_float(arg.as_str().ok_or("float is not a string")?)?),
        "str_hex" => Value::String(
            hex::decode(arg.as_str().ok_or("str_hex is not a string")?)
                .map_err(|e| e.to_string())?,
        ),
        "str_len" => {
            let n = arg.as_u64().ok_or("str_len is not a number")?;
            Value::String(pattern(usize::try_from(n).map_err(|e| e.to_string())?))
        }
        "table" => {
            let pairs = arg.as_array().ok_or("table is not an array")?;
            let mut kv = Vec::new();
            for pair in pairs {
                match pair.as_array().map(Vec::as_slice) {
                    Some([k, v]) => kv.push((from_json(k)?, from_json(v)?)),
                    _ => return Err(format!("bad table pair {pair}")),
                }
            }
            Value::Table(as_skynet_would_pack(kv))
        }
        other => return Err(format!("unknown value kind {other}")),
    })
}

/// Lays out sorted pairs the way Skynet packs a plain table: keys 1..n in
/// the array part (n being the border), the rest as pairs.
fn as_skynet_would_pack(pairs: Vec<(Value, Value)>) -> Table {
    let mut t = Table::new();
    let mut rest = Vec::new();
    for (k, v) in pairs {
        let next = i64::try_from(t.array.len()).expect("small table") + 1;
        if rest.is_empty() && k == Value::Integer(next) {
            t.array.push(v);
        } else {
            rest.push((k, v));
        }
    }
    t.hash = rest;
    t
}

fn parse_float(s: &str) -> Result<f64, String> {
    match s {
        "nan" => Ok(f64::NAN),
        "-nan" => Ok(-f64::NAN),
        "inf" => Ok(f64::INFINITY),
        "-inf" => Ok(f64::NEG_INFINITY),
        _ => s.parse().map_err(|e| format!("float {s}: {e}")),
    }
}

/// Exact comparison: floats by bits (any NaN matches any NaN), tables as
/// maps of their live keys.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Real(x), Value::Real(y)) => {
            x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
        }
        (Value::Table(x), Value::Table(y)) => {
            let (x, y) = (live(x), live(y));
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.iter().any(|(k2, v2)| same(k, k2) && same(v, v2)))
        }
        _ => a == b,
    }
}

/// A table's pairs as Lua holds them after unpacking.
fn live(t: &Table) -> Vec<(Value, Value)> {
    let mut out: Vec<(Value, Value)> = Vec::new();
    let index = (1..).map(Value::Integer);
    for (k, v) in index
        .zip(t.array.iter().cloned())
        .chain(t.hash.iter().cloned())
    {
        let k = match k {
            Value::Real(x) if x.fract() == 0.0 && x.abs() < 9.2e18 => Value::Integer(x as i64),
            k => k,
        };
        out.retain(|(k2, _)| !same(&k, k2));
        if !v.is_nil() {
            out.push((k, v));
        }
    }
    out
}

fn all_same(a: &[Value], b: &[Value]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
}

/// Decodes through the serde `Deserializer`, value by value.
fn serde_unpack(bytes: &[u8]) -> Result<Vec<Value>, Error> {
    let mut de = Deserializer::from_slice(bytes);
    let mut out = Vec::new();
    while de.end().is_err() {
        out.push(Value::deserialize(&mut de)?);
    }
    Ok(out)
}

fn has_many_pairs(v: &Value) -> bool {
    match v {
        Value::Table(t) => {
            t.hash.len() > 1
                || t.array.iter().any(has_many_pairs)
                || t.hash
                    .iter()
                    .any(|(k, v)| has_many_pairs(k) || has_many_pairs(v))
        }
        _ => false,
    }
}

fn values_of(entry: &Json, field: &str) -> Result<Vec<Value>, String> {
    entry
        .get(field)
        .and_then(Json::as_array)
        .ok_or_else(|| format!("no `{field}` array"))?
        .iter()
        .map(from_json)
        .collect()
}

fn hex_of(entry: &Json) -> Result<Vec<u8>, String> {
    let h = entry.get("hex").and_then(Json::as_str).ok_or("no `hex`")?;
    hex::decode(h).map_err(|e| e.to_string())
}

fn field_str<'a>(entry: &'a Json, name: &str) -> Option<&'a str> {
    entry.get(name).and_then(Json::as_str)
}

/// Checks the long-value fields that are present against `bytes`.
fn check_digests(entry: &Json, bytes: &[u8]) -> Result<(), String> {
    if let Some(len) = entry.get("length").and_then(Json::as_u64) {
        if bytes.len() as u64 != len {
            return Err(format!("length {} != {len}", bytes.len()));
        }
    }
    if let Some(first) = field_str(entry, "first16_hex") {
        let got = hex::encode(&bytes[..bytes.len().min(16)]);
        if got != first {
            return Err(format!("first16 {got} != {first}"));
        }
    }
    if let Some(sha) = field_str(entry, "sha256_of_bytes") {
        let got = hex::encode(Sha256::digest(bytes));
        if got != sha {
            return Err(format!("sha256_of_bytes {got} != {sha}"));
        }
    }
    if let Some(sha) = field_str(entry, "sha256_of_hex") {
        let got = hex::encode(Sha256::digest(hex::encode(bytes).as_bytes()));
        if got != sha {
            return Err(format!("sha256_of_hex {got} != {sha}"));
        }
    }
    Ok(())
}

fn check_values(entry: &Json) -> Result<(), String> {
    let expected = values_of(entry, "values")?;
    let bytes = match hex_of(entry) {
        Ok(bytes) => bytes,
        // A long value given by digest only: rebuild it, and trust it only
        // once it matches every digest.
        Err(_) => pack(&expected).map_err(|e| format!("packing values: {e}"))?,
    };
    check_digests(entry, &bytes)?;

    let decoded = unpack(&bytes).map_err(|e| format!("unpack: {e}"))?;
    if !all_same(&decoded, &expected) {
        return Err(format!("unpack gave {decoded:?}, expected {expected:?}"));
    }
    let via_serde = serde_unpack(&bytes).map_err(|e| format!("serde: {e}"))?;
    if !all_same(&via_serde, &expected) {
        return Err(format!("serde gave {via_serde:?}, expected {expected:?}"));
    }

    if entry.get("repack_identical").and_then(Json::as_bool) == Some(true) {
        let repacked = pack(&decoded).map_err(|e| format!("repack: {e}"))?;
        if repacked != bytes {
            return Err(format!(
                "repack of decoded values gave {}",
                hex::encode(repacked)
            ));
        }
        let packed = pack(&expected).map_err(|e| format!("pack: {e}"))?;
        // With several pairs in one table, the wire order is Lua's `next`
        // order, which the sorted `values` can't give back.
        if !expected.iter().any(has_many_pairs) && packed != bytes {
            return Err(format!("pack of values gave {}", hex::encode(packed)));
        }
        if expected.len() == 1 {
            let via_serde = luaseri::to_vec(&expected[0]).map_err(|e| format!("to_vec: {e}"))?;
            let back = unpack(&via_serde).map_err(|e| format!("unpack(to_vec): {e}"))?;
            if !all_same(&back, &expected) {
                return Err(format!("to_vec gave {}", hex::encode(via_serde)));
            }
        }
    }
    Ok(())
}

fn check_unpack_error(entry: &Json) -> Result<(), String> {
    let bytes = hex_of(entry)?;
    match unpack(&bytes) {
        Ok(values) => return Err(format!("unpack accepted it: {values:?}")),
        Err(e) => match e.offset() {
            Some(offset) if offset <= bytes.len() => {}
            _ => return Err(format!("error without an offset in the buffer: {e}")),
        },
    }
    if let Ok(values) = serde_unpack(&bytes) {
        return Err(format!("serde accepted it: {values:?}"));
    }
    Ok(())
}

fn check_pack_error(entry: &Json) -> Result<(), String> {
    let values = values_of(entry, "pack_values")?;
    match pack(&values).map_err(Error::into_kind) {
        Err(ErrorKind::TooDeepToPack { .. }) => {}
        other => return Err(format!("pack gave {other:?}")),
    }
    match values
        .iter()
        .map(luaseri::to_vec)
        .collect::<Result<Vec<_>, _>>()
        .map_err(Error::into_kind)
    {
        Err(ErrorKind::TooDeepToPack { .. }) => {}
        other => return Err(format!("serde gave {other:?}")),
    }
    Ok(())
}

fn check_lua_only(entry: &Json) -> Result<(), String> {
    match field_str(entry, "error") {
        Some(e) if !e.is_empty() => Ok(()),
        _ => Err("a Lua-only pack error needs Skynet's `error`".into()),
    }
}

fn check_decodes(entry: &Json) -> Result<(), String> {
    let bytes = hex_of(entry)?;
    let values = unpack(&bytes).map_err(|e| format!("unpack: {e}"))?;
    serde_unpack(&bytes).map_err(|e| format!("serde: {e}"))?;
    if values.is_empty() {
        return Err("no values".into());
    }
    Ok(())
}

#[test]
fn every_luaseri_vector_holds() {
    let entries = load();
    assert!(
        !entries.is_empty(),
        "no vectors in {}",
        vectors_path().display()
    );
    let mut failures = Vec::new();
    for entry in &entries {
        let name = field_str(entry, "name").unwrap_or("<unnamed>");
        let result = match field_str(entry, "expect") {
            Some("values") => check_values(entry),
            Some("unpack_error") => check_unpack_error(entry),
            Some("pack_error") => check_pack_error(entry),
            Some("lua_only_pack_error") => check_lua_only(entry),
            Some("values_not_given") => check_decodes(entry),
            other => Err(format!("unknown expect {other:?}")),
        };
        if let Err(e) = result {
            failures.push(format!("{name}: {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} vectors failed:\n{}",
        failures.len(),
        entries.len(),
        failures.join("\n")
    );
    eprintln!("{} lua-seri vectors hold", entries.len());
}
