//! The guarded HTTP client.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, redirect};

use crate::error::origin_of;
use crate::resolver::GuardedResolver;
use crate::{OutboundError, OutboundPolicy};

/// The HTTP client for every call psi makes to other servers.
///
/// Every call is checked against the [`OutboundPolicy`]: the URL's scheme and literal address
/// before anything is sent, each address a host name resolves to before connecting, and each
/// redirect's scheme and address before it is followed. Responses are read up to the body size
/// limit, and the whole call runs under the time limit.
///
/// Cloning is cheap and clones share one connection pool; build one client and pass clones
/// around. No proxy from the environment is used (it would connect on psi's behalf to
/// addresses the guard never sees), responses are not decompressed (a small compressed body
/// could expand past the size limit), and nothing about headers is logged, so `Authorization`
/// values and signatures stay out of logs. The `Referer` header is never sent: it would tell a
/// redirect target the webhook URL, secrets in its path included.
///
/// ```no_run
/// use psi_outbound::{header::HeaderMap, OutboundClient, OutboundPolicy};
///
/// # async fn run() -> Result<(), psi_outbound::OutboundError> {
/// let client = OutboundClient::new(OutboundPolicy::default())?;
/// let mut headers = HeaderMap::new();
/// headers.insert("X-Body-Signature", "c2lnbmF0dXJl".parse().unwrap());
/// let body = br#"{"actionEventId":"42"}"#.to_vec();
/// let response = client
///     .post_json("https://crm.example.com/psi/webhook", body, headers, None)
///     .await?;
/// println!("{} in {:?}: {}", response.status, response.duration, response.excerpt(200));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct OutboundClient {
    http: reqwest::Client,
    policy: Arc<OutboundPolicy>,
}

/// A response, read in full (up to the policy's body size limit).
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code (of the last response, after redirects).
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body, at most `max_body_bytes` long.
    pub body: Bytes,
    /// From the start of the call to the end of the body.
    pub duration: Duration,
}

impl Response {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    /// The first `max_bytes` of the body as text (invalid UTF-8 replaced, never cut inside a
    /// character), for delivery records and logs.
    ///
    /// ```
    /// # use std::time::Duration;
    /// use psi_outbound::{header::HeaderMap, Bytes, Response, StatusCode};
    ///
    /// let response = Response {
    ///     status: StatusCode::OK,
    ///     headers: HeaderMap::new(),
    ///     body: Bytes::from("héllo"),
    ///     duration: Duration::ZERO,
    /// };
    /// assert_eq!(response.excerpt(2), "h");
    /// assert_eq!(response.excerpt(3), "hé");
    /// ```
    pub fn excerpt(&self, max_bytes: usize) -> String {
        let body = &self.body[..];
        let mut end = body.len().min(max_bytes);
        // Step back over UTF-8 continuation bytes (at most three) to a character boundary.
        let floor = end.saturating_sub(3);
        while end > floor && end < body.len() && body[end] & 0xC0 == 0x80 {
            end -= 1;
        }
        String::from_utf8_lossy(&body[..end]).into_owned()
    }
}

impl OutboundClient {
    /// Builds a client that enforces `policy`.
    pub fn new(policy: OutboundPolicy) -> Result<Self, OutboundError> {
        let policy = Arc::new(policy);
        let http = reqwest::Client::builder()
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver::new(Arc::clone(&policy))))
            .redirect(redirect_policy(Arc::clone(&policy)))
            .referer(false)
            .connect_timeout(policy.connect_timeout)
            .user_agent(policy.user_agent.as_str())
            .build()
            .map_err(|e| OutboundError::Setup {
                detail: e.to_string(),
            })?;
        Ok(Self { http, policy })
    }

    /// The policy this client enforces.
    pub fn policy(&self) -> &OutboundPolicy {
        &self.policy
    }

    /// POSTs `body` (exact bytes, as signed) with `Content-Type: application/json` unless
    /// `headers` sets another, and `headers`. `timeout` replaces the policy's for this call.
    pub async fn post_json(
        &self,
        url: &str,
        body: impl Into<Bytes>,
        mut headers: HeaderMap,
        timeout: Option<Duration>,
    ) -> Result<Response, OutboundError> {
        headers
            .entry(header::CONTENT_TYPE)
            .or_insert(HeaderValue::from_static("application/json"));
        self.send(Method::POST, url, headers, Some(body.into()), timeout)
            .await
    }

    /// GETs `url` under the policy's limits.
    pub async fn get(&self, url: &str) -> Result<Response, OutboundError> {
        self.send(Method::GET, url, HeaderMap::new(), None, None)
            .await
    }

    pub(crate) async fn send(
        &self,
        method: Method,
        url: &str,
        headers: HeaderMap,
        body: Option<Bytes>,
        timeout: Option<Duration>,
    ) -> Result<Response, OutboundError> {
        let url = self.policy.check_url(url).inspect_err(|e| {
            tracing::debug!(code = e.code(), "outbound call refused: {e}");
        })?;
        let origin = origin_of(&url);
        let timeout = timeout.unwrap_or(self.policy.timeout);
        let mut request = self.http.request(method.clone(), url).headers(headers);
        if let Some(body) = body {
            request = request.body(body);
        }
        let started = Instant::now();
        let exchange = async {
            let response = request
                .send()
                .await
                .map_err(|e| self.map_error(e, &origin))?;
            self.read(response, &origin).await
        };
        let result = match tokio::time::timeout(timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(OutboundError::Timeout {
                origin: origin.clone(),
                after: timeout,
            }),
        };
        let duration = started.elapsed();
        match &result {
            Ok((status, ..)) => {
                tracing::debug!(%method, origin, status = status.as_u16(), ?duration, "outbound call");
            }
            Err(e) => {
                tracing::debug!(%method, origin, code = e.code(), ?duration, "outbound call failed: {e}");
            }
        }
        let (status, headers, body) = result?;
        Ok(Response {
            status,
            headers,
            body,
            duration,
        })
    }

    /// Reads the body chunk by chunk, stopping with an error as soon as it passes the limit.
    async fn read(
        &self,
        mut response: reqwest::Response,
        origin: &str,
    ) -> Result<(StatusCode, HeaderMap, Bytes), OutboundError> {
        let status = response.status();
        let limit = self.policy.max_body_bytes;
        let too_large = || OutboundError::BodyTooLarge {
            origin: origin.to_owned(),
            status: status.as_u16(),
            limit,
        };
        let announced = response.content_length().unwrap_or(0);
        if announced > limit as u64 {
            return Err(too_large());
        }
        let mut body = BytesMut::with_capacity(announced as usize);
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.map_error(e, origin))?
        {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok((
            status,
            std::mem::take(response.headers_mut()),
            body.freeze(),
        ))
    }

    fn map_error(&self, err: reqwest::Error, origin: &str) -> OutboundError {
        OutboundError::from_reqwest(err, origin, self.policy.connect_timeout)
    }
}

/// Follows a redirect only within the limit and to a URL the policy admits.
fn redirect_policy(policy: Arc<OutboundPolicy>) -> redirect::Policy {
    redirect::Policy::custom(move |attempt| {
        let followed = attempt.previous();
        if followed.len() > policy.max_redirects {
            let origin = followed.first().map(origin_of).unwrap_or_default();
            return attempt.error(OutboundError::TooManyRedirects {
                origin,
                max: policy.max_redirects,
            });
        }
        match policy.check_parsed_url(attempt.url()) {
            Ok(()) => attempt.follow(),
            Err(refused) => attempt.error(refused),
        }
    })
}
