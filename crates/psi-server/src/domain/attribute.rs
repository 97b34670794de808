//! Schema attributes and their typed values (docs/protocol.md §1, §2.1).
//!
//! [`AttributeJson`] is the wire shape (`{"name","type","enumValues"?}`), the one existing web
//! pages read from `credential/id-extended` and the one the management API and the database use.
//! [`Attributes::parse`] turns it into checked values; [`validate_value`] checks what a credential
//! or a pre-filled link carries for an attribute.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::name::{Name, NameError};

/// Most attributes a schema may have.
pub const MAX_ATTRIBUTES: usize = 100;
/// Most entries an enumeration may have.
pub const MAX_ENUM_VALUES: usize = 1000;
/// Longest text value, in characters.
pub const MAX_TEXT_CHARS: usize = 4096;
/// Longest number value, in characters.
const MAX_NUMBER_CHARS: usize = 64;
/// Longest image URL, in bytes.
const MAX_URL_LEN: usize = 2048;

/// An attribute on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttributeJson {
    /// Unique within the schema; no markup (`< > & " '`).
    #[schema(example = "Birth date")]
    pub name: String,
    #[serde(rename = "type")]
    pub kind: AttributeKind,
    /// Enumerations only: the choices, in order.
    #[serde(
        rename = "enumValues",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub enum_values: Option<Vec<EnumValueJson>>,
}

/// An enumeration's choice on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnumValueJson {
    /// What people see; no markup.
    #[schema(example = "Gold")]
    pub name: String,
    /// What credentials carry: a decimal index as a string. Defaults to the entry's position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "0")]
    pub value: Option<String>,
}

/// The attribute types of docs/protocol.md §1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AttributeKind {
    /// Any text.
    Text,
    /// Seconds since the epoch as a decimal string.
    Date,
    /// A decimal number with `.` as separator.
    Number,
    /// One of the schema's choices, carried as its `value`.
    Enumeration,
    /// An http(s) URL of an image.
    Image,
}

/// A checked attribute type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeType {
    Text,
    Date,
    Number,
    Enumeration(Vec<EnumValue>),
    Image,
}

/// A checked enumeration choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumValue {
    pub name: Name,
    /// Decimal digits, unique within the enumeration.
    pub value: String,
}

/// A checked attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub name: Name,
    pub ty: AttributeType,
}

/// A schema's attributes: 1 to [`MAX_ATTRIBUTES`], names unique.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes(Vec<Attribute>);

/// Why a schema's attribute list was refused. The message names the attribute by position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttributeError {
    #[error("a schema needs at least one attribute")]
    Empty,
    #[error("a schema has at most {MAX_ATTRIBUTES} attributes")]
    TooMany,
    #[error("`attributes[{index}].name` {error}")]
    Name { index: usize, error: NameError },
    #[error("`attributes[{index}]`: the name {name:?} is used twice")]
    DuplicateName { index: usize, name: String },
    #[error("`attributes[{index}]`: an enumeration needs `enum_values` (1 to {MAX_ENUM_VALUES})")]
    NoEnumValues { index: usize },
    #[error("`attributes[{index}]`: `enum_values` apply to enumerations only")]
    EnumValuesNotAllowed { index: usize },
    #[error("`attributes[{index}].enum_values[{entry}].name` {error}")]
    EnumName {
        index: usize,
        entry: usize,
        error: NameError,
    },
    #[error(
        "`attributes[{index}].enum_values[{entry}].value` must be a decimal index such as \"0\""
    )]
    EnumValue { index: usize, entry: usize },
    #[error("`attributes[{index}].enum_values[{entry}]`: {what} {text:?} is used twice")]
    DuplicateEnum {
        index: usize,
        entry: usize,
        what: &'static str,
        text: String,
    },
}

