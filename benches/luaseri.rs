//! lua-seri against bincode on a typical game message: a player's bag, ten
//! fields around an array of 50 small item structs.
//!
//! Run with `cargo bench -p benches --bench luaseri`. lua-seri carries
//! every field name (Lua reads tables by key), so it has more bytes to
//! write and match than bincode; the target is staying within 2x.

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde::{Deserialize, Serialize};
use skycluster::codec::luaseri;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Item {
    id: u32,
    kind: u16,
    count: u32,
    bound: bool,
    durability: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Bag {
    uid: u64,
    name: String,
    level: u16,
    exp: u64,
    gold: i64,
    vip: bool,
    x: f64,
    y: f64,
    guild: Option<String>,
    items: Vec<Item>,
}

fn bag() -> Bag {
    Bag {
        uid: 1_000_042,
        name: "Brave Adventurer".into(),
        level: 57,
        exp: 3_456_789,
        gold: 120_000,
        vip: true,
        x: 1024.5,
        y: -88.25,
        guild: Some("Knights of Lua".into()),
        items: (0..50u16)
            .map(|i| Item {
                id: 10_000 + u32::from(i) * 37,
                kind: i % 7,
                count: u32::from(i % 5) + 1,
                bound: i % 3 == 0,
                durability: 100.0 - f32::from(i),
            })
            .collect(),
    }
}

fn bench(c: &mut Criterion) {
    let msg = bag();
    let lua = luaseri::to_vec(&msg).expect("lua-seri encodes");
    let config = bincode::config::standard();
    let bin = bincode::serde::encode_to_vec(&msg, config).expect("bincode encodes");
    assert_eq!(
        luaseri::from_slice::<Bag>(&lua).expect("lua-seri decodes"),
        msg
    );

    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(1));
    group.bench_function("luaseri", |b| b.iter(|| luaseri::to_vec(black_box(&msg))));
    group.bench_function("luaseri_reused_buffer", |b| {
        let mut buf = Vec::with_capacity(lua.len());
        b.iter(|| {
            buf.clear();
            luaseri::write(&mut buf, black_box(&msg)).map(|()| buf.len())
        })
    });
    group.bench_function("bincode", |b| {
        b.iter(|| bincode::serde::encode_to_vec(black_box(&msg), config))
    });
    group.finish();

    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(1));
    group.bench_function("luaseri", |b| {
        b.iter(|| luaseri::from_slice::<Bag>(black_box(&lua)))
    });
    group.bench_function("luaseri_value", |b| {
        b.iter(|| luaseri::unpack(black_box(&lua)))
    });
    group.bench_function("bincode", |b| {
        b.iter(|| bincode::serde::decode_from_slice::<Bag, _>(black_box(&bin), config))
    });
    group.finish();

    eprintln!(
        "message size: lua-seri {} bytes, bincode {} bytes",
        lua.len(),
        bin.len()
    );
    let encode = interleaved_ratio(
        || drop(black_box(luaseri::to_vec(black_box(&msg)))),
        || {
            drop(black_box(bincode::serde::encode_to_vec(
                black_box(&msg),
                config,
            )))
        },
    );
    let decode = interleaved_ratio(
        || drop(black_box(luaseri::from_slice::<Bag>(black_box(&lua)))),
        || {
            let decoded = bincode::serde::decode_from_slice::<Bag, _>(black_box(&bin), config);
            drop(black_box(decoded));
        },
    );
    eprintln!("interleaved, lua-seri time / bincode time: encode {encode}, decode {decode}");
}

/// The ratio of `lua`'s time to `bin`'s, measured in alternating short
/// rounds so that both see the same machine: on a shared machine the
/// sequential criterion groups above can land in quieter or busier
/// stretches. Reports the median round and the middle 80 %.
fn interleaved_ratio(mut lua: impl FnMut(), mut bin: impl FnMut()) -> String {
    const ROUNDS: usize = 301;
    const PER_ROUND: u32 = 200;
    let time = |f: &mut dyn FnMut()| {
        let start = Instant::now();
        for _ in 0..PER_ROUND {
            f();
        }
        start.elapsed().as_secs_f64()
    };
    let mut ratios: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let l = time(&mut lua);
            let b = time(&mut bin);
            l / b
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    let at = |q: f64| ratios[((ROUNDS - 1) as f64 * q) as usize];
    format!("{:.2}x (p10 {:.2}, p90 {:.2})", at(0.5), at(0.1), at(0.9))
}

criterion_group!(benches, bench);
criterion_main!(benches);
