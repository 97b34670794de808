//! Encode and decode speed on the protocol vectors. Run: `cargo bench -p psi-link --bench codec`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use psi_link::{Environment, LinkKind, LinkRequest, LinkTarget, decode, encode};

struct Vector {
    request: LinkRequest,
    env: Environment,
    app_link: String,
    standard_base64_app_link: String,
}

fn vectors() -> Vec<Vector> {
    let file: serde_json::Value =
        serde_json::from_str(include_str!("../../../vectors/links.json")).unwrap();
    let text = |v: &serde_json::Value, key: &str| v[key].as_str().unwrap().to_owned();
    file["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| Vector {
            request: serde_json::from_value(v["payload"].clone()).unwrap(),
            env: text(v, "env").parse().unwrap(),
            app_link: text(v, "app_link"),
            standard_base64_app_link: text(v, "standard_base64_app_link"),
        })
        .collect()
}

fn codec(c: &mut Criterion) {
    let vectors = vectors();
    // The first vector (two pre-filled attributes and a callback) is the typical link.
    let typical = &vectors[0];
    let target = LinkTarget::env(typical.env);

    c.bench_function("decode/typical", |b| {
        b.iter(|| decode(black_box(&typical.app_link)).unwrap())
    });
    c.bench_function("decode/typical_standard_base64", |b| {
        b.iter(|| decode(black_box(&typical.standard_base64_app_link)).unwrap())
    });
    c.bench_function("validate/typical", |b| {
        b.iter(|| black_box(&typical.request).validate().unwrap())
    });
    c.bench_function("encode/typical", |b| {
        b.iter(|| encode(black_box(&typical.request), &target, LinkKind::App).unwrap())
    });

    let mut all = c.benchmark_group("all_vectors");
    all.throughput(Throughput::Elements(vectors.len() as u64));
    all.bench_function("decode", |b| {
        b.iter(|| {
            for v in &vectors {
                black_box(decode(black_box(&v.app_link)).unwrap());
            }
        })
    });
    let targets: Vec<LinkTarget> = vectors.iter().map(|v| LinkTarget::env(v.env)).collect();
    all.bench_function("encode", |b| {
        b.iter(|| {
            for (v, t) in vectors.iter().zip(&targets) {
                black_box(encode(black_box(&v.request), t, LinkKind::App).unwrap());
            }
        })
    });
    all.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
