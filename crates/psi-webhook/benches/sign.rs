//! Cost of signing and verifying one webhook delivery (a typical 4.1 request body) with each
//! scheme (X-Body-Signature, Bearer RS256 and HS256, Standard Webhooks): `cargo bench -p psi-webhook --bench sign`.
//! Add `--features openssl` to sign RSA with OpenSSL, as psi-server does; the RSA signing
//! benchmarks are named after the backend (`x-body-signature/sign/rsa`, `bearer/rs256/sign/openssl`), so criterion keeps
//! the two apart.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use psi_webhook::{
    Claims, DEFAULT_TOLERANCE, PrivateKey, SharedSecret, Signer, UnixTime, Validation, Verifier,
    WebhookHeaders,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct Vectors {
    rsa_private_key_pkcs8_pem: String,
    sha_secret_base64: String,
}

const BODY: &[u8] = br#"{"publicServiceDid":"9s57yZDBqwfZHdodKXTjKH","subscriberConnectDid":"3VwTuqFTwPXMT9w5VoRmXM","actionId":"101","actionInstanceId":"inst-1","actionEventId":"evt-1","actionParams":[{"name":"lang","value":"en"}],"receivedCredentials":[]}"#;
const DID: &str = "9s57yZDBqwfZHdodKXTjKH";
/// What signs RSA in this build (verifying is always `rsa`).
const RSA_BACKEND: &str = if cfg!(feature = "openssl") {
    "openssl"
} else {
    "rsa"
};

fn bench(c: &mut Criterion) {
    let v: Vectors =
        serde_json::from_str(include_str!("../../../vectors/signatures.json")).unwrap();
    let key = PrivateKey::from_pem(&v.rsa_private_key_pkcs8_pem).unwrap();
    let secret = SharedSecret::from_base64(&v.sha_secret_base64).unwrap();
    let rsa = (Signer::rsa(key.clone()), Verifier::rsa(key.public_key()));
    let hs = (
        Signer::shared_secret(secret.clone()),
        Verifier::shared_secret(secret),
    );
    let now = UnixTime::from_secs(1_700_000_000);
    let claims = Claims::new(now)
        .with_issuer(DID)
        .with_jwt_id("delivery-1")
        .with_body(BODY);

    let mut group = c.benchmark_group("x-body-signature");
    group.throughput(Throughput::Bytes(BODY.len() as u64));
    let (_, signature) = rsa.0.signature_header(BODY).unwrap();
    group.bench_function(format!("sign/{RSA_BACKEND}"), |b| {
        b.iter(|| rsa.0.signature_header(black_box(BODY)).unwrap())
    });
    group.bench_function("verify", |b| {
        b.iter(|| {
            rsa.1
                .verify_signature(black_box(BODY), Some(&signature))
                .unwrap()
        })
    });
    group.finish();

    let mut group = c.benchmark_group("bearer");
    let rs256_sign = format!("rs256/sign/{RSA_BACKEND}");
    for (sign, verify, (signer, verifier)) in [
        (rs256_sign.as_str(), "rs256/verify", &rsa),
        ("hs256/sign", "hs256/verify", &hs),
    ] {
        let token = signer.bearer_token(&claims).unwrap();
        group.bench_function(sign, |b| {
            b.iter(|| signer.bearer_token(black_box(&claims)).unwrap())
        });
        group.bench_function(verify, |b| {
            b.iter(|| {
                verifier
                    .verify_bearer(black_box(&token), BODY, &Validation::new(), now)
                    .unwrap()
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("standard-webhooks");
    group.throughput(Throughput::Bytes(BODY.len() as u64));
    let signature =
        hs.0.standard_webhooks_signature("msg_1", now, BODY)
            .unwrap();
    let timestamp = now.as_secs().to_string();
    let headers = WebhookHeaders {
        id: Some("msg_1"),
        timestamp: Some(&timestamp),
        signature: Some(&signature),
    };
    group.bench_function("sign", |b| {
        b.iter(|| {
            hs.0.standard_webhooks_signature("msg_1", now, black_box(BODY))
                .unwrap()
        })
    });
    group.bench_function("verify", |b| {
        b.iter(|| {
            hs.1.verify_standard_webhooks(&headers, black_box(BODY), now, DEFAULT_TOLERANCE)
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
