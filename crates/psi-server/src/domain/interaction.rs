//! Parts of an interaction: how holders start it and the parameters of its instances.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::name::{Name, NameError};

/// Most parameters an instance may have.
pub const MAX_PARAMETERS: usize = 50;
/// Longest parameter value, in characters.
pub const MAX_PARAMETER_VALUE_CHARS: usize = 1000;

/// How holders start an interaction (`media[].type` on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum Medium {
    /// A link or QR code the holder opens or scans.
    #[serde(rename = "QR")]
    Qr,
    /// The service pushes it to a holder it knows (docs/protocol.md §4.3 `actionTemplate`).
    #[serde(rename = "PUSH")]
    Push,
}

/// Why media or parameters were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InteractionError {
    #[error("`media` lists {0:?} twice")]
    DuplicateMedium(Medium),
    #[error("an instance has at most {MAX_PARAMETERS} parameters")]
    TooManyParameters,
    #[error("`parameters[{index}].name` {error}")]
    ParameterName { index: usize, error: NameError },
    #[error("`parameters[{index}]`: the name {name:?} is used twice")]
    DuplicateParameter { index: usize, name: String },
    #[error(
        "`parameters[{index}].value` must be at most {MAX_PARAMETER_VALUE_CHARS} characters without control characters"
    )]
    ParameterValue { index: usize },
}

/// Checks a media list: each medium once.
pub fn check_media(media: &[Medium]) -> Result<(), InteractionError> {
    for (index, medium) in media.iter().enumerate() {
        if media[..index].contains(medium) {
            return Err(InteractionError::DuplicateMedium(*medium));
        }
    }
    Ok(())
}

/// An instance parameter on the wire: `{name, value}` (docs/protocol.md §4.1: `actionParams`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Parameter {
    #[schema(example = "location")]
    pub name: String,
    #[schema(example = "Berlin")]
    pub value: String,
}

/// Checked instance parameters: names are [`Name`]s (pages show them), unique; values are short
/// text.
///
/// ```
/// use psi_server::domain::{Parameter, Parameters};
/// let p = Parameters::parse(vec![Parameter { name: " city ".into(), value: "Berlin".into() }]).unwrap();
/// assert_eq!(p.as_slice()[0].name, "city");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parameters(Vec<Parameter>);

impl Parameters {
    /// Checks parameters given on the wire; names are trimmed.
    pub fn parse(parameters: Vec<Parameter>) -> Result<Self, InteractionError> {
        if parameters.len() > MAX_PARAMETERS {
            return Err(InteractionError::TooManyParameters);
        }
        let mut checked: Vec<Parameter> = Vec::with_capacity(parameters.len());
        for (index, parameter) in parameters.into_iter().enumerate() {
            let name = Name::parse(&parameter.name)
                .map_err(|error| InteractionError::ParameterName { index, error })?;
            if checked.iter().any(|p| p.name == name.as_str()) {
                return Err(InteractionError::DuplicateParameter {
                    index,
                    name: name.into(),
                });
            }
            let value = parameter.value;
            if value.chars().count() > MAX_PARAMETER_VALUE_CHARS
                || value.chars().any(char::is_control)
            {
                return Err(InteractionError::ParameterValue { index });
            }
            checked.push(Parameter {
                name: name.into(),
                value,
            });
        }
        Ok(Parameters(checked))
    }

    /// The parameters in order.
    pub fn as_slice(&self) -> &[Parameter] {
        &self.0
    }

    /// The parameters, to serialise.
    pub fn into_vec(self) -> Vec<Parameter> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parameter(name: &str, value: &str) -> Parameter {
        Parameter {
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn media_are_qr_and_push_on_the_wire_each_once() {
        let media: Vec<Medium> = serde_json::from_str(r#"["QR","PUSH"]"#).unwrap();
        assert_eq!(media, [Medium::Qr, Medium::Push]);
        assert!(serde_json::from_str::<Vec<Medium>>(r#"["qr"]"#).is_err());
        assert_eq!(check_media(&media), Ok(()));
        assert_eq!(
            check_media(&[Medium::Qr, Medium::Qr]),
            Err(InteractionError::DuplicateMedium(Medium::Qr))
        );
    }

    #[test]
    fn parameters_need_unique_plain_names_and_short_values() {
        let error = Parameters::parse(vec![parameter("a", "1"), parameter("a ", "2")]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`parameters[1]`: the name \"a\" is used twice"
        );
        assert!(matches!(
            Parameters::parse(vec![parameter("<b>", "1")]),
            Err(InteractionError::ParameterName { index: 0, .. })
        ));
        let long = "x".repeat(MAX_PARAMETER_VALUE_CHARS + 1);
        assert_eq!(
            Parameters::parse(vec![parameter("a", &long)]),
            Err(InteractionError::ParameterValue { index: 0 })
        );
        assert_eq!(
            Parameters::parse(vec![parameter("a", "line\nbreak")]),
            Err(InteractionError::ParameterValue { index: 0 })
        );
        let many = (0..=MAX_PARAMETERS)
            .map(|i| parameter(&i.to_string(), ""))
            .collect();
        assert_eq!(
            Parameters::parse(many),
            Err(InteractionError::TooManyParameters)
        );
        assert!(Parameters::parse(vec![parameter("empty value", "")]).is_ok());
    }
}
