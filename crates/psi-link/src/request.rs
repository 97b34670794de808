//! The request a link carries and its validation (docs/protocol.md §2).

use crate::{LinkError, is_valid_did};

/// The request carried by a link: which interaction to start, with what.
///
/// Field order is the wire order; `None` fields are left out when encoding; unknown JSON fields
/// are ignored when decoding.
///
/// ```
/// use psi_link::LinkRequest;
/// let req = LinkRequest {
///     action_id: Some("100".into()),
///     service_did: Some("GbzPqgnU4XsMs7xg9mYJW8".into()),
///     ..Default::default()
/// };
/// assert_eq!(req.to_json(), r#"{"actionId":"100","serviceDid":"GbzPqgnU4XsMs7xg9mYJW8"}"#);
/// assert!(req.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct LinkRequest {
    /// `id`: the interaction instance; absent means the interaction's default instance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `actionId`: the interaction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_id: Option<String>,
    /// `serviceDid`: the public DID of the service that owns the interaction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_did: Option<String>,
    /// `preparedCredentials`: pre-filled attribute values (may be an empty list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prepared_credentials: Option<Vec<PreparedCredential>>,
    /// `callback`: the URL the app opens after a successful execution (empty means none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
    /// `sourceURL`: an http(s) URL to download the real request from; the other fields are then
    /// ignored by the app. Fetching it is not this crate's job.
    #[serde(rename = "sourceURL", skip_serializing_if = "Option::is_none")]
    pub source_url: Option<String>,
    /// `psiSession`: psi's own extension, not in the platform's protocol. The visit of the start
    /// page that offered the link, so that the page can follow the event the link starts; a
    /// wallet that knows it sends it back when it starts the event, platform apps ignore it.
    #[serde(rename = "psiSession", skip_serializing_if = "Option::is_none")]
    pub psi_session: Option<String>,
}

/// Pre-filled attribute values for one credential definition.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct PreparedCredential {
    /// `credentialId`: the credential definition id, `<DID>:3:CL:<number>:<tag>`.
    pub credential_id: String,
    /// `attributes`: the values, as strings.
    pub attributes: Vec<Attribute>,
}

/// One named attribute value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
pub struct Attribute {
    /// `name`.
    pub name: String,
    /// `value` (every type travels as a string; docs/protocol.md §1).
    pub value: String,
}

/// Schemes a callback may not use, lower case: they run code or read local data in a browser.
/// `blob:` and `filesystem:` are refused too, as they reach content of another origin.
const REFUSED_CALLBACK_SCHEMES: [&str; 6] = [
    "javascript",
    "vbscript",
    "data",
    "file",
    "blob",
    "filesystem",
];

pub(crate) fn is_refused_callback_scheme(lower_scheme: &str) -> bool {
    REFUSED_CALLBACK_SCHEMES.contains(&lower_scheme)
}

/// The value of an optional text field, treating an empty string as absent.
fn present(field: &Option<String>) -> Option<&str> {
    field.as_deref().filter(|v| !v.is_empty())
}

impl LinkRequest {
    /// Checks the request against docs/protocol.md §1–2, reporting the first problem in this order:
    ///
    /// 1. `sourceURL`, if present, must be an http(s) URL (any other scheme is never fetched);
    /// 2. `callback`, if present and not empty, must be an absolute URL whose scheme is not
    ///    `javascript`, `vbscript`, `data`, `file`, `blob` or `filesystem`;
    /// 3. `actionId` and `serviceDid` must be present and not empty, unless `sourceURL` is present;
    /// 4. `serviceDid`, if present and not empty, must be a DID ([`is_valid_did`]);
    /// 5. every `credentialId` must be a [`CredentialDefinitionId`](crate::CredentialDefinitionId).
    ///
    /// ```
    /// use psi_link::{LinkError, LinkRequest};
    /// let req = LinkRequest { source_url: Some("file:///etc/passwd".into()), ..Default::default() };
    /// assert!(matches!(req.validate(), Err(LinkError::SourceUrlNotHttp { .. })));
    /// ```
    pub fn validate(&self) -> Result<(), LinkError> {
        if let Some(source) = &self.source_url {
            check_source_url(source)?;
        }
        if let Some(callback) = self.callback.as_deref().filter(|c| !c.is_empty()) {
            check_callback(callback)?;
        }
        if self.source_url.is_none() {
            if present(&self.action_id).is_none() {
                return Err(LinkError::MissingField { field: "actionId" });
            }
            if present(&self.service_did).is_none() {
                return Err(LinkError::MissingField {
                    field: "serviceDid",
                });
            }
        }
        if let Some(did) = present(&self.service_did).filter(|did| !is_valid_did(did)) {
            return Err(LinkError::MalformedServiceDid {
                did: did.to_owned(),
            });
        }
        for credential in self.prepared_credentials.iter().flatten() {
            if let Err(reason) =
                crate::ids::parse_credential_definition_id(&credential.credential_id)
            {
                return Err(LinkError::MalformedCredentialId {
                    credential_id: credential.credential_id.clone(),
                    reason,
                });
            }
        }
        Ok(())
    }

