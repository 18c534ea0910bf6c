//! Per-round secrets that make voter pseudonyms unlinkable once a round closes.
//!
//! A voter's pseudonym in a round is HMAC(voter key, round secret ‖ user id). The round secret
//! is created when the round opens and forgotten when it closes. sled deletes records only
//! logically — a closed round's per-voter records may linger in its files until the space is
//! reused — so the secret is kept *outside* the database, in a small file next to it
//! (`data/stemkaart.round-keys`, mode 0600), rewritten whole (temporary file, fsync, rename)
//! whenever a round opens or closes. Once a round's secret is gone, nobody can tell whose
//! pseudonyms its leftovers were, not even with the voter key and a list of user ids.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A round's secret.
pub type RoundSecret = [u8; 32];

/// The secrets of the open rounds, backed by their file. Methods that change the set return
/// once the file on disk says so.
pub struct RoundKeys {
    path: PathBuf,
    // A std mutex: held for a map change and the file write, never across an await.
    keys: Mutex<BTreeMap<u64, RoundSecret>>,
}

#[derive(Debug, thiserror::Error)]
pub enum RoundKeyError {
    #[error("cannot read the round key file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the round key file {path} is damaged ({detail}); move it aside to start over (the votes of open rounds are then re-read from Discord)")]
    Damaged { path: PathBuf, detail: String },
    #[error("cannot write the round key file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The round key file of a database: `data/stemkaart.db` → `data/stemkaart.round-keys`.
pub fn file_for(db_path: &Path) -> PathBuf {
    db_path.with_extension("round-keys")
}

impl RoundKeys {
    /// Read the round key file of this database (none yet: no open rounds).
    pub fn open(db_path: &Path) -> Result<RoundKeys, RoundKeyError> {
        let path = file_for(db_path);
        let keys = match std::fs::read_to_string(&path) {
            Ok(text) => parse(&text).map_err(|detail| RoundKeyError::Damaged {
                path: path.clone(),
                detail,
            })?,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(source) => return Err(RoundKeyError::Read { path, source }),
        };
        Ok(RoundKeys {
            path,
            keys: Mutex::new(keys),
        })
    }

    /// The secret of a round, created (and on disk) if it has none yet.
    pub fn get_or_create(&self, round: u64) -> Result<RoundSecret, RoundKeyError> {
        let mut keys = self.keys.lock().expect("round keys poisoned");
        if let Some(secret) = keys.get(&round) {
            return Ok(*secret);
        }
        let mut secret = [0u8; 32];
        getrandom::getrandom(&mut secret).map_err(|e| RoundKeyError::Write {
            path: self.path.clone(),
            source: std::io::Error::other(e),
        })?;
        keys.insert(round, secret);
        self.save(&keys)?;
        Ok(secret)
    }

    /// Forget the secrets of these rounds (closed), and of every round not in `keep` when
    /// given (a sweep at start).
    pub fn forget(&self, rounds: &[u64], keep: Option<&[u64]>) -> Result<(), RoundKeyError> {
        let mut keys = self.keys.lock().expect("round keys poisoned");
        let before = keys.len();
        keys.retain(|round, _| !rounds.contains(round) && keep.is_none_or(|k| k.contains(round)));
        if keys.len() != before {
            self.save(&keys)?;
        }
        Ok(())
    }

    /// The rounds that have a secret.
    pub fn rounds(&self) -> Vec<u64> {
        self.keys
            .lock()
            .expect("round keys poisoned")
            .keys()
            .copied()
            .collect()
    }

    fn save(&self, keys: &BTreeMap<u64, RoundSecret>) -> Result<(), RoundKeyError> {
        let failed = |source| RoundKeyError::Write {
            path: self.path.clone(),
            source,
        };
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(failed)?;
        }
        let mut text = String::from(
            "# stemkaart: secrets of the open rounds (round id, secret); do not share\n",
        );
        for (round, secret) in keys {
            text.push_str(&format!("{round} {}\n", hex::encode(secret)));
        }
        let tmp = self.path.with_extension("round-keys.tmp");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp).map_err(failed)?;
        file.write_all(text.as_bytes()).map_err(failed)?;
        file.sync_all().map_err(failed)?;
        std::fs::rename(&tmp, &self.path).map_err(failed)?;
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            // Make the rename itself durable.
            if let Ok(dir) = std::fs::File::open(parent) {
                let _ = dir.sync_all();
            }
        }
        Ok(())
    }
}

fn parse(text: &str) -> Result<BTreeMap<u64, RoundSecret>, String> {
    let mut keys = BTreeMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = || format!("line {} is not `<round id> <64 hex digits>`", number + 1);
        let (round, secret) = line.split_once(' ').ok_or_else(bad)?;
        let round: u64 = round.parse().map_err(|_| bad())?;
        let secret: RoundSecret = hex::decode(secret.trim())
            .ok()
            .and_then(|s| s.try_into().ok())
            .ok_or_else(bad)?;
        keys.insert(round, secret);
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_survive_reopen_and_are_gone_from_the_folder_once_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("stemkaart.db");
        let keys = RoundKeys::open(&db).unwrap();
        let first = keys.get_or_create(7).unwrap();
        let second = keys.get_or_create(8).unwrap();
        assert_ne!(first, second);
        assert_eq!(keys.get_or_create(7).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(file_for(&db))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let reopened = RoundKeys::open(&db).unwrap();
        assert_eq!(reopened.get_or_create(8).unwrap(), second);
        reopened.forget(&[7], None).unwrap();
        assert_eq!(RoundKeys::open(&db).unwrap().rounds(), [8]);
        let everything: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default())
            .collect();
        assert!(!everything.concat().contains(&hex::encode(first)));
        reopened.forget(&[], Some(&[])).unwrap();
        assert!(RoundKeys::open(&db).unwrap().rounds().is_empty());
    }

    #[test]
    fn a_damaged_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        std::fs::write(file_for(&db), "7 nothex\n").unwrap();
        let err = RoundKeys::open(&db).err().unwrap().to_string();
        assert!(err.contains("x.round-keys is damaged (line 1"), "{err}");
    }
}