impl Attributes {
    /// Checks attributes given on the wire. Enumeration entries without a `value` get their
    /// position.
    ///
    /// ```
    /// use psi_server::domain::{AttributeJson, Attributes};
    /// let json: Vec<AttributeJson> = serde_json::from_str(
    ///     r#"[{"name":"Level","type":"enumeration","enumValues":[{"name":"Gold"},{"name":"Silver"}]}]"#,
    /// ).unwrap();
    /// let attributes = Attributes::parse(json).unwrap();
    /// assert!(attributes.check_value("Level", "1").is_ok());
    /// assert!(attributes.check_value("Level", "2").is_err());
    /// ```
    pub fn parse(json: Vec<AttributeJson>) -> Result<Self, AttributeError> {
        if json.is_empty() {
            return Err(AttributeError::Empty);
        }
        if json.len() > MAX_ATTRIBUTES {
            return Err(AttributeError::TooMany);
        }
        let mut attributes: Vec<Attribute> = Vec::with_capacity(json.len());
        for (index, item) in json.into_iter().enumerate() {
            let name =
                Name::parse(&item.name).map_err(|error| AttributeError::Name { index, error })?;
            if attributes.iter().any(|a| a.name == name) {
                return Err(AttributeError::DuplicateName {
                    index,
                    name: name.into(),
                });
            }
            let ty = match (item.kind, item.enum_values) {
                (AttributeKind::Enumeration, Some(values)) => {
                    AttributeType::Enumeration(parse_enum_values(index, values)?)
                }
                (AttributeKind::Enumeration, None) => {
                    return Err(AttributeError::NoEnumValues { index });
                }
                (_, Some(_)) => return Err(AttributeError::EnumValuesNotAllowed { index }),
                (AttributeKind::Text, None) => AttributeType::Text,
                (AttributeKind::Date, None) => AttributeType::Date,
                (AttributeKind::Number, None) => AttributeType::Number,
                (AttributeKind::Image, None) => AttributeType::Image,
            };
            attributes.push(Attribute { name, ty });
        }
        Ok(Attributes(attributes))
    }

    /// The attribute of this name.
    pub fn get(&self, name: &str) -> Option<&Attribute> {
        self.0.iter().find(|a| a.name.as_str() == name)
    }

    /// The attributes in schema order.
    pub fn iter(&self) -> impl Iterator<Item = &Attribute> {
        self.0.iter()
    }

    /// Checks a value for the attribute `name`, which must exist.
    pub fn check_value(&self, name: &str, value: &str) -> Result<(), ValueError> {
        match self.get(name) {
            Some(attribute) => validate_value(attribute, value),
            None => Err(ValueError {
                attribute: name.to_owned(),
                problem: ValueProblem::NotInSchema,
            }),
        }
    }

    /// The wire shape, values filled in.
    pub fn to_json(&self) -> Vec<AttributeJson> {
        self.0.iter().map(Attribute::to_json).collect()
    }
}

fn parse_enum_values(
    index: usize,
    values: Vec<EnumValueJson>,
) -> Result<Vec<EnumValue>, AttributeError> {
    if values.is_empty() || values.len() > MAX_ENUM_VALUES {
        return Err(AttributeError::NoEnumValues { index });
    }
    let mut parsed: Vec<EnumValue> = Vec::with_capacity(values.len());
    for (entry, item) in values.into_iter().enumerate() {
        let name = Name::parse(&item.name).map_err(|error| AttributeError::EnumName {
            index,
            entry,
            error,
        })?;
        let value = item.value.unwrap_or_else(|| entry.to_string());
        if !is_enum_index(&value) {
            return Err(AttributeError::EnumValue { index, entry });
        }
        let duplicate = |what, text: &str| AttributeError::DuplicateEnum {
            index,
            entry,
            what,
            text: text.to_owned(),
        };
        if parsed.iter().any(|e| e.name == name) {
            return Err(duplicate("the name", name.as_str()));
        }
        if parsed.iter().any(|e| e.value == value) {
            return Err(duplicate("the value", &value));
        }
        parsed.push(EnumValue { name, value });
    }
    Ok(parsed)
}

