//! QR codes for psi interaction links (or any text): SVG, PNG and terminal output.
//!
//! The code always keeps the 4-module quiet zone that scanners need, the error-correction level
//! is selectable ([`EcLevel`]), and [`QrInfo`] reports the version and size so callers can warn
//! when a code gets too dense to scan comfortably (a link with a `sourceURL` keeps codes small).
//!
//! This crate does no I/O: it returns strings and bytes.
//!
//! ```
//! use psi_qr::{EcLevel, Qr, QrOptions};
//!
//! let qr = Qr::new("https://proofspace.id/native/execute/eyJhY3Rpb25JZCI6IjEifQ",
//!                  QrOptions { ec_level: EcLevel::Q, module_size: 4 })?;
//! let info = qr.info();
//! assert_eq!(info.ec_level, EcLevel::Q);
//! assert_eq!(info.modules, 4 * info.version as u32 + 17);
//! assert!(!info.is_dense());
//!
//! let svg: String = qr.to_svg();
//! assert!(svg.contains("<svg"));
//! let png: Vec<u8> = qr.to_png()?;
//! assert!(png.starts_with(b"\x89PNG"));
//! let text: String = qr.to_terminal(psi_qr::TerminalColors::Plain);
//! assert!(text.contains('█'));
//! # Ok::<(), psi_qr::QrError>(())
//! ```
#![deny(missing_docs)]

mod ec;
mod error;
mod format;
mod terminal;

use std::io::Cursor;

use image::{ImageEncoder, Luma};
use qrcode::{QrCode, Version};

pub use ec::EcLevel;
pub use error::QrError;
pub use format::ImageFormat;
pub use terminal::TerminalColors;

/// Width of the light border around the code, in modules (the minimum ISO/IEC 18004 asks for).
pub const QUIET_ZONE: u32 = 4;
/// Codes above this version are reported as dense ([`QrInfo::is_dense`]).
pub const DENSE_ABOVE_VERSION: u8 = 10;
/// Smallest module size in pixels.
pub const MIN_MODULE_SIZE: u32 = 1;
/// Largest module size in pixels; bounds the PNG (a version 40 code is then 5,920 px wide).
pub const MAX_MODULE_SIZE: u32 = 32;

/// How to build a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QrOptions {
    /// Error-correction level.
    pub ec_level: EcLevel,
    /// Pixels per module in SVG and PNG output (the terminal always uses one character cell
    /// per module across and half a cell down).
    pub module_size: u32,
}

impl Default for QrOptions {
    /// Level M, 8 pixels per module.
    fn default() -> Self {
        QrOptions {
            ec_level: EcLevel::M,
            module_size: 8,
        }
    }
}

/// What kind of code was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QrInfo {
    /// QR version, 1 to 40.
    pub version: u8,
    /// Modules across (and down), without the quiet zone: `4 * version + 17`.
    pub modules: u32,
    /// The error-correction level used.
    pub ec_level: EcLevel,
}

impl QrInfo {
    /// The code [`Qr::new`] would make for `text` at `ec_level`, found without drawing it:
    /// drawing scores eight masks, which takes milliseconds for larger codes, while sizing only
    /// encodes the data.
    ///
    /// ```
    /// use psi_qr::{EcLevel, Qr, QrInfo, QrOptions};
    /// let link = "https://proofspace.id/native/execute/eyJhY3Rpb25JZCI6IjEifQ";
    /// let info = QrInfo::for_text(link, EcLevel::Q)?;
    /// assert_eq!(info, Qr::new(link, QrOptions { ec_level: EcLevel::Q, module_size: 4 })?.info());
    /// assert_eq!(QrInfo::for_text(&"x".repeat(5000), EcLevel::M).unwrap_err().code(), "too_long");
    /// # Ok::<(), psi_qr::QrError>(())
    /// ```
    pub fn for_text(text: &str, ec_level: EcLevel) -> Result<QrInfo, QrError> {
        let bits = qrcode::bits::encode_auto(text.as_bytes(), ec_level.to_qrcode())
            .map_err(|err| encode_error(err, text, ec_level))?;
        Ok(QrInfo::new(bits.version(), ec_level))
    }

    fn new(version: Version, ec_level: EcLevel) -> QrInfo {
        QrInfo {
            // Automatic sizing only picks normal versions (1..=40); micro codes are never made.
            version: match version {
                Version::Normal(v) | Version::Micro(v) => v as u8,
            },
            modules: version.width() as u32,
            ec_level,
        }
    }

