//! `Query`: a query-string extractor that collects repeated keys into lists (`?a=1&a=2`), with
//! rejections in our error shape.

use axum::extract::FromRequestParts;
use axum_extra::extract::QueryRejection;

use super::error::ApiError;

/// Query parameters. A string that does not fit the type (an unknown key, a number that is not
/// one) answers 422 naming the key.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum_extra::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        let text = rejection.body_text();
        // The parser's own words, without the extractor's preamble.
        let found = text
            .split_once(": ")
            .filter(|(preamble, _)| preamble.starts_with("Failed to deserialize"))
            .map_or(text.as_str(), |(_, found)| found);
        // A parameter's name comes first, as a path: quoted like the body's members.
        let found = match found.split_once(": ") {
            Some((name, rest)) if !name.contains(char::is_whitespace) => {
                format!("`{name}`: {rest}")
            }
            _ => found.to_owned(),
        };
        ApiError::Validation(format!("the query string does not fit: {found}"))
    }
}
