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
        ApiError::Validation(rejection.body_text())
    }
}
