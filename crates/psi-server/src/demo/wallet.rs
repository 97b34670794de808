//! The command that runs the demo interaction with the wallet simulator: a link whose values are
//! pre-filled where the link may carry them, and `--attr` for the rest.

use psi_link::{LinkKind, LinkRequest};

use crate::db;
use crate::domain::{Attestation, AttributeType};
use crate::http::AppState;
use psi_link::Did;

/// A date of birth for the walk-through: 1990-01-01, in seconds.
const SAMPLE_DATE: &str = "631152000";

/// `<program> wallet run --server <url> '<link>' [--attr 'NAME=VALUE']...` for each active
/// interaction of the demo service, one per line. `program` is how the reader runs psi: the path
/// of the running binary, so that the line works as pasted without `psi` on the `PATH`.
pub async fn commands(state: &AppState, did: &Did, program: &str) -> anyhow::Result<String> {
    let scope = db::services::scope_for_did(&state.db, did)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the demo service {did} is missing"))?;
    let definitions = db::credential_definitions::list(&state.db, &scope).await?;
    let mut text = String::new();
    for interaction in db::interactions::list(&state.db, &scope).await? {
        let Some(instance) = interaction
            .default_instance()
            .filter(|_| interaction.active)
        else {
            continue;
        };
        let mut request = LinkRequest {
            id: Some(instance.id.to_string()),
            action_id: Some(interaction.id.to_string()),
            service_did: Some(did.to_string()),
            ..LinkRequest::default()
        };
        let mut attrs = Vec::new();
        for required in &interaction.required {
            let Some(definition) = definitions.iter().find(|d| d.id == required.definition_id)
            else {
                continue;
            };
            if definition.attestation != Attestation::SelfAttested {
                continue;
            }
            for attribute in definition.schema.attributes.iter() {
                let name = attribute.name.to_string();
                let value = match &attribute.ty {
                    AttributeType::Text => "Alice".to_owned(),
                    AttributeType::Number => "42".to_owned(),
                    AttributeType::Enumeration(choices) => choices[0].value.clone(),
                    AttributeType::Image => "https://example.org/photo.png".to_owned(),
                    AttributeType::Date => {
                        attrs.push(format!(
                            " --attr {}",
                            quoted(&format!("{name}={SAMPLE_DATE}"))
                        ));
                        continue;
                    }
                };
                if required.prefill_from_qr {
                    request.set_prefilled(required.credential_id.as_str(), &name, &value);
                } else {
                    attrs.push(format!(" --attr {}", quoted(&format!("{name}={value}"))));
                }
            }
        }
        let target = state.config.links.default_target();
        let link = psi_link::encode(&request, &target, LinkKind::App)?;
        text.push_str(&format!(
            "  run {:?} with the wallet simulator:\n    {} wallet run --server {} {}{}\n",
            interaction.name,
            shell_word(program),
            state.public_url,
            quoted(&link),
            attrs.concat()
        ));
    }
    Ok(text)
}

/// `text` as one POSIX shell word: single-quoted, a `'` inside written `'\''`.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// `text` as it is when the shell takes it as one word unchanged, else [`quoted`].
fn shell_word(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+:,@".contains(&b));
    if plain { text.to_owned() } else { quoted(text) }
}

#[cfg(test)]
mod tests {
    use super::{quoted, shell_word};

    #[test]
    fn quoted_words_survive_single_quotes() {
        assert_eq!(quoted("Name=Alice"), "'Name=Alice'");
        assert_eq!(quoted("Name=O'Hara"), r"'Name=O'\''Hara'");
    }

    #[test]
    fn a_program_path_is_quoted_only_when_the_shell_would_split_it() {
        assert_eq!(shell_word("/opt/psi/bin/psi"), "/opt/psi/bin/psi");
        assert_eq!(shell_word("/home/a b/psi"), "'/home/a b/psi'");
    }
}