/// 1 to 9 decimal digits: an index, as docs/protocol.md §1 carries enumerations.
fn is_enum_index(value: &str) -> bool {
    (1..=9).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit())
}

impl Attribute {
    /// The type without its enumeration values.
    pub fn kind(&self) -> AttributeKind {
        match self.ty {
            AttributeType::Text => AttributeKind::Text,
            AttributeType::Date => AttributeKind::Date,
            AttributeType::Number => AttributeKind::Number,
            AttributeType::Enumeration(_) => AttributeKind::Enumeration,
            AttributeType::Image => AttributeKind::Image,
        }
    }

    /// The wire shape.
    pub fn to_json(&self) -> AttributeJson {
        let enum_values = match &self.ty {
            AttributeType::Enumeration(values) => Some(
                values
                    .iter()
                    .map(|e| EnumValueJson {
                        name: e.name.to_string(),
                        value: Some(e.value.clone()),
                    })
                    .collect(),
            ),
            _ => None,
        };
        AttributeJson {
            name: self.name.to_string(),
            kind: self.kind(),
            enum_values,
        }
    }
}

/// A value that does not fit its attribute; the message names the attribute.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("attribute {attribute:?}: {problem}")]
pub struct ValueError {
    /// The attribute's name.
    pub attribute: String,
    pub problem: ValueProblem,
}

/// What is wrong with a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueProblem {
    #[error("the schema has no such attribute")]
    NotInSchema,
    #[error(
        "text is at most {MAX_TEXT_CHARS} characters without control characters other than line breaks and tabs"
    )]
    BadText,
    #[error(
        "a date is seconds since the epoch, a whole number from -2147483648 to 2147483647 \
         (clients read larger values as milliseconds)"
    )]
    BadDate,
    #[error("a number is decimal digits with an optional `-` and `.` fraction, such as \"-12.5\"")]
    BadNumber,
    #[error("an enumeration value is the `value` of one of its choices: {allowed}")]
    BadEnumeration { allowed: String },
    #[error("an image is an http or https URL")]
    BadImage,
}

