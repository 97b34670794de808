//! The one error type of this crate.

use crate::EcLevel;

/// Why a QR code could not be made or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QrError {
    /// The text does not fit in the largest QR code (version 40) at this error-correction level.
    #[error(
        "text too long for a QR code: {bytes} bytes, at most {max_bytes} fit at error-correction \
         level {ec_level}; use a lower level or a link with a sourceURL"
    )]
    TooLong {
        /// Length of the text in bytes (UTF-8).
        bytes: usize,
        /// The error-correction level asked for.
        ec_level: EcLevel,
        /// How many bytes of arbitrary text fit at that level.
        max_bytes: usize,
    },
    /// The module size is outside `MIN_MODULE_SIZE..=MAX_MODULE_SIZE`.
    #[error(
        "module size {0} is out of range: use {min}..={max} pixels per module",
        min = crate::MIN_MODULE_SIZE,
        max = crate::MAX_MODULE_SIZE
    )]
    ModuleSize(u32),
    /// An error-correction level that is not `L`, `M`, `Q` or `H`.
    #[error("unknown error-correction level {0:?}: use L, M, Q or H")]
    UnknownEcLevel(String),
    /// A file name whose extension names no image format this crate writes.
    #[error("cannot tell the image format from {0:?}: use a name ending in .svg or .png")]
    UnknownFormat(String),
    /// The QR encoder refused the text for another reason.
    #[error("cannot encode the text as a QR code: {0}")]
    Encode(qrcode::types::QrError),
    /// Writing the PNG image failed.
    #[error("cannot write the PNG image")]
    Png(#[source] image::ImageError),
}

impl QrError {
    /// A short, stable, machine-readable name of the cause (`too_long`, `module_size`, ...).
    ///
    /// ```
    /// let err = "X".parse::<psi_qr::EcLevel>().unwrap_err();
    /// assert_eq!(err.code(), "unknown_ec_level");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            QrError::TooLong { .. } => "too_long",
            QrError::ModuleSize(_) => "module_size",
            QrError::UnknownEcLevel(_) => "unknown_ec_level",
            QrError::UnknownFormat(_) => "unknown_format",
            QrError::Encode(_) => "encode",
            QrError::Png(_) => "png",
        }
    }
}
