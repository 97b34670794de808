//! A webhook receiver on loopback: records every call and answers as the test scripts it.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::now_ms;

/// How often [`Receiver::wait_for`] looks at the calls again.
const POLL: Duration = Duration::from_millis(5);

/// One call the receiver recorded.
#[derive(Debug, Clone)]
pub struct Call {
    /// Unix milliseconds when it arrived.
    pub at: i64,
    /// Unix milliseconds when its reply went out; `None` while the call is in flight.
    pub answered_at: Option<i64>,
    pub method: Method,
    /// The path, without the query.
    pub path: String,
    pub headers: HeaderMap,
    /// The body, byte for byte.
    pub body: Bytes,
}

impl Call {
    /// The body as JSON (panics if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{} {}: not a JSON body ({e})", self.method, self.path))
    }

    /// A header, when present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// What the receiver answers to one call.
#[derive(Clone)]
pub struct Reply {
    status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: ReplyBody,
    delay: Duration,
}

#[derive(Clone)]
enum ReplyBody {
    Fixed(Bytes),
    /// Made anew for each call: a body sent as a stream (endless, trickling).
    Streamed(Arc<dyn Fn() -> Body + Send + Sync>),
}

impl Reply {
    /// `status` with a short text body naming it (`answered 503`), so a recorded response
    /// excerpt shows which reply it was.
    pub fn status(status: u16) -> Reply {
        Reply::text(status, format!("answered {status}"))
    }

    /// 200 with this JSON body.
    pub fn json(body: Value) -> Reply {
        Reply::new(200, ReplyBody::Fixed(body.to_string().into()))
            .with_header(CONTENT_TYPE.as_str(), "application/json")
    }

    /// `status` with this text body, as it is.
    pub fn text(status: u16, body: impl Into<String>) -> Reply {
        Reply::new(status, ReplyBody::Fixed(body.into().into()))
            .with_header(CONTENT_TYPE.as_str(), "text/plain; charset=utf-8")
    }

    /// `status` with the body `body()` makes for each call, sent as it streams.
    pub fn streamed(status: u16, body: impl Fn() -> Body + Send + Sync + 'static) -> Reply {
        Reply::new(status, ReplyBody::Streamed(Arc::new(body)))
    }

    /// A redirect (`status` 3xx) to `location`.
    pub fn redirect(status: u16, location: &str) -> Reply {
        Reply::status(status).with_header("location", location)
    }

    fn new(status: u16, body: ReplyBody) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).expect("a valid HTTP status"),
            headers: Vec::new(),
            body,
            delay: Duration::ZERO,
        }
    }

    /// Adds a header, or replaces one of that name.
    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        let name: HeaderName = name.parse().expect("a valid header name");
        self.headers.retain(|(n, _)| *n != name);
        let value = value.parse().expect("a valid header value");
        self.headers.push((name, value));
        self
    }

    /// Answers only after `delay` (the call is in flight meanwhile).
    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }

    fn into_response(self) -> Response {
        let body = match self.body {
            ReplyBody::Fixed(bytes) => Body::from(bytes),
            ReplyBody::Streamed(make) => make(),
        };
        let mut response = (self.status, body).into_response();
        response.headers_mut().extend(self.headers);
        response
    }
}

type Script = Arc<dyn Fn(&Call) -> Reply + Send + Sync>;
type Check = Arc<dyn Fn(&Call) -> Result<(), Reply> + Send + Sync>;

#[derive(Default)]
struct Inner {
    calls: Vec<Call>,
    /// What was refused by the check: `METHOD path: status body`.
    refused: Vec<String>,
    queued: HashMap<String, VecDeque<Reply>>,
    scripts: HashMap<String, Script>,
    default: Option<Reply>,
    check: Option<Check>,
}

