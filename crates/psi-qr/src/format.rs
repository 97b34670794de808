//! Image file formats and how to tell them from a file name.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use crate::QrError;

/// An image format this crate writes to a file.
///
/// ```
/// use psi_qr::ImageFormat;
/// use std::path::Path;
/// assert_eq!(ImageFormat::from_path(Path::new("code.PNG")).unwrap(), ImageFormat::Png);
/// assert_eq!("svg".parse::<ImageFormat>().unwrap(), ImageFormat::Svg);
/// assert!(ImageFormat::from_path(Path::new("code.gif")).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    /// Scalable vector graphics (text).
    Svg,
    /// Portable network graphics, 8-bit greyscale.
    Png,
}

impl ImageFormat {
    /// The format named by the file's extension (`.svg` or `.png`, any case).
    pub fn from_path(path: &Path) -> Result<Self, QrError> {
        path.extension()
            .and_then(|ext| ext.to_str())
            .and_then(|ext| ext.parse().ok())
            .ok_or_else(|| QrError::UnknownFormat(path.display().to_string()))
    }

    /// The usual file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Svg => "svg",
            ImageFormat::Png => "png",
        }
    }
}

impl fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

impl FromStr for ImageFormat {
    type Err = QrError;

    /// Parses `svg` or `png`, in either case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "svg" => Ok(ImageFormat::Svg),
            "png" => Ok(ImageFormat::Png),
            _ => Err(QrError::UnknownFormat(s.to_owned())),
        }
    }
}
