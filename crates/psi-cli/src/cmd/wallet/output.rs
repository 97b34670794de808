//! What the wallet subcommands print: one JSON object with `--json`, else text for people.
//!
//! Names, messages and values come from servers and third parties; control characters in them
//! are escaped before they reach a terminal, so a reply cannot rewrite the screen.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::time::{Duration, UNIX_EPOCH};

use anyhow::Result;
use psi_link::Attribute;
use serde::Serialize;
use serde_json::Value;

use super::client::{Attestation, EventState, InteractionSummary, ServiceInfo};
use super::file::StoredCredential;

/// What `psi wallet run` reports.
#[derive(Debug, Serialize)]
pub struct RunOutcome {
    pub event_id: String,
    pub state: EventState,
    pub message: Option<String>,
    /// What the app would open now (never after a failed event).
    pub callback: Option<String>,
    pub issued: Vec<StoredCredential>,
    pub service: ServiceInfo,
    pub interaction: InteractionSummary,
    pub instance_id: String,
    pub holder_did: String,
    pub presented: Vec<PresentedSummary>,
}

/// One presented credential, without its values.
#[derive(Debug, Serialize)]
pub struct PresentedSummary {
    pub credential_id: String,
    pub attestation: Attestation,
    /// The stored credential presented, for a service-attested one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

/// One row of `psi wallet list`.
#[derive(Debug, Serialize)]
pub struct Listed<'a> {
    /// 1-based, as `psi wallet show` takes it.
    pub index: usize,
    pub service_name: Option<&'a str>,
    #[serde(flatten)]
    pub credential: &'a StoredCredential,
}

/// `psi wallet show`.
#[derive(Debug, Serialize)]
pub struct Shown<'a> {
    pub index: usize,
    pub service_name: Option<&'a str>,
    #[serde(flatten)]
    pub credential: &'a StoredCredential,
    pub header: Value,
    pub claims: Value,
    pub status_check: StatusCheck,
}

