//! The other ways to offer the interaction a link starts: its start page and the snippet that
//! puts the same offer on a website (`/embed/psi.js`), with the same instance, pre-filled
//! values and callback, so one answer of the link endpoint has all of them.

use askama::Template;
use serde::Serialize;
use utoipa::ToSchema;

use super::build::{LinkView, Prefill};
use crate::http::error::ApiError;

/// The links of an interaction, its start page and its embed snippet.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkAnswer {
    #[serde(flatten)]
    pub link: LinkView,
    /// The start page with the same choices: a QR code on a desktop, a button on a phone (whose
    /// callback, unless given, is chosen for its browser).
    #[schema(example = "https://psi.example.com/s/WKzh9WHci63gZXucPE2wyT/uEYX9HoOSS/start.html")]
    pub start_page: String,
    /// HTML for a website: an element and the script that render the same offer in it.
    pub embed: String,
}

/// What the caller chose, as the pages take it.
pub struct Shared<'a> {
    pub did: &'a str,
    pub interaction_id: &'a str,
    pub instance: Option<&'a str>,
    pub prefill: &'a [Prefill],
    pub callback: Option<&'a str>,
}

#[derive(Template)]
#[template(
    ext = "html",
    source = r#"<div data-psi-service="{{ did }}" data-psi-interaction="{{ interaction_id }}"
{%- if let Some(instance) = instance %} data-psi-instance="{{ instance }}"{% endif %}
{%- if let Some(prefill) = prefill %} data-psi-prefill="{{ prefill }}"{% endif %}
{%- if let Some(callback) = callback %} data-psi-callback="{{ callback }}"{% endif %}></div>
<script src="{{ script }}" async></script>"#
)]
struct Embed<'a> {
    did: &'a str,
    interaction_id: &'a str,
    instance: Option<&'a str>,
    /// A JSON array of `CREDENTIAL_ID:NAME=VALUE`.
    prefill: Option<String>,
    callback: Option<&'a str>,
    script: String,
}

impl Shared<'_> {
    /// The start page's and the embed's forms of these choices, on the server at `public_url`.
    pub fn answer(&self, link: LinkView, public_url: &str) -> Result<LinkAnswer, ApiError> {
        let texts: Vec<String> = self.prefill.iter().map(Prefill::to_text).collect();
        // The DID (base58) and the interaction id are URL-safe as they are; the choices are
        // form-encoded.
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        if let Some(instance) = self.instance {
            query.append_pair("instance", instance);
        }
        for text in &texts {
            query.append_pair("prefill", text);
        }
        if let Some(callback) = self.callback {
            query.append_pair("callback", callback);
        }
        let query = query.finish();
        let mut start_page = format!(
            "{public_url}/s/{}/{}/start.html",
            self.did, self.interaction_id
        );
        if !query.is_empty() {
            start_page.push('?');
            start_page.push_str(&query);
        }
        let embed = Embed {
            did: self.did,
            interaction_id: self.interaction_id,
            instance: self.instance,
            prefill: (!texts.is_empty())
                .then(|| serde_json::to_string(&texts))
                .transpose()
                .map_err(anyhow::Error::from)?,
            callback: self.callback,
            script: format!("{public_url}/embed/psi.js"),
        }
        .render()
        .map_err(anyhow::Error::from)?;
        Ok(LinkAnswer {
            link,
            start_page,
            embed,
        })
    }
}
