//! The **Keys**, **Schemas** and **Credential definitions** screens: what a service signs and
//! verifies with, the kinds of credential it describes, and the definitions it issues or lets
//! holders attest. Every change goes through the management API's own handler, so the API's
//! checks (and messages) are the dashboard's.
//!
//! - `model/keys.rs`: RSA key pairs (generated or imported), RSA public keys, SHA secrets (a
//!   generated one shown once, on the page that answers its creation);
//! - `model/schemas.rs`: schemas with typed attributes and enumeration choices;
//! - `model/definitions.rs`: credential definitions with their incoming issuers and check webhook.

mod definitions;
mod keys;
mod schemas;

use std::time::{Duration, UNIX_EPOCH};

use axum::Router;
use axum::routing::{get, post};
use serde::Deserialize;

use crate::http::AppState;

/// Rows a list page shows.
const PAGE: i64 = 50;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/dashboard/services/{serviceDid}/keys",
            get(keys::list).post(keys::create),
        )
        .route(
            "/dashboard/services/{serviceDid}/keys/{name}/delete",
            post(keys::delete),
        )
        .route(
            "/dashboard/services/{serviceDid}/schemas",
            get(schemas::list).post(schemas::create),
        )
        .route(
            "/dashboard/services/{serviceDid}/schemas/{id}",
            post(schemas::update),
        )
        .route(
            "/dashboard/services/{serviceDid}/schemas/{id}/delete",
            post(schemas::delete),
        )
        .route(
            "/dashboard/services/{serviceDid}/definitions",
            get(definitions::list).post(definitions::create),
        )
        .route(
            "/dashboard/services/{serviceDid}/definitions/{credentialId}",
            post(definitions::update),
        )
}

/// The query of a list page: its page, and the pop-up to open (`new`, or what to edit), so that
/// pop-ups work without the script.
#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    cursor: Option<String>,
    edit: Option<String>,
    /// Schemas only: attribute rows the **Add schema** pop-up offers.
    rows: Option<usize>,
}

/// A posted form's fields in order, with repeated names kept (a list of checkboxes); the
/// session's `_csrf` is among them, already checked.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
struct Fields(Vec<(String, String)>);

impl Fields {
    /// The first value of `name`, or "" when the form has none.
    fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, value)| value.as_str())
    }

    /// Every value of `name`, in order.
    fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, value)| value.clone())
            .collect()
    }

    /// Whether the checkbox `name` was ticked.
    fn checked(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n == name)
    }
}

/// Unix milliseconds as `2025-01-31 14:05 UTC`.
fn when(ms: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    let text = humantime::format_rfc3339_seconds(at).to_string();
    // `2025-01-31T14:05:09Z`: the date and the minute are enough here.
    format!("{} {} UTC", &text[..10], &text[11..16])
}

/// Splits a list typed in one field (prefixes, enumeration choices) at `separators`.
fn split_list(text: &str, separators: &[char]) -> Vec<String> {
    text.split(|c| separators.contains(&c))
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_utc_minutes() {
        assert_eq!(when(0), "1970-01-01 00:00 UTC");
        assert_eq!(when(1_738_332_309_000), "2025-01-31 14:05 UTC");
    }

    #[test]
    fn lists_split_and_drop_blanks() {
        assert_eq!(
            split_list(" Gold, Silver ,,Bronze ", &[',']),
            ["Gold", "Silver", "Bronze"]
        );
        assert_eq!(
            split_list("10.0.0.0/8\n 192.0.2.0/24, ", &['\n', ',', ' ']),
            ["10.0.0.0/8", "192.0.2.0/24"]
        );
    }
}
