//! What the holder presents: the values of self-attested credentials (pre-filled by the link,
//! given with `--attr`, or typed at a prompt) and which stored credential answers a
//! service-attested requirement.

use std::io::{self, BufRead, IsTerminal, Write};

use psi_link::{Attribute, PreparedCredential};

use super::client::{AttributeSpec, RequiredCredential};
use super::file::{Status, StoredCredential, Wallet};
use crate::cmd::request::split_credential_attribute;

/// One `--attr`: `NAME=VALUE`, or `CREDENTIAL_ID:NAME=VALUE` when two required credentials share
/// an attribute name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrArg {
    pub credential_id: Option<String>,
    pub name: String,
    pub value: String,
}

/// Parses an `--attr` value (split at the first `=`; a `:` in the name part scopes it to the
/// credential id before the last `:`).
pub fn parse_attr(text: &str) -> Result<AttrArg, String> {
    let (key, value) = text.split_once('=').ok_or_else(|| {
        format!("no `=` in {text:?}: expected NAME=VALUE or CREDENTIAL_ID:NAME=VALUE")
    })?;
    let (credential_id, name) = match split_credential_attribute(key) {
        Some((credential, name)) => (Some(credential.to_owned()), name),
        None => (None, key),
    };
    if name.trim().is_empty() || name.ends_with(':') {
        return Err(format!("no attribute name in {text:?}"));
    }
    Ok(AttrArg {
        credential_id,
        name: name.to_owned(),
        value: value.to_owned(),
    })
}

impl AttrArg {
    fn applies_to(&self, credential_id: &str, name: &str) -> bool {
        self.name == name
            && self
                .credential_id
                .as_deref()
                .is_none_or(|c| c == credential_id)
    }
}

/// Why the wallet cannot present what the interaction asks for.
#[derive(Debug, thiserror::Error)]
pub enum PresentError {
    #[error(
        "attribute {name:?} of {credential_id} is pre-filled by the link with {prefilled:?} and \
         cannot be changed (--attr gave {given:?})"
    )]
    PrefilledConflict {
        credential_id: String,
        name: String,
        prefilled: String,
        given: String,
    },
    #[error(
        "missing attribute {name:?} of the self-attested credential {credential_id}: give \
         --attr '{name}=VALUE' (standard input is not a terminal, so psi cannot ask)"
    )]
    MissingAttribute { credential_id: String, name: String },
    #[error(
        "--attr {name}: the interaction asks for no self-attested attribute of that name{scope}; \
         it asks for: {asked}"
    )]
    UnknownAttribute {
        name: String,
        scope: String,
        asked: String,
    },
    #[error("the value {value:?} of {name:?} is not one of its choices: {choices}")]
    NotAChoice {
        name: String,
        value: String,
        choices: String,
    },
    #[error(
        "the interaction requires the service-attested credential {credential_id}, and the wallet \
         holds no valid one: run the interaction that issues it first (or `psi wallet sync` if it \
         was issued later)"
    )]
    MissingCredential { credential_id: String },
}

/// Asks the holder for a value nobody gave.
pub trait Ask {
    /// The value typed, or `None` when the holder cannot be asked.
    fn ask(
        &mut self,
        credential: &RequiredCredential,
        attribute: &AttributeSpec,
    ) -> io::Result<Option<String>>;
}

/// Asks on the terminal (prompt on stderr, answer on stdin) when stdin is one; else never.
pub struct Terminal;

impl Ask for Terminal {
    fn ask(
        &mut self,
        credential: &RequiredCredential,
        attribute: &AttributeSpec,
    ) -> io::Result<Option<String>> {
        if !io::stdin().is_terminal() {
            return Ok(None);
        }
        let choices = attribute
            .enum_values
            .as_ref()
            .map(|values| format!(", one of {}", list_choices(values)))
            .unwrap_or_default();
        let mut err = io::stderr().lock();
        write!(
            err,
            "{} ({}{choices}) for {}: ",
            attribute.name, attribute.kind, credential.credential_id
        )?;
        err.flush()?;
        let mut line = String::new();
        if io::stdin().lock().read_line(&mut line)? == 0 {
            return Ok(None);
        }
        Ok(Some(line.trim_end_matches(['\r', '\n']).to_owned()))
    }
}

/// The `--attr` flags and which of them some required attribute used.
pub struct Given<'a> {
    attrs: &'a [AttrArg],
    used: Vec<bool>,
}

impl<'a> Given<'a> {
    pub fn new(attrs: &'a [AttrArg]) -> Self {
        Given {
            attrs,
            used: vec![false; attrs.len()],
        }
    }