    /// Whether the code is above [`DENSE_ABOVE_VERSION`]: small prints and phone cameras
    /// struggle with such codes.
    ///
    /// ```
    /// let long = format!("https://example.com/{}", "x".repeat(600));
    /// let qr = psi_qr::Qr::new(&long, Default::default())?;
    /// assert!(qr.info().is_dense());
    /// assert!(qr.info().density_warning().unwrap().contains("sourceURL"));
    /// # Ok::<(), psi_qr::QrError>(())
    /// ```
    pub fn is_dense(&self) -> bool {
        self.version > DENSE_ABOVE_VERSION
    }

    /// A warning for people when the code is dense, `None` otherwise.
    pub fn density_warning(&self) -> Option<String> {
        self.is_dense().then(|| {
            format!(
                "the QR code is dense (version {} > {DENSE_ABOVE_VERSION}, {} modules across) and \
                 may be hard to scan: consider a short link with a sourceURL that points at the \
                 full request, or a lower error-correction level",
                self.version, self.modules
            )
        })
    }

    /// Width (and height) in pixels of the SVG or PNG image for a module size, quiet zone included.
    pub fn image_size(&self, module_size: u32) -> u32 {
        (self.modules + 2 * QUIET_ZONE) * module_size
    }
}

/// The error for a text the encoder refuses.
fn encode_error(err: qrcode::types::QrError, text: &str, ec_level: EcLevel) -> QrError {
    match err {
        qrcode::types::QrError::DataTooLong => QrError::TooLong {
            bytes: text.len(),
            ec_level,
            max_bytes: ec_level.max_bytes(),
        },
        other => QrError::Encode(other),
    }
}

/// A QR code ready to be rendered.
pub struct Qr {
    code: QrCode,
    info: QrInfo,
    module_size: u32,
}

impl Qr {
    /// Encodes the text (its UTF-8 bytes) in the smallest code that fits at the chosen level.
    ///
    /// Errors: [`QrError::TooLong`] when the text does not fit even in version 40,
    /// [`QrError::ModuleSize`] when the module size is out of range.
    ///
    /// ```
    /// let err = psi_qr::Qr::new(&"x".repeat(5000), Default::default()).err().unwrap();
    /// assert_eq!(err.code(), "too_long");
    /// ```
    pub fn new(text: &str, options: QrOptions) -> Result<Qr, QrError> {
        if !(MIN_MODULE_SIZE..=MAX_MODULE_SIZE).contains(&options.module_size) {
            return Err(QrError::ModuleSize(options.module_size));
        }
        let code = QrCode::with_error_correction_level(text, options.ec_level.to_qrcode())
            .map_err(|err| encode_error(err, text, options.ec_level))?;
        Ok(Qr {
            info: QrInfo::new(code.version(), options.ec_level),
            code,
            module_size: options.module_size,
        })
    }

    /// Version, size and level of the code.
    pub fn info(&self) -> QrInfo {
        self.info
    }

    /// An SVG document, black modules on a white background, quiet zone included.
    pub fn to_svg(&self) -> String {
        self.code
            .render::<qrcode::render::svg::Color<'_>>()
            .quiet_zone(true)
            .module_dimensions(self.module_size, self.module_size)
            .build()
    }

    /// A greyscale PNG file's bytes, black modules on a white background, quiet zone included.
    pub fn to_png(&self) -> Result<Vec<u8>, QrError> {
        let image = self
            .code
            .render::<Luma<u8>>()
            .quiet_zone(true)
            .module_dimensions(self.module_size, self.module_size)
            .build();
        let mut png = Vec::new();
        image::codecs::png::PngEncoder::new(Cursor::new(&mut png))
            .write_image(
                image.as_raw(),
                image.width(),
                image.height(),
                image::ExtendedColorType::L8,
            )
            .map_err(QrError::Png)?;
        Ok(png)
    }

    /// The file contents for an image format: SVG text or PNG bytes.
    pub fn to_image(&self, format: ImageFormat) -> Result<Vec<u8>, QrError> {
        match format {
            ImageFormat::Svg => Ok(self.to_svg().into_bytes()),
            ImageFormat::Png => self.to_png(),
        }
    }

    /// Text for a terminal: Unicode half blocks, two modules per character cell vertically,
    /// dark modules drawn as glyphs, lines separated by `\n` (no trailing newline).
    pub fn to_terminal(&self, colors: TerminalColors) -> String {
        terminal::render(&self.code, colors)
    }
}
