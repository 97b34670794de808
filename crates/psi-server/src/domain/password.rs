//! Operators' passwords and user names (docs/dashboard.md): argon2id hashes in PHC strings, with
//! the crate's default parameters (19 MiB, 2 passes, 1 lane: OWASP's minimum for argon2id).

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2};

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest: hashing cost grows with the input.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Why a user name or password is refused.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// Why a password has no hash: refused, or a failure of the hasher (not the caller's fault).
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error("the password could not be hashed: {0}")]
    Failed(String),
}

/// A user name: 1 to 64 of lower-case a-z, 0-9, `.`, `_`, `-`, `@` (upper case is folded).
pub fn username(text: &str) -> Result<String, Refused> {
    let name = text.trim().to_lowercase();
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-_@".contains(c);
    if name.is_empty() || name.len() > 64 || !name.chars().all(allowed) {
        return Err(Refused(
            "a user name is 1 to 64 of a-z, 0-9, `.`, `_`, `-` and `@`".into(),
        ));
    }
    Ok(name)
}

/// The argon2id hash of an acceptable password.
pub fn hash(password: &str) -> Result<String, HashError> {
    if password.chars().count() < MIN_PASSWORD_CHARS || password.len() > MAX_PASSWORD_BYTES {
        return Err(Refused(format!(
            "a password has at least {MIN_PASSWORD_CHARS} characters (and at most \
             {MAX_PASSWORD_BYTES} bytes)"
        ))
        .into());
    }
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| HashError::Failed(e.to_string()))
}

/// Whether `password` is the one `phc` was made of; a malformed hash matches nothing.
pub fn verify(phc: &str, password: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    PasswordHash::new(phc)
        .is_ok_and(|hash| argon2().verify_password(password.as_bytes(), &hash).is_ok())
}

/// A hash to verify against when the user name is unknown, so that the answer takes as long as
/// for a known one.
pub fn decoy() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash("decoy password, never matches").expect("a valid password"))
}

fn argon2() -> Argon2<'static> {
    Argon2::new(
        Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify_only_their_password() {
        let phc = hash("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$"), "{phc}");
        assert!(verify(&phc, "correct horse battery"));
        assert!(!verify(&phc, "correct horse batterY"));
        assert!(!verify("not a hash", "correct horse battery"));
        assert!(!verify(decoy(), "correct horse battery"));
        assert!(hash("short").is_err());
    }

    #[test]
    fn user_names_are_folded_and_checked() {
        assert_eq!(username(" Ada.L@Example ").unwrap(), "ada.l@example");
        for bad in ["", "a b", "ada<script>", &"a".repeat(65)] {
            assert!(username(bad).is_err(), "{bad:?}");
        }
    }
}