    /// The last `--attr` for this attribute (a later flag overrides an earlier one).
    fn take(&mut self, credential_id: &str, name: &str) -> Option<&'a str> {
        let mut found = None;
        for (index, attr) in self.attrs.iter().enumerate() {
            if attr.applies_to(credential_id, name) {
                self.used[index] = true;
                found = Some(attr.value.as_str());
            }
        }
        found
    }

    /// Fails on the first `--attr` that matched no self-attested attribute (a typo, most often).
    pub fn check_all_used(&self, required: &[RequiredCredential]) -> Result<(), PresentError> {
        let Some(unused) = self.attrs.iter().zip(&self.used).find(|(_, used)| !**used) else {
            return Ok(());
        };
        let asked: Vec<String> = required
            .iter()
            .filter(|r| r.attestation == super::client::Attestation::SelfAttested)
            .flat_map(|r| {
                r.attributes
                    .iter()
                    .map(move |a| format!("{}:{}", r.credential_id, a.name))
            })
            .collect();
        Err(PresentError::UnknownAttribute {
            name: unused.0.name.clone(),
            scope: unused
                .0
                .credential_id
                .as_ref()
                .map(|c| format!(" on {c}"))
                .unwrap_or_default(),
            asked: if asked.is_empty() {
                "nothing self-attested".to_owned()
            } else {
                asked.join(", ")
            },
        })
    }
}

/// The values of one self-attested credential, in schema order.
///
/// A value pre-filled by the link counts when the requirement is marked *pre-fill from QR*
/// (docs/protocol.md §2: other pre-filled values are ignored) and cannot be overridden; otherwise the
/// `--attr` value, else the holder is asked.
pub fn self_attested(
    required: &RequiredCredential,
    prefilled: &[PreparedCredential],
    given: &mut Given<'_>,
    ask: &mut dyn Ask,
) -> anyhow::Result<Vec<Attribute>> {
    let link_values = prefilled
        .iter()
        .filter(|_| required.prefill_from_qr)
        .find(|p| p.credential_id == required.credential_id);
    let mut values = Vec::with_capacity(required.attributes.len());
    for attribute in &required.attributes {
        let from_link = link_values
            .and_then(|p| p.attributes.iter().find(|a| a.name == attribute.name))
            .map(|a| a.value.as_str());
        let from_flag = given.take(&required.credential_id, &attribute.name);
        let value = match (from_link, from_flag) {
            (Some(link), Some(flag)) if link != flag => {
                return Err(PresentError::PrefilledConflict {
                    credential_id: required.credential_id.clone(),
                    name: attribute.name.clone(),
                    prefilled: link.to_owned(),
                    given: flag.to_owned(),
                }
                .into());
            }
            (Some(value), _) | (None, Some(value)) => value.to_owned(),
            (None, None) => {
                ask.ask(required, attribute)?
                    .ok_or_else(|| PresentError::MissingAttribute {
                        credential_id: required.credential_id.clone(),
                        name: attribute.name.clone(),
                    })?
            }
        };
        check_choice(attribute, &value)?;
        values.push(Attribute {
            name: attribute.name.clone(),
            value,
        });
    }
    Ok(values)
}

/// An enumeration's value must be one of its entries' `value`s (docs/protocol.md §2.1).
fn check_choice(attribute: &AttributeSpec, value: &str) -> Result<(), PresentError> {
    match &attribute.enum_values {
        Some(choices)
            if attribute.kind == "enumeration" && !choices.iter().any(|c| c.value == value) =>
        {
            Err(PresentError::NotAChoice {
                name: attribute.name.clone(),
                value: value.to_owned(),
                choices: list_choices(choices),
            })
        }
        _ => Ok(()),
    }
}

