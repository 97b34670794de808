//! Names and descriptions people choose: trimmed, bounded, and (names) free of markup.

use std::fmt;

/// Longest name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 4000;

/// Characters existing web pages would read as markup: they insert schema and attribute names
/// with `innerHTML` (docs/protocol.md §2.1), so such names are refused when created, not escaped later.
const MARKUP: [char; 5] = ['<', '>', '&', '"', '\''];

/// Why a name or description was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Nothing left after trimming.
    #[error("must not be empty")]
    Empty,
    /// Longer than allowed.
    #[error("must be at most {max} characters")]
    TooLong {
        /// The limit, in characters.
        max: usize,
    },
    /// A character pages would read as markup.
    #[error("must not contain {0:?} (web pages show names as HTML)")]
    Markup(char),
    /// A control character (line breaks included).
    #[error("must not contain control characters")]
    Control,
}

/// A name shown to holders and on web pages: 1 to [`MAX_NAME_CHARS`] characters after trimming,
/// no control characters and none of `< > & " '`.
///
/// ```
/// use psi_server::domain::Name;
/// assert_eq!(Name::parse("  Membership ").unwrap().as_str(), "Membership");
/// assert!(Name::parse("<img src=x onerror=alert(1)>").is_err());
/// assert!(Name::parse("   ").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Name(String);

impl Name {
    /// Trims and checks `text`.
    pub fn parse(text: &str) -> Result<Self, NameError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(NameError::Empty);
        }
        if text.chars().count() > MAX_NAME_CHARS {
            return Err(NameError::TooLong {
                max: MAX_NAME_CHARS,
            });
        }
        if let Some(c) = text.chars().find(|c| MARKUP.contains(c)) {
            return Err(NameError::Markup(c));
        }
        if text.chars().any(char::is_control) {
            return Err(NameError::Control);
        }
        Ok(Name(text.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Name> for String {
    fn from(name: Name) -> String {
        name.0
    }
}

/// Free text describing something: trimmed, at most [`MAX_DESCRIPTION_CHARS`] characters, no
/// control characters other than line breaks and tabs. It may be empty. Whoever renders it
/// escapes it.
///
/// ```
/// use psi_server::domain::Description;
/// assert_eq!(Description::parse(" Proves membership.\n").unwrap().as_str(), "Proves membership.");
/// assert!(Description::parse("bell\u{7}").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description(String);

impl Description {
    /// Trims and checks `text`.
    pub fn parse(text: &str) -> Result<Self, NameError> {
        let text = text.trim();
        if text.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(NameError::TooLong {
                max: MAX_DESCRIPTION_CHARS,
            });
        }
        if text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(NameError::Control);
        }
        Ok(Description(text.to_owned()))
    }

    /// The description as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<Description> for String {
    fn from(description: Description) -> String {
        description.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_name_is_trimmed() {
        assert_eq!(Name::parse("\t Full name  ").unwrap().as_str(), "Full name");
    }

    #[test]
    fn an_empty_or_blank_name_is_refused() {
        assert_eq!(Name::parse(""), Err(NameError::Empty));
        assert_eq!(Name::parse(" \n "), Err(NameError::Empty));
    }

    #[test]
    fn each_markup_character_is_refused_and_named() {
        for c in MARKUP {
            let error = Name::parse(&format!("a{c}b")).unwrap_err();
            assert_eq!(error, NameError::Markup(c));
            assert!(error.to_string().contains(&format!("{c:?}")), "{error}");
        }
    }

    #[test]
    fn control_characters_inside_a_name_are_refused() {
        assert_eq!(Name::parse("line\nbreak"), Err(NameError::Control));
        assert_eq!(Name::parse("nul\0"), Err(NameError::Control));
    }

    #[test]
    fn a_name_may_have_max_characters_and_not_one_more() {
        let longest = "é".repeat(MAX_NAME_CHARS);
        assert!(Name::parse(&longest).is_ok());
        assert_eq!(
            Name::parse(&format!("{longest}e")),
            Err(NameError::TooLong {
                max: MAX_NAME_CHARS
            })
        );
    }

    #[test]
    fn a_description_may_be_empty_and_span_lines() {
        assert_eq!(Description::parse("").unwrap().as_str(), "");
        assert_eq!(Description::parse("a\r\n\tb").unwrap().as_str(), "a\r\n\tb");
        let long = "x".repeat(MAX_DESCRIPTION_CHARS + 1);
        assert!(matches!(
            Description::parse(&long),
            Err(NameError::TooLong { .. })
        ));
    }

    proptest! {
        #[test]
        fn accepted_names_are_trimmed_and_free_of_markup(text in "\\PC{0,250}") {
            if let Ok(name) = Name::parse(&text) {
                let name = name.as_str();
                prop_assert_eq!(name, name.trim());
                prop_assert!(!name.is_empty());
                prop_assert!(name.chars().count() <= MAX_NAME_CHARS);
                prop_assert!(!name.contains(MARKUP));
                prop_assert!(!name.chars().any(char::is_control));
            }
        }
    }
}
