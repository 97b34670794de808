//! The CSV header grammar of `psi link batch`: which request field each column fills.

use anyhow::{Result, bail};
use psi_link::{CredentialDefinitionId, LinkRequest};

use crate::cmd::request::split_credential_attribute;

/// Output columns added after the input's; an input may not already have them.
pub const OUTPUT_COLUMNS: [&str; 3] = ["link", "qr_file", "error"];

/// What one input column fills.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    /// `instance_id` or `id`: the request's `id`.
    InstanceId,
    /// `callback`.
    Callback,
    /// `CREDENTIAL_ID:ATTR NAME`, or `ATTR NAME` with a one-credential template.
    Attribute { credential_id: String, name: String },
}

/// The role of every input column, in order.
#[derive(Debug)]
pub struct Columns(Vec<Column>);

impl Columns {
    /// Reads the header row against the template; fails on a header that fills nothing.
    pub fn from_headers<'a>(
        headers: impl IntoIterator<Item = &'a str>,
        template: &LinkRequest,
    ) -> Result<Columns> {
        let only_credential = match template.prepared_credentials.as_deref() {
            Some([only]) => Some(only.credential_id.as_str()),
            _ => None,
        };
        let mut columns = Vec::new();
        for (index, header) in headers.into_iter().enumerate() {
            let header = header.trim();
            let column = match header {
                "instance_id" | "id" => Column::InstanceId,
                "callback" => Column::Callback,
                _ if OUTPUT_COLUMNS.contains(&header) => {
                    bail!(
                        "column {} is named `{header}`, which psi adds to the output",
                        index + 1
                    )
                }
                _ => attribute_column(index, header, only_credential)?,
            };
            if columns.contains(&column) {
                bail!(
                    "column {} (`{header}`) fills the same field as an earlier column",
                    index + 1
                );
            }
            columns.push(column);
        }
        Ok(Columns(columns))
    }

    /// Number of input columns.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Fills `req` from a row's cells; empty cells keep the template's value.
    pub fn fill(&self, req: &mut LinkRequest, cells: &[String]) {
        for (column, cell) in self.0.iter().zip(cells) {
            if cell.is_empty() {
                continue;
            }
            match column {
                Column::InstanceId => req.id = Some(cell.clone()),
                Column::Callback => req.callback = Some(cell.clone()),
                Column::Attribute {
                    credential_id,
                    name,
                } => req.set_prefilled(credential_id, name, cell),
            }
        }
    }

    /// The instance id of a row, if a column gives it.
    pub fn instance_id<'a>(&self, cells: &'a [String]) -> Option<&'a str> {
        self.0
            .iter()
            .zip(cells)
            .find(|(column, cell)| **column == Column::InstanceId && !cell.is_empty())
            .map(|(_, cell)| cell.as_str())
    }
}

fn attribute_column(index: usize, header: &str, only_credential: Option<&str>) -> Result<Column> {
    let (credential_id, name) = match (split_credential_attribute(header), only_credential) {
        (Some((credential_id, name)), _) => (credential_id, name),
        (None, Some(credential_id)) if !header.is_empty() && !header.contains(':') => {
            (credential_id, header)
        }
        _ => bail!(
            "column {} (`{header}`) fills nothing: expected instance_id, id, callback, \
             CREDENTIAL_ID:ATTR NAME, or ATTR NAME when the template has exactly one prepared credential",
            index + 1
        ),
    };
    if let Err(reason) = credential_id.parse::<CredentialDefinitionId>() {
        bail!(
            "column {} (`{header}`): malformed credential id `{credential_id}`: {reason}",
            index + 1
        );
    }
    Ok(Column::Attribute {
        credential_id: credential_id.to_owned(),
        name: name.trim().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CRED: &str = "GbzPqgnU4XsMs7xg9mYJW8:3:CL:200:tag";

    fn template(credentials: usize) -> LinkRequest {
        let mut req = LinkRequest::default();
        for i in 0..credentials {
            req.set_prefilled(
                &format!("GbzPqgnU4XsMs7xg9mYJW8:3:CL:20{i}:tag"),
                "Name",
                "x",
            );
        }
        req
    }

    #[test]
    fn headers_map_to_fields_and_bare_names_need_exactly_one_template_credential() {
        let headers = ["id", "callback", "Member No", &format!("{CRED}:Name")];
        let columns = Columns::from_headers(headers, &template(1)).unwrap();
        assert_eq!(columns.len(), 4);
        let mut req = template(1);
        let cells = ["i1", "", "42", "Alice"].map(String::from);
        columns.fill(&mut req, &cells);
        assert_eq!(req.id.as_deref(), Some("i1"));
        assert_eq!(req.callback, None);
        assert_eq!(columns.instance_id(&cells), Some("i1"));
        let credential = &req.prepared_credentials.unwrap()[0];
        let values: Vec<(&str, &str)> = credential
            .attributes
            .iter()
            .map(|a| (a.name.as_str(), a.value.as_str()))
            .collect();
        assert_eq!(values, [("Name", "Alice"), ("Member No", "42")]);

        for credentials in [0, 2] {
            let err = Columns::from_headers(["Member No"], &template(credentials)).unwrap_err();
            assert!(
                err.to_string().contains("exactly one prepared credential"),
                "{err}"
            );
        }
    }

    #[test]
    fn reserved_duplicate_and_malformed_headers_are_refused() {
        for (headers, expected) in [
            (vec!["id", "link"], "psi adds to the output"),
            (vec!["id", "instance_id"], "same field"),
            (vec!["callback", "callback"], "same field"),
            (vec!["Name", &format!("{CRED}:Name")], "same field"),
            (vec!["nope:3:CL:1:t:Name"], "malformed credential id"),
        ] {
            let err = Columns::from_headers(headers, &template(1)).unwrap_err();
            assert!(err.to_string().contains(expected), "{err}");
        }
    }
}