    /// The compact JSON of the request, as it travels in a link (fields in wire order, non-ASCII
    /// characters unescaped, exactly like JavaScript's `JSON.stringify`).
    pub fn to_json(&self) -> String {
        // Serialising strings, lists and options into memory cannot fail.
        serde_json::to_string(self).expect("a LinkRequest always serialises")
    }

    /// The JSON of the request, indented by two spaces.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("a LinkRequest always serialises")
    }

    /// Sets a pre-filled attribute value: replaces the value of attribute `name` of credential
    /// `credential_id`, or appends it (and the credential) in order of first use.
    ///
    /// ```
    /// use psi_link::LinkRequest;
    /// let cred = "GbzPqgnU4XsMs7xg9mYJW8:3:CL:200:tag";
    /// let mut req = LinkRequest::default();
    /// req.set_prefilled(cred, "Name", "Alice");
    /// req.set_prefilled(cred, "Member No", "7");
    /// req.set_prefilled(cred, "Name", "Bob");
    /// let creds = req.prepared_credentials.unwrap();
    /// assert_eq!(creds.len(), 1);
    /// assert_eq!(creds[0].attributes[0].value, "Bob");
    /// assert_eq!(creds[0].attributes[1].name, "Member No");
    /// ```
    pub fn set_prefilled(&mut self, credential_id: &str, name: &str, value: &str) {
        let credentials = self.prepared_credentials.get_or_insert_with(Vec::new);
        let index = match credentials
            .iter()
            .position(|c| c.credential_id == credential_id)
        {
            Some(index) => index,
            None => {
                credentials.push(PreparedCredential {
                    credential_id: credential_id.to_owned(),
                    attributes: Vec::new(),
                });
                credentials.len() - 1
            }
        };
        let attributes = &mut credentials[index].attributes;
        match attributes.iter_mut().find(|a| a.name == name) {
            Some(attribute) => value.clone_into(&mut attribute.value),
            None => attributes.push(Attribute {
                name: name.to_owned(),
                value: value.to_owned(),
            }),
        }
    }
}

fn check_source_url(source: &str) -> Result<(), LinkError> {
    let url = url::Url::parse(source).map_err(|e| LinkError::InvalidSourceUrl {
        url: source.to_owned(),
        detail: e.to_string(),
    })?;
    match url.scheme() {
        "http" | "https" => Ok(()),
        _ => Err(LinkError::SourceUrlNotHttp {
            url: source.to_owned(),
        }),
    }
}

