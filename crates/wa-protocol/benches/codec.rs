#![allow(missing_docs)] // criterion macros generate undocumented items
//! Codec benchmarks: binary node encode/decode of a typical message stanza, and Noise transport
//! frame seal (encrypt + frame) and open (deframe + decrypt).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use rand::rngs::StdRng;
use rand::SeedableRng;
use wa_protocol::binary::{marshal, sample_message_stanza, unmarshal, Limits};
use wa_protocol::noise::{
    build_cert_chain, encode_frame, FrameDecoder, Initiator, Responder, TransportCipher, TrustRoot,
    MAX_FRAME_LEN,
};
use wa_protocol::signal::KeyPair;

fn node_codec(c: &mut Criterion) {
    let node = sample_message_stanza();
    let bytes = marshal(&node).expect("encodes");
    let limits = Limits::default();
    let mut group = c.benchmark_group("node");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("encode_message_stanza", |b| {
        b.iter(|| marshal(black_box(&node)).expect("encodes"))
    });
    group.bench_function("decode_message_stanza", |b| {
        b.iter(|| unmarshal(black_box(&bytes), &limits).expect("decodes"))
    });
    group.finish();
}

/// A client and server transport pair from a real handshake.
fn transports() -> (TransportCipher, TransportCipher) {
    let mut rng = StdRng::seed_from_u64(9);
    let root = KeyPair::generate(&mut rng);
    let inter = KeyPair::generate(&mut rng);
    let server_static = KeyPair::generate(&mut rng);
    let now = 1_800_000_000;
    let chain = build_cert_chain(
        &root,
        &inter,
        &server_static.public,
        now - 1,
        now + 1,
        &mut rng,
    );
    let (client, hello) = Initiator::start(KeyPair::generate(&mut rng));
    let (server, server_hello) = Responder::start(server_static, chain)
        .read_client_hello(&hello, KeyPair::generate(&mut rng))
        .expect("hello");
    let client = client
        .read_server_hello(&server_hello, &TrustRoot::new(root.public), now)
        .expect("server hello");
    let (c, finish) = client
        .write_client_finish(&KeyPair::generate(&mut rng), b"")
        .expect("finish");
    let s = server.read_client_finish(&finish).expect("client finish");
    (c, s.transport)
}

fn frame_crypto(c: &mut Criterion) {
    let plaintext = marshal(&sample_message_stanza()).expect("encodes");
    let (mut client, mut server) = transports();
    let mut group = c.benchmark_group("frame");
    group.throughput(Throughput::Bytes(plaintext.len() as u64));
    group.bench_function("seal", |b| {
        let mut out = Vec::with_capacity(plaintext.len() + 64);
        b.iter(|| {
            out.clear();
            let sealed = client.seal(black_box(&plaintext)).expect("seal");
            encode_frame(&sealed, &mut out).expect("frame");
        })
    });
    // Open needs ciphertexts in counter order: pre-seal a batch per iteration batch.
    group.bench_function("open", |b| {
        b.iter_batched(
            || {
                let mut wire = Vec::new();
                let sealed = server.seal(&plaintext).expect("seal");
                encode_frame(&sealed, &mut wire).expect("frame");
                wire
            },
            |wire| {
                let mut decoder = FrameDecoder::for_client(MAX_FRAME_LEN);
                decoder.push(&wire);
                let mut frame = decoder.next_frame().expect("frame").expect("whole");
                client.open_in_place(&mut frame).expect("open");
                frame
            },
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, node_codec, frame_crypto);
criterion_main!(benches);