fn list_choices(choices: &[Attribute]) -> String {
    choices
        .iter()
        .map(|c| format!("{} ({})", c.value, c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The stored credentials `accepts` takes that are not known to be revoked, newest first.
pub fn candidates(
    wallet: &Wallet,
    accepts: impl Fn(&StoredCredential) -> bool,
) -> Vec<&StoredCredential> {
    let mut found: Vec<_> = wallet
        .credentials
        .iter()
        .filter(|c| accepts(c) && c.status == Status::Valid)
        .collect();
    found.sort_by_key(|c| std::cmp::Reverse((c.issued_at, c.received_at)));
    found
}

#[cfg(test)]
mod tests {
    use super::super::client::Attestation;
    use super::*;

    const CRED: &str = "GbzPqgnU4XsMs7xg9mYJW8:3:CL:200:contact";

    /// Answers from a script, like a holder at the prompt; `None` when the script ran out.
    struct Scripted(Vec<&'static str>);

    impl Ask for Scripted {
        fn ask(&mut self, _: &RequiredCredential, _: &AttributeSpec) -> io::Result<Option<String>> {
            Ok((!self.0.is_empty()).then(|| self.0.remove(0).to_owned()))
        }
    }

    fn spec(name: &str) -> AttributeSpec {
        AttributeSpec {
            name: name.to_owned(),
            kind: "text".to_owned(),
            enum_values: None,
        }
    }

    fn required(prefill: bool) -> RequiredCredential {
        RequiredCredential {
            credential_id: CRED.to_owned(),
            attestation: Attestation::SelfAttested,
            prefill_from_qr: prefill,
            attributes: vec![spec("Name"), spec("Email")],
            issued_by: Vec::new(),
        }
    }

    fn link(values: &[(&str, &str)]) -> Vec<PreparedCredential> {
        vec![PreparedCredential {
            credential_id: CRED.to_owned(),
            attributes: values
                .iter()
                .map(|(name, value)| Attribute {
                    name: (*name).to_owned(),
                    value: (*value).to_owned(),
                })
                .collect(),
        }]
    }

    fn attrs(texts: &[&str]) -> Vec<AttrArg> {
        texts.iter().map(|t| parse_attr(t).unwrap()).collect()
    }

    fn values(result: Vec<Attribute>) -> Vec<(String, String)> {
        result.into_iter().map(|a| (a.name, a.value)).collect()
    }

    #[test]
    fn attr_flags_are_plain_or_scoped_to_a_credential() {
        assert_eq!(parse_attr("Name=a=b").unwrap().value, "a=b");
        assert_eq!(parse_attr("Name=").unwrap().credential_id, None);
        let scoped = parse_attr(&format!("{CRED}:Member No=7")).unwrap();
        assert_eq!(scoped.credential_id.as_deref(), Some(CRED));
        assert_eq!(scoped.name, "Member No");
        for bad in ["Name", "=x", " =x"] {
            assert!(parse_attr(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prefilled_values_win_flags_fill_the_rest_and_the_prompt_the_remainder() {
        let flags = attrs(&["Email=a@example.org"]);
        let mut given = Given::new(&flags);
        let got = self_attested(
            &required(true),
            &link(&[("Name", "Alice")]),
            &mut given,
            &mut Scripted(vec![]),
        )
        .unwrap();
        assert_eq!(
            values(got),
            [
                ("Name".into(), "Alice".into()),
                ("Email".into(), "a@example.org".into())
            ]
        );
        given.check_all_used(&[required(true)]).unwrap();

        let mut given = Given::new(&[]);
        let got = self_attested(
            &required(true),
            &[],
            &mut given,
            &mut Scripted(vec!["Bob", "b@x"]),
        )
        .unwrap();
        assert_eq!(got[1].value, "b@x");
    }

    #[test]
    fn a_flag_may_repeat_a_prefilled_value_but_not_change_it() {
        let flags = attrs(&["Name=Alice", "Email=e"]);
        let mut given = Given::new(&flags);
        assert!(
            self_attested(
                &required(true),
                &link(&[("Name", "Alice")]),
                &mut given,
                &mut Scripted(vec![])
            )
            .is_ok()
        );

        let flags = attrs(&["Name=Mallory", "Email=e"]);
        let err = self_attested(
            &required(true),
            &link(&[("Name", "Alice")]),
            &mut Given::new(&flags),
            &mut Scripted(vec![]),
        )
        .unwrap_err();
        let err = err.downcast::<PresentError>().unwrap();
        assert!(
            matches!(err, PresentError::PrefilledConflict { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("\"Alice\""), "{err}");
    }

    #[test]
    fn link_values_for_a_requirement_not_marked_prefill_are_ignored() {
        let flags = attrs(&["Name=Bob", "Email=e"]);
        let got = self_attested(
            &required(false),
            &link(&[("Name", "Alice")]),
            &mut Given::new(&flags),
            &mut Scripted(vec![]),
        )
        .unwrap();
        assert_eq!(got[0].value, "Bob");
    }

    #[test]
    fn a_missing_value_names_the_attribute_and_an_unknown_flag_is_refused() {
        let flags = attrs(&["Name=Bob"]);
        let err = self_attested(
            &required(false),
            &[],
            &mut Given::new(&flags),
            &mut Scripted(vec![]),
        )
        .unwrap_err();
        let err = err.downcast::<PresentError>().unwrap();
        assert!(
            matches!(&err, PresentError::MissingAttribute { name, .. } if name == "Email"),
            "{err}"
        );

        let flags = attrs(&["Name=Bob", "Email=e", "Emial=x"]);
        let mut given = Given::new(&flags);
        self_attested(&required(false), &[], &mut given, &mut Scripted(vec![])).unwrap();
        let err = given.check_all_used(&[required(false)]).unwrap_err();
        assert!(
            matches!(&err, PresentError::UnknownAttribute { name, .. } if name == "Emial"),
            "{err}"
        );
        assert!(err.to_string().contains(&format!("{CRED}:Email")), "{err}");
    }

    #[test]
    fn an_enumeration_takes_only_its_values() {
        let mut req = required(false);
        req.attributes = vec![AttributeSpec {
            name: "Level".to_owned(),
            kind: "enumeration".to_owned(),
            enum_values: Some(vec![Attribute {
                name: "Gold".into(),
                value: "1".into(),
            }]),
        }];
        let ok = attrs(&["Level=1"]);
        assert!(self_attested(&req, &[], &mut Given::new(&ok), &mut Scripted(vec![])).is_ok());
        let bad = attrs(&["Level=Gold"]);
        let err =
            self_attested(&req, &[], &mut Given::new(&bad), &mut Scripted(vec![])).unwrap_err();
        assert!(err.to_string().contains("1 (Gold)"), "{err}");
    }
}
