//! Building a request from a JSON file and command-line flags.

use anyhow::{Context, Result, bail};
use clap::Args;
use psi_link::LinkRequest;

/// A pre-filled attribute given as `CREDENTIAL_ID:NAME=VALUE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrFlag {
    pub credential_id: String,
    pub name: String,
    pub value: String,
}

/// Splits `CREDENTIAL_ID:NAME` at its last `:` (credential ids contain colons, names do not).
pub fn split_credential_attribute(key: &str) -> Option<(&str, &str)> {
    key.rsplit_once(':')
        .filter(|(credential, name)| !credential.is_empty() && !name.is_empty())
}

fn parse_attr(text: &str) -> Result<AttrFlag, String> {
    const SHAPE: &str = "expected CREDENTIAL_ID:NAME=VALUE, e.g. \
                         GbzPqgnU4XsMs7xg9mYJW8:3:CL:200:tag:Name=Alice";
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("no `=` in {text:?}: {SHAPE}"))?;
    let (credential_id, name) = split_credential_attribute(key)
        .ok_or_else(|| format!("no credential id or attribute name in {key:?}: {SHAPE}"))?;
    Ok(AttrFlag {
        credential_id: credential_id.to_owned(),
        name: name.to_owned(),
        value: value.to_owned(),
    })
}

/// Flags that set request fields; each overrides the same field of a request file.
#[derive(Args, Debug, Clone, Default)]
pub struct RequestArgs {
    /// `serviceDid`: the public DID of the service that owns the interaction.
    #[arg(long, value_name = "DID")]
    pub service_did: Option<String>,
    /// `actionId`: the interaction to start.
    #[arg(long, value_name = "ID")]
    pub action_id: Option<String>,
    /// `id`: the interaction instance (absent: the interaction's default instance).
    #[arg(long, value_name = "ID")]
    pub instance_id: Option<String>,
    /// `callback`: the URL the app opens after a successful execution (http(s) or an app scheme).
    #[arg(long, value_name = "URL")]
    pub callback: Option<String>,
    /// `sourceURL`: an http(s) URL the app downloads the real request from (other fields are then
    /// ignored by the app).
    #[arg(long, value_name = "URL")]
    pub source_url: Option<String>,
    /// A pre-filled attribute, `CREDENTIAL_ID:NAME=VALUE` (repeatable). Attributes are grouped per
    /// credential in order of first appearance; a name given again replaces the earlier value.
    /// The name is what follows the last `:` before the first `=`.
    #[arg(long = "attr", value_name = "CREDENTIAL_ID:NAME=VALUE", value_parser = parse_attr)]
    pub attrs: Vec<AttrFlag>,
}

impl RequestArgs {
    /// Whether any flag was given.
    pub fn any(&self) -> bool {
        self.service_did.is_some()
            || self.action_id.is_some()
            || self.instance_id.is_some()
            || self.callback.is_some()
            || self.source_url.is_some()
            || !self.attrs.is_empty()
    }

    /// Overrides `req`'s fields with the flags given.
    pub fn apply(&self, req: &mut LinkRequest) {
        let set = |field: &mut Option<String>, flag: &Option<String>| {
            if let Some(value) = flag {
                *field = Some(value.clone());
            }
        };
        set(&mut req.service_did, &self.service_did);
        set(&mut req.action_id, &self.action_id);
        set(&mut req.id, &self.instance_id);
        set(&mut req.callback, &self.callback);
        set(&mut req.source_url, &self.source_url);
        for attr in &self.attrs {
            req.set_prefilled(&attr.credential_id, &attr.name, &attr.value);
        }
    }
}

/// Parses a request JSON document (unknown fields are ignored, as on the wire).
pub fn parse_request(json: &str, source: &str) -> Result<LinkRequest> {
    let value: serde_json::Value =
        serde_json::from_str(json).with_context(|| format!("{source} is not JSON"))?;
    if !value.is_object() {
        bail!(
            "{source} is not a JSON object: a request is {{\"actionId\": ..., \"serviceDid\": ...}}"
        );
    }
    serde_json::from_value(value).with_context(|| format!("{source} is not a valid request"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attr_flags_split_at_the_first_equals_and_the_last_colon_before_it() {
        let attr = parse_attr("Gbz:3:CL:200:tag:Member No=a=b:c").unwrap();
        assert_eq!(attr.credential_id, "Gbz:3:CL:200:tag");
        assert_eq!(attr.name, "Member No");
        assert_eq!(attr.value, "a=b:c");
        assert_eq!(parse_attr("cred:Name=").unwrap().value, "");
        for bad in ["Name", "Name=x", ":Name=x", "cred:=x"] {
            assert!(parse_attr(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn flags_override_file_fields_and_group_attributes_per_credential() {
        let mut req = parse_request(
            r#"{"actionId":"1","serviceDid":"a","callback":"https://x","extra":true}"#,
            "test",
        )
        .unwrap();
        let args = RequestArgs {
            action_id: Some("2".into()),
            attrs: ["c1:A=1", "c2:B=2", "c1:C=3", "c1:A=4"]
                .map(|a| parse_attr(a).unwrap())
                .to_vec(),
            ..Default::default()
        };
        args.apply(&mut req);
        assert_eq!(
            req.to_json(),
            r#"{"actionId":"2","serviceDid":"a","preparedCredentials":[{"credentialId":"c1","attributes":[{"name":"A","value":"4"},{"name":"C","value":"3"}]},{"credentialId":"c2","attributes":[{"name":"B","value":"2"}]}],"callback":"https://x"}"#
        );
    }

    #[test]
    fn request_files_that_are_not_objects_or_not_json_are_refused() {
        assert!(
            parse_request("[1]", "f")
                .unwrap_err()
                .to_string()
                .contains("not a JSON object")
        );
        assert!(
            parse_request("{", "f")
                .unwrap_err()
                .to_string()
                .contains("f is not JSON")
        );
        let err = parse_request(r#"{"actionId":5}"#, "f").unwrap_err();
        assert!(format!("{err:#}").contains("not a valid request"));
    }
}
