//! Voter pseudonyms: a keyed hash (HMAC-SHA256) of a participant's Discord user id.
//!
//! The raw user id is never stored or logged: the bot turns it into a [`Pseudonym`] the moment
//! a reaction arrives, mixed with a per-round secret ([`crate::round_keys`]) so that records a
//! closed round leaves behind can no longer be linked to anyone. The key lives outside the database — in `STEMKAART_VOTER_KEY`, or in a
//! key file created on first use next to the database with 0600 permissions — so a copy of the
//! database alone cannot be matched against user ids.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

type HmacSha256 = Hmac<Sha256>;

/// The environment variable that may hold the key.
pub const KEY_ENV: &str = "STEMKAART_VOTER_KEY";

/// A participant as stored: 32 bytes of HMAC-SHA256 over the user id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pseudonym(pub [u8; 32]);

impl fmt::Debug for Pseudonym {
    // Short, so logs can tell voters apart without carrying the whole value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pseudonym({})", hex::encode(&self.0[..4]))
    }
}

/// The secret key for pseudonyms.
#[derive(Clone)]
pub struct VoterKey {
    key: Vec<u8>,
    origin: String,
}

impl fmt::Debug for VoterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VoterKey(from {})", self.origin)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{KEY_ENV} is set but shorter than 16 characters; use a long random value")]
    TooShort,
    #[error("cannot read the voter key file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the voter key file {path} is damaged: expected 64 hex digits")]
    Damaged { path: PathBuf },
    #[error("cannot create the voter key file {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl VoterKey {
    /// Use `env_value` (the value of `STEMKAART_VOTER_KEY`) when given; otherwise the key file
    /// for this database, created with 32 random bytes on first use.
    pub fn load(db_path: &Path, env_value: Option<&str>) -> Result<VoterKey, KeyError> {
        if let Some(value) = env_value {
            if value.chars().count() < 16 {
                return Err(KeyError::TooShort);
            }
            return Ok(VoterKey {
                key: value.as_bytes().to_vec(),
                origin: KEY_ENV.to_string(),
            });
        }
        let path = key_file_for(db_path);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let key = hex::decode(text.trim())
                    .ok()
                    .filter(|k| k.len() == 32)
                    .ok_or_else(|| KeyError::Damaged { path: path.clone() })?;
                Ok(VoterKey {
                    key,
                    origin: path.display().to_string(),
                })
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Self::create(&path),
            Err(source) => Err(KeyError::Read { path, source }),
        }
    }

    /// Like [`VoterKey::load`], but `None` instead of creating a missing key file.
    pub fn existing(db_path: &Path, env_value: Option<&str>) -> Result<Option<VoterKey>, KeyError> {
        if env_value.is_some() || key_file_for(db_path).exists() {
            Self::load(db_path, env_value).map(Some)
        } else {
            Ok(None)
        }
    }

    fn create(path: &Path) -> Result<VoterKey, KeyError> {
        let failed = |source| KeyError::Create {
            path: path.to_path_buf(),
            source,
        };
        let mut key = [0u8; 32];
        getrandom::getrandom(&mut key).map_err(|e| failed(std::io::Error::other(e)))?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(failed)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(failed)?;
        writeln!(file, "{}", hex::encode(key)).map_err(failed)?;
        file.sync_all().map_err(failed)?;
        Ok(VoterKey {
            key: key.to_vec(),
            origin: path.display().to_string(),
        })
    }

    /// Where the key came from (the variable's name or the file's path), for messages.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// A voter's pseudonym in one round: HMAC(key, round secret ‖ user id). Without the round
    /// secret (forgotten when the round closes) it cannot be linked to the user any more.
    pub fn pseudonym(&self, round_secret: &[u8; 32], user_id: u64) -> Pseudonym {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(round_secret);
        mac.update(format!("user:{user_id}").as_bytes());
        Pseudonym(mac.finalize().into_bytes().into())
    }

    /// A value stored in the database to notice a different key later (it reveals nothing
    /// about the key or any user).
    pub fn check_value(&self) -> [u8; 32] {
        self.mac(b"stemkaart voter key check v1")
    }

    fn mac(&self, message: &[u8]) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(message);
        mac.finalize().into_bytes().into()
    }
}

/// The key file of a database: `data/stemkaart.db` → `data/stemkaart.voter-key`.
pub fn key_file_for(db_path: &Path) -> PathBuf {
    db_path.with_extension("voter-key")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_is_created_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("data").join("stemkaart.db");
        let first = VoterKey::load(&db, None).unwrap();
        let file = dir.path().join("data").join("stemkaart.voter-key");
        assert!(file.is_file());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = VoterKey::load(&db, None).unwrap();
        let round = [7u8; 32];
        assert_eq!(first.pseudonym(&round, 42), again.pseudonym(&round, 42));
        assert_ne!(first.pseudonym(&round, 42), first.pseudonym(&round, 43));
        assert_ne!(first.pseudonym(&round, 42), first.pseudonym(&[8u8; 32], 42));
    }

    #[test]
    fn env_key_wins_and_must_be_long() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        let a = VoterKey::load(&db, Some("a long enough secret value")).unwrap();
        let b = VoterKey::load(&db, Some("another long secret value!")).unwrap();
        assert_ne!(a.pseudonym(&[0; 32], 1), b.pseudonym(&[0; 32], 1));
        assert_ne!(a.check_value(), b.check_value());
        assert!(!key_file_for(&db).exists());
        assert!(matches!(
            VoterKey::load(&db, Some("short")),
            Err(KeyError::TooShort)
        ));
    }

    #[test]
    fn damaged_key_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        std::fs::write(key_file_for(&db), "not hex").unwrap();
        assert!(matches!(
            VoterKey::load(&db, None),
            Err(KeyError::Damaged { .. })
        ));
    }
}
