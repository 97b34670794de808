//! How every list of the management API pages: `limit` and an opaque `cursor` in, one envelope
//! out, `{"data": [...], "next_cursor": ...}`. Lists read one page in SQL after the cursor's
//! position (keyset pagination, `db::Paging`), so a page costs the same however deep it is.

use serde::Serialize;
use utoipa::ToSchema;

use crate::db::{Cursor, Paging, Positioned};
use crate::http::error::ApiError;

/// Largest page of a list.
pub const MAX_LIMIT: i64 = 500;
/// Page size when none is asked for.
pub const DEFAULT_LIMIT: i64 = 50;

/// A page of a list, in the list's order.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// The page of `rows`, read with [`Paging::fetch`], each shown as a `T`.
    pub fn cut<R: Positioned>(paging: &Paging, rows: Vec<R>) -> Self
    where
        T: From<R>,
    {
        let (rows, next) = paging.cut(rows);
        Page {
            data: rows.into_iter().map(T::from).collect(),
            next_cursor: next.as_ref().map(Cursor::encode),
        }
    }
}

/// The page asked for: `limit` from 1 to [`MAX_LIMIT`] (default [`DEFAULT_LIMIT`]) and a
/// `cursor` that a previous page gave; 422 otherwise.
pub fn paging(limit: Option<i64>, cursor: Option<&str>) -> Result<Paging, ApiError> {
    let limit = match limit {
        None => DEFAULT_LIMIT,
        Some(n) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => {
            return Err(ApiError::Validation(format!(
                "`limit` must be from 1 to {MAX_LIMIT}"
            )));
        }
    };
    let after = cursor
        .map(|text| {
            Cursor::decode(text).ok_or_else(|| {
                ApiError::Validation("`cursor` must be a `next_cursor` of a previous page".into())
            })
        })
        .transpose()?;
    Ok(Paging { after, limit })
}

/// Declares a list's query parameters: its filters, then `limit` and `cursor`, which every list
/// takes alike (the query extractor cannot flatten one struct into another and still refuse
/// unknown parameters). `paging()` checks the two.
macro_rules! list_query {
    ($(#[$attr:meta])* pub struct $name:ident {
        $($(#[$field_attr:meta])* pub $field:ident: $ty:ty,)*
    }) => {
        $(#[$attr])*
        #[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
        #[serde(deny_unknown_fields)]
        #[into_params(parameter_in = Query)]
        pub struct $name {
            $($(#[$field_attr])* pub $field: $ty,)*
            /// At most this many items (1 to 500, default 50).
            pub limit: Option<i64>,
            /// Where the page starts: the `next_cursor` of the previous page, as it is.
            pub cursor: Option<String>,
        }

        impl $name {
            /// The page asked for; 422 when `limit` or `cursor` is not valid.
            pub fn paging(&self) -> Result<$crate::db::Paging, $crate::http::error::ApiError> {
                $crate::api::page::paging(self.limit, self.cursor.as_deref())
            }
        }
    };
}
pub(crate) use list_query;

list_query! {
    /// Paging of a list without filters.
    pub struct PageQuery {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_bounds_are_the_checked_ones() {
        assert!(paging(Some(0), None).is_err());
        assert!(paging(Some(MAX_LIMIT + 1), None).is_err());
        assert_eq!(paging(None, None).unwrap().limit, DEFAULT_LIMIT);
        assert_eq!(paging(Some(MAX_LIMIT), None).unwrap().limit, 500);
        assert_eq!(
            DEFAULT_LIMIT, 50,
            "the doc of `limit` in `list_query!` says 50"
        );
    }
}
