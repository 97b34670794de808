//! Configuration errors, and the value parsers the sections of other modules share. A leaf: the
//! sections (`[delivery]`, `[inbound]`, ...) live with their modules and use it without
//! depending on the whole configuration.

use std::path::PathBuf;

/// Why a configuration could not be loaded. Every variant names the key or variable at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value is not acceptable, or has the wrong type, or the key is unknown.
    #[error("configuration key `{key}`: {message}")]
    Invalid { key: String, message: String },
    /// The configuration file given does not exist.
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    /// A `PSI_<KEY>_FILE` could not be read.
    #[error("cannot read {var} ({path}): {source}")]
    SecretFile {
        var: String,
        path: PathBuf,
        source: std::io::Error,
    },
    /// Both `PSI_<KEY>` and `PSI_<KEY>_FILE` are set.
    #[error("both {var} and {var}_FILE are set: use one")]
    Ambiguous { var: String },
}

/// A duration written like `"250ms"`, `"5s"`, `"30m"`, `"10h"` or `"5d"`, for the key `key`.
pub fn parse_duration(key: &str, text: &str) -> Result<std::time::Duration, ConfigError> {
    humantime::parse_duration(text.trim()).map_err(|e| ConfigError::Invalid {
        key: key.to_owned(),
        message: format!("{text:?} is not a duration like \"5s\": {e}"),
    })
}
