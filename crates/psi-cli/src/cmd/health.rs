//! `psi health`: asks a running server whether it is ready, for container health checks and
//! service managers on machines without curl. By default it calls `/readyz` on the address
//! `psi serve` would listen on, read from the same configuration.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use psi_server::config::{Config, Overrides};
use reqwest::Url;

use super::runtime;

/// The most of an error answer's body shown in the message.
const EXCERPT_CHARS: usize = 200;

/// Check that a running server is ready: exit 0 if its probe answers 2xx, 1 if not.
#[derive(Args, Debug)]
#[command(
    long_about = "Check that a running server is ready: GET its readiness probe and exit 0 \
when it answers 2xx, 1 otherwise (refused, no answer in time, or another status), with one line \
saying which. Made for container health checks and service managers, where curl may be missing.

Without --url the probe is `http://<listen>/readyz`, <listen> being the address `psi serve` \
would listen on: --listen's setting from PSI_LISTEN or the configuration file (--config or \
PSI_CONFIG), default 127.0.0.1:8080. An unspecified address (0.0.0.0, ::) is called on loopback.

Examples:
  psi health
  psi health --url http://127.0.0.1:8080/healthz
  PSI_LISTEN=0.0.0.0:9000 psi health --timeout 1s"
)]
pub struct HealthArgs {
    /// The URL to GET [default: http://<listen address of `psi serve`>/readyz]
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// The configuration file `psi serve` reads, for its listen address [env: PSI_CONFIG]
    #[arg(long, value_name = "FILE", conflicts_with = "url")]
    config: Option<PathBuf>,
    /// How long the whole request may take, e.g. 500ms or 3s
    #[arg(long, value_name = "DURATION", default_value = "3s")]
    timeout: humantime::Duration,
}

pub fn run(args: HealthArgs) -> Result<ExitCode> {
    let url = match &args.url {
        Some(url) => parse_url(url)?,
        None => default_url(args.config.as_deref())?,
    };
    let timeout = Duration::from(args.timeout);
    let answer = runtime()?.block_on(probe(&url, timeout))?;
    println!("ok: {url} answered {answer}");
    Ok(ExitCode::SUCCESS)
}

fn parse_url(value: &str) -> Result<Url> {
    let url = Url::parse(value).with_context(|| format!("--url {value} is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        bail!("--url {value}: use an http:// or https:// URL");
    }
    Ok(url)
}

/// `/readyz` on the address `psi serve` would listen on with this process's configuration.
fn default_url(config: Option<&Path>) -> Result<Url> {
    // The same layers as `psi serve` (defaults, file, PSI_* variables), so that the health check
    // of a container or unit follows its server without being told the address again.
    let config = Config::load(config, &Overrides::default())
        .context("cannot find the listen address in the configuration (or pass --url)")?;
    let addr = callable(config.listen);
    if addr.port() == 0 {
        bail!(
            "the listen address {} has port 0, which the server replaces with any free port: \
             pass --url",
            config.listen
        );
    }
    Url::parse(&format!("http://{addr}/readyz")).context("the listen address makes no URL")
}

/// A listen address as a destination: a server bound to all addresses answers on loopback.
fn callable(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

/// GETs `url`; the status line of a 2xx answer, or an error of one line saying what failed.
async fn probe(url: &Url, timeout: Duration) -> Result<String> {
    let client = reqwest::Client::builder()
        .timeout(timeout)
        // A probe asks this server, not a proxy named in the environment, and a redirect is not
        // an answer of the server's own.
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("cannot make an HTTP client")?;
    let response = client
        .get(url.clone())
        .send()
        .await
        .map_err(|err| failure(url, &err, timeout))?;
    let status = response.status();
    if status.is_success() {
        return Ok(status.to_string());
    }
    let body = response.text().await.unwrap_or_default();
    let detail = excerpt(&body);
    if detail.is_empty() {
        bail!("{url} answered {status}");
    }
    bail!("{url} answered {status}: {detail}")
}

/// What went wrong with a request that got no answer, on one line: reqwest's own message nests
/// every layer's wording.
pub(super) fn failure(url: &Url, err: &reqwest::Error, timeout: Duration) -> anyhow::Error {
    if err.is_timeout() {
        return anyhow!(
            "{url} gave no answer within {}",
            humantime::format_duration(timeout)
        );
    }
    let mut root: &dyn std::error::Error = err;
    while let Some(source) = root.source() {
        root = source;
    }
    if err.is_connect() {
        anyhow!("cannot connect to {url}: {root}")
    } else {
        anyhow!("request to {url} failed: {root}")
    }
}

/// An error answer's message (`error.message` of psi's error bodies), or the start of its body,
/// on one line.
pub(super) fn excerpt(body: &str) -> String {
    let message = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|value| value["error"]["message"].as_str().map(str::to_owned));
    let text = message.unwrap_or_else(|| body.chars().take(EXCERPT_CHARS).collect());
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unspecified_listen_address_is_called_on_loopback() {
        let cases = [
            ("0.0.0.0:8080", "127.0.0.1:8080"),
            ("[::]:8080", "[::1]:8080"),
            ("10.1.2.3:9000", "10.1.2.3:9000"),
        ];
        for (listen, called) in cases {
            assert_eq!(callable(listen.parse().unwrap()).to_string(), called);
        }
    }

    #[test]
    fn an_error_body_shows_its_message_on_one_line() {
        let body = r#"{"error":{"code":"unavailable","message":"the database does not answer"}}"#;
        assert_eq!(excerpt(body), "the database does not answer");
        assert_eq!(excerpt("<h1>Bad\n gateway</h1>\n"), "<h1>Bad gateway</h1>");
    }
}