/// The revocation status as the issuer's server answered it.
#[derive(Debug, Serialize)]
pub struct StatusCheck {
    pub server: String,
    /// Whether the server answered; when not, `status` is the wallet's last knowledge.
    pub checked: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `psi wallet sync`, per service.
#[derive(Debug, Serialize)]
pub struct Synced {
    pub service_did: String,
    pub service_name: String,
    pub server: String,
    pub received: Vec<StoredCredential>,
    /// Credentials newly known to be revoked.
    pub revoked: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub fn run(outcome: &RunOutcome, json: bool) -> Result<()> {
    if json {
        return print_json(outcome);
    }
    let mut out = String::new();
    let service = &outcome.service;
    let interaction = &outcome.interaction;
    field(
        &mut out,
        "Interaction",
        &format!(
            "{} (action {}, instance {}) of {} ({})",
            clean(&interaction.name),
            clean(&interaction.action_id),
            clean(&outcome.instance_id),
            clean(&service.name),
            service.did
        ),
    );
    field(&mut out, "Holder DID", &outcome.holder_did);
    for (i, presented) in outcome.presented.iter().enumerate() {
        let how = match &presented.jti {
            Some(jti) => format!("credential {}", clean(jti)),
            None => "self-attested".to_owned(),
        };
        let label = if i == 0 { "Presented" } else { "" };
        field(
            &mut out,
            label,
            &format!("{} ({how})", clean(&presented.credential_id)),
        );
    }
    field(
        &mut out,
        "Event",
        &format!("{} {}", clean(&outcome.event_id), outcome.state.as_str()),
    );
    if let Some(message) = &outcome.message {
        field(&mut out, "Message", &clean(message));
    }
    for (i, credential) in outcome.issued.iter().enumerate() {
        let label = if i == 0 { "Issued" } else { "" };
        field(
            &mut out,
            label,
            &format!(
                "{} {}",
                clean(&credential.jti),
                clean(&credential.credential_id)
            ),
        );
        attributes(&mut out, &credential.attributes, "               ");
    }
    if outcome.issued.is_empty() && outcome.state == EventState::Waiting {
        field(
            &mut out,
            "Issued",
            "nothing yet: run `psi wallet sync` later",
        );
    }
    if let Some(callback) = &outcome.callback {
        field(&mut out, "Callback", &clean(callback));
    }
    write_out(&out)
}

pub fn list(rows: &[Listed<'_>], json: bool) -> Result<()> {
    if json {
        return print_json(&serde_json::json!({ "credentials": rows }));
    }
    if rows.is_empty() {
        return write_out(
            "The wallet holds no credentials. Run an interaction: psi wallet run LINK\n",
        );
    }
    let header = ["#", "JTI", "SERVICE", "DEFINITION", "ISSUED", "STATUS"].map(str::to_owned);
    let table: Vec<[String; 6]> = rows
        .iter()
        .map(|row| {
            let c = row.credential;
            [
                row.index.to_string(),
                clean(&c.jti),
                clean(row.service_name.unwrap_or(&c.service_did)),
                clean(&c.credential_id),
                time_secs(c.issued_at),
                c.status.as_str().to_owned(),
            ]
        })
        .collect();
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &table {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&table) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    write_out(&out)
}

pub fn show(shown: &Shown<'_>, json: bool) -> Result<()> {
    if json {
        return print_json(shown);
    }
    let c = shown.credential;
    let mut out = String::new();
    field(
        &mut out,
        "Credential",
        &format!("#{} {}", shown.index, clean(&c.jti)),
    );
    let service = match shown.service_name {
        Some(name) => format!("{} ({})", clean(name), c.service_did),
        None => c.service_did.clone(),
    };
    field(&mut out, "Service", &service);
    field(&mut out, "Definition", &clean(&c.credential_id));
    field(&mut out, "Schema", &clean(&c.schema_id));
    field(&mut out, "Holder DID", &clean(&c.holder_did));
    field(&mut out, "Issued", &time_secs(c.issued_at));
    if let Some(event) = &c.event_id {
        field(&mut out, "Event", &clean(event));
    }
    let mut status = c.status.as_str().to_owned();
    if let Some(at) = c.revoked_at {
        let _ = write!(status, " since {}", time_ms(at));
    }
    let check = &shown.status_check;
    match &check.error {
        None => {
            let _ = write!(status, " (checked with {})", check.server);
        }
        Some(error) => {
            let _ = write!(
                status,
                " (as last seen; cannot check with {}: {})",
                check.server,
                clean(error)
            );
        }
    }
    field(&mut out, "Status", &status);
    field(&mut out, "Attributes", "");
    attributes(&mut out, &c.attributes, "  ");
    for (label, value) in [("JWT header", &shown.header), ("JWT claims", &shown.claims)] {
        field(&mut out, label, "");
        let pretty = serde_json::to_string_pretty(value)?;
        for line in pretty.lines() {
            let _ = writeln!(out, "  {}", clean(line));
        }
    }
    write_out(&out)
}

pub fn sync(services: &[Synced], json: bool) -> Result<()> {
    if json {
        let received: usize = services.iter().map(|s| s.received.len()).sum();
        let revoked: usize = services.iter().map(|s| s.revoked.len()).sum();
        return print_json(&serde_json::json!({
            "services": services,
            "received": received,
            "revoked": revoked,
        }));
    }
    if services.is_empty() {
        return write_out(
            "The wallet knows no services yet. Run an interaction: psi wallet run LINK\n",
        );
    }
    let mut out = String::new();
    for service in services {
        let _ = write!(
            out,
            "{} ({}) at {}: ",
            clean(&service.service_name),
            service.service_did,
            clean(&service.server)
        );
        match &service.error {
            Some(error) => {
                let _ = writeln!(out, "error: {}", clean(error));
            }
            None => {
                let _ = writeln!(
                    out,
                    "{} new, {} revoked",
                    service.received.len(),
                    service.revoked.len()
                );
            }
        }
        for credential in &service.received {
            let _ = writeln!(
                out,
                "  received {} {}",
                clean(&credential.jti),
                clean(&credential.credential_id)
            );
            attributes(&mut out, &credential.attributes, "    ");
        }
        for jti in &service.revoked {
            let _ = writeln!(out, "  revoked  {}", clean(jti));
        }
    }
    write_out(&out)
}

/// `Label:` padded to a column, then the value (a heading when the value is empty).
fn field(out: &mut String, label: &str, value: &str) {
    let label = if label.is_empty() {
        String::new()
    } else {
        format!("{label}:")
    };
    let line = format!("{label:<14} {value}");
    let _ = writeln!(out, "{}", line.trim_end());
}

fn attributes(out: &mut String, attributes: &[Attribute], indent: &str) {
    for attribute in attributes {
        let _ = writeln!(
            out,
            "{indent}{}: {}",
            clean(&attribute.name),
            clean(&attribute.value)
        );
    }
}

/// Text from elsewhere, with control characters escaped (`\n`, `\u{1b}`, ...).
pub fn clean(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Unix seconds as RFC 3339 UTC.
fn time_secs(secs: i64) -> String {
    match u64::try_from(secs) {
        Ok(secs) => {
            humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
        }
        Err(_) => secs.to_string(),
    }
}

/// Unix milliseconds as RFC 3339 UTC.
fn time_ms(ms: i64) -> String {
    time_secs(ms.div_euclid(1000))
}

fn print_json<T: Serialize + ?Sized>(value: &T) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    write_out(&text)
}

fn write_out(text: &str) -> Result<()> {
    let mut stdout = io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_from_elsewhere_are_escaped() {
        assert_eq!(clean("plain text ü"), "plain text ü");
        assert_eq!(clean("a\u{1b}[2Jb\nc"), "a\\u{1b}[2Jb\\nc");
    }

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(time_secs(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(time_ms(1_700_000_000_999), "2023-11-14T22:13:20Z");
        assert_eq!(time_secs(-5), "-5");
    }
}
