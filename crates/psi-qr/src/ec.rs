//! Error-correction levels.

use std::fmt;
use std::str::FromStr;

use crate::QrError;

/// How much of the code can be damaged and still be read: L ≈ 7 %, M ≈ 15 %, Q ≈ 25 %, H ≈ 30 %.
/// Higher levels make denser codes for the same text.
///
/// ```
/// use psi_qr::EcLevel;
/// assert_eq!("q".parse::<EcLevel>().unwrap(), EcLevel::Q);
/// assert_eq!(EcLevel::H.to_string(), "H");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EcLevel {
    /// Low, about 7 % recoverable.
    L,
    /// Medium, about 15 % recoverable; the default, a good fit for screens.
    #[default]
    M,
    /// Quartile, about 25 % recoverable.
    Q,
    /// High, about 30 % recoverable; for printed codes that may get worn.
    H,
}

impl EcLevel {
    /// All levels, lowest first.
    pub const ALL: [EcLevel; 4] = [EcLevel::L, EcLevel::M, EcLevel::Q, EcLevel::H];

    /// How many bytes of arbitrary (byte-mode) text fit in a version 40 code at this level
    /// (ISO/IEC 18004 capacity table).
    pub fn max_bytes(self) -> usize {
        match self {
            EcLevel::L => 2953,
            EcLevel::M => 2331,
            EcLevel::Q => 1663,
            EcLevel::H => 1273,
        }
    }

    pub(crate) fn to_qrcode(self) -> qrcode::EcLevel {
        match self {
            EcLevel::L => qrcode::EcLevel::L,
            EcLevel::M => qrcode::EcLevel::M,
            EcLevel::Q => qrcode::EcLevel::Q,
            EcLevel::H => qrcode::EcLevel::H,
        }
    }
}

impl fmt::Display for EcLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EcLevel::L => "L",
            EcLevel::M => "M",
            EcLevel::Q => "Q",
            EcLevel::H => "H",
        })
    }
}

impl FromStr for EcLevel {
    type Err = QrError;

    /// Parses `L`, `M`, `Q` or `H`, in either case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "L" => Ok(EcLevel::L),
            "M" => Ok(EcLevel::M),
            "Q" => Ok(EcLevel::Q),
            "H" => Ok(EcLevel::H),
            _ => Err(QrError::UnknownEcLevel(s.to_owned())),
        }
    }
}
