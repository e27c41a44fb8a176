//! The per-call CPU work below the runtime: frames and codecs, for the
//! small messages most calls are.
//!
//! Run with `cargo bench -p benches --bench wire`.
//!
//! * `frame/*`: a request frame written into a reused buffer and read
//!   back through the agent's decoder; a reply frame the same way through
//!   the sender's. The call is addressed by name (`@Echo`), as the
//!   comparison's client does, and by handle.
//! * `codec/*`: what `#[service]` code does with a call to
//!   `echo(data: Bytes) -> Bytes` carrying 16 bytes: the client's
//!   `encode_call` and `decode_reply`, the server's `decode_method`,
//!   `decode_args` and `encode_reply`, with bincode and with lua-seri.

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use skycluster::codec::{Bincode, Codec, Lua};
use skycluster::wire::{encode_ok, encode_request, Address, ReplyDecoder, RequestDecoder, Session};
use tokio_util::codec::Decoder;

/// What the bench's echo carries.
fn small() -> Bytes {
    Bytes::from_static(b"0123456789abcdef")
}

fn frames(c: &mut Criterion) {
    let name: Address = "@Echo".parse().expect("a valid name");
    let handle = Address::Handle(10);
    let payload = Bincode::encode_call("echo", &(small(),)).expect("encodes");

    let mut group = c.benchmark_group("frame");
    group.throughput(Throughput::Elements(1));
    for (label, address) in [("name", &name), ("handle", &handle)] {
        group.bench_function(format!("encode_request_{label}"), |b| {
            let mut out = BytesMut::with_capacity(4096);
            b.iter(|| {
                out.clear();
                encode_request(
                    &mut out,
                    black_box(address),
                    Session::FIRST,
                    payload.clone(),
                )
            })
        });
        let mut one = BytesMut::new();
        encode_request(&mut one, address, Session::FIRST, payload.clone()).expect("encodes");
        let one = one.freeze();
        group.bench_function(format!("decode_request_{label}"), |b| {
            let mut decoder = RequestDecoder::default();
            b.iter_batched_ref(
                || BytesMut::from(&one[..]),
                |src| decoder.decode(src),
                BatchSize::SmallInput,
            )
        });
    }
    let reply = Bincode::encode_reply(&small()).expect("encodes");
    group.bench_function("encode_reply", |b| {
        let mut out = BytesMut::with_capacity(4096);
        b.iter(|| {
            out.clear();
            encode_ok(&mut out, black_box(7), reply.clone())
        })
    });
    let mut one = BytesMut::new();
    encode_ok(&mut one, 7, reply.clone()).expect("encodes");
    let one = one.freeze();
    group.bench_function("decode_reply", |b| {
        let mut decoder = ReplyDecoder::default();
        b.iter_batched_ref(
            || BytesMut::from(&one[..]),
            |src| decoder.decode(src),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn codec<C: Codec>(c: &mut Criterion, name: &str) {
    let data = small();
    let call = C::encode_call("echo", &(data.clone(),)).expect("encodes");
    let (_, args) = C::decode_method(&call).expect("has a method");
    let args = args.to_vec();
    let reply = C::encode_reply(&data).expect("encodes");
    assert_eq!(C::decode_reply::<Bytes>(&reply).expect("decodes"), data);

    let mut group = c.benchmark_group(format!("codec_{name}"));
    group.throughput(Throughput::Elements(1));
    group.bench_function("encode_call", |b| {
        b.iter(|| C::encode_call("echo", &(black_box(data.clone()),)))
    });
    group.bench_function("decode_method", |b| {
        b.iter(|| C::decode_method(black_box(&call)).map(|(m, a)| (m.len(), a.len())))
    });
    group.bench_function("decode_args", |b| {
        b.iter(|| C::decode_args::<(Bytes,)>(black_box(&args)))
    });
    group.bench_function("encode_reply", |b| {
        b.iter(|| C::encode_reply(black_box(&data)))
    });
    group.bench_function("decode_reply", |b| {
        b.iter(|| C::decode_reply::<Bytes>(black_box(&reply)))
    });
    group.finish();
    eprintln!(
        "{name}: call payload {} bytes, reply payload {} bytes",
        call.len(),
        reply.len()
    );
}

fn codecs(c: &mut Criterion) {
    codec::<Bincode>(c, "bincode");
    codec::<Lua>(c, "lua");
}

criterion_group!(benches, frames, codecs);
criterion_main!(benches);