fn check_callback(callback: &str) -> Result<(), LinkError> {
    let url = url::Url::parse(callback).map_err(|e| LinkError::InvalidCallback {
        callback: callback.to_owned(),
        detail: e.to_string(),
    })?;
    // `Url` lower-cases the scheme, so `JavaScript:` is caught too.
    if is_refused_callback_scheme(url.scheme()) {
        return Err(LinkError::RefusedCallbackScheme {
            scheme: url.scheme().to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DID: &str = "GbzPqgnU4XsMs7xg9mYJW8";

    fn minimal() -> LinkRequest {
        LinkRequest {
            action_id: Some("1".into()),
            service_did: Some(DID.into()),
            ..Default::default()
        }
    }

    #[test]
    fn action_id_and_service_did_are_required_without_source_url() {
        assert_eq!(minimal().validate(), Ok(()));
        let no_action = LinkRequest {
            action_id: None,
            ..minimal()
        };
        assert_eq!(
            no_action.validate(),
            Err(LinkError::MissingField { field: "actionId" })
        );
        let empty_action = LinkRequest {
            action_id: Some(String::new()),
            ..minimal()
        };
        assert_eq!(
            empty_action.validate(),
            Err(LinkError::MissingField { field: "actionId" })
        );
        let no_service = LinkRequest {
            service_did: Some(String::new()),
            ..minimal()
        };
        assert_eq!(
            no_service.validate(),
            Err(LinkError::MissingField {
                field: "serviceDid"
            })
        );
        let only_source = LinkRequest {
            source_url: Some("https://a.example/x.json".into()),
            ..Default::default()
        };
        assert_eq!(only_source.validate(), Ok(()));
    }

    #[test]
    fn malformed_service_did_and_credential_id_are_refused() {
        let bad_did = LinkRequest {
            service_did: Some("x".into()),
            ..minimal()
        };
        assert_eq!(
            bad_did.validate(),
            Err(LinkError::MalformedServiceDid { did: "x".into() })
        );
        let mut bad_cred = minimal();
        bad_cred.set_prefilled("nope", "a", "b");
        assert_eq!(
            bad_cred.validate(),
            Err(LinkError::MalformedCredentialId {
                credential_id: "nope".into(),
                reason: crate::IdError::WrongShape {
                    expected: "<DID>:3:CL:<number>:<tag>"
                },
            })
        );
    }

    #[test]
    fn callbacks_with_code_or_local_schemes_are_refused_and_app_schemes_allowed() {
        let with = |cb: &str| {
            LinkRequest {
                callback: Some(cb.into()),
                ..minimal()
            }
            .validate()
        };
        for cb in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:text/html,x",
            "file:///etc/passwd",
            "vbscript:x",
            "blob:https://a/b",
        ] {
            assert_eq!(
                with(cb).unwrap_err().code(),
                "refused_callback_scheme",
                "{cb}"
            );
        }
        for cb in ["not a url", "/relative", "://x", "http://"] {
            assert_eq!(with(cb).unwrap_err().code(), "invalid_callback", "{cb}");
        }
        for cb in [
            "",
            "googlechrome://",
            "googlechrome:/",
            "telegram://",
            "https://shop.example/return.html",
            "http://a",
        ] {
            assert_eq!(with(cb), Ok(()), "{cb}");
        }
    }

    #[test]
    fn source_url_must_be_http_or_https() {
        let with = |s: &str| {
            LinkRequest {
                source_url: Some(s.into()),
                ..Default::default()
            }
            .validate()
        };
        for s in [
            "file:///etc/passwd",
            "ftp://a.example/x",
            "data:,{}",
            "javascript:x",
        ] {
            assert_eq!(with(s), Err(LinkError::SourceUrlNotHttp { url: s.into() }));
        }
        for s in ["", "x.json", "https://"] {
            assert_eq!(with(s).unwrap_err().code(), "invalid_source_url", "{s}");
        }
        assert_eq!(with("HTTP://a.example/x"), Ok(()));
    }

    #[test]
    fn json_is_compact_in_wire_order_with_non_ascii_unescaped() {
        let mut req = LinkRequest {
            id: Some("i".into()),
            callback: Some("c".into()),
            source_url: Some("s".into()),
            ..minimal()
        };
        req.set_prefilled("cred", "Name", "山田 🙂 \"q\"\n");
        assert_eq!(
            req.to_json(),
            format!(
                r#"{{"id":"i","actionId":"1","serviceDid":"{DID}","preparedCredentials":[{{"credentialId":"cred","attributes":[{{"name":"Name","value":"山田 🙂 \"q\"\n"}}]}}],"callback":"c","sourceURL":"s"}}"#
            )
        );
        assert!(req.to_json_pretty().contains("\n  \"actionId\": \"1\",\n"));
    }

    #[test]
    fn unknown_fields_are_ignored_and_empty_credential_lists_kept() {
        let json = format!(
            r#"{{"actionId":"1","future":{{"x":[1]}},"serviceDid":"{DID}","preparedCredentials":[]}}"#
        );
        let req: LinkRequest = serde_json::from_str(&json).unwrap();
        assert_eq!(
            req,
            LinkRequest {
                prepared_credentials: Some(vec![]),
                ..minimal()
            }
        );
        assert!(req.to_json().ends_with(r#""preparedCredentials":[]}"#));
    }
}
