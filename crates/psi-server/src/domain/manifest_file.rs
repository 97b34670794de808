//! The portable manifest file (docs/extensions.md, "Manifest files"): an extension's name and
//! description with one version's manifest, to export from one psi and import into another. Ids,
//! the author's DID and keys stay behind: they belong to the server and the service.
//! docs/extension-manifest.schema.json is its JSON Schema.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::extension::Manifest;

/// The `format` of the documents this psi writes and reads. An incompatible change of the shape
/// takes a new string, so an older psi refuses a newer document instead of misreading it.
pub const FORMAT: &str = "psi-extension/1";

/// Why a document is refused; the message names the member.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ManifestFileError(String);

/// A manifest file, `{"format": "psi-extension/1", "name", "description", ...the manifest}`
/// (docs/extension-manifest.schema.json).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ManifestFile {
    /// `psi-extension/1`. A new string marks an incompatible change of the document's shape.
    #[schema(value_type = String, example = "psi-extension/1")]
    format: &'static str,
    /// The extension's name; an import publishes to the service's extension of this name, or
    /// creates it.
    pub name: String,
    /// Optional in a document; empty when absent.
    #[schema(required = false)]
    pub description: String,
    #[serde(flatten)]
    pub manifest: Manifest,
}

impl ManifestFile {
    pub fn new(name: String, description: String, manifest: Manifest) -> Self {
        ManifestFile {
            format: FORMAT,
            name,
            description,
            manifest,
        }
    }

    /// Reads a document: its `format` first, so a document of another format is refused as such
    /// rather than for the members it has.
    pub fn parse(document: Value) -> Result<Self, ManifestFileError> {
        let refused = |message: String| Err(ManifestFileError(message));
        let Value::Object(mut members) = document else {
            return refused("a manifest file is a JSON object".into());
        };
        match members.remove("format") {
            Some(Value::String(format)) if format == FORMAT => {}
            Some(Value::String(format)) => {
                return refused(format!(
                    "`format` {format:?} is not one this psi reads: it reads {FORMAT:?}"
                ));
            }
            Some(_) => return refused(format!("`format` must be text, {FORMAT:?}")),
            None => {
                return refused(format!(
                    "`format` is missing: a manifest file says \"format\": {FORMAT:?}"
                ));
            }
        }
        let name = text(&mut members, "name")?
            .ok_or_else(|| ManifestFileError("`name` is missing".into()))?;
        let description = text(&mut members, "description")?.unwrap_or_default();
        // The rest is the manifest, whose own type refuses unknown members.
        let manifest = serde_path_to_error::deserialize(Value::Object(members)).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            ManifestFileError(if path == "." {
                inner.to_string()
            } else {
                format!("`{path}`: {inner}")
            })
        })?;
        Ok(ManifestFile::new(name, description, manifest))
    }
}

/// Takes the text member `name`, if present.
fn text(members: &mut Map<String, Value>, name: &str) -> Result<Option<String>, ManifestFileError> {
    match members.remove(name) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(ManifestFileError(format!("`{name}` must be text"))),
    }
}

impl<'de> Deserialize<'de> for ManifestFile {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let document = Value::deserialize(deserializer)?;
        ManifestFile::parse(document).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::extension::Builtin;
    use serde_json::json;

    fn document() -> Value {
        json!({
            "format": FORMAT,
            "name": "CRM",
            "description": "Members to the CRM",
            "version": "1.2.0",
            "triggers": {"on_finish": {"url": "https://crm.example/finished"}},
        })
    }

    #[test]
    fn a_document_round_trips_with_the_manifest_flattened() {
        let file = ManifestFile::parse(document()).unwrap();
        assert_eq!(file.name, "CRM");
        assert_eq!(file.manifest.version, "1.2.0");
        let written = serde_json::to_value(&file).unwrap();
        assert_eq!(written["format"], FORMAT);
        assert_eq!(written["triggers"]["on_finish"]["timeout_ms"], 10_000);
        let again = ManifestFile::parse(written.clone()).unwrap();
        assert_eq!(serde_json::to_value(&again).unwrap(), written);
        let manifest = Builtin::ChatNotification.manifest();
        let file = ManifestFile::new("Chat".into(), String::new(), manifest);
        assert!(ManifestFile::parse(serde_json::to_value(&file).unwrap()).is_ok());
    }

    #[test]
    fn the_format_is_read_first_and_each_refusal_names_the_member() {
        let refusal = |change: &dyn Fn(&mut Map<String, Value>)| {
            let mut document = document();
            change(document.as_object_mut().unwrap());
            ManifestFile::parse(document).unwrap_err().to_string()
        };
        // A newer format is refused as such, whatever members it has.
        assert_eq!(
            refusal(&|d| {
                d.insert("format".into(), json!("psi-extension/2"));
                d.insert("renamed".into(), json!(true));
            }),
            "`format` \"psi-extension/2\" is not one this psi reads: it reads \"psi-extension/1\""
        );
        assert!(refusal(&|d| drop(d.remove("format"))).starts_with("`format` is missing"));
        assert_eq!(
            refusal(&|d| drop(d.insert("format".into(), json!(1)))),
            "`format` must be text, \"psi-extension/1\""
        );
        assert_eq!(refusal(&|d| drop(d.remove("name"))), "`name` is missing");
        assert_eq!(
            refusal(&|d| drop(d.insert("description".into(), json!(3)))),
            "`description` must be text"
        );
        assert!(
            refusal(&|d| drop(d.insert("author_did".into(), json!("x"))))
                .starts_with("`author_did`: unknown field `author_did`")
        );
        assert!(
            refusal(&|d| drop(d.insert("triggers".into(), json!({"on_finish": {"url": 3}}))))
                .starts_with("`triggers.on_finish.url`: invalid type")
        );
        assert_eq!(
            ManifestFile::parse(json!([])).unwrap_err().to_string(),
            "a manifest file is a JSON object"
        );
    }
}