/// Checks a value (as carried on the wire, always a string) against its attribute's type.
///
/// ```
/// use psi_server::domain::{AttributeJson, AttributeKind, Attributes, validate_value};
/// let attributes = Attributes::parse(vec![AttributeJson {
///     name: "Born".into(), kind: AttributeKind::Date, enum_values: None,
/// }]).unwrap();
/// let born = attributes.get("Born").unwrap();
/// assert!(validate_value(born, "631152000").is_ok());
/// let error = validate_value(born, "1990-01-01").unwrap_err();
/// assert!(error.to_string().starts_with("attribute \"Born\": a date is seconds"));
/// ```
pub fn validate_value(attribute: &Attribute, value: &str) -> Result<(), ValueError> {
    let problem = match &attribute.ty {
        AttributeType::Text => (!is_text(value)).then_some(ValueProblem::BadText),
        AttributeType::Date => (!is_date(value)).then_some(ValueProblem::BadDate),
        AttributeType::Number => (!is_number(value)).then_some(ValueProblem::BadNumber),
        AttributeType::Enumeration(values) => {
            (!values.iter().any(|e| e.value == value)).then(|| ValueProblem::BadEnumeration {
                allowed: values
                    .iter()
                    .map(|e| format!("{:?} ({})", e.value, e.name))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
        AttributeType::Image => (!is_image_url(value)).then_some(ValueProblem::BadImage),
    };
    match problem {
        None => Ok(()),
        Some(problem) => Err(ValueError {
            attribute: attribute.name.to_string(),
            problem,
        }),
    }
}

fn is_text(value: &str) -> bool {
    value.chars().count() <= MAX_TEXT_CHARS
        && !value
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

fn is_date(value: &str) -> bool {
    let digits = value.strip_prefix('-').unwrap_or(value);
    // `i32` is the range clients read as seconds; the parse also refuses `+`, spaces and overflow.
    is_digits(digits) && value.parse::<i32>().is_ok()
}

fn is_number(value: &str) -> bool {
    let unsigned = value.strip_prefix('-').unwrap_or(value);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, "0"));
    value.len() <= MAX_NUMBER_CHARS && is_digits(whole) && is_digits(fraction)
}

fn is_image_url(value: &str) -> bool {
    value.len() <= MAX_URL_LEN
        && url::Url::parse(value).is_ok_and(|url| {
            matches!(url.scheme(), "http" | "https")
                && url.host_str().is_some_and(|h| !h.is_empty())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn attribute(json: serde_json::Value) -> Attribute {
        let json: AttributeJson = serde_json::from_value(json).unwrap();
        Attributes::parse(vec![json]).unwrap().0.remove(0)
    }

    fn of(kind: &str) -> Attribute {
        attribute(serde_json::json!({"name": "field", "type": kind}))
    }

    fn problem(attribute: &Attribute, value: &str) -> Option<ValueProblem> {
        validate_value(attribute, value).err().map(|e| e.problem)
    }

    #[test]
    fn dates_are_whole_seconds_in_the_range_clients_read_as_seconds() {
        let date = of("date");
        for ok in ["0", "631152000", "-86400", "2147483647", "-2147483648"] {
            assert_eq!(problem(&date, ok), None, "{ok}");
        }
        for bad in [
            "",
            "2147483648",
            "1700000000000",
            "1.5",
            "+5",
            " 5",
            "1990-01-01",
            "-",
        ] {
            assert_eq!(problem(&date, bad), Some(ValueProblem::BadDate), "{bad:?}");
        }
    }

    #[test]
    fn numbers_are_decimals_with_a_point() {
        let number = of("number");
        for ok in ["0", "-12.5", "3.14159", "007"] {
            assert_eq!(problem(&number, ok), None, "{ok}");
        }
        for bad in ["", "1,5", "1.", ".5", "1e3", "NaN", "--1", "1.2.3", " 1"] {
            assert_eq!(
                problem(&number, bad),
                Some(ValueProblem::BadNumber),
                "{bad:?}"
            );
        }
        assert!(problem(&number, &"9".repeat(MAX_NUMBER_CHARS + 1)).is_some());
    }

    #[test]
    fn an_enumeration_value_is_the_value_of_a_choice_not_its_name() {
        let level = attribute(serde_json::json!({"name": "Level", "type": "enumeration",
            "enumValues": [{"name": "Gold", "value": "10"}, {"name": "Silver"}]}));
        assert_eq!(problem(&level, "10"), None);
        assert_eq!(
            problem(&level, "1"),
            None,
            "Silver defaults to its position"
        );
        let error = validate_value(&level, "Gold").unwrap_err();
        assert_eq!(
            error.to_string(),
            "attribute \"Level\": an enumeration value is the `value` of one of its choices: \
             \"10\" (Gold), \"1\" (Silver)"
        );
    }

    #[test]
    fn an_image_is_an_http_or_https_url() {
        let image = of("image");
        assert_eq!(problem(&image, "https://example.com/a.png"), None);
        assert_eq!(problem(&image, "http://10.0.0.1/a.png"), None);
        for bad in [
            "",
            "/a.png",
            "data:image/png;base64,AAAA",
            "javascript:alert(1)",
            "ftp://x/a.png",
        ] {
            assert_eq!(
                problem(&image, bad),
                Some(ValueProblem::BadImage),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn text_refuses_control_characters_and_excess_length_only() {
        let text = of("text");
        assert_eq!(problem(&text, "<b>any</b> text\nwith lines"), None);
        assert_eq!(problem(&text, "bell\u{7}"), Some(ValueProblem::BadText));
        assert_eq!(
            problem(&text, &"x".repeat(MAX_TEXT_CHARS + 1)),
            Some(ValueProblem::BadText)
        );
    }

    #[test]
    fn a_value_for_an_attribute_the_schema_lacks_is_named() {
        let attributes = Attributes::parse(vec![of("text").to_json()]).unwrap();
        let error = attributes.check_value("other", "x").unwrap_err();
        assert_eq!(
            error.to_string(),
            "attribute \"other\": the schema has no such attribute"
        );
    }

    #[test]
    fn attribute_lists_report_the_first_problem_by_position() {
        let parse = |json: serde_json::Value| {
            Attributes::parse(serde_json::from_value(json).unwrap()).unwrap_err()
        };
        assert_eq!(parse(serde_json::json!([])), AttributeError::Empty);
        let duplicate = parse(serde_json::json!([
            {"name": "a", "type": "text"}, {"name": " a ", "type": "date"}]));
        assert_eq!(
            duplicate.to_string(),
            "`attributes[1]`: the name \"a\" is used twice"
        );
        let markup = parse(serde_json::json!([{"name": "<script>", "type": "text"}]));
        assert!(
            markup
                .to_string()
                .starts_with("`attributes[0].name` must not contain '<'"),
            "{markup}"
        );
        assert_eq!(
            parse(serde_json::json!([{"name": "e", "type": "enumeration"}])),
            AttributeError::NoEnumValues { index: 0 }
        );
        assert_eq!(
            parse(
                serde_json::json!([{"name": "t", "type": "text", "enumValues": [{"name": "x"}]}])
            ),
            AttributeError::EnumValuesNotAllowed { index: 0 }
        );
        assert_eq!(
            parse(serde_json::json!([{"name": "e", "type": "enumeration",
                "enumValues": [{"name": "x", "value": "first"}]}])),
            AttributeError::EnumValue { index: 0, entry: 0 }
        );
        let twice = parse(serde_json::json!([{"name": "e", "type": "enumeration",
            "enumValues": [{"name": "x", "value": "1"}, {"name": "y"}]}]));
        assert_eq!(
            twice.to_string(),
            "`attributes[0].enum_values[1]`: the value \"1\" is used twice"
        );
    }

    #[test]
    fn the_wire_shape_round_trips_with_enum_values_filled_in() {
        let text = r#"[{"name":"Level","type":"enumeration","enumValues":[{"name":"Gold","value":"0"}]},{"name":"Photo","type":"image"}]"#;
        let attributes = Attributes::parse(serde_json::from_str(text).unwrap()).unwrap();
        assert_eq!(serde_json::to_string(&attributes.to_json()).unwrap(), text);
        let unknown = serde_json::from_str::<AttributeJson>(r#"{"name":"a","type":"text","x":1}"#);
        assert!(unknown.is_err());
        let bad_type = serde_json::from_str::<AttributeJson>(r#"{"name":"a","type":"blob"}"#);
        assert!(bad_type.is_err());
    }

    proptest! {
        #[test]
        fn every_i32_is_a_date_and_every_formatted_float_a_number(seconds: i32, x in -1e12f64..1e12) {
            prop_assert_eq!(problem(&of("date"), &seconds.to_string()), None);
            prop_assert_eq!(problem(&of("number"), &format!("{x:.3}")), None);
        }

        #[test]
        fn dates_and_numbers_accept_exactly_what_rust_parses_in_their_grammar(text in "[-+0-9. e]{0,12}") {
            if problem(&of("date"), &text).is_none() {
                prop_assert!(text.parse::<i32>().is_ok() && !text.starts_with('+'));
            }
            if problem(&of("number"), &text).is_none() {
                prop_assert!(text.parse::<f64>().is_ok());
                prop_assert!(!text.contains(['e', '+', ' ']));
            }
        }
    }
}