/// A webhook receiver on loopback, port chosen by the system. Each call is answered, in this
/// order, by the next reply [queued](Receiver::queue) for its path, the path's
/// [script](Receiver::on), or the [default](Receiver::answer) (`200 answered 200` until changed).
/// Cloning gives another handle on the same receiver.
#[derive(Clone)]
pub struct Receiver {
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl Receiver {
    /// Starts a receiver on 127.0.0.1.
    pub async fn start() -> Receiver {
        Receiver::start_on("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1 port 0")
    }

    /// Starts a receiver on `bind` (`"[::1]:0"`); the error when it cannot be bound.
    pub async fn start_on(bind: &str) -> std::io::Result<Receiver> {
        let listener = tokio::net::TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .fallback(receive)
            .with_state(Arc::clone(&inner));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Receiver { addr, inner })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answers calls to `path` with `reply`.
    pub fn on(&self, path: &str, reply: Reply) {
        self.on_call(path, move |_| reply.clone());
    }

    /// Answers calls to `path` with what `script` makes of the call.
    pub fn on_call(&self, path: &str, script: impl Fn(&Call) -> Reply + Send + Sync + 'static) {
        self.lock()
            .scripts
            .insert(path.to_owned(), Arc::new(script));
    }

    /// Answers calls to `path` with what `script` makes of the request's JSON body (`null` when
    /// the body is not JSON).
    pub fn on_json(&self, path: &str, script: impl Fn(&Value) -> Reply + Send + Sync + 'static) {
        self.on_call(path, move |call| {
            script(&serde_json::from_slice(&call.body).unwrap_or(Value::Null))
        });
    }

    /// Answers the next calls to `path` with these replies, one a call, in order, before its
    /// script or the default.
    pub fn queue(&self, path: &str, replies: impl IntoIterator<Item = Reply>) {
        self.lock()
            .queued
            .entry(path.to_owned())
            .or_default()
            .extend(replies);
    }

    /// Answers `reply` to calls that nothing queued or scripted covers, from now on.
    pub fn answer(&self, reply: Reply) {
        self.lock().default = Some(reply);
    }

    /// Checks each call before anything else (a signature, say): a call `check` refuses is
    /// answered with the reply it gives and is not recorded. See [`Receiver::assert_none_refused`].
    pub fn check(&self, check: impl Fn(&Call) -> Result<(), Reply> + Send + Sync + 'static) {
        self.lock().check = Some(Arc::new(check));
    }

    /// Panics, listing them, if the check refused any call.
    pub fn assert_none_refused(&self) {
        let refused = &self.lock().refused;
        assert!(
            refused.is_empty(),
            "calls refused by the receiver: {refused:?}"
        );
    }

    /// Every call recorded, in order of arrival.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// The calls recorded on `path`, in order of arrival.
    pub fn calls_to(&self, path: &str) -> Vec<Call> {
        let inner = self.lock();
        inner
            .calls
            .iter()
            .filter(|c| c.path == path)
            .cloned()
            .collect()
    }

    /// Waits until `done` holds for the calls recorded, and returns them; fails the test, saying
    /// it waited for `what`, if that takes longer than `within`.
    pub async fn wait_for(
        &self,
        what: &str,
        within: Duration,
        done: impl Fn(&[Call]) -> bool,
    ) -> Vec<Call> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            // A copy, so the calls still arriving are not held up while `done` looks.
            let calls = self.calls();
            if done(&calls) {
                return calls;
            }
            if tokio::time::Instant::now() >= deadline {
                let mut per_path = BTreeMap::<&str, usize>::new();
                for call in &calls {
                    *per_path.entry(&call.path).or_default() += 1;
                }
                panic!("waited {within:?} for {what}; calls recorded per path: {per_path:?}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until `n` calls to `path` were recorded, and returns the calls to `path`; fails the
    /// test after `within`.
    pub async fn wait_for_calls(&self, path: &str, n: usize, within: Duration) -> Vec<Call> {
        let what = format!("{n} calls to {path}");
        let on_path = |calls: &[Call]| calls.iter().filter(|c| c.path == path).count();
        self.wait_for(&what, within, |calls| on_path(calls) >= n)
            .await;
        self.calls_to(path)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        lock(&self.inner)
    }
}

fn lock(inner: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    // A test that panicked while holding the lock has failed already; the data stays usable.
    inner
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn receive(State(inner): State<Arc<Mutex<Inner>>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let call = Call {
        at: now_ms(),
        answered_at: None,
        method: parts.method,
        path: parts.uri.path().to_owned(),
        headers: parts.headers,
        body,
    };
    // The test's closures run outside the lock, so they may use the receiver themselves.
    let check = lock(&inner).check.clone();
    if let Some(Err(refusal)) = check.map(|check| check(&call)) {
        let body = match &refusal.body {
            ReplyBody::Fixed(bytes) => String::from_utf8_lossy(bytes).into_owned(),
            ReplyBody::Streamed(_) => "(streamed)".to_owned(),
        };
        let entry = format!("{} {}: {} {body}", call.method, call.path, refusal.status);
        lock(&inner).refused.push(entry);
        return refusal.into_response();
    }
    let (index, queued, script, default) = {
        let mut guard = lock(&inner);
        guard.calls.push(call.clone());
        let queued = guard
            .queued
            .get_mut(&call.path)
            .and_then(VecDeque::pop_front);
        let script = guard.scripts.get(&call.path).cloned();
        (guard.calls.len() - 1, queued, script, guard.default.clone())
    };
    let reply = queued
        .or_else(|| script.map(|script| script(&call)))
        .or(default)
        .unwrap_or_else(|| Reply::status(200));
    tokio::time::sleep(reply.delay).await;
    lock(&inner).calls[index].answered_at = Some(now_ms());
    reply.into_response()
}
