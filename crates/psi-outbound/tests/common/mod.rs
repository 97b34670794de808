//! Real HTTP servers on loopback for the integration tests, each counting the requests it got.
#![allow(dead_code)] // each test binary uses its own subset

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use psi_outbound::{AllowedHost, OutboundClient, OutboundPolicy};

/// A server on a port of its own, serving `router`.
pub struct TestServer {
    pub addr: SocketAddr,
    hits: Arc<AtomicUsize>,
}

impl TestServer {
    /// Starts `router` on 127.0.0.1, port chosen by the system.
    pub async fn start(router: Router) -> Self {
        Self::start_on("127.0.0.1:0", router)
            .await
            .expect("bind 127.0.0.1")
    }

    /// Starts `router` on `bind`; `None` when the address cannot be bound (no IPv6 here).
    pub async fn start_on(bind: &str, router: Router) -> Option<Self> {
        let listener = tokio::net::TcpListener::bind(bind).await.ok()?;
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        let app = router.layer(middleware::from_fn(move |req: Request, next: Next| {
            counter.fetch_add(1, Ordering::SeqCst);
            next.run(req)
        }));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Some(Self { addr, hits })
    }

    /// `http://<addr><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// How many requests reached the server.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// An exception admitting exactly this server's socket address.
    pub fn exception(&self) -> AllowedHost {
        self.addr.to_string().parse().unwrap()
    }
}

/// The default policy plus exceptions for exactly these servers' socket addresses: the guard
/// stays on for every other address, the rest of loopback included.
pub fn policy_admitting(servers: &[&TestServer]) -> OutboundPolicy {
    OutboundPolicy {
        allowed_hosts: servers.iter().map(|s| s.exception()).collect(),
        ..OutboundPolicy::default()
    }
}

pub fn client(policy: OutboundPolicy) -> OutboundClient {
    OutboundClient::new(policy).expect("client builds")
}
